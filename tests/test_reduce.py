"""Reductions: sum, mean, var, std, prod, logsumexp (forward vs numpy in float64, backward
vs finite differences and PyTorch), dims handling, empty and 0-d tensors, accuracy and
the fast paths of the reduction kernel."""
import numpy as np
import pytest

import tinygrad_cpp as tg
from helpers import check_grad, torch

RNG = np.random.default_rng(0)
DTYPES = [np.float32, np.float64]
TG_DTYPE = {np.float32: tg.float32, np.float64: tg.float64}


def layouts(a):
    """`a` as tensors of several memory layouts with the same values."""
    big = np.zeros((a.shape[0] * 2,) + a.shape[1:], a.dtype)
    big[::2] = a
    perm = tuple(reversed(range(a.ndim)))
    return {
        "contiguous": tg.tensor(a),
        "permuted": tg.from_numpy(np.ascontiguousarray(a.transpose(perm))).permute(*perm),
        "strided": tg.from_numpy(big[::2]),
    }


def tol(dtype):
    return dict(rtol=2e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)


DIMS = [None, 0, 1, -1, (0, 2), (-1, 0), (2, 1, 0), ()]


def np_dims(dim, ndim):
    if dim is None or dim == ():
        return tuple(range(ndim))
    return dim


# ---- sum / mean --------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("keepdim", [False, True])
def test_sum_mean_forward(dtype, dim, keepdim):
    a = RNG.standard_normal((3, 4, 5)).astype(dtype)
    ref64 = a.astype(np.float64)
    nd = np_dims(dim, 3)
    for name, t in layouts(a).items():
        kw = {} if dim is None else {"dim": dim}
        s = t.sum(keepdim=keepdim, **kw)
        m = tg.mean(t, keepdim=keepdim, **kw)
        assert s.dtype == TG_DTYPE[dtype] and m.dtype == TG_DTYPE[dtype], name
        np.testing.assert_allclose(s.numpy(), ref64.sum(nd, keepdims=keepdim), **tol(dtype), err_msg=name)
        np.testing.assert_allclose(m.numpy(), ref64.mean(nd, keepdims=keepdim), **tol(dtype), err_msg=name)


def test_sum_of_ints_and_bools_is_int64():
    a = RNG.integers(-5, 5, (4, 6))
    t = tg.tensor(a)
    assert t.sum().dtype == tg.int64 and t.sum().item() == a.sum()
    np.testing.assert_array_equal(t.sum(1).numpy(), a.sum(1))
    b = tg.tensor(a > 0)
    assert b.sum().dtype == tg.int64
    np.testing.assert_array_equal(b.sum(0).numpy(), (a > 0).sum(0))
    np.testing.assert_array_equal(t.prod(0).numpy(), a.prod(0))


def test_sum_and_mean_dtype_argument():
    a = RNG.integers(0, 10, (3, 4))
    t = tg.tensor(a)
    s = t.sum(1, dtype=tg.float64)
    assert s.dtype == tg.float64
    np.testing.assert_allclose(s.numpy(), a.sum(1))
    m = t.mean(dtype=tg.float32)
    assert m.dtype == tg.float32 and m.item() == pytest.approx(a.mean())
    with pytest.raises(RuntimeError, match="mean\\(\\): could not infer output dtype.*int64"):
        t.mean()
    with pytest.raises(RuntimeError, match="could not infer output dtype"):
        tg.ones(3).mean(dtype=tg.int64)
    x = tg.tensor(RNG.standard_normal(5).astype(np.float32), requires_grad=True)
    y = x.sum(dtype=tg.float64)
    assert y.dtype == tg.float64
    y.backward()
    assert x.grad.dtype == tg.float32
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(5))


def test_sum_over_broadcast_view():
    t = tg.tensor(np.arange(3.0)).expand(4, 3)  # stride 0 on dim 0
    np.testing.assert_array_equal(t.sum(0).numpy(), [0, 4, 8])
    np.testing.assert_array_equal(t.sum(1).numpy(), [3, 3, 3, 3])
    assert t.sum().item() == 12
    np.testing.assert_array_equal(t.sum([0, 1], keepdim=True).numpy(), [[12]])  # a list of dims


