"""The tensor ops sequence models use: tril/triu (and in place), cumsum/cumprod,
sort/argsort/topk, repeat, roll, flip, narrow, masked_fill and multinomial. Values vs numpy
over dtypes, dims (negative ones too) and non-contiguous inputs; gradients vs float64 finite
differences and PyTorch; node names; PyTorch's exception types and messages; random shapes
with hypothesis; multinomial's law checked by frequency tests with a fixed seed."""
import math

import numpy as np
import pytest

import tinygrad_cpp as tg
from helpers import check_grad, torch

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies
given, settings = hypothesis.given, hypothesis.settings

rng = np.random.default_rng(5)
TG = {np.float32: tg.float32, np.float64: tg.float64, np.int64: tg.int64, np.bool_: tg.bool}


def arr(shape, dtype=np.float64):
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if dtype == np.int64:
        return rng.integers(-5, 6, size=shape).astype(np.int64)
    return rng.standard_normal(shape).astype(dtype)


def noncontig(a):
    """A tg tensor equal to `a` whose memory is transposed (not contiguous when ndim >= 2)."""
    t = tg.tensor(np.ascontiguousarray(np.swapaxes(a, 0, -1))).transpose(0, -1) if a.ndim >= 2 else tg.tensor(a)
    assert t.shape == a.shape
    return t


def both(a):
    return [tg.tensor(a), noncontig(a)]


def need_torch():
    if torch is None:
        pytest.skip("torch not installed")


# ---- tril / triu ------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.bool_])
@pytest.mark.parametrize("shape", [(4, 4), (3, 5), (5, 3), (2, 3, 4), (2, 1, 3, 3), (0, 3), (3, 0)])
@pytest.mark.parametrize("diagonal", [0, 1, -1, 2, -3, 7, -7])
def test_tril_triu_vs_numpy(dtype, shape, diagonal):
    a = arr(shape, dtype)
    for x in both(a):
        np.testing.assert_array_equal(tg.tril(x, diagonal).numpy(), np.tril(a, diagonal))
        np.testing.assert_array_equal(x.triu(diagonal).numpy(), np.triu(a, diagonal))
        np.testing.assert_array_equal(x.tril(diagonal=diagonal).numpy(), np.tril(a, diagonal))
        assert tg.triu(x, diagonal).dtype == x.dtype


def test_tril_triu_huge_diagonal():
    a = arr((3, 4))
    x = tg.tensor(a)
    np.testing.assert_array_equal(x.tril(2 ** 62).numpy(), a)
    np.testing.assert_array_equal(x.tril(-(2 ** 63)).numpy(), np.zeros_like(a))
    np.testing.assert_array_equal(x.triu(-(2 ** 63)).numpy(), a)
    np.testing.assert_array_equal(x.triu(2 ** 63 - 1).numpy(), np.zeros_like(a))


@pytest.mark.parametrize("diagonal", [0, 1, -1])
def test_tril_triu_grad(diagonal):
    a = arr((2, 3, 4))
    out = check_grad(lambda x: x.tril(diagonal), a)
    assert out.grad_fn.name() == "TrilBackward0"
    out = check_grad(lambda x: x.triu(diagonal), a)
    assert out.grad_fn.name() == "TriuBackward0"
    assert tg.autograd.gradcheck(lambda x: tg.triu(x, diagonal), (tg.tensor(a, requires_grad=True),))


@pytest.mark.parametrize("name", ["tril_", "triu_"])
def test_tril_triu_inplace(name):
    a = arr((3, 4))
    ref = np.tril(a, 1) if name == "tril_" else np.triu(a, 1)
    x = tg.tensor(a)
    assert getattr(x, name)(1) is x
    np.testing.assert_array_equal(x.numpy(), ref)
    # on a non-contiguous view: writes through to the base
    base = tg.tensor(np.ascontiguousarray(a.T))
    getattr(base.T, name)(1)
    np.testing.assert_array_equal(base.T.numpy(), ref)
    # recorded by autograd on a non-leaf
    leaf = tg.tensor(a, requires_grad=True)
    y = leaf * 2.0
    getattr(y, name)(1)
    assert y.grad_fn.name() == ("TrilBackward0" if name == "tril_" else "TriuBackward0")
    y.sum().backward()
    keep = np.tril(np.ones(a.shape), 1) if name == "tril_" else np.triu(np.ones(a.shape), 1)
    np.testing.assert_array_equal(leaf.grad.numpy(), 2.0 * keep)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        getattr(tg.tensor(a, requires_grad=True), name)()
    # a tensor saved for backward and then changed in place: the backward refuses
    z = tg.tensor(a, requires_grad=True)
    w = z * 1.0
    e = w * w  # saves w
    getattr(w, name)()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        e.sum().backward()


def test_tril_inplace_vs_torch():
    need_torch()
    a = arr((3, 4))
    tx, gx = torch.tensor(a, requires_grad=True), tg.tensor(a, requires_grad=True)
    ty, gy = (tx * tx).triu_(-1), (gx * gx).triu_(-1)
    w = rng.standard_normal((3, 4))
    (ty * torch.tensor(w)).sum().backward()
    (gy * tg.tensor(w)).sum().backward()
    np.testing.assert_allclose(gy.detach().numpy(), ty.detach().numpy())
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy())


# ---- cumsum / cumprod ---------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.bool_])
@pytest.mark.parametrize("shape,dim", [((5,), 0), ((3, 4), 0), ((3, 4), 1), ((3, 4), -1), ((2, 3, 4), 1),
                                       ((2, 3, 4), -3), ((2, 0, 3), 1), ((2, 300, 3), 1), ((), 0), ((), -1)])
