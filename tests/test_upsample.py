"""F.interpolate ('nearest', 'nearest-exact', 'linear', 'bilinear'; size or scale_factor;
align_corners; recompute_scale_factor) and nn.Upsample / UpsamplingNearest2d /
UpsamplingBilinear2d: values vs a numpy port of PyTorch's source-index rules and vs PyTorch
(when importable), gradients vs float64 finite differences and PyTorch, random shapes and
scales with hypothesis, node names, errors of PyTorch's types."""
import math
import warnings

import numpy as np
import pytest

import tinygrad_cpp as tg
import tinygrad_cpp.nn as nn
import tinygrad_cpp.nn.functional as F
from helpers import check_grad, numeric_grad, torch

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

rng = np.random.default_rng(5)
TG = {np.float32: tg.float32, np.float64: tg.float64}


# ---- numpy reference ---------------------------------------------------------------------

def np_nearest_index(n_in, n_out, scale, exact, shortcuts=False):
    """PyTorch's nearest rules, in float as PyTorch computes them; its 2-d 'nearest' kernel
    (`shortcuts`) copies equal sizes and halves the index for doubled sizes, whatever the
    scale."""
    if shortcuts and n_out in (n_in, 2 * n_in):
        return np.arange(n_out) // (n_out // n_in)
    r = np.float32(1.0 / scale) if scale else np.float32(n_in) / np.float32(n_out)
    o = np.arange(n_out)
    src = ((o + 0.5) * np.float64(r)).astype(np.float32) if exact else o.astype(np.float32) * r
    return np.minimum(np.floor(src).astype(np.int64), n_in - 1)


def np_linear_matrix(n_in, n_out, align_corners, scale, dtype):
    """The [n_out, n_in] matrix of PyTorch's linear taps along one dim."""
    m = np.zeros((n_out, n_in), dtype=np.float64)
    if n_in == n_out:
        return np.eye(n_in)
    T = dtype
    if align_corners:
        ratio = T(n_in - 1) / T(n_out - 1) if n_out > 1 else T(0)
    else:
        ratio = T(1.0 / scale) if scale else T(n_in) / T(n_out)
    for o in range(n_out):
        real = ratio * T(o) if align_corners else ratio * (T(o) + T(0.5)) - T(0.5)
        real = max(real, T(0))
        i = min(int(np.floor(np.float32(real))), n_in - 1)
        lam = min(max(real - T(i), T(0)), T(1))
        m[o, i] += 1 - lam
        m[o, i + (1 if i < n_in - 1 else 0)] += lam
    return m


def out_sizes(shape, size, scale):
    k = len(shape) - 2
    if size is not None:
        return list(size) if isinstance(size, (tuple, list)) else [size] * k
    scales = list(scale) if isinstance(scale, (tuple, list)) else [scale] * k
    return [int(math.floor(shape[2 + d] * scales[d])) for d in range(k)]


def np_matrices(shape, size=None, scale=None, mode="nearest", align_corners=False, recompute=False,
                dtype=np.float64):
    """One [out, in] matrix per spatial dim: the interpolation is separable."""
    k = len(shape) - 2
    outs = out_sizes(shape, size, scale)
    scales = [None] * k if size is not None or recompute else (
        list(scale) if isinstance(scale, (tuple, list)) else [scale] * k)
    mats = []
    for d in range(k):
        n_in = shape[2 + d]
        if mode.startswith("nearest"):
            idx = np_nearest_index(n_in, outs[d], scales[d], mode == "nearest-exact",
                                   shortcuts=mode == "nearest" and k == 2)
            mats.append(np.eye(n_in)[idx])
        else:
            mats.append(np_linear_matrix(n_in, outs[d], align_corners, scales[d], dtype))
    return mats


def _apply(a, mats):
    out = a.astype(np.float64)
    for d, m in enumerate(mats):
        out = np.moveaxis(np.tensordot(m, np.moveaxis(out, 2 + d, 0), axes=(1, 0)), 0, 2 + d)
    return out