@pytest.mark.parametrize("shape,dim", [
    ((64, 128), 0),         # the bias gradient: rows layout
    ((300, 700), 0),        # several column blocks
    ((40000, 3), 0),        # rows layout, reduced block cut in chunks
    ((3, 40000), 1),        # runs layout, chunked
    ((200, 300), None),     # full reduction, chunked
    ((5, 6, 7, 8), (0, 2)),  # reduced dims with kept dims between them
    ((5, 6, 7, 8), (1, 3)),
])
@pytest.mark.parametrize("dtype", DTYPES)
def test_sum_fast_paths_match_numpy(shape, dim, dtype):
    a = RNG.standard_normal(shape).astype(dtype)
    ref = a.astype(np.float64).sum(axis=dim)
    for name, t in layouts(a).items():
        np.testing.assert_allclose(t.sum(dim).numpy(), ref, rtol=2e-6 if dtype == np.float32 else 1e-11,
                                   atol=1e-5 if dtype == np.float32 else 1e-11, err_msg=name)


def test_float32_sum_is_accurate(vec_isa):
    # 1e6 values near 1: naive float32 accumulation would be off by ~1e-4 relative
    a = (1 + RNG.random(1_000_000) * 1e-3).astype(np.float32)
    ref = a.astype(np.float64).sum()
    assert abs(tg.tensor(a).sum().item() - ref) <= 1e-7 * ref
    for n in (1, 7, 8, 9, 63, 64, 65, 1000, 16385):  # every tail and block boundary
        part = a[:n] * np.float32(1 + n % 3) - np.float32(1)
        np.testing.assert_allclose(tg.tensor(part).sum().item(), part.astype(np.float64).sum(), rtol=1e-6, atol=1e-6)
    col = a.reshape(-1, 4)  # over dim 0 (rows layout), 250000 rows
    np.testing.assert_allclose(tg.tensor(col).sum(0).numpy(), col.astype(np.float64).sum(0), rtol=1e-7)
    np.testing.assert_allclose(tg.tensor(col).mean(0).numpy(), col.astype(np.float64).mean(0), rtol=1e-7)


def test_parallel_reduction_is_deterministic():
    a = RNG.standard_normal((1000, 700)).astype(np.float32)
    t = tg.tensor(a)
    prev = tg.get_num_threads()
    try:
        tg.set_num_threads(1)
        one = [t.sum().item(), t.sum(0).numpy().copy(), t.sum(1).numpy().copy()]
        tg.set_num_threads(max(2, prev))
        many = [t.sum().item(), t.sum(0).numpy().copy(), t.sum(1).numpy().copy()]
    finally:
        tg.set_num_threads(prev)
    assert one[0] == many[0]
    np.testing.assert_array_equal(one[1], many[1])
    np.testing.assert_array_equal(one[2], many[2])


# ---- var / std ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [None, 0, -1, (0, 2)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_var_std_forward(dtype, dim, keepdim):
    a = (RNG.standard_normal((4, 5, 6)) * 3 + 100).astype(dtype)  # large mean: two-pass matters
    ref = a.astype(np.float64)
    nd = np_dims(dim, 3)
    for name, t in layouts(a).items():
        for kwargs, ddof in [({}, 1), ({"unbiased": False}, 0), ({"correction": 0}, 0),
                             ({"correction": 2}, 2), ({"unbiased": True}, 1)]:
            v = t.var(dim, keepdim=keepdim, **kwargs)
            s = tg.std(t, dim, keepdim=keepdim, **kwargs)
            np.testing.assert_allclose(v.numpy(), ref.var(nd, ddof=ddof, keepdims=keepdim),
                                       rtol=1e-5 if dtype == np.float32 else 1e-10, err_msg=name)
            np.testing.assert_allclose(s.numpy(), ref.std(nd, ddof=ddof, keepdims=keepdim),
                                       rtol=1e-5 if dtype == np.float32 else 1e-10, err_msg=name)


def test_var_positional_forms_like_torch():
    a = RNG.standard_normal((3, 4))
    t = tg.tensor(a)
    np.testing.assert_allclose(t.var(False).item(), a.var())          # x.var(unbiased)
    np.testing.assert_allclose(t.var(True).item(), a.var(ddof=1))
    np.testing.assert_allclose(tg.var(t, 0, False, True).numpy(), a.var(0, keepdims=True))
    np.testing.assert_allclose(t.std(1, True).numpy(), a.std(1, ddof=1))
    np.testing.assert_allclose(t.var(0, correction=0.5).numpy(), ((a - a.mean(0)) ** 2).sum(0) / 2.5)
    with pytest.raises(TypeError):
        t.var(0, unbiased=True, correction=1)
    with pytest.raises(RuntimeError, match="floating point"):
        tg.tensor([1, 2, 3]).var()
    with pytest.raises(RuntimeError, match="floating point"):
        tg.tensor([1, 2, 3]).std()