def test_cumsum_cumprod_vs_numpy(dtype, shape, dim):
    a = arr(shape, dtype)
    if dtype in (np.float32, np.float64):
        a = (a * 0.5 + 1.0).astype(dtype)  # products that stay finite
    nd_dim = dim if a.ndim else None
    want_sum = np.cumsum(a, axis=nd_dim).reshape(a.shape)
    want_prod = np.cumprod(a, axis=nd_dim).reshape(a.shape)
    out_dtype = TG[dtype] if dtype in (np.float32, np.float64) else tg.int64
    for x in both(a):
        s, p = tg.cumsum(x, dim), x.cumprod(dim=dim)
        assert s.dtype == out_dtype and p.dtype == out_dtype and s.shape == x.shape
        if dtype == np.int64 or dtype == np.bool_:
            np.testing.assert_array_equal(s.numpy(), want_sum)
            np.testing.assert_array_equal(p.numpy(), want_prod)
        else:
            tol = 1e-5 if dtype == np.float32 else 1e-12
            np.testing.assert_allclose(s.numpy(), want_sum, rtol=tol, atol=tol * 10)
            np.testing.assert_allclose(p.numpy(), want_prod, rtol=tol * 10, atol=tol)


def test_cumsum_float32_accumulates_in_double():
    # 2^24 + 1 + 1 + ... : a float32 accumulator would stall at 2^24
    a = np.ones(1000, np.float32)
    a[0] = 2 ** 24
    got = tg.cumsum(tg.tensor(a), 0).numpy()
    assert got[-1] == np.float32(2 ** 24 + 999)
    if torch is not None:
        np.testing.assert_array_equal(got, torch.cumsum(torch.tensor(a), 0).numpy())


def test_cumsum_dtype_argument():
    a = arr((3, 4), np.int64)
    s = tg.cumsum(tg.tensor(a), 1, dtype=tg.float64)
    assert s.dtype == tg.float64
    np.testing.assert_array_equal(s.numpy(), np.cumsum(a, 1).astype(np.float64))
    f = arr((3, 4), np.float32)
    x = tg.tensor(f, requires_grad=True)
    y = x.cumsum(0, dtype=tg.float64)
    assert y.dtype == tg.float64
    y.sum().backward()
    assert x.grad.dtype == tg.float32
    np.testing.assert_array_equal(x.grad.numpy(), np.array([[3.0] * 4, [2.0] * 4, [1.0] * 4], np.float32))
    with pytest.raises(NotImplementedError, match="not implemented for 'Bool'"):
        tg.cumsum(tg.tensor(f), 0, dtype=tg.bool)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("name", ["cumsum_", "cumprod_"])
def test_cumulative_inplace(dtype, name):
    a = arr((3, 4), dtype)
    want = (np.cumsum if name == "cumsum_" else np.cumprod)(a, axis=1).astype(dtype)
    x = tg.tensor(a)
    assert getattr(x, name)(1) is x and x.dtype == TG[dtype]
    np.testing.assert_allclose(x.numpy(), want, rtol=1e-6)
    base = tg.tensor(np.ascontiguousarray(a.T))  # a transposed view, written through
    getattr(base.T, name)(-1)
    np.testing.assert_allclose(base.T.numpy(), want, rtol=1e-6)


@pytest.mark.parametrize("name", ["cumsum_", "cumprod_"])
def test_cumulative_inplace_grad_vs_torch(name):
    need_torch()
    a = arr((3, 4))
    a[1, 2] = 0.0
    w = rng.standard_normal((2, 4))
    tx, gx = torch.tensor(a, requires_grad=True), tg.tensor(a, requires_grad=True)
    ty, gy = tx * 1.5, gx * 1.5
    getattr(ty[1:], name)(0)  # in place on a view of a non-leaf
    getattr(gy[1:], name)(0)
    (ty[1:] * torch.tensor(w)).sum().backward()
    (gy[1:] * tg.tensor(w)).sum().backward()
    np.testing.assert_allclose(gy.detach().numpy(), ty.detach().numpy())
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy())
    z = tg.tensor(a, requires_grad=True) * 1.0
    getattr(z, name)(1)
    assert z.grad_fn.name() == ("CumsumBackward0" if name == "cumsum_" else "CumprodBackward0")


@pytest.mark.parametrize("shape,dim", [((5,), 0), ((3, 4), 0), ((3, 4), -1), ((2, 3, 4), 1)])
def test_cumsum_grad(shape, dim):
    a = arr(shape)
    out = check_grad(lambda x: x.cumsum(dim), a)
    assert out.grad_fn.name() == "CumsumBackward0"
    assert tg.autograd.gradcheck(lambda x: tg.cumsum(x, dim), (tg.tensor(a, requires_grad=True),))


@pytest.mark.parametrize("zeros", [0, 1, 2])
@pytest.mark.parametrize("shape,dim", [((6,), 0), ((3, 5), 1), ((4, 3, 2), 1), ((4, 3, 2), 0)])
def test_cumprod_grad_with_zeros(zeros, shape, dim):
    a = arr(shape)
    flat = a.reshape(-1)
    for i in rng.choice(flat.size, size=zeros, replace=False):
        flat[i] = 0.0
    out = check_grad(lambda x: x.cumprod(dim), a)
    assert out.grad_fn.name() == "CumprodBackward0"


def test_cumprod_grad_rows_of_zeros_vs_torch():
    check_grad(lambda x: x.cumprod(1), np.array([[0.0, 0.0, 2.0, 3.0], [1.5, 0.0, 0.0, 0.0], [0.0, 2.0, 0.0, 4.0]]))