def np_interpolate(a, size=None, scale=None, mode="nearest", align_corners=False, recompute=False):
    return _apply(a, np_matrices(a.shape, size, scale, mode, align_corners, recompute, a.dtype.type))


def np_interpolate_backward(shape, g, size=None, scale=None, mode="nearest", align_corners=False,
                            recompute=False, dtype=np.float64):
    """The adjoint of np_interpolate: the transposed matrices."""
    mats = np_matrices(shape, size, scale, mode, align_corners, recompute, dtype)
    return _apply(g, [m.T for m in mats])


# ---- values ------------------------------------------------------------------------------

CASES = [  # (shape, kwargs)
    ((2, 3, 5), dict(size=9)),
    ((2, 3, 5), dict(size=3)),
    ((2, 3, 5), dict(scale_factor=2)),
    ((2, 3, 5), dict(scale_factor=1.7)),
    ((2, 3, 5), dict(scale_factor=0.5)),
    ((1, 2, 4, 5), dict(size=(7, 3))),
    ((1, 2, 4, 5), dict(scale_factor=(2.5, 1.5))),
    ((1, 2, 4, 5), dict(scale_factor=0.6)),
    ((1, 1, 2, 3, 4), dict(size=(3, 5, 2))),
    ((1, 1, 2, 3, 4), dict(scale_factor=(1.5, 2.0, 0.75))),
]
LINEAR_CASES = [(s, kw) for s, kw in CASES if len(s) <= 4]


def _mode_for(shape, linear):
    return ("linear" if len(shape) == 3 else "bilinear") if linear else None


@pytest.mark.parametrize("shape,kw", CASES, ids=[f"{s}-{k}" for s, k in CASES])
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nearest_matches_reference(shape, kw, mode, dtype):
    a = rng.standard_normal(shape).astype(dtype)
    out = F.interpolate(tg.tensor(a), mode=mode, **kw)
    assert out.dtype is TG[dtype]
    expected = np_interpolate(a, kw.get("size"), kw.get("scale_factor"), mode)
    np.testing.assert_array_equal(out.numpy(), expected.astype(dtype))
    if torch is not None:
        np.testing.assert_array_equal(out.numpy(), torch.nn.functional.interpolate(
            torch.tensor(a), mode=mode, **kw).numpy())