def test_var_too_few_elements_gives_nan_or_inf_like_torch():
    assert np.isnan(tg.tensor([1.0]).var().item())
    assert np.isnan(tg.tensor(3.0).std().item())
    assert np.isinf(tg.tensor([1.0, 2.0, 4.0]).var(correction=5).item())


# ---- prod --------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_prod_forward(dtype):
    a = (RNG.random((3, 4, 5)) + 0.5).astype(dtype)
    for name, t in layouts(a).items():
        np.testing.assert_allclose(t.prod().item(), a.astype(np.float64).prod(), rtol=1e-5, err_msg=name)
        for d in [0, 1, -1]:
            np.testing.assert_allclose(t.prod(d).numpy(), a.astype(np.float64).prod(d), rtol=1e-6, err_msg=name)
            assert t.prod(d, keepdim=True).shape == a.prod(d, keepdims=True).shape
    with pytest.raises(TypeError):
        tg.tensor(a).prod((0, 1))


# ---- logsumexp ---------------------------------------------------------------------------

def np_logsumexp(a, axis, keepdims=False):
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isinf(m), 0, m)
    r = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    return r if keepdims else np.squeeze(r, axis=axis)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [0, 1, -1, (0, 2), ()])
def test_logsumexp_forward(dtype, dim):
    a = (RNG.standard_normal((3, 4, 5)) * 5).astype(dtype)
    nd = np_dims(dim, 3)
    for name, t in layouts(a).items():
        for keepdim in [False, True]:
            np.testing.assert_allclose(t.logsumexp(dim, keepdim=keepdim).numpy(),
                                       np_logsumexp(a.astype(np.float64), nd, keepdim),
                                       rtol=1e-6 if dtype == np.float32 else 1e-12, err_msg=name)


@pytest.mark.parametrize("dtype", DTYPES)
def test_logsumexp_is_stable(dtype, vec_isa):
    a = np.array([[1e4, 1e4 - 1, -1e4], [-1e4, -1e4 - 2, -1e4 + 1]], dtype)
    got = tg.tensor(a).logsumexp(1).numpy()
    np.testing.assert_allclose(got, np_logsumexp(a.astype(np.float64), 1), rtol=1e-6)
    inf = np.inf
    b = np.array([[-inf, -inf], [inf, 1.0], [-inf, 2.0], [np.nan, 1.0], [inf, np.nan]], dtype)
    got = tg.tensor(b).logsumexp(1).numpy()
    assert got[0] == -inf and got[1] == inf and got[2] == pytest.approx(2.0)
    assert np.isnan(got[3]) and np.isnan(got[4])


def test_logsumexp_of_ints_is_float32():
    t = tg.tensor([[1, 2], [3, 4]])
    r = t.logsumexp(1)
    assert r.dtype == tg.float32
    np.testing.assert_allclose(r.numpy(), np_logsumexp(np.array([[1., 2], [3, 4]]), 1), rtol=1e-6)


# ---- backward ----------------------------------------------------------------------------

@pytest.mark.parametrize("dim,keepdim", [(None, False), (0, False), (1, True), ((0, 2), False), (-1, True)])
def test_sum_mean_backward(dim, keepdim):
    a = RNG.standard_normal((3, 4, 2))
    kw = {} if dim is None else {"dim": dim, "keepdim": keepdim}
    check_grad(lambda x: x.sum(**kw), a)
    check_grad(lambda x: x.mean(**kw), a)
    # through a non-contiguous view
    check_grad(lambda x: x.permute(2, 0, 1).sum(**kw) * 2.0, a)


@pytest.mark.parametrize("dim,keepdim", [(None, False), (0, False), (1, True), ((0, 2), False)])
@pytest.mark.parametrize("correction", [0, 1, 2])
def test_var_std_backward(dim, keepdim, correction):
    a = RNG.standard_normal((3, 4, 5))
    check_grad(lambda x: x.var(dim, keepdim=keepdim, correction=correction), a)
    check_grad(lambda x: x.std(dim, keepdim=keepdim, correction=correction), a)
    check_grad(lambda x: x.permute(1, 2, 0).std(dim, keepdim=keepdim, correction=correction), a)


def test_std_of_constant_has_zero_gradient_like_torch():
    x = tg.tensor([2.0, 2.0, 2.0], requires_grad=True)
    x.std().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0])