# ---- sort / argsort / topk --------------------------------------------------------------------

def distinct(shape, dtype=np.float64):
    n = int(np.prod(shape))
    return (rng.permutation(n).reshape(shape) - n // 2).astype(dtype) * (0.5 if dtype != np.int64 else 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("shape,dim", [((7,), 0), ((3, 5), 1), ((3, 5), 0), ((2, 4, 3), -2), ((2, 0, 3), 1),
                                       ((4, 300), -1), ((300, 3), 0)])
@pytest.mark.parametrize("descending", [False, True])
def test_sort_vs_numpy(dtype, shape, dim, descending):
    a = arr(shape, dtype)  # with ties: the sort is stable
    key = -a if descending else a
    want_idx = np.argsort(key, axis=dim, kind="stable")
    want = np.take_along_axis(a, want_idx, dim)
    for x in both(a):
        r = tg.sort(x, dim, descending)
        assert isinstance(r, tuple) and type(r).__name__ == "sort"
        values, indices = r
        assert r.values is values and r.indices is indices and indices.dtype == tg.int64
        np.testing.assert_array_equal(values.numpy(), want)
        np.testing.assert_array_equal(indices.numpy(), want_idx)
        np.testing.assert_array_equal(x.argsort(dim, descending).numpy(), want_idx)
        np.testing.assert_array_equal(tg.argsort(x, dim=dim, descending=descending, stable=True).numpy(), want_idx)
        np.testing.assert_array_equal(x.sort(dim=dim, descending=descending, stable=True).indices.numpy(), want_idx)


def test_sort_bool_and_nan():
    b = np.array([True, False, True, False, False])
    v, i = tg.sort(tg.tensor(b))
    np.testing.assert_array_equal(v.numpy(), np.sort(b))
    np.testing.assert_array_equal(i.numpy(), np.argsort(b, kind="stable"))
    a = np.array([3.0, np.nan, 1.0, -np.inf, np.nan, np.inf, 1.0])
    v, i = tg.sort(tg.tensor(a))
    np.testing.assert_array_equal(v.numpy(), np.sort(a))  # nan last, as numpy
    np.testing.assert_array_equal(i.numpy(), [3, 2, 6, 0, 5, 1, 4])
    v, i = tg.sort(tg.tensor(a), descending=True)
    np.testing.assert_array_equal(i.numpy(), [1, 4, 5, 0, 2, 6, 3])  # nan first, ties in order
    if torch is not None:
        tv, ti = torch.sort(torch.tensor(a), descending=True, stable=True)
        np.testing.assert_array_equal(v.numpy(), tv.numpy())
        np.testing.assert_array_equal(i.numpy(), ti.numpy())
        tv, ti = torch.topk(torch.tensor(a), 3)
        gv, gi = tg.topk(tg.tensor(a), 3)
        np.testing.assert_array_equal(gv.numpy(), tv.numpy())
        np.testing.assert_array_equal(gi.numpy(), ti.numpy())


def test_sort_zero_dim():
    v, i = tg.sort(tg.tensor(2.5))
    assert v.shape == () and v.item() == 2.5 and i.item() == 0
    v, i = tg.topk(tg.tensor(2.5), 1)
    assert v.item() == 2.5 and i.item() == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("shape,dim,k", [((7,), 0, 3), ((3, 5), 1, 5), ((3, 5), 0, 0), ((2, 4, 3), -2, 2),
                                         ((4, 300), -1, 10), ((300, 3), 0, 1)])
@pytest.mark.parametrize("largest", [True, False])
def test_topk_vs_numpy(dtype, shape, dim, k, largest):
    a = distinct(shape, dtype)
    order = np.argsort(-a if largest else a, axis=dim, kind="stable")
    want_idx = np.take(order, np.arange(k), axis=dim)
    want = np.take_along_axis(a, want_idx, dim)
    for x in both(a):
        r = tg.topk(x, k, dim, largest)
        assert type(r).__name__ == "topk" and r.values.shape == want.shape
        np.testing.assert_array_equal(r.values.numpy(), want)
        np.testing.assert_array_equal(r.indices.numpy(), want_idx)
        r2 = x.topk(k, dim=dim, largest=largest, sorted=False)  # the same set
        np.testing.assert_array_equal(np.sort(r2.values.numpy(), axis=dim), np.sort(want, axis=dim))


@pytest.mark.parametrize("op", ["sort", "sort_desc", "topk", "topk_small", "argsort_path"])
def test_sort_topk_grad(op):
    a = distinct((3, 5))
    fn = {"sort": lambda x: x.sort(1).values, "sort_desc": lambda x: x.sort(0, True).values,
          "topk": lambda x: x.topk(2).values, "topk_small": lambda x: x.topk(3, 0, False).values,
          "argsort_path": lambda x: x.sort(dim=-1, stable=True).values}[op]
    out = check_grad(fn, a)
    name = {"sort": "SortBackward0", "sort_desc": "SortBackward0", "topk": "TopkBackward0",
            "topk_small": "TopkBackward0", "argsort_path": "SortBackward1"}[op]
    assert out.grad_fn.name() == name
    if torch is not None:
        assert type(fn(torch.tensor(a, requires_grad=True)).grad_fn).__name__ == name
    assert tg.autograd.gradcheck(fn, (tg.tensor(a, requires_grad=True),))


# ---- repeat ----------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.bool_])
@pytest.mark.parametrize("shape,reps", [((3,), (2,)), ((3,), (2, 2)), ((2, 3), (1, 1)), ((2, 3), (2, 3)),
                                        ((2, 3), (4, 1, 2)), ((2, 3), (0, 2)), ((), (3, 2)), ((), ()),
                                        ((2, 1, 3), (1, 5, 1))])