@pytest.mark.parametrize("shape,kw", LINEAR_CASES, ids=[f"{s}-{k}" for s, k in LINEAR_CASES])
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("recompute", [None, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linear_matches_reference(shape, kw, align_corners, recompute, dtype):
    if recompute and "size" in kw:
        return
    mode = _mode_for(shape, True)
    a = rng.standard_normal(shape).astype(dtype)
    out = F.interpolate(tg.tensor(a), mode=mode, align_corners=align_corners,
                        recompute_scale_factor=recompute, **kw)
    expected = np_interpolate(a, kw.get("size"), kw.get("scale_factor"), mode, align_corners, bool(recompute))
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out.numpy(), expected, **tol)
    if torch is not None:
        t = torch.nn.functional.interpolate(torch.tensor(a), mode=mode, align_corners=align_corners,
                                            recompute_scale_factor=recompute, **kw)
        np.testing.assert_allclose(out.numpy(), t.numpy(), **tol)


def test_hand_computed_values():
    x = tg.arange(4.0).view(1, 1, 4)
    assert F.interpolate(x, size=6).tolist() == [[[0, 0, 1, 2, 2, 3]]]
    assert F.interpolate(x, size=6, mode="nearest-exact").tolist() == [[[0, 1, 1, 2, 3, 3]]]
    # with a scale factor the source index is floor(o / scale), not o >> 1
    assert F.interpolate(x, scale_factor=2.2).tolist() == [[[0, 0, 0, 1, 1, 2, 2, 3]]]
    y = tg.arange(6.0).view(1, 1, 6)
    assert F.interpolate(y, size=4, mode="linear").tolist() == [[[0.25, 1.75, 3.25, 4.75]]]
    np.testing.assert_allclose(F.interpolate(y, scale_factor=0.7, mode="linear").numpy(),
                               [[[0.2142857313, 1.6428571939, 3.0714287758, 4.5]]], rtol=1e-6)
    np.testing.assert_allclose(F.interpolate(y, scale_factor=0.7, mode="linear",
                                             recompute_scale_factor=True).numpy(),
                               [[[0.25, 1.75, 3.25, 4.75]]])
    z = tg.arange(3.0).view(1, 1, 3)
    assert F.interpolate(z, size=5, mode="linear", align_corners=True).tolist() == [[[0, 0.5, 1, 1.5, 2]]]
    assert F.interpolate(z, size=1, mode="linear", align_corners=True).tolist() == [[[0.0]]]
    # equal sizes copy, whatever the scale factor (linear); nearest still uses the scale
    two = tg.arange(2.0).view(1, 1, 2)
    assert F.interpolate(two, scale_factor=1.2, mode="linear").tolist() == [[[0.0, 1.0]]]
    assert F.interpolate(two, scale_factor=1.2).tolist() == [[[0.0, 0.0]]]
    assert F.interpolate(two, scale_factor=1.2, mode="nearest-exact").tolist() == [[[0.0, 1.0]]]
    # ... except in 2-d, where PyTorch's nearest kernel keeps the equal and double size shortcuts
    sq = tg.arange(4.0).view(1, 1, 1, 4)
    assert F.interpolate(sq, scale_factor=(1.0, 1.2)).tolist() == [[[[0.0, 1.0, 2.0, 3.0]]]]
    assert F.interpolate(sq, scale_factor=(1.0, 2.2)).tolist() == [[[[0, 0, 1, 1, 2, 2, 3, 3]]]]
    cube = tg.arange(8.0).view(1, 1, 2, 2, 2)
    assert F.interpolate(cube, scale_factor=1.2).flatten().tolist() == [0.0] * 8
    b = tg.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    np.testing.assert_allclose(F.interpolate(b, size=3, mode="bilinear", align_corners=True).numpy(),
                               [[[[1, 1.5, 2], [2, 2.5, 3], [3, 3.5, 4]]]])


def test_zero_batch_and_non_contiguous_input():
    assert F.interpolate(tg.zeros(0, 2, 3, 4), size=3, mode="bilinear").shape == (0, 2, 3, 3)
    assert F.interpolate(tg.zeros(0, 2, 3), size=5).shape == (0, 2, 5)
    a = rng.standard_normal((3, 2, 4, 5))
    x = tg.tensor(a).permute(1, 0, 3, 2)
    np.testing.assert_allclose(F.interpolate(x, size=(4, 6), mode="bilinear").numpy(),
                               np_interpolate(a.transpose(1, 0, 3, 2), (4, 6), None, "bilinear"), rtol=1e-12)


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_large_input_runs_in_parallel_and_matches(mode):
    a = rng.standard_normal((4, 8, 24, 20)).astype(np.float32)
    x = tg.tensor(a, requires_grad=True)
    out = F.interpolate(x, scale_factor=(2.0, 1.5), mode=mode)
    assert out.shape == (4, 8, 48, 30)
    expected = np_interpolate(a, None, (2.0, 1.5), mode)
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-5, atol=1e-6)
    g = rng.standard_normal(out.shape).astype(np.float32)
    out.backward(tg.tensor(g))
    # the adjoint per plane: separable, so apply the transposed per-dim operators
    if mode == "nearest":
        ih = np_nearest_index(24, 48, 2.0, False, True)
        iw = np_nearest_index(20, 30, 1.5, False, True)
        ref = np.zeros_like(a, dtype=np.float64)
        np.add.at(ref, (slice(None), slice(None), ih[:, None], iw[None, :]), g)
    else:
        mh = np_linear_matrix(24, 48, False, 2.0, np.float32)
        mw = np_linear_matrix(20, 30, False, 1.5, np.float32)
        ref = np.einsum("oh,pw,ncop->nchw", mh, mw, g.astype(np.float64))
    np.testing.assert_allclose(x.grad.numpy(), ref, rtol=1e-4, atol=1e-5)