@pytest.mark.parametrize("dim,keepdim", [(0, False), (1, True), ((0, 2), False), ((), False), (-1, True)])
def test_logsumexp_backward(dim, keepdim):
    a = RNG.standard_normal((3, 4, 2))
    tdim = dim if dim != () else (0, 1, 2)  # torch rejects an empty dim tuple here
    check_grad(lambda x: x.logsumexp(dim, keepdim=keepdim), a,
               torch_fn=lambda x: x.logsumexp(tdim, keepdim=keepdim))
    check_grad(lambda x: x.permute(2, 1, 0).logsumexp(dim, keepdim=keepdim), a,
               torch_fn=lambda x: x.permute(2, 1, 0).logsumexp(tdim, keepdim=keepdim))


@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_logsumexp_backward_at_large_magnitude(dtype):
    x = tg.tensor([[1e4, 1e4], [-1e4, 0.0]], dtype=dtype, requires_grad=True)
    x.logsumexp(1).sum().backward()
    # float32 cannot hold 1e4 + log 2 closer than 5e-4 (PyTorch gives 0.4999 as well)
    np.testing.assert_allclose(x.grad.numpy(), [[0.5, 0.5], [0.0, 1.0]],
                               atol=5e-4 if dtype == tg.float32 else 1e-12)


@pytest.mark.parametrize("dim", [None, 0, 1, -1])
def test_prod_backward(dim):
    a = RNG.random((3, 4)) + 0.5
    if dim is None:
        check_grad(lambda x: x.prod(), a)
    else:
        check_grad(lambda x: x.prod(dim), a)
        check_grad(lambda x: x.prod(dim, keepdim=True), a)
        check_grad(lambda x: x.permute(1, 0).prod(dim), a)


def test_prod_backward_with_zeros():
    for vals, expected in [([0.0, 2.0, 0.0, 3.0], [0, 0, 0, 0]), ([0.0, 2.0, 5.0, 3.0], [30, 0, 0, 0]),
                           ([1.0, 2.0, 5.0, 3.0], [30, 15, 6, 10])]:
        x = tg.tensor(vals, requires_grad=True)
        x.prod().backward()
        np.testing.assert_allclose(x.grad.numpy(), expected)
    a = np.array([[0.0, 2.0, 3.0], [1.0, 0.0, 0.0], [4.0, 5.0, 6.0]])
    x = tg.tensor(a, requires_grad=True)
    x.prod(0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[4, 0, 0], [0, 10, 18], [0, 0, 0]])


def test_grad_fn_names_match_torch():
    x = tg.tensor(RNG.standard_normal((3, 4)), requires_grad=True)
    names = {
        "SumBackward0": x.sum(), "SumBackward1": x.sum(0),
        "MeanBackward0": x.mean(), "MeanBackward1": x.mean((0, 1)),
        "VarBackward0": x.var(0), "StdBackward0": x.std(),
        "LogsumexpBackward0": x.logsumexp(1),
        "ProdBackward0": x.prod(), "ProdBackward1": x.prod(1),
    }
    for name, y in names.items():
        assert y.grad_fn.name() == name
    if torch is not None:
        tx = torch.tensor(x.detach().numpy(), requires_grad=True)
        assert tx.sum().grad_fn.name() == "SumBackward0" and tx.prod(1).grad_fn.name() == "ProdBackward1"


def test_no_graph_without_grad():
    x = tg.tensor(RNG.standard_normal((3, 4)), requires_grad=True)
    with tg.no_grad():
        assert x.sum(0).grad_fn is None and not x.var().requires_grad


# ---- dims, 0-d and empty tensors -------------------------------------------------------

def test_dim_errors():
    t = tg.ones(2, 3)
    for fn in [lambda d: t.sum(d), lambda d: t.mean(d), lambda d: t.var(d), lambda d: t.logsumexp(d),
               lambda d: t.prod(d), lambda d: t.amax(d)]:
        with pytest.raises(IndexError, match=r"range of \[-2, 1\], but got 2"):
            fn(2)
        with pytest.raises(IndexError, match=r"but got -3"):
            fn(-3)
    for fn in [lambda d: t.sum(d), lambda d: t.mean(d), lambda d: t.std(d), lambda d: t.logsumexp(d),
               lambda d: t.amin(d)]:
        with pytest.raises(RuntimeError, match="dim 0 appears multiple times"):
            fn((0, -2))
        with pytest.raises(RuntimeError, match="appears multiple times"):
            fn((1, 1))