def test_repeat_vs_numpy(dtype, shape, reps):
    a = arr(shape, dtype)
    want = np.tile(a, reps) if reps else a
    for x in both(a):
        got = x.repeat(*reps) if reps else x.repeat(())
        assert got.dtype == x.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got.numpy(), want)
        if reps:
            np.testing.assert_array_equal(x.repeat(reps).numpy(), want)
            np.testing.assert_array_equal(x.repeat(list(reps)).numpy(), want)


def test_repeat_of_expanded_and_grad():
    a = arr((3, 1))
    x = tg.tensor(a).expand(3, 4)
    np.testing.assert_array_equal(x.repeat(2, 2).numpy(), np.tile(np.broadcast_to(a, (3, 4)), (2, 2)))
    out = check_grad(lambda t: t.repeat(2, 1, 3), arr((2, 3)))
    assert out.grad_fn.name() == "RepeatBackward0"
    check_grad(lambda t: t.repeat(3, 2), arr((4,)))
    assert tg.autograd.gradcheck(lambda t: t.repeat(2, 2), (tg.tensor(arr((2, 3)), requires_grad=True),))


# ---- roll / flip --------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.bool_])
@pytest.mark.parametrize("shape,shifts,dims", [((7,), 2, 0), ((7,), -9, None), ((3, 4), 1, None), ((3, 4), 5, 1),
                                               ((3, 4), (1, -2), (0, 1)), ((2, 3, 4), (2, 1), (-1, 0)),
                                               ((2, 3, 4), (1, 1), (1, 1)), ((2, 0, 3), 1, 1), ((3, 4), 0, 0),
                                               ((3, 4), 2 ** 62, 1), ((3, 4), -(2 ** 63), (0,)), ((), 3, None)])
def test_roll_vs_numpy(dtype, shape, shifts, dims):
    a = arr(shape, dtype)
    np_shift = shifts if dims is None else shifts
    want = np.roll(a, np_shift, axis=dims)
    for x in both(a):
        got = tg.roll(x, shifts, dims) if dims is not None else x.roll(shifts)
        assert got.shape == a.shape and got.dtype == x.dtype
        np.testing.assert_array_equal(got.numpy(), want)


@pytest.mark.parametrize("shifts,dims", [(1, None), (-3, None), ((1, -2), (0, 1)), (2 ** 62 + 1, 0), (-(2 ** 63), 1)])
def test_roll_grad(shifts, dims):
    if abs(shifts if isinstance(shifts, int) else 0) < 2 ** 40:  # (PyTorch's own backward refuses huge shifts)
        out = check_grad(lambda x: x.roll(shifts, dims), arr((3, 4)))
        assert out.grad_fn.name() == "RollBackward0"
    assert tg.autograd.gradcheck(lambda x: tg.roll(x, shifts, dims), (tg.tensor(arr((3, 4)), requires_grad=True),))


@pytest.mark.parametrize("dtype", [np.float64, np.int64, np.bool_])
@pytest.mark.parametrize("shape,dims", [((5,), (0,)), ((3, 4), (0,)), ((3, 4), (1, 0)), ((2, 3, 4), (-1,)),
                                        ((2, 3, 4), ()), ((2, 0, 3), (1,)), ((2, 3, 4), [0, 2])])
def test_flip_vs_numpy(dtype, shape, dims):
    a = arr(shape, dtype)
    want = np.flip(a, axis=tuple(dims)) if dims else a
    for x in both(a):
        np.testing.assert_array_equal(tg.flip(x, dims).numpy(), want)
        np.testing.assert_array_equal(x.flip(dims).numpy(), want)
        if dims:
            np.testing.assert_array_equal(x.flip(*dims).numpy(), want)


def test_flip_grad():
    out = check_grad(lambda x: x.flip((0, 2)), arr((2, 3, 4)))
    assert out.grad_fn.name() == "FlipBackward0"


# ---- narrow and masked_fill (existing ops, checked for what sequence models need) ---------------

def test_narrow_values_and_grad():
    a = arr((4, 5, 3))
    for x in both(a):
        np.testing.assert_array_equal(x.narrow(1, 1, 3).numpy(), a[:, 1:4])
        np.testing.assert_array_equal(tg.narrow(x, -1, -2, 2).numpy(), a[..., 1:3])
        np.testing.assert_array_equal(x.narrow(0, tg.tensor(2), 2).numpy(), a[2:4])
    out = check_grad(lambda x: x.narrow(1, 1, 3), a)
    assert out.grad_fn.name() == "SliceBackward0"
    check_grad(lambda x: x.narrow(-1, 0, 1) * 2.0, a)
    with pytest.raises(RuntimeError):
        tg.tensor(a).narrow(1, 3, 3)
    with pytest.raises(IndexError):
        tg.tensor(a).narrow(3, 0, 1)