# ---- gradients ---------------------------------------------------------------------------

GRAD_CASES = [
    ((1, 2, 3), dict(size=5, mode="nearest")),
    ((1, 2, 5), dict(scale_factor=0.6, mode="nearest")),
    ((1, 2, 3), dict(size=7, mode="nearest-exact")),
    ((1, 1, 3, 4), dict(size=(5, 3), mode="nearest")),
    ((1, 1, 3, 2), dict(scale_factor=1.5, mode="nearest-exact")),
    ((1, 1, 2, 2, 3), dict(size=(3, 3, 2), mode="nearest")),
    ((2, 1, 4), dict(size=7, mode="linear")),
    ((2, 1, 4), dict(size=7, mode="linear", align_corners=True)),
    ((1, 2, 6), dict(scale_factor=0.7, mode="linear")),
    ((1, 1, 3, 4), dict(size=(5, 3), mode="bilinear")),
    ((1, 1, 3, 4), dict(size=(5, 6), mode="bilinear", align_corners=True)),
    ((1, 2, 3, 3), dict(scale_factor=(1.5, 0.7), mode="bilinear")),
]


@pytest.mark.parametrize("shape,kw", GRAD_CASES, ids=[f"{s}-{k}" for s, k in GRAD_CASES])
def test_gradients(shape, kw):
    a = rng.standard_normal(shape)
    tf = None if torch is None else (lambda t: torch.nn.functional.interpolate(t, **kw))
    check_grad(lambda t: F.interpolate(t, **kw), a, torch_fn=tf)


@pytest.mark.parametrize("shape,kw", GRAD_CASES, ids=[f"{s}-{k}" for s, k in GRAD_CASES])
def test_gradients_match_numpy_adjoint(shape, kw):
    a = rng.standard_normal(shape)
    x = tg.tensor(a, requires_grad=True)
    out = F.interpolate(x, **kw)
    g = rng.standard_normal(out.shape)
    out.backward(tg.tensor(g))
    ref = np_interpolate_backward(shape, g, size=kw.get("size"), scale=kw.get("scale_factor"),
                                  mode=kw["mode"], align_corners=kw.get("align_corners", False))
    np.testing.assert_allclose(x.grad.numpy(), ref, rtol=1e-12, atol=1e-12)


def test_node_names():
    x3, x4, x5 = (tg.zeros(*s, requires_grad=True) for s in [(1, 1, 3), (1, 1, 3, 3), (1, 1, 2, 2, 2)])
    assert F.interpolate(x3, scale_factor=2).grad_fn.name() == "UpsampleNearest1DBackward0"
    assert F.interpolate(x4, scale_factor=2).grad_fn.name() == "UpsampleNearest2DBackward0"
    assert F.interpolate(x5, scale_factor=2).grad_fn.name() == "UpsampleNearest3DBackward0"
    assert F.interpolate(x4, size=5, mode="nearest-exact").grad_fn.name() == "UpsampleNearestExact2DBackward0"
    assert F.interpolate(x3, size=5, mode="linear").grad_fn.name() == "UpsampleLinear1DBackward0"
    assert F.interpolate(x4, size=5, mode="bilinear").grad_fn.name() == "UpsampleBilinear2DBackward0"
    with tg.no_grad():
        assert F.interpolate(x4, size=5, mode="bilinear").grad_fn is None


# ---- random shapes and scales ------------------------------------------------------------

