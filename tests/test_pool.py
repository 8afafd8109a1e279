"""Pooling (max with indices, avg, adaptive avg, adaptive max; 1-d and 2-d): values and
indices vs direct numpy loops written from PyTorch's documented rules, gradients vs float64
finite differences and vs PyTorch (when importable), a hypothesis sweep over shapes and
parameters, node names, modules, and the error types PyTorch raises for bad input."""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_cpp as tg
import tinygrad_cpp.nn as nn
import tinygrad_cpp.nn.functional as F
from helpers import check_grad, torch

rng = np.random.default_rng(10)
NP = {tg.float32: np.float32, tg.float64: np.float64}


# ---- numpy references --------------------------------------------------------------------

def out_size(n, k, p, s, d, ceil_mode):
    num = n + 2 * p - d * (k - 1) - 1
    o = (-(-num // s) if ceil_mode else num // s) + 1
    if ceil_mode and (o - 1) * s >= n + p:  # the last window must start inside input or left pad
        o -= 1
    return o


def pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def ref_max_pool2d(a, k, s=None, p=0, d=1, ceil_mode=False):
    """(values, indices) over the last two dims; indices h * W + w; ties keep the first,
    a NaN replaces the running max."""
    (kh, kw), (ph, pw), (dh, dw) = pair(k), pair(p), pair(d)
    sh, sw = pair(s) if s not in (None, ()) else (kh, kw)
    H, W = a.shape[-2:]
    oh, ow = out_size(H, kh, ph, sh, dh, ceil_mode), out_size(W, kw, pw, sw, dw, ceil_mode)
    planes = a.reshape(-1, H, W)
    vals = np.empty((planes.shape[0], oh, ow), a.dtype)
    idx = np.empty((planes.shape[0], oh, ow), np.int64)
    for n, plane in enumerate(planes):
        for i in range(oh):
            for j in range(ow):
                best, at = -np.inf, None
                for u in range(kh):
                    for v in range(kw):
                        h, w = i * sh - ph + u * dh, j * sw - pw + v * dw
                        if 0 <= h < H and 0 <= w < W:
                            x = plane[h, w]
                            if at is None:
                                at = h * W + w
                            if x > best or np.isnan(x):
                                best, at = x, h * W + w
                if at is None:  # all in the padding (dilation): PyTorch's -inf at the clipped start
                    h0, w0 = i * sh - ph, j * sw - pw
                    h0, w0 = h0 + (-h0 + dh - 1) // dh * dh if h0 < 0 else h0, w0 + (-w0 + dw - 1) // dw * dw if w0 < 0 else w0
                    at = h0 * W + w0
                vals[n, i, j], idx[n, i, j] = best, at
    shape = a.shape[:-2] + (oh, ow)
    return vals.reshape(shape), idx.reshape(shape)


def ref_avg_pool2d(a, k, s=None, p=0, ceil_mode=False, count_include_pad=True, divisor_override=None):
    (kh, kw), (ph, pw) = pair(k), pair(p)
    sh, sw = pair(s) if s not in (None, ()) else (kh, kw)
    H, W = a.shape[-2:]
    oh, ow = out_size(H, kh, ph, sh, 1, ceil_mode), out_size(W, kw, pw, sw, 1, ceil_mode)
    planes = a.reshape(-1, H, W).astype(np.float64)
    out = np.zeros((planes.shape[0], oh, ow))
    for i in range(oh):
        h0, h1 = i * sh - ph, min(i * sh - ph + kh, H + ph)
        for j in range(ow):
            w0, w1 = j * sw - pw, min(j * sw - pw + kw, W + pw)
            with_pad = (h1 - h0) * (w1 - w0)  # the window within input plus padding
            hs, he, ws, we = max(h0, 0), min(h1, H), max(w0, 0), min(w1, W)
            div = divisor_override or (with_pad if count_include_pad else (he - hs) * (we - ws))
            out[:, i, j] = planes[:, hs:he, ws:we].sum(axis=(1, 2)) / div
    return out.reshape(a.shape[:-2] + (oh, ow)).astype(a.dtype)


def adaptive_windows(n, o):
    return [(i * n // o, -(-(i + 1) * n // o)) for i in range(o)]


def ref_adaptive(a, os, is_max):
    H, W = a.shape[-2:]
    oh, ow = os
    planes = a.reshape(-1, H, W)
    vals = np.empty((planes.shape[0], oh, ow), a.dtype)
    idx = np.empty((planes.shape[0], oh, ow), np.int64)
    for i, (h0, h1) in enumerate(adaptive_windows(H, oh)):
        for j, (w0, w1) in enumerate(adaptive_windows(W, ow)):
            win = planes[:, h0:h1, w0:w1].reshape(planes.shape[0], (h1 - h0) * (w1 - w0))
            if is_max:
                for n in range(planes.shape[0]):
                    nan = np.flatnonzero(np.isnan(win[n]))
                    f = nan[-1] if nan.size else int(np.argmax(win[n]))
                    vals[n, i, j] = win[n, f]
                    idx[n, i, j] = (h0 + f // (w1 - w0)) * W + w0 + f % (w1 - w0)
            else:
                vals[:, i, j] = win.astype(np.float64).mean(axis=1)
    shape = a.shape[:-2] + (oh, ow)
    return vals.reshape(shape), idx.reshape(shape)


def distinct(shape, dtype=np.float64):
    """Values without ties (max pooling's gradient is defined only away from ties)."""
    n = int(np.prod(shape))
    return (rng.permutation(n).reshape(shape) * 0.37 - n * 0.15).astype(dtype)


def tol(dtype):
    return dict(rtol=1e-5, atol=1e-6) if dtype == tg.float32 else dict(rtol=1e-12, atol=1e-12)


# ---- forward vs numpy --------------------------------------------------------------------

MAX_CASES = [  # kernel, stride, padding, dilation, ceil_mode
    (2, None, 0, 1, False), (3, 1, 1, 1, False), ((2, 3), (1, 2), (1, 0), 1, False),
    (3, 2, 1, 2, False), (3, 2, 1, 1, True), ((3, 2), 2, 0, (1, 2), True), (1, 1, 0, 1, False),
    (2, 3, 1, 1, True), (4, 2, 2, 1, True),
]


@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
@pytest.mark.parametrize("case", MAX_CASES)
def test_max_pool2d_matches_numpy(case, dtype):
    k, s, p, d, ceil_mode = case
    a = rng.standard_normal((2, 3, 7, 8)).astype(NP[dtype])
    want, want_idx = ref_max_pool2d(a, k, s, p, d, ceil_mode)
    y, idx = F.max_pool2d(tg.tensor(a), k, s, p, d, ceil_mode, return_indices=True)
    assert y.dtype == dtype and idx.dtype == tg.int64
    np.testing.assert_array_equal(y.numpy(), want)
    np.testing.assert_array_equal(idx.numpy(), want_idx)
    np.testing.assert_array_equal(F.max_pool2d(tg.tensor(a), k, s, p, d, ceil_mode).numpy(), want)


@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
@pytest.mark.parametrize("case", [
    (2, None, 0, False, True, None), (3, 1, 1, False, True, None), (3, 1, 1, False, False, None),
    ((2, 3), (1, 2), (1, 1), True, True, None), (3, 2, 1, True, False, None), (3, 2, 1, True, True, None),
    (2, 2, 1, False, True, 3), (3, 2, 0, True, True, -2),
])
def test_avg_pool2d_matches_numpy(case, dtype):
    k, s, p, ceil_mode, cip, div = case
    a = rng.standard_normal((2, 3, 7, 6)).astype(NP[dtype])
    want = ref_avg_pool2d(a, k, s, p, ceil_mode, cip, div)
    y = F.avg_pool2d(tg.tensor(a), k, s, p, ceil_mode, cip, div)
    assert y.dtype == dtype
    np.testing.assert_allclose(y.numpy(), want, **tol(dtype))


@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
@pytest.mark.parametrize("os", [(1, 1), (3, 2), (4, 5), (7, 6), (10, 9), (0, 3)])
def test_adaptive_pools_match_numpy(os, dtype):
    a = rng.standard_normal((2, 3, 7, 6)).astype(NP[dtype])
    want, want_idx = ref_adaptive(a, os, True)
    y, idx = F.adaptive_max_pool2d(tg.tensor(a), os, return_indices=True)
    np.testing.assert_array_equal(y.numpy(), want)
    np.testing.assert_array_equal(idx.numpy(), want_idx)
    want, _ = ref_adaptive(a, os, False)
    np.testing.assert_allclose(F.adaptive_avg_pool2d(tg.tensor(a), os).numpy(), want, **tol(dtype))


def test_adaptive_output_size_none_and_int():
    a = rng.standard_normal((2, 3, 7, 6))
    x = tg.tensor(a)
    assert F.adaptive_avg_pool2d(x, (None, 2)).shape == (2, 3, 7, 2)
    assert F.adaptive_max_pool2d(x, (3, None)).shape == (2, 3, 3, 6)
    np.testing.assert_allclose(F.adaptive_avg_pool2d(x, 3).numpy(), ref_adaptive(a, (3, 3), False)[0])
    np.testing.assert_allclose(F.adaptive_avg_pool2d(x, (None, None)).numpy(), a)


def test_one_d_forms_match_numpy():
    a = rng.standard_normal((2, 3, 11))
    x = tg.tensor(a)
    a4 = a[:, :, None, :]
    want, want_idx = ref_max_pool2d(a4, (1, 3), (1, 2), (0, 1), (1, 2), True)
    y, idx = F.max_pool1d(x, 3, 2, 1, 2, True, return_indices=True)
    np.testing.assert_array_equal(y.numpy(), want[:, :, 0])
    np.testing.assert_array_equal(idx.numpy(), want_idx[:, :, 0])
    np.testing.assert_array_equal(F.max_pool1d(x, 3).numpy(), ref_max_pool2d(a4, (1, 3))[0][:, :, 0])
    np.testing.assert_allclose(F.avg_pool1d(x, 4, 3, 2, True, False).numpy(),
                               ref_avg_pool2d(a4, (1, 4), (1, 3), (0, 2), True, False)[:, :, 0])
    np.testing.assert_allclose(F.adaptive_avg_pool1d(x, 4).numpy(), ref_adaptive(a4, (1, 4), False)[0][:, :, 0])
    y, idx = F.adaptive_max_pool1d(x, 4, return_indices=True)
    want, want_idx = ref_adaptive(a4, (1, 4), True)
    np.testing.assert_array_equal(y.numpy(), want[:, :, 0])
    np.testing.assert_array_equal(idx.numpy(), want_idx[:, :, 0])
    # unbatched [C, L]
    np.testing.assert_array_equal(F.max_pool1d(tg.tensor(a[0]), 2).numpy(), ref_max_pool2d(a4[0], (1, 2))[0][:, 0])


def test_unbatched_noncontiguous_and_empty_batch():
    a = rng.standard_normal((3, 8, 6))
    np.testing.assert_array_equal(F.max_pool2d(tg.tensor(a), 2).numpy(), ref_max_pool2d(a, 2)[0])
    t = tg.tensor(np.ascontiguousarray(a.transpose(0, 2, 1))).transpose(1, 2)  # strided view of a
    assert not t.is_contiguous()
    np.testing.assert_array_equal(F.max_pool2d(t, 3, 1, 1).numpy(), ref_max_pool2d(a, 3, 1, 1)[0])
    np.testing.assert_allclose(F.avg_pool2d(t, 3, 2, 1).numpy(), ref_avg_pool2d(a, 3, 2, 1))
    np.testing.assert_allclose(F.adaptive_avg_pool2d(t, (3, 2)).numpy(), ref_adaptive(a, (3, 2), False)[0])
    for f in (lambda x: F.max_pool2d(x, 2), lambda x: F.avg_pool2d(x, 2),
              lambda x: F.adaptive_avg_pool2d(x, 2), lambda x: F.adaptive_max_pool2d(x, 2)):
        assert f(tg.zeros(0, 3, 4, 4)).shape == (0, 3, 2, 2)


def test_nan_wins_and_indices_of_all_minus_inf():
    a = np.array([[[[1.0, np.nan, 3.0, np.nan, 2.0, 0.5]]]])
    y, idx = F.max_pool2d(tg.tensor(a), (1, 6), return_indices=True)
    assert np.isnan(y.item()) and idx.item() == 3  # the last NaN, as PyTorch
    y, idx = F.adaptive_max_pool2d(tg.tensor(a), (1, 1), return_indices=True)
    assert np.isnan(y.item()) and idx.item() == 3
    a = np.full((1, 1, 1, 4), -np.inf)
    y, idx = F.max_pool2d(tg.tensor(a), (1, 2), padding=(0, 1), return_indices=True)
    assert idx.numpy().ravel().tolist() == [0, 1, 3]  # first valid element of each window
    assert np.all(y.numpy() == -np.inf)


def test_ties_keep_the_first_maximum():
    y, idx = F.max_pool2d(tg.ones(1, 1, 4, 4), 2, return_indices=True)
    assert idx.numpy().ravel().tolist() == [0, 2, 8, 10]


def test_large_input_matches_numpy_across_threads():
    """The MNIST CNN's pooling (2x2, stride 2) on enough planes to run in parallel."""
    a = rng.standard_normal((16, 32, 24, 24)).astype(np.float32)
    win = a.reshape(16, 32, 12, 2, 12, 2).transpose(0, 1, 2, 4, 3, 5).reshape(16, 32, 12, 12, 4)
    x = tg.tensor(a, requires_grad=True)
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    np.testing.assert_array_equal(y.detach().numpy(), win.max(-1))
    f = win.argmax(-1)
    want_idx = (2 * np.arange(12)[:, None] + f // 2) * 24 + 2 * np.arange(12)[None, :] + f % 2
    np.testing.assert_array_equal(idx.numpy(), want_idx)
    y.sum().backward()
    g = x.grad.numpy()
    assert g.sum() == y.numel() and np.all(g.reshape(16, 32, -1).sum(-1) == 144)
    np.testing.assert_allclose(F.avg_pool2d(tg.tensor(a), 2).numpy(), win.mean(-1), rtol=1e-6, atol=1e-6)


# ---- gradients -----------------------------------------------------------------------------

def tf():
    return torch.nn.functional if torch is not None else None


GRAD_CASES = [
    ("max_pool2d", (2,), {}),
    ("max_pool2d", (3, 2, 1), {"dilation": 2, "ceil_mode": True}),
    ("max_pool2d", ((2, 3), 1, (1, 0)), {}),
    ("avg_pool2d", (3, 2, 1), {"ceil_mode": True}),
    ("avg_pool2d", (3, 2, 1), {"ceil_mode": True, "count_include_pad": False}),
    ("avg_pool2d", (2, 1), {"divisor_override": 3}),
    ("adaptive_avg_pool2d", ((3, 4),), {}),
    ("adaptive_max_pool2d", ((3, 4),), {}),
]


@pytest.mark.parametrize("name,args,kw", GRAD_CASES)
def test_gradients_vs_finite_differences_and_torch(name, args, kw):
    a = distinct((2, 2, 5, 6))
    check_grad(lambda x: getattr(F, name)(x, *args, **kw), a,
               torch_fn=(lambda x: getattr(tf(), name)(x, *args, **kw)) if torch is not None else None)


@pytest.mark.parametrize("name,args,kw", [
    ("max_pool1d", (3, 2, 1), {"dilation": 2}), ("avg_pool1d", (3, 2, 1), {"count_include_pad": False}),
    ("adaptive_avg_pool1d", (4,), {}), ("adaptive_max_pool1d", (4,), {}),
])
def test_one_d_gradients(name, args, kw):
    a = distinct((2, 3, 9))
    check_grad(lambda x: getattr(F, name)(x, *args, **kw), a,
               torch_fn=(lambda x: getattr(tf(), name)(x, *args, **kw)) if torch is not None else None)


def test_unbatched_gradient_and_gradcheck():
    a = distinct((3, 6, 5))
    check_grad(lambda x: F.max_pool2d(x, 2, 1), a,
               torch_fn=(lambda x: tf().max_pool2d(x, 2, 1)) if torch is not None else None)
    x = tg.tensor(distinct((1, 2, 5, 5)), requires_grad=True)
    assert tg.autograd.gradcheck(lambda t: F.avg_pool2d(t, 3, 2, 1, True, False), (x,))


@pytest.mark.parametrize("fn", [lambda x: F.max_pool2d(x, 3, 2, 1), lambda x: F.avg_pool2d(x, 3, 2, 1),
                                lambda x: F.adaptive_avg_pool2d(x, (2, 3)), lambda x: F.adaptive_max_pool2d(x, 3)])
def test_gradient_through_a_strided_view(fn):
    """The input is a transposed view: the gradient lands in the leaf's own layout."""
    a = distinct((2, 3, 6, 5))
    leaf = tg.tensor(a, requires_grad=True)
    y = fn(leaf.transpose(2, 3))
    w = rng.standard_normal(y.shape)
    y.backward(tg.tensor(w))
    leaf2 = tg.tensor(np.ascontiguousarray(a.transpose(0, 1, 3, 2)), requires_grad=True)
    fn(leaf2).backward(tg.tensor(w))
    np.testing.assert_allclose(leaf.grad.numpy(), leaf2.grad.numpy().transpose(0, 1, 3, 2), rtol=1e-12)


def test_float32_gradient_dtype_and_grad_fn_names():
    x = tg.tensor(distinct((1, 2, 4, 4), np.float32), requires_grad=True)
    names = {
        "MaxPool2DWithIndicesBackward0": F.max_pool2d(x, 2),
        "AvgPool2DBackward0": F.avg_pool2d(x, 2),
        "AdaptiveAvgPool2DBackward0": F.adaptive_avg_pool2d(x, 3),
        "AdaptiveMaxPool2DBackward0": F.adaptive_max_pool2d(x, 3),
    }
    for name, y in names.items():
        assert y.grad_fn.name() == name
        y.sum().backward()
        assert x.grad.dtype == tg.float32
        x.grad = None
    x1 = tg.tensor(distinct((2, 6), np.float32), requires_grad=True)
    for y in (F.max_pool1d(x1, 2), F.avg_pool1d(x1, 2), F.adaptive_avg_pool1d(x1, 2), F.adaptive_max_pool1d(x1, 2)):
        assert y.grad_fn.name() == "SqueezeBackward1"  # PyTorch's 1-d forms squeeze a 2-d op
    with tg.no_grad():
        assert F.max_pool2d(x, 2).grad_fn is None


def test_indices_equal_torch():
    if torch is None:
        pytest.skip("torch not installed")
    a = rng.standard_normal((2, 3, 9, 7)).astype(np.float32)
    a[0, 0, 1, 1] = np.nan
    a[1, 2, :3, :3] = -np.inf
    a[1, 1] = np.round(a[1, 1])  # ties
    for k, s, p, d, c in MAX_CASES + [(3, 2, 1, 3, True), (2, 1, 1, 3, False)]:
        y, idx = F.max_pool2d(tg.tensor(a), k, s, p, d, c, return_indices=True)
        ty, tidx = torch.nn.functional.max_pool2d(torch.tensor(a), k, s, p, d, c, return_indices=True)
        np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
        np.testing.assert_array_equal(y.numpy(), ty.numpy())
    for os in [(2, 3), (4, 4), (9, 7)]:
        y, idx = F.adaptive_max_pool2d(tg.tensor(a), os, return_indices=True)
        ty, tidx = torch.nn.functional.adaptive_max_pool2d(torch.tensor(a), os, return_indices=True)
        np.testing.assert_array_equal(idx.numpy(), tidx.numpy())


def test_window_in_the_padding_only():
    """A dilated window can fall entirely in the padding: PyTorch gives -inf and an index
    outside the plane; the backward must not write there."""
    x = tg.tensor(np.arange(4.0).reshape(1, 1, 2, 2), requires_grad=True)
    y, idx = F.max_pool2d(x, 2, 1, 1, 3, return_indices=True)
    assert y.shape == (1, 1, 1, 1) and y.item() == -np.inf
    if torch is not None:
        tidx = torch.nn.functional.max_pool2d(torch.zeros(1, 1, 2, 2), 2, 1, 1, 3, return_indices=True)[1]
        assert idx.item() == tidx.item()
    y.sum().backward()
    assert np.all(x.grad.numpy() == 0)


# ---- property test -----------------------------------------------------------------------

@settings(max_examples=120, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data(), kind=st.sampled_from(["max", "avg", "amax", "aavg"]),
       dtype=st.sampled_from([tg.float32, tg.float64]), unbatched=st.booleans())
def test_random_pools_match_numpy(data, kind, dtype, unbatched):
    H, W = data.draw(st.integers(1, 7)), data.draw(st.integers(1, 7))
    shape = ((data.draw(st.integers(1, 2)),) if unbatched else (data.draw(st.integers(0, 2)), data.draw(st.integers(1, 2)))) + (H, W)
    a = np.asarray(np.random.default_rng(data.draw(st.integers(0, 2 ** 31))).standard_normal(shape), NP[dtype])
    x = tg.tensor(a)
    if kind in ("amax", "aavg"):
        os = (data.draw(st.integers(0, 8)), data.draw(st.integers(0, 8)))
        want, want_idx = ref_adaptive(a, os, kind == "amax")
        if kind == "amax":
            y, idx = F.adaptive_max_pool2d(x, os, return_indices=True)
            np.testing.assert_array_equal(idx.numpy(), want_idx)
            np.testing.assert_array_equal(y.numpy(), want)
        else:
            np.testing.assert_allclose(F.adaptive_avg_pool2d(x, os).numpy(), want, **tol(dtype))
        return
    k = (data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4)))
    s = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)))
    p = (data.draw(st.integers(0, k[0] // 2)), data.draw(st.integers(0, k[1] // 2)))
    d = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))) if kind == "max" else (1, 1)
    ceil_mode = data.draw(st.booleans())
    sizes = [out_size(n, kk, pp, ss, dd, ceil_mode) for n, kk, pp, ss, dd in zip((H, W), k, p, s, d)]
    if kind == "max":
        if min(sizes) < 1:
            with pytest.raises(RuntimeError, match="Output size is too small"):
                F.max_pool2d(x, k, s, p, d, ceil_mode)
            return
        want, want_idx = ref_max_pool2d(a, k, s, p, d, ceil_mode)
        y, idx = F.max_pool2d(x, k, s, p, d, ceil_mode, return_indices=True)
        np.testing.assert_array_equal(y.numpy(), want)
        np.testing.assert_array_equal(idx.numpy(), want_idx)
    else:
        cip = data.draw(st.booleans())
        if min(sizes) < 1:
            with pytest.raises(RuntimeError, match="Output size is too small"):
                F.avg_pool2d(x, k, s, p, ceil_mode, cip)
            return
        want = ref_avg_pool2d(a, k, s, p, ceil_mode, cip)
        np.testing.assert_allclose(F.avg_pool2d(x, k, s, p, ceil_mode, cip).numpy(), want, **tol(dtype))


# ---- errors: the exception type PyTorch raises -----------------------------------------

def _x(*shape, dtype="float32"):
    return {"shape": shape, "dtype": dtype}


ERROR_CASES = [  # (description, input spec, call(F, x))
    ("kernel 0", _x(2, 3, 5, 5), lambda f, x: f.max_pool2d(x, 0)),
    ("kernel 0, stride 1", _x(2, 3, 5, 5), lambda f, x: f.max_pool2d(x, 0, 1)),
    ("stride 0", _x(2, 3, 5, 5), lambda f, x: f.max_pool2d(x, 2, 0)),
    ("negative stride", _x(1, 4, 4), lambda f, x: f.max_pool2d(x, 2, -1)),
    ("dilation 0", _x(2, 3, 5, 5), lambda f, x: f.max_pool2d(x, 2, 1, 0, 0)),
    ("pad over half the effective kernel", _x(2, 3, 5, 5), lambda f, x: f.max_pool2d(x, 2, 1, 2)),
    ("pad over half the kernel", _x(2, 3, 5, 5), lambda f, x: f.max_pool2d(x, 3, 1, 2, dilation=2)),
    ("negative pad", _x(2, 3, 5, 5), lambda f, x: f.max_pool2d(x, 2, 2, -1)),
    ("output too small", _x(2, 3, 5, 5), lambda f, x: f.max_pool2d(x, 6)),
    ("2-d input", _x(4, 4), lambda f, x: f.max_pool2d(x, 2)),
    ("5-d input", _x(1, 1, 1, 4, 4), lambda f, x: f.max_pool2d(x, 2)),
    ("empty channels", _x(1, 0, 4, 4), lambda f, x: f.max_pool2d(x, 2)),
    ("empty height", _x(1, 1, 0, 4), lambda f, x: f.max_pool2d(x, 2)),
    ("kernel of 3", _x(2, 3, 5, 5), lambda f, x: f.max_pool2d(x, (2, 2, 2))),
    ("empty kernel", _x(2, 3, 5, 5), lambda f, x: f.max_pool2d(x, [])),
    ("stride of 3", _x(2, 3, 5, 5), lambda f, x: f.max_pool2d(x, 2, (2, 2, 2))),
    ("padding of 3", _x(2, 3, 5, 5), lambda f, x: f.max_pool2d(x, 2, 2, (0, 0, 0))),
    ("float kernel", _x(2, 3, 5, 5), lambda f, x: f.max_pool2d(x, 2.0)),
    ("float in kernel tuple", _x(2, 3, 5, 5), lambda f, x: f.max_pool2d(x, (2.0, 2))),
    ("bool kernel", _x(2, 3, 5, 5), lambda f, x: f.max_pool2d(x, True)),
    ("str kernel", _x(2, 3, 5, 5), lambda f, x: f.max_pool2d(x, "2")),
    ("None kernel", _x(2, 3, 5, 5), lambda f, x: f.max_pool2d(x, None)),
    ("int ceil_mode", _x(2, 3, 5, 5), lambda f, x: f.max_pool2d(x, 2, ceil_mode=1)),
    ("huge kernel", _x(2, 3, 5, 5), lambda f, x: f.max_pool2d(x, 2 ** 40)),
    ("huge stride", _x(2, 3, 5, 5), lambda f, x: f.max_pool2d(x, 2, 2 ** 40)),
    ("avg: 2-d input", _x(4, 4), lambda f, x: f.avg_pool2d(x, 2)),
    ("avg: 1-d input", _x(4), lambda f, x: f.avg_pool2d(x, 1)),
    ("avg: 5-d input", _x(3, 3, 3, 3, 3), lambda f, x: f.avg_pool2d(x, 1)),
    ("avg: divisor 0", _x(2, 3, 5, 5), lambda f, x: f.avg_pool2d(x, 2, divisor_override=0)),
    ("avg: float divisor", _x(2, 3, 5, 5), lambda f, x: f.avg_pool2d(x, 2, divisor_override=2.0)),
    ("avg: bool divisor", _x(2, 3, 5, 5), lambda f, x: f.avg_pool2d(x, 2, divisor_override=True)),
    ("avg: pad too big", _x(2, 3, 5, 5), lambda f, x: f.avg_pool2d(x, 2, 1, 2)),
    ("avg: output too small", _x(2, 3, 5, 5), lambda f, x: f.avg_pool2d(x, 6)),
    ("avg: negative kernel", _x(1, 4, 4), lambda f, x: f.avg_pool2d(x, -2, 1)),
    ("avg: int count_include_pad", _x(2, 3, 5, 5), lambda f, x: f.avg_pool2d(x, 2, count_include_pad=1)),
    ("avg: empty channels", _x(1, 0, 4, 4), lambda f, x: f.avg_pool2d(x, 2)),
    ("adaptive avg: negative size", _x(2, 3, 5, 5), lambda f, x: f.adaptive_avg_pool2d(x, -1)),
    ("adaptive avg: 3 sizes", _x(2, 3, 5, 5), lambda f, x: f.adaptive_avg_pool2d(x, (1, 2, 3))),
    ("adaptive avg: 1 size in a list", _x(2, 3, 5, 5), lambda f, x: f.adaptive_avg_pool2d(x, [2])),
    ("adaptive avg: 2-d input", _x(4, 4), lambda f, x: f.adaptive_avg_pool2d(x, 2)),
    ("adaptive avg: 1-d input", _x(4), lambda f, x: f.adaptive_avg_pool2d(x, 2)),
    ("adaptive avg: empty height", _x(1, 1, 0, 4), lambda f, x: f.adaptive_avg_pool2d(x, 2)),
    ("adaptive avg: float size", _x(2, 3, 5, 5), lambda f, x: f.adaptive_avg_pool2d(x, 2.0)),
    ("adaptive avg: None size", _x(2, 3, 5, 5), lambda f, x: f.adaptive_avg_pool2d(x, None)),
    ("adaptive avg: bool size", _x(2, 3, 5, 5), lambda f, x: f.adaptive_avg_pool2d(x, True)),
    ("adaptive max: negative size", _x(2, 3, 5, 5), lambda f, x: f.adaptive_max_pool2d(x, -1)),
    ("adaptive max: 3 sizes", _x(2, 3, 5, 5), lambda f, x: f.adaptive_max_pool2d(x, (1, 2, 3))),
    ("adaptive max: 2-d input", _x(4, 4), lambda f, x: f.adaptive_max_pool2d(x, 2)),
    ("adaptive max: empty channels", _x(1, 0, 4, 4), lambda f, x: f.adaptive_max_pool2d(x, 2)),
    ("adaptive max: float size", _x(2, 3, 5, 5), lambda f, x: f.adaptive_max_pool2d(x, 2.0)),
    ("max1d: 1-d input", _x(4), lambda f, x: f.max_pool1d(x, 2)),
    ("max1d: 4-d input", _x(1, 1, 4, 4), lambda f, x: f.max_pool1d(x, 2)),
    ("max1d: kernel of 2", _x(2, 3, 7), lambda f, x: f.max_pool1d(x, (2, 2))),
    ("max1d: stride of 2", _x(1, 4), lambda f, x: f.max_pool1d(x, 2, (1, 1))),
    ("max1d: output too small", _x(2, 3, 7), lambda f, x: f.max_pool1d(x, 8)),
    ("max1d: kernel 0", _x(2, 3, 7), lambda f, x: f.max_pool1d(x, 0)),
    ("max1d: stride 0", _x(2, 3, 7), lambda f, x: f.max_pool1d(x, 2, 0)),
    ("max1d: pad too big", _x(2, 3, 7), lambda f, x: f.max_pool1d(x, 2, 2, 2)),
    ("max1d: dilation 0", _x(2, 3, 7), lambda f, x: f.max_pool1d(x, 2, 2, 0, 0)),
    ("max1d: empty length", _x(1, 1, 0), lambda f, x: f.max_pool1d(x, 1)),
    ("max1d: float kernel", _x(2, 3, 7), lambda f, x: f.max_pool1d(x, 2.0)),
    ("avg1d: 4-d input", _x(1, 1, 4, 4), lambda f, x: f.avg_pool1d(x, 2)),
    ("avg1d: output too small", _x(2, 3, 7), lambda f, x: f.avg_pool1d(x, 8)),
    ("avg1d: stride of 2", _x(1, 4), lambda f, x: f.avg_pool1d(x, 2, (1, 1))),
    ("avg1d: empty length", _x(1, 0), lambda f, x: f.avg_pool1d(x, 1)),
    ("avg1d: int ceil_mode", _x(1, 4), lambda f, x: f.avg_pool1d(x, 2, ceil_mode=1)),
    ("adaptive avg1d: 2 sizes", _x(2, 3, 7), lambda f, x: f.adaptive_avg_pool1d(x, (2, 2))),
    ("adaptive avg1d: 4-d input", _x(1, 1, 4, 4), lambda f, x: f.adaptive_avg_pool1d(x, 2)),
    ("adaptive avg1d: negative size", _x(3, 5), lambda f, x: f.adaptive_avg_pool1d(x, -1)),
    ("adaptive avg1d: empty length", _x(1, 0), lambda f, x: f.adaptive_avg_pool1d(x, 2)),
    ("adaptive max1d: 4-d input", _x(1, 1, 4, 4), lambda f, x: f.adaptive_max_pool1d(x, 2)),
    ("adaptive max1d: None size", _x(3, 5), lambda f, x: f.adaptive_max_pool1d(x, None)),
    ("adaptive max1d: negative size", _x(3, 5), lambda f, x: f.adaptive_max_pool1d(x, -1)),
    ("adaptive avg: not a tensor", None, lambda f, x: f.adaptive_avg_pool2d([[1.0]], 2)),
    ("max: not a tensor", None, lambda f, x: f.max_pool2d([[1.0]], 2)),
]

# What PyTorch raises for each case (checked against torch itself when it is installed).
EXPECTED = {desc: RuntimeError for desc, _, _ in ERROR_CASES}
EXPECTED.update({d: TypeError for d in [
    "float kernel", "float in kernel tuple", "bool kernel", "str kernel", "None kernel", "int ceil_mode",
    "avg: float divisor", "avg: bool divisor", "avg: int count_include_pad", "adaptive avg: float size",
    "adaptive avg: None size", "adaptive avg: bool size", "adaptive max: float size", "max1d: float kernel",
    "avg1d: int ceil_mode", "adaptive max1d: None size", "adaptive avg: not a tensor", "max: not a tensor"]})
EXPECTED.update({d: IndexError for d in ["avg: 2-d input", "avg: 1-d input"]})
# PyTorch's F forms read input.size() first and raise AttributeError; we raise TypeError.
NOT_COMPARED = {"adaptive avg: not a tensor"}


def _make(lib, spec):
    if spec is None:
        return None
    dt = getattr(lib, spec["dtype"])
    return lib.randn(*spec["shape"], dtype=dt) if 0 not in spec["shape"] else lib.zeros(*spec["shape"], dtype=dt)


@pytest.mark.parametrize("desc,spec,call", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_errors_match_torch(desc, spec, call):
    with pytest.raises(EXPECTED[desc]) as info:
        call(F, _make(tg, spec))
    assert str(info.value)
    if torch is not None and desc not in NOT_COMPARED:
        with pytest.raises(Exception) as tinfo:
            call(torch.nn.functional, _make(torch, spec))
        assert isinstance(tinfo.value, EXPECTED[desc]), f"torch raised {type(tinfo.value).__name__}"


def test_error_messages_name_the_problem():
    x = tg.randn(2, 3, 5, 5)
    with pytest.raises(RuntimeError, match=r"Given input size: \(3x5x5\). Calculated output size: \(3x0x0\)"):
        F.max_pool2d(x, 6)
    with pytest.raises(RuntimeError, match="pad should be at most half of effective kernel size"):
        F.max_pool2d(x, 2, 1, 2)
    with pytest.raises(RuntimeError, match="kernel_size must either be a single int, or a tuple of two ints"):
        F.avg_pool2d(x, (1, 2, 3))
    with pytest.raises(TypeError, match="kernel_size"):
        F.max_pool2d(x, 1.5)
    with pytest.raises(RuntimeError, match=r"\[2, 3\]"):
        F.max_pool2d(tg.randn(2, 3), 2)
    with pytest.raises(RuntimeError, match="int64"):
        F.avg_pool2d(tg.ones(1, 4, 4, dtype=tg.int64), 2)


def test_error_leaves_graph_usable():
    x = tg.randn(1, 2, 4, 4, requires_grad=True)
    with pytest.raises(RuntimeError):
        F.max_pool2d(x * 2, 9)
    F.max_pool2d(x * 2, 2).sum().backward()
    assert x.grad.numpy().sum() == 2 * 8


# ---- modules and the top-level functions ----------------------------------------------

def test_module_reprs_and_attributes():
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    m = nn.MaxPool2d((2, 3), padding=1, dilation=(1, 2), return_indices=True, ceil_mode=True)
    assert repr(m) == "MaxPool2d(kernel_size=(2, 3), stride=(2, 3), padding=1, dilation=(1, 2), ceil_mode=True)"
    assert m.return_indices and m.stride == (2, 3)
    assert repr(nn.MaxPool1d(3, 2, 1, 2, True, True)) == \
        "MaxPool1d(kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True)"
    assert repr(nn.AvgPool1d(3)) == "AvgPool1d(kernel_size=(3,), stride=(3,), padding=(0,))"
    m = nn.AvgPool2d((2, 3), 1, 1, True, False, 3)
    assert repr(m) == "AvgPool2d(kernel_size=(2, 3), stride=1, padding=1)"
    assert (m.ceil_mode, m.count_include_pad, m.divisor_override) == (True, False, 3)
    assert repr(nn.AdaptiveAvgPool2d((None, 3))) == "AdaptiveAvgPool2d(output_size=(None, 3))"
    assert repr(nn.AdaptiveAvgPool1d(3)) == "AdaptiveAvgPool1d(output_size=3)"
    assert repr(nn.AdaptiveMaxPool1d(3, True)) == "AdaptiveMaxPool1d(output_size=3)"
    assert repr(nn.AdaptiveMaxPool2d((2, None))) == "AdaptiveMaxPool2d(output_size=(2, None))"
    assert list(nn.MaxPool2d(2).parameters()) == [] and nn.MaxPool2d(2).state_dict() == {}
    assert nn.modules.pooling.MaxPool2d is nn.MaxPool2d


def test_modules_call_the_functional_forms():
    a = rng.standard_normal((2, 3, 8, 8))
    x = tg.tensor(a)
    same = [
        (nn.MaxPool2d(3, 2, 1, ceil_mode=True), F.max_pool2d(x, 3, 2, 1, ceil_mode=True)),
        (nn.AvgPool2d(3, 2, 1, count_include_pad=False), F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)),
        (nn.AdaptiveAvgPool2d((None, 3)), F.adaptive_avg_pool2d(x, (8, 3))),
        (nn.AdaptiveMaxPool2d(3), F.adaptive_max_pool2d(x, 3)),
    ]
    for m, want in same:
        np.testing.assert_array_equal(m(x).numpy(), want.numpy())
    y, idx = nn.MaxPool2d(2, return_indices=True)(x)
    assert idx.dtype == tg.int64 and y.shape == idx.shape == (2, 3, 4, 4)
    y, idx = nn.AdaptiveMaxPool2d(2, return_indices=True)(x)
    assert idx.shape == (2, 3, 2, 2)
    x1 = tg.tensor(a[:, :, 0])
    np.testing.assert_array_equal(nn.MaxPool1d(2)(x1).numpy(), F.max_pool1d(x1, 2).numpy())
    np.testing.assert_array_equal(nn.AvgPool1d(3, 1, 1)(x1).numpy(), F.avg_pool1d(x1, 3, 1, 1).numpy())
    np.testing.assert_array_equal(nn.AdaptiveAvgPool1d(3)(x1).numpy(), F.adaptive_avg_pool1d(x1, 3).numpy())
    y, idx = nn.AdaptiveMaxPool1d(3, True)(x1)
    assert idx.shape == (2, 3, 3)


def test_a_small_cnn_trains_through_pooling():
    tg.manual_seed(0)
    model = nn.Sequential(nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16, 2))
    x = tg.randn(8, 1, 8, 8)
    y = tg.randint(0, 2, (8,))
    opt = tg.optim.SGD(model.parameters(), lr=0.5)
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_top_level_functions_like_torch():
    x = tg.randn(2, 3, 8)
    assert tg.max_pool1d(x, 2).shape == (2, 3, 4)
    assert tg.max_pool2d(tg.randn(1, 2, 4, 4), 2, None).shape == (1, 2, 2, 2)
    assert [t.shape for t in tg.max_pool1d_with_indices(x, 2)] == [(2, 3, 4)] * 2
    assert tg.avg_pool1d(x, 2).shape == (2, 3, 4)
    assert tg.adaptive_avg_pool1d(x, 3).shape == (2, 3, 3)
    assert [t.shape for t in tg.adaptive_max_pool1d(x, 3)] == [(2, 3, 3)] * 2
    if torch is not None:
        for name in ["max_pool1d", "max_pool2d", "max_pool1d_with_indices", "avg_pool1d",
                     "adaptive_avg_pool1d", "adaptive_max_pool1d"]:
            assert hasattr(torch, name) and hasattr(tg, name)
        for name in ["avg_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d"]:
            assert hasattr(tg, name) == hasattr(torch, name)