def test_zero_dim_tensors():
    t = tg.tensor(3.0)
    for d in [0, -1, (0,), (0, -1)[:1]]:
        assert t.sum(d).shape == () and t.sum(d).item() == 3.0
        assert t.sum(d, keepdim=True).shape == ()
        assert t.mean(d).item() == 3.0
        assert t.logsumexp(d).item() == pytest.approx(3.0)
    assert t.prod(0).item() == 3.0
    assert np.isnan(t.var(0).item())
    assert t.var(0, correction=0).item() == 0.0
    with pytest.raises(IndexError, match=r"\[-1, 0\], but got 1"):
        t.sum(1)
    x = tg.tensor(2.0, requires_grad=True)
    (x.sum(0) * x.mean()).backward()
    assert x.grad.item() == 4.0


def test_empty_tensors():
    e = tg.zeros(0, 3)
    assert e.sum().item() == 0 and e.sum().shape == ()
    np.testing.assert_array_equal(e.sum(0).numpy(), [0, 0, 0])
    assert e.sum(1).shape == (0,)
    assert np.isnan(e.mean().item())
    assert np.all(np.isnan(e.mean(0).numpy())) and e.mean(1).shape == (0,)
    assert np.all(np.isnan(e.var(0).numpy()))
    np.testing.assert_array_equal(e.prod(0).numpy(), [1, 1, 1])
    np.testing.assert_array_equal(e.logsumexp(0).numpy(), [-np.inf] * 3)
    assert e.logsumexp(1).shape == (0,)
    assert tg.zeros(0).sum(dtype=tg.int64).dtype == tg.int64
    x = tg.zeros(0, 3, requires_grad=True)
    x.sum(0).sum().backward()
    assert x.grad.shape == (0, 3)


# ---- random geometries -------------------------------------------------------------------

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies


@st.composite
def reduction_case(draw):
    ndim = draw(st.integers(0, 4))
    shape = tuple(draw(st.lists(st.integers(0, 5), min_size=ndim, max_size=ndim)))
    perm = tuple(draw(st.permutations(range(ndim))))
    dims = tuple(draw(st.lists(st.integers(-max(ndim, 1), max(ndim, 1) - 1), max_size=ndim, unique_by=lambda d: d % max(ndim, 1))))
    expand_dim = draw(st.integers(-1, ndim - 1))  # a dim to broadcast from size 1 (stride 0)
    return shape, perm, dims, expand_dim, draw(st.booleans()), draw(st.integers(0, 2**32 - 1))


@hypothesis.settings(max_examples=80, deadline=None)
@hypothesis.given(reduction_case())
def test_random_geometries_match_numpy(case):
    shape, perm, dims, expand_dim, keepdim, seed = case
    a = np.asarray(np.random.default_rng(seed).standard_normal(
        tuple(1 if d == expand_dim else s for d, s in enumerate(shape))))
    # a view with the axes permuted in memory, then broadcast (stride 0) along expand_dim
    inv = [int(i) for i in np.argsort(perm)]
    t = tg.from_numpy(a.transpose(perm).copy()).permute(*inv)
    if expand_dim >= 0:
        t, a = t.expand(*shape), np.broadcast_to(a, shape)
    assert t.shape == a.shape
    axes = tuple(d % a.ndim for d in dims) if dims and a.ndim else None  # None: all
    np.testing.assert_allclose(t.sum(dims, keepdim).numpy(), a.sum(axes, keepdims=keepdim), atol=1e-12)
    with np.errstate(invalid="ignore", divide="ignore"):
        ref_mean = a.sum(axes, keepdims=keepdim) / (a.size / max(a.sum(axes, keepdims=keepdim).size, 1))
    np.testing.assert_allclose(t.mean(dims, keepdim).numpy(), ref_mean, atol=1e-12)
    reduced = [a.shape[d] for d in (axes if axes is not None else range(a.ndim))]
    if a.size and all(reduced) or (axes is not None and all(reduced)):
        np.testing.assert_array_equal(t.amax(dims, keepdim).numpy(), a.max(axes, keepdims=keepdim))
    if axes and a.shape[axes[0]] > 0:
        d, ax = dims[0], axes[0]
        r = t.min(d, keepdim)
        np.testing.assert_array_equal(r.values.numpy(), a.min(ax, keepdims=keepdim))
        np.testing.assert_array_equal(r.indices.numpy(), a.argmin(ax, keepdims=keepdim))
        e = np.exp(a - a.max(ax, keepdims=True))
        np.testing.assert_allclose(t.softmax(d).numpy(), e / e.sum(ax, keepdims=True), rtol=1e-12)