@st.composite
def interp_case(draw):
    mode = draw(st.sampled_from(["nearest", "nearest-exact", "linear", "bilinear"]))
    k = {"linear": 1, "bilinear": 2}.get(mode) or draw(st.integers(1, 3))
    shape = [draw(st.integers(0, 2)), draw(st.integers(1, 2))] + [draw(st.integers(1, 6)) for _ in range(k)]
    kw = {"mode": mode}
    if draw(st.booleans()):
        kw["size"] = tuple(draw(st.integers(1, 9)) for _ in range(k))
    else:
        scales = [draw(st.sampled_from([0.5, 0.75, 1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 1.0 / 3.0, 0.9])) for _ in range(k)]
        scales = [max(s, 1.0 / n + 1e-9) if n * s < 1 else s for s, n in zip(scales, shape[2:])]
        kw["scale_factor"] = tuple(scales)
        if draw(st.booleans()):
            kw["recompute_scale_factor"] = True
    if mode in ("linear", "bilinear"):
        kw["align_corners"] = draw(st.booleans())
    return shape, kw, draw(st.sampled_from([np.float32, np.float64]))


@hypothesis.settings(max_examples=150, deadline=None, derandomize=True, database=None)
@hypothesis.given(interp_case())
def test_random_interpolations(case):
    shape, kw, dtype = case
    a = np.random.default_rng(len(shape)).standard_normal(shape).astype(dtype)
    x = tg.tensor(a, requires_grad=True)
    out = F.interpolate(x, **kw)
    expected = np_interpolate(a, kw.get("size"), kw.get("scale_factor"), kw["mode"],
                              kw.get("align_corners", False), kw.get("recompute_scale_factor", False))
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out.detach().numpy(), expected, **tol)
    g = np.random.default_rng(2).standard_normal(out.shape).astype(dtype)
    out.backward(tg.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), np_interpolate_backward(
        shape, g, kw.get("size"), kw.get("scale_factor"), kw["mode"], kw.get("align_corners", False),
        kw.get("recompute_scale_factor", False), dtype), **tol)
    if torch is not None:
        tx = torch.tensor(a, requires_grad=True)
        tout = torch.nn.functional.interpolate(tx, **kw)
        np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), **tol)
        tout.backward(torch.tensor(g))
        if not _torch_backward_takes_shortcuts(shape, kw):
            np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), **tol)


def _torch_backward_takes_shortcuts(shape, kw):
    """PyTorch's 1-d and 3-d 'nearest' backward copies equal sizes and halves the index
    for doubled sizes even where its forward used a given scale factor instead, so its
    gradient is not the adjoint of its forward there (test_torch_nearest_backward_quirk)."""
    if kw["mode"] != "nearest" or len(shape) == 4 or "size" in kw or kw.get("recompute_scale_factor"):
        return False
    outs = out_sizes(shape, None, kw["scale_factor"])
    return any(o in (n, 2 * n) for o, n in zip(outs, shape[2:]))


def test_torch_nearest_backward_quirk():
    # 2 -> 2 by scale 1.2 in 1-d: both read input 0, so input 1 gets no gradient (PyTorch's
    # backward gives it output 1's, as if the forward had copied)
    x = tg.tensor([[[1.0, 2.0]]], requires_grad=True)
    y = F.interpolate(x, scale_factor=1.2)
    assert y.tolist() == [[[1.0, 1.0]]]
    y.backward(tg.tensor([[[1.0, 10.0]]]))
    assert x.grad.tolist() == [[[11.0, 0.0]]]
    # and the finite differences agree with ours
    with tg.no_grad():
        w, (fd,) = numeric_grad(lambda a: F.interpolate(tg.tensor(a), scale_factor=1.2).numpy(),
                                [np.array([[[1.0, 2.0]]])])
    x.grad = None
    F.interpolate(x.double(), scale_factor=1.2).backward(tg.tensor(w))
    np.testing.assert_allclose(x.grad.numpy(), fd, atol=1e-6)


# ---- errors ------------------------------------------------------------------------------