def test_output_size_formula_for_ceil_mode():
    # 5 wide, kernel 2, stride 2, pad 1, ceil: the fourth window would start in the right
    # padding, so there are 3 outputs
    assert F.max_pool2d(tg.zeros(1, 1, 5, 5), 2, 2, 1, ceil_mode=True).shape == (1, 1, 3, 3)
    assert F.avg_pool2d(tg.zeros(1, 1, 4, 4), 3, 2, 0, ceil_mode=True).shape == (1, 1, 2, 2)
    assert math.isfinite(F.avg_pool2d(tg.ones(1, 1, 4, 4), 3, 2, 1, ceil_mode=True).numpy().max())


@pytest.mark.parametrize("shape", [(1, 6, 13, 13), (2, 3, 5, 8), (1, 1, 4, 3)])
def test_max_pool2d_2x2_ceil_mode_partial_window(shape):
    """kernel 2 stride 2 with ceil_mode and an odd size: the last window is partial (the 2x2
    fast path once read past the plane)."""
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    H, W = shape[2:]
    OH, OW = -(-H // 2), -(-W // 2)
    padded = np.full(shape[:2] + (2 * OH, 2 * OW), -np.inf, np.float32)
    padded[..., :H, :W] = x
    want = padded.reshape(shape[:2] + (OH, 2, OW, 2)).max(axis=(3, 5))
    got = F.max_pool2d(tg.from_numpy(x), 2, ceil_mode=True)
    np.testing.assert_array_equal(got.numpy(), want)
    vals, idx = F.max_pool2d(tg.from_numpy(x), 2, ceil_mode=True, return_indices=True)
    np.testing.assert_array_equal(vals.numpy(), want)
    flat = x.reshape(shape[0], shape[1], -1)
    np.testing.assert_array_equal(np.take_along_axis(flat, idx.numpy().reshape(shape[0], shape[1], -1), 2),
                                  want.reshape(shape[0], shape[1], -1))