def test_masked_fill_broadcast_and_grad():
    a = arr((2, 3, 4))
    mask = rng.random((3, 1)) < 0.5
    mask[0, 0], mask[1, 0] = True, False
    want = np.where(mask, -1e9, a)
    for x in both(a):
        np.testing.assert_array_equal(x.masked_fill(tg.tensor(mask), -1e9).numpy(), want)
    out = check_grad(lambda x: x.masked_fill(tg.tensor(mask) if isinstance(x, tg.Tensor) else torch.tensor(mask), 0.0), a)
    assert out.grad_fn.name() == "MaskedFillBackward0"
    # a mask broadcasting the input up: out of place grows, in place refuses (as PyTorch)
    big = rng.random((5, 2, 3, 4)) < 0.5
    got = tg.tensor(a).masked_fill(tg.tensor(big), 7.0)
    np.testing.assert_array_equal(got.numpy(), np.where(big, 7.0, a))
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        tg.tensor(a).masked_fill_(tg.tensor(big), 7.0)
    # in place on a non-leaf, recorded; the causal mask pattern of attention
    leaf = tg.tensor(arr((4, 4)), requires_grad=True)
    causal = tg.ones(4, 4, dtype=tg.bool).triu(1)
    s = leaf * 1.0
    s.masked_fill_(causal, float("-inf"))
    p = s.softmax(-1)
    p.sum().backward()
    assert np.isfinite(leaf.grad.numpy()).all()
    np.testing.assert_array_equal(p.detach().numpy()[np.triu(np.ones((4, 4), bool), 1)], 0.0)
    # a 0-d value tensor that requires grad gets the sum of the filled positions' gradient
    v = tg.tensor(2.0, requires_grad=True)
    x = tg.tensor(a, requires_grad=True)
    x.masked_fill(tg.tensor(mask), v).sum().backward()
    assert v.grad.item() == pytest.approx(np.broadcast_to(mask, a.shape).sum())
    np.testing.assert_array_equal(x.grad.numpy(), np.broadcast_to(~mask, a.shape).astype(np.float64))


def test_masked_fill_vs_torch_grads():
    need_torch()
    a = arr((2, 3, 4))
    mask = rng.random((1, 3, 4)) < 0.5
    tx, gx = torch.tensor(a, requires_grad=True), tg.tensor(a, requires_grad=True)
    tv, gv = torch.tensor(0.5, dtype=torch.float64, requires_grad=True), tg.tensor(0.5, requires_grad=True)
    w = rng.standard_normal(a.shape)
    (tx.masked_fill(torch.tensor(mask), tv) * torch.tensor(w)).sum().backward()
    (gx.masked_fill(tg.tensor(mask), gv) * tg.tensor(w)).sum().backward()
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy())
    np.testing.assert_allclose(gv.grad.numpy(), tv.grad.numpy())


# ---- errors, against PyTorch -------------------------------------------------------------------

ERRORS = [
    ("tril 1-D", lambda m: m.tril(m.ones(3))),
    ("triu 0-D", lambda m: m.ones(()).triu()),
    ("tril_ 1-D", lambda m: m.ones(3).tril_()),
    ("tril bool diagonal", lambda m: m.ones(2, 2).tril(True)),
    ("tril float diagonal", lambda m: m.tril(m.ones(2, 2), 1.0)),
    ("cumsum dim", lambda m: m.cumsum(m.ones(3, 4), 5)),
    ("cumsum dim -3", lambda m: m.ones(3, 4).cumsum(-3)),
    ("cumsum 0-d dim 1", lambda m: m.cumsum(m.tensor(3.0), 1)),
    ("cumsum no dim", lambda m: m.cumsum(m.ones(3))),
    ("cumsum dim None", lambda m: m.cumsum(m.ones(3), None)),
    ("cumsum bool dtype", lambda m: m.cumsum(m.ones(3), 0, dtype=m.bool)),
    ("cumprod dim", lambda m: m.ones(3, 4).cumprod(2)),
    ("cumsum_ bool", lambda m: m.ones(3, dtype=m.bool).cumsum_(0)),
    ("cumprod_ bool", lambda m: m.ones(3, dtype=m.bool).cumprod_(0)),
    ("cumsum_ other dtype", lambda m: m.ones(3).cumsum_(0, dtype=m.float64)),
    ("cumprod_ int to float", lambda m: m.ones(3, dtype=m.int64).cumprod_(0, dtype=m.float32)),
    ("cumsum_ leaf", lambda m: m.ones(3, requires_grad=True).cumsum_(0)),
    ("cumsum_ dim", lambda m: m.ones(3).cumsum_(1)),
    ("topk k too big", lambda m: m.topk(m.ones(3, 4), 5)),
    ("topk k negative", lambda m: m.ones(3, 4).topk(-1)),
    ("topk dim", lambda m: m.topk(m.ones(3, 4), 2, 5)),
    ("topk 0-d k 2", lambda m: m.topk(m.tensor(3.0), 2)),
    ("topk bool", lambda m: m.topk(m.ones(3, dtype=m.bool), 2)),
    ("topk largest int", lambda m: m.topk(m.ones(3), 2, largest=1)),
    ("topk k float", lambda m: m.topk(m.ones(3), 2.0)),
    ("topk empty dim", lambda m: m.topk(m.ones(0, 3), 2, 0)),
    ("sort dim", lambda m: m.sort(m.ones(3, 4), 5)),
    ("sort dim -3", lambda m: m.ones(3, 4).sort(-3)),
    ("sort descending int", lambda m: m.sort(m.ones(3), 0, 1)),
    ("sort stable int", lambda m: m.sort(m.ones(3), stable=1)),
    ("argsort dim", lambda m: m.argsort(m.ones(3, 4), 2)),
    ("repeat fewer sizes", lambda m: m.ones(2, 3).repeat(2)),
    ("repeat negative", lambda m: m.ones(2, 3).repeat(2, -1)),
    ("repeat none", lambda m: m.ones(2, 3).repeat()),
    ("repeat float", lambda m: m.ones(2, 3).repeat(2.0, 1)),
    ("roll shifts/dims mismatch", lambda m: m.roll(m.ones(2, 3), (1, 2), 0)),
    ("roll two shifts no dims", lambda m: m.roll(m.ones(2, 3), (1, 2))),
    ("roll dims", lambda m: m.roll(m.ones(2, 3), 1, 5)),
    ("roll empty shifts", lambda m: m.roll(m.ones(2, 3), (), ())),
    ("roll float shift", lambda m: m.roll(m.ones(2, 3), 1.0)),
    ("roll bool shift", lambda m: m.roll(m.ones(2, 3), True)),
    ("roll bool dims", lambda m: m.roll(m.ones(2, 3), [1], [True])),
    ("roll 0-d with dim", lambda m: m.roll(m.tensor(1.0), 1, 0)),
    ("flip repeated", lambda m: m.flip(m.ones(2, 3), (0, 0))),
    ("flip int dims", lambda m: m.flip(m.ones(2, 3), 0)),
    ("flip dim range", lambda m: m.flip(m.ones(2, 3), (2,))),
    ("flip method no dims", lambda m: m.ones(2, 3).flip()),
    ("multinomial too many", lambda m: m.multinomial(m.tensor([0.1, 0.2, 0.7]), 4)),
    ("multinomial zero samples", lambda m: m.multinomial(m.tensor([0.1, 0.9]), 0)),
    ("multinomial negative samples", lambda m: m.multinomial(m.tensor([0.1, 0.9]), -1, True)),
    ("multinomial negative prob", lambda m: m.multinomial(m.tensor([-0.1, 1.0]), 1)),
    ("multinomial negative prob repl", lambda m: m.multinomial(m.tensor([-0.1, 1.0]), 3, True)),
    ("multinomial inf", lambda m: m.multinomial(m.tensor([1.0, math.inf]), 1)),
    ("multinomial inf repl", lambda m: m.multinomial(m.tensor([1.0, math.inf]), 3, True)),
    ("multinomial nan", lambda m: m.multinomial(m.tensor([1.0, math.nan]), 2)),
    ("multinomial nan repl", lambda m: m.multinomial(m.tensor([1.0, math.nan]), 2, True)),
    ("multinomial zero sum", lambda m: m.multinomial(m.tensor([0.0, 0.0]), 1)),
    ("multinomial zero sum repl", lambda m: m.multinomial(m.tensor([0.0, 0.0]), 3, True)),
    ("multinomial zero row", lambda m: m.multinomial(m.tensor([[0.0, 1.0], [0.0, 0.0]]), 1)),
    ("multinomial zero row repl", lambda m: m.multinomial(m.tensor([[0.0, 1.0], [0.0, 0.0]]), 2, True)),
    ("multinomial 3-D", lambda m: m.multinomial(m.ones(2, 2, 2), 1)),
    ("multinomial 0-D", lambda m: m.multinomial(m.tensor(1.0), 1)),
    ("multinomial int", lambda m: m.multinomial(m.ones(3, dtype=m.int64), 1)),
    ("multinomial no categories", lambda m: m.multinomial(m.ones(2, 0), 1)),
    ("multinomial float n", lambda m: m.multinomial(m.ones(3), 2.0)),
    ("multinomial int replacement", lambda m: m.multinomial(m.ones(3), 2, 1)),
    ("multinomial method 3 positional", lambda m: m.ones(3).multinomial(2, True, None)),
]