ERRORS = [  # (shape, kwargs, dtype, PyTorch's exception)
    ((1, 2, 4), dict(size=3, scale_factor=2), "f", ValueError),
    ((1, 2, 4), dict(), "f", ValueError),
    ((1, 2, 4), dict(size=3, align_corners=True), "f", ValueError),
    ((1, 2, 4), dict(size=3, mode="nearest-exact", align_corners=False), "f", ValueError),
    ((1, 2, 3, 4), dict(size=3, mode="linear"), "f", NotImplementedError),
    ((1, 2, 4), dict(size=3, mode="bilinear"), "f", NotImplementedError),
    ((1, 1, 2, 2, 2), dict(size=3, mode="bilinear"), "f", NotImplementedError),
    ((2, 3), dict(size=3), "f", NotImplementedError),
    ((1, 1, 1, 1, 1, 1), dict(size=3), "f", NotImplementedError),
    ((1, 2, 4), dict(size=3, mode="foo"), "f", NotImplementedError),
    ((1, 2, 4), dict(size=3, mode=None), "f", NotImplementedError),
    ((1, 2, 3, 4), dict(size=(3,)), "f", ValueError),
    ((1, 2, 3, 4), dict(scale_factor=(3.0, 2.0, 1.0)), "f", ValueError),
    ((1, 2, 3, 4), dict(size=(3.0, 2)), "f", TypeError),
    ((1, 2, 3, 4), dict(size=3.0), "f", TypeError),
    ((1, 2, 3, 4), dict(size=True), "f", TypeError),
    ((1, 2, 3, 4), dict(scale_factor="a"), "f", TypeError),
    ((1, 2, 3, 4), dict(size=0), "f", RuntimeError),
    ((1, 2, 3, 4), dict(size=-1), "f", RuntimeError),
    ((1, 2, 3, 4), dict(scale_factor=0.1), "f", RuntimeError),
    ((1, 2, 3, 4), dict(scale_factor=-2.0), "f", RuntimeError),
    ((1, 2, 3, 4), dict(scale_factor=float("nan")), "f", RuntimeError),
    ((1, 2, 3, 4), dict(scale_factor=float("inf")), "f", RuntimeError),
    ((1, 2, 3, 4), dict(scale_factor=1e20), "f", RuntimeError),
    ((1, 2, 3, 4), dict(size=3, recompute_scale_factor=True), "f", ValueError),
    ((1, 2, 3, 4), dict(size=3, antialias=True), "f", ValueError),
    ((1, 0, 3, 4), dict(size=3), "f", RuntimeError),
    ((1, 0, 3), dict(size=3, mode="linear"), "f", RuntimeError),
    ((1, 2, 0, 4), dict(size=3), "f", RuntimeError),
    ((1, 2, 4), dict(size=3, mode="linear", align_corners=1), "f", TypeError),
    ((1, 1, 4), dict(size=6), "i", NotImplementedError),
    ((1, 1, 4), dict(size=6, mode="linear"), "i", NotImplementedError),
    ((1, 1, 4), dict(size=6), "b", NotImplementedError),
]
DT = {"f": (tg.float32, "float32"), "i": (tg.int64, "int64"), "b": (tg.bool, "bool")}


@pytest.mark.parametrize("shape,kw,dt,exc", ERRORS, ids=[f"{s}-{k}-{d}" for s, k, d, _ in ERRORS])
def test_errors(shape, kw, dt, exc):
    x = tg.zeros(*shape, dtype=DT[dt][0])
    with pytest.raises(exc) as info:
        F.interpolate(x, **kw)
    assert type(info.value) is exc
    if torch is not None:
        with pytest.raises(Exception) as tinfo:
            torch.nn.functional.interpolate(torch.zeros(shape, dtype=getattr(torch, DT[dt][1])), **kw)
        assert type(tinfo.value) is exc


def test_error_messages_name_the_sizes():
    with pytest.raises(RuntimeError, match=r"input \(H: 3, W: 4\) output \(H: 0, W: 0\)"):
        F.interpolate(tg.zeros(1, 2, 3, 4), size=0)
    with pytest.raises(RuntimeError, match=r"\[1, 0, 3, 4\]"):
        F.interpolate(tg.zeros(1, 0, 3, 4), size=3, mode="bilinear")
    with pytest.raises(NotImplementedError, match="int64"):
        F.interpolate(tg.zeros(1, 1, 3, dtype=tg.int64), size=3)
    with pytest.raises(TypeError, match="Tensor"):
        F.interpolate([1.0], size=3)