@pytest.mark.parametrize("desc,call", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_match_torch(desc, call):
    need_torch()
    with pytest.raises(Exception) as theirs:
        call(torch)
    with pytest.raises(Exception) as ours:
        call(tg)
    t_exc, g_exc = theirs.value, ours.value
    base = next(c for c in type(t_exc).__mro__ if c.__module__ == "builtins")
    assert isinstance(g_exc, base), f"torch raised {type(t_exc).__name__}: {t_exc}; we raised {type(g_exc).__name__}: {g_exc}"
    if isinstance(t_exc, (RuntimeError, IndexError)) and not isinstance(t_exc, TypeError):
        # the message itself (PyTorch appends no C++ context for these)
        assert str(t_exc).split("\n")[0] == str(g_exc).split("\n")[0]


def test_dim_error_message():
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 5\)"):
        tg.topk(tg.ones(3, 4), 2, 5)
    with pytest.raises(RuntimeError, match="selected index k out of range"):
        tg.topk(tg.ones(3, 4), 5)
    with pytest.raises(RuntimeError, match="can not be smaller than number of dimensions"):
        tg.ones(2, 3).repeat(2)


def test_failed_calls_leave_generator_alone():
    tg.manual_seed(3)
    ref = tg.rand(4).numpy()
    tg.manual_seed(3)
    with pytest.raises(RuntimeError):
        tg.multinomial(tg.tensor([-1.0, 1.0]), 1)
    np.testing.assert_array_equal(tg.rand(4).numpy(), ref)


# ---- multinomial ------------------------------------------------------------------------------

def chi2_ok(counts, probs, n):
    """Pearson's statistic against a bound well above its 99.99th percentile (for k-1 degrees
    of freedom, mean k-1 and sd sqrt(2(k-1))): a correct sampler fails it with probability
    ~1e-5 (the seeds are fixed, so never), a wrong law by any few percent fails it."""
    probs = np.asarray(probs, np.float64)
    expected = probs * n
    keep = expected > 0
    assert counts[~keep].sum() == 0, f"sampled a zero-probability category: {counts}"
    stat = ((counts[keep] - expected[keep]) ** 2 / expected[keep]).sum()
    dof = keep.sum() - 1
    return stat < dof + 6 * math.sqrt(2 * dof) + 10, stat


@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_multinomial_with_replacement_law(dtype):
    tg.manual_seed(1234)
    w = np.array([1.0, 0.0, 3.0, 0.5, 2.5, 0.0, 3.0])  # unnormalized weights
    n = 200_000
    s = tg.multinomial(tg.tensor(w, dtype=dtype), n, replacement=True)
    assert s.dtype == tg.int64 and s.shape == (n,)
    counts = np.bincount(s.numpy(), minlength=len(w))
    ok, stat = chi2_ok(counts, w / w.sum(), n)
    assert ok, (stat, counts)
    # a biased law is caught by the same bound (the test can fail)
    wrong = w.copy()
    wrong[0] *= 1.05
    assert not chi2_ok(counts, wrong / wrong.sum(), n)[0]


def test_multinomial_single_draw_law_2d():
    tg.manual_seed(7)
    p = np.array([[0.1, 0.2, 0.3, 0.4], [0.7, 0.0, 0.0, 0.3]])
    rows = 40_000
    big = tg.tensor(np.repeat(p, rows, axis=0))
    s = tg.multinomial(big, 1).numpy()
    assert s.shape == (2 * rows, 1)
    for r in range(2):
        counts = np.bincount(s[r * rows:(r + 1) * rows, 0], minlength=4)
        ok, stat = chi2_ok(counts, p[r], rows)
        assert ok, (r, stat, counts)


def test_multinomial_without_replacement_law():
    """Sequential sampling without replacement: P(first = i) = p_i and P(second = j | first
    = i) = p_j / (1 - p_i); the joint law of ordered pairs is checked by chi-square."""
    tg.manual_seed(99)
    p = np.array([0.5, 0.25, 0.15, 0.1])
    rows = 60_000
    s = tg.multinomial(tg.tensor(np.tile(p, (rows, 1))), 2).numpy()
    assert (s[:, 0] != s[:, 1]).all()
    joint = np.zeros((4, 4))
    for i in range(4):
        for j in range(4):
            if i != j:
                joint[i, j] = p[i] * p[j] / (1 - p[i])
    counts = np.bincount(s[:, 0] * 4 + s[:, 1], minlength=16)
    ok, stat = chi2_ok(counts, joint.reshape(-1), rows)
    assert ok, (stat, counts)
    # the first column alone has the law p
    assert chi2_ok(np.bincount(s[:, 0], minlength=4), p, rows)[0]
    # and a sampler drawing the second uniformly among the rest would fail
    uniform_rest = np.zeros((4, 4))
    for i in range(4):
        for j in range(4):
            if i != j:
                uniform_rest[i, j] = p[i] / 3
    assert not chi2_ok(counts, uniform_rest.reshape(-1), rows)[0]


def test_multinomial_without_replacement_never_repeats():
    tg.manual_seed(0)
    for ncat, k in [(5, 5), (10, 7), (100, 50), (3, 1)]:
        w = tg.rand(64, ncat) + 0.01
        s = tg.multinomial(w, k).numpy()
        assert s.shape == (64, k) and s.min() >= 0 and s.max() < ncat
        for row in s:
            assert len(set(row.tolist())) == k
    # all categories drawn: a permutation, the zero-weight ones last (as PyTorch)
    s = tg.multinomial(tg.tensor([0.0, 1.0, 0.0, 2.0]), 4).numpy()
    assert sorted(s.tolist()) == [0, 1, 2, 3] and set(s[:2].tolist()) == {1, 3}


def test_multinomial_seeding_and_generators():
    tg.manual_seed(42)
    a = tg.multinomial(tg.ones(10), 5).numpy()
    b = tg.multinomial(tg.ones(10), 5, replacement=True).numpy()
    tg.manual_seed(42)
    np.testing.assert_array_equal(tg.multinomial(tg.ones(10), 5).numpy(), a)
    np.testing.assert_array_equal(tg.ones(10).multinomial(5, replacement=True).numpy(), b)
    # the global generator moves on: the next draws differ, and so does rand after it
    tg.manual_seed(42)
    r0 = tg.rand(8).numpy()
    tg.manual_seed(42)
    tg.multinomial(tg.ones(10), 5)
    assert not np.array_equal(tg.rand(8).numpy(), r0)
    # an explicit generator is independent of the global one
    g1, g2 = tg.Generator().manual_seed(5), tg.Generator().manual_seed(5)
    x = tg.multinomial(tg.ones(2, 50), 20, generator=g1).numpy()
    np.testing.assert_array_equal(tg.multinomial(tg.ones(2, 50), 20, generator=g2).numpy(), x)
    assert not np.array_equal(x[0], x[1])  # rows get their own draws


def test_multinomial_shapes_and_empty():
    assert tg.multinomial(tg.ones(0, 3), 2).shape == (0, 2)
    assert tg.multinomial(tg.ones(3, 4), 9, True).shape == (3, 9)
    p = tg.tensor([0.2, 0.8], requires_grad=True)
    s = tg.multinomial(p, 1)
    assert not s.requires_grad and s.dtype == tg.int64
    # a noncontiguous probability matrix reads its own rows
    m = tg.tensor(np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])).t()  # rows [1,0,0], [0,1,1]
    s = tg.multinomial(m, 1).numpy()
    assert s[0, 0] == 0 and s[1, 0] in (1, 2)


# ---- against PyTorch on random data ----------------------------------------------------------