def test_unsupported_modes_raise_not_implemented():
    for mode, shape in [("bicubic", (1, 1, 3, 3)), ("trilinear", (1, 1, 2, 2, 2)), ("area", (1, 1, 3, 3))]:
        with pytest.raises(NotImplementedError, match="not supported"):
            F.interpolate(tg.zeros(*shape), size=4, mode=mode)
    with pytest.raises(NotImplementedError, match="antialias"):
        F.interpolate(tg.zeros(1, 1, 3, 3), size=4, mode="bilinear", antialias=True)


# ---- modules -----------------------------------------------------------------------------

MODULES = [
    ("Upsample", dict(scale_factor=2)),
    ("Upsample", dict(size=3, mode="bilinear")),
    ("Upsample", dict(size=(3, 4), mode="bilinear", align_corners=True)),
    ("Upsample", dict(scale_factor=(2.0, 1.5), mode="nearest-exact")),
    ("Upsample", dict(scale_factor=1.5, mode="bilinear", recompute_scale_factor=True)),
    ("UpsamplingNearest2d", dict(scale_factor=2)),
    ("UpsamplingNearest2d", dict(size=(5, 3))),
    ("UpsamplingBilinear2d", dict(size=3)),
    ("UpsamplingBilinear2d", dict(scale_factor=1.5)),
]


@pytest.mark.parametrize("name,kw", MODULES, ids=[f"{n}-{k}" for n, k in MODULES])
def test_modules(name, kw):
    a = rng.standard_normal((2, 3, 4, 5))
    m = getattr(nn, name)(**kw)
    assert isinstance(m, nn.modules.upsampling.Upsample)
    out = m(tg.tensor(a))
    mode = m.mode
    ac = bool(m.align_corners) if mode == "bilinear" else False
    size = kw.get("size")
    expected = np_interpolate(a, size, None if size is not None else m.scale_factor, mode, ac,
                              bool(m.recompute_scale_factor))
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)
    if torch is not None:
        tm = getattr(torch.nn, name)(**kw)
        assert repr(m) == repr(tm)
        np.testing.assert_allclose(out.numpy(), tm(torch.tensor(a)).numpy(), rtol=1e-12, atol=1e-12)


def test_module_attributes_and_repr():
    m = nn.Upsample(scale_factor=2)
    assert m.scale_factor == 2.0 and isinstance(m.scale_factor, float)
    assert m.align_corners is None and m.recompute_scale_factor is None and m.size is None
    assert repr(m) == "Upsample(scale_factor=2.0, mode='nearest')"
    assert nn.Upsample(scale_factor=(2, 3)).scale_factor == (2.0, 3.0)
    assert repr(nn.Upsample(size=(3, 4), mode="bilinear")) == "Upsample(size=(3, 4), mode='bilinear')"
    assert nn.UpsamplingBilinear2d(scale_factor=2).align_corners is True
    assert repr(nn.UpsamplingNearest2d(scale_factor=2)) == "UpsamplingNearest2d(scale_factor=2.0, mode='nearest')"
    with pytest.raises(ValueError, match="only one of size or scale_factor"):
        nn.Upsample(size=3, scale_factor=2)(tg.zeros(1, 1, 2, 2))


def test_deprecated_functional_aliases_warn():
    x = tg.tensor(rng.standard_normal((1, 1, 2, 3)))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        a = F.upsample(x, scale_factor=2)
        b = F.upsample_bilinear(x, size=4)
        c = F.upsample_nearest(x, size=(3, 3))
    assert len(w) == 3 and all("deprecated" in str(x.message) for x in w)
    np.testing.assert_array_equal(a.numpy(), F.interpolate(x, scale_factor=2).numpy())
    np.testing.assert_array_equal(b.numpy(), F.interpolate(x, size=4, mode="bilinear", align_corners=True).numpy())
    np.testing.assert_array_equal(c.numpy(), F.interpolate(x, size=(3, 3)).numpy())