def test_forward_and_grads_vs_torch_many():
    need_torch()
    cases = [
        (lambda x: x.tril(-1), (3, 4, 5)), (lambda x: x.triu(2), (4, 6)),
        (lambda x: x.cumsum(-2), (3, 4, 5)), (lambda x: x.cumprod(0), (4, 3)),
        (lambda x: x.sort(1, True).values, (3, 6, 2)), (lambda x: x.topk(3, -1).values, (4, 8)),
        (lambda x: x.topk(2, 0, largest=False).values, (5, 3)),
        (lambda x: x.repeat(1, 2, 2), (3, 2)), (lambda x: x.roll((2, -1), (0, 2)), (3, 4, 5)),
        (lambda x: x.roll(-4), (3, 4)), (lambda x: x.flip((1,)), (3, 4)),
        (lambda x: x.transpose(0, 1).cumsum(1), (4, 5)), (lambda x: x.transpose(0, 1).topk(2).values, (4, 5)),
    ]
    for fn, shape in cases:
        check_grad(fn, distinct(shape))


@settings(max_examples=60, deadline=None)
@given(shape=st.lists(st.integers(0, 4), min_size=1, max_size=4), data=st.data())
def test_hypothesis_ops_vs_numpy(shape, data):
    a = rng.standard_normal(shape)
    nd = len(shape)
    dim = data.draw(st.integers(-nd, nd - 1))
    x = tg.tensor(a) if data.draw(st.booleans()) else noncontig(a)
    np.testing.assert_allclose(tg.cumsum(x, dim).numpy(), np.cumsum(a, axis=dim), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tg.cumprod(x, dim).numpy(), np.cumprod(a, axis=dim), rtol=1e-12, atol=1e-12)
    desc = data.draw(st.booleans())
    idx = np.argsort(-a if desc else a, axis=dim, kind="stable")
    v, i = tg.sort(x, dim, desc)
    np.testing.assert_array_equal(i.numpy(), idx)
    np.testing.assert_array_equal(v.numpy(), np.take_along_axis(a, idx, dim))
    k = data.draw(st.integers(0, shape[dim]))
    r = tg.topk(x, k, dim, largest=desc)
    np.testing.assert_array_equal(r.indices.numpy(), np.take(idx, np.arange(k), axis=dim))
    shifts = data.draw(st.lists(st.integers(-10, 10), min_size=1, max_size=3))
    dims = [data.draw(st.integers(-nd, nd - 1)) for _ in shifts]
    np.testing.assert_array_equal(tg.roll(x, shifts, dims).numpy(), np.roll(a, shifts, axis=dims))
    np.testing.assert_array_equal(tg.roll(x, shifts[0]).numpy(), np.roll(a, shifts[0]))
    fdims = sorted(set(d % nd for d in dims))
    np.testing.assert_array_equal(tg.flip(x, fdims).numpy(), np.flip(a, axis=tuple(fdims)))
    reps = data.draw(st.lists(st.integers(0, 3), min_size=nd, max_size=nd + 2))
    np.testing.assert_array_equal(x.repeat(*reps).numpy(), np.tile(a, reps))
    if nd >= 2:
        diag = data.draw(st.integers(-5, 5))
        np.testing.assert_array_equal(tg.tril(x, diag).numpy(), np.tril(a, diag))
        np.testing.assert_array_equal(tg.triu(x, diag).numpy(), np.triu(a, diag))


@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), data=st.data())
def test_hypothesis_grads_vs_torch(shape, data):
    need_torch()
    nd = len(shape)
    dim = data.draw(st.integers(-nd, nd - 1))
    a = distinct(shape)
    op = data.draw(st.sampled_from(["cumsum", "cumprod", "sort", "topk", "roll", "repeat", "flip", "tril"]))
    k = data.draw(st.integers(0, shape[dim]))
    fns = {
        "cumsum": lambda x: x.cumsum(dim), "cumprod": lambda x: x.cumprod(dim),
        "sort": lambda x: x.sort(dim, True).values, "topk": lambda x: x.topk(k, dim).values,
        "roll": lambda x: x.roll(3, dim), "repeat": lambda x: x.repeat(*([2] * (nd + 1))),
        "flip": lambda x: x.flip((dim,)), "tril": lambda x: x.reshape(shape[0], -1).tril(1),
    }
    check_grad(fns[op], a)


def test_large_rows_run_parallel_and_agree():
    """Shapes above the parallel grain (many rows, long rows, inner > 1)."""
    a = rng.standard_normal((512, 300))
    x = tg.tensor(a)
    np.testing.assert_allclose(tg.cumsum(x, 1).numpy(), np.cumsum(a, 1), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(tg.cumsum(x, 0).numpy(), np.cumsum(a, 0), rtol=1e-10, atol=1e-10)
    np.testing.assert_array_equal(tg.sort(x, 0).values.numpy(), np.sort(a, 0))
    np.testing.assert_array_equal(tg.topk(x, 5).indices.numpy(), np.argsort(-a, 1, kind="stable")[:, :5])
    np.testing.assert_array_equal(tg.tril(x, 3).numpy(), np.tril(a, 3))
    np.testing.assert_array_equal(tg.roll(x, (7, -3), (0, 1)).numpy(), np.roll(a, (7, -3), (0, 1)))


def test_multinomial_same_draws_for_any_thread_count():
    p = tg.rand(256, 1000) + 0.01
    n = tg.get_num_threads()
    try:
        draws = []
        for threads in (1, 2, 4):
            tg.set_num_threads(threads)
            tg.manual_seed(17)
            draws.append((tg.multinomial(p, 3).numpy(), tg.multinomial(p, 40, True).numpy()))
    finally:
        tg.set_num_threads(n)
    for a, b in draws[1:]:
        np.testing.assert_array_equal(a, draws[0][0])
        np.testing.assert_array_equal(b, draws[0][1])
