"""index_select, gather, scatter_add, masked_fill, nonzero, index_put_: values vs numpy,
backward vs finite differences and PyTorch, errors."""
import numpy as np
import pytest

import tinygrad_cpp as tg
from helpers import check_grad, torch
from test_shape import DTYPES, arr, both, noncontig


def lib_of(x):
    return tg if isinstance(x, tg.Tensor) else torch


def idx_t(x, a):
    """An int64 index tensor of the library of x."""
    return tg.tensor(np.asarray(a)) if isinstance(x, tg.Tensor) else torch.tensor(np.asarray(a))


# ---- index_select ------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_index_select(dtype):
    a = arr((4, 5, 3), dtype)
    for t in both(a):
        for dim in range(-3, 3):
            idx = np.array([0, 2, 2, 1])[: a.shape[dim]] if a.shape[dim] < 4 else np.array([3, 0, 3, 1])
            r = t.index_select(dim, tg.tensor(idx))
            np.testing.assert_array_equal(r.numpy(), np.take(a, idx, axis=dim))
        np.testing.assert_array_equal(tg.index_select(t, 1, tg.tensor(4)).numpy(), a[:, [4]])
        assert t.index_select(0, tg.tensor(np.zeros(0, np.int64))).shape == (0, 5, 3)
    assert tg.tensor(2.0).index_select(0, tg.tensor([0])).item() == 2.0


def test_index_select_errors_and_grad():
    t = tg.zeros(3, 4)
    with pytest.raises(IndexError, match="index 3 is out of bounds for dimension 0 with size 3"):
        t.index_select(0, tg.tensor([0, 3]))
    with pytest.raises(IndexError, match="index -1 is out of bounds"):
        t.index_select(1, tg.tensor([-1]))  # no negative indices, as in PyTorch
    with pytest.raises(IndexError, match="supposed to be a vector"):
        t.index_select(0, tg.tensor([[0]]))
    with pytest.raises(RuntimeError, match="Expected dtype int64"):
        t.index_select(0, tg.tensor([0.0]))
    assert tg.zeros(3, requires_grad=True).index_select(0, tg.tensor([1])).grad_fn.name() == "IndexSelectBackward0"
    a = arr((4, 3))
    check_grad(lambda x: x.index_select(0, idx_t(x, [3, 1, 3, 3])), a)
    check_grad(lambda x: lib_of(x).index_select(x.t(), 1, idx_t(x, [2, 2, 0])), a)


# ---- gather / scatter_add ----------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_gather_matches_take_along_axis(dtype):
    a = arr((4, 5), dtype)
    rng = np.random.default_rng(1)
    for t in both(a):
        for dim in (0, 1, -1):
            idx = rng.integers(0, a.shape[dim], size=(3, 5) if dim == 0 else (4, 7))
            np.testing.assert_array_equal(t.gather(dim, tg.tensor(idx)).numpy(), np.take_along_axis(a, idx, dim))
        idx = np.array([[1], [0]])  # smaller than the input on the other dim
        np.testing.assert_array_equal(tg.gather(t, 1, tg.tensor(idx)).numpy(), np.take_along_axis(a[:2], idx, 1))
        idx_nc = tg.tensor(np.array([[0, 1, 2, 3], [4, 4, 0, 0]])).t()  # strided index
        np.testing.assert_array_equal(t.gather(1, idx_nc).numpy(), np.take_along_axis(a, idx_nc.numpy(), 1))
    assert tg.tensor(3.0).gather(0, tg.tensor(0)).item() == 3.0
    assert tg.zeros(2, 3).gather(1, tg.tensor(np.zeros((2, 0), np.int64))).shape == (2, 0)


def test_gather_errors():
    t = tg.zeros(3, 4)
    with pytest.raises(IndexError, match="index 4 is out of bounds for dimension 1 with size 4"):
        t.gather(1, tg.tensor([[0, 4]]))
    with pytest.raises(IndexError, match="index -1 is out of bounds"):
        t.gather(0, tg.tensor([[-1]]))
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        t.gather(0, tg.tensor([0]))
    with pytest.raises(RuntimeError, match=r"Size does not match at dimension 1 expected index \[2, 5\]"):
        t.gather(0, tg.tensor(np.zeros((2, 5), np.int64)))
    with pytest.raises(RuntimeError, match="Expected dtype int64"):
        t.gather(0, tg.zeros(1, 1))


def test_gather_grad_accumulates_repeats():
    a = arr((3, 4))
    idx = np.array([[0, 0, 3], [1, 1, 1], [2, 0, 2]])
    check_grad(lambda x: x.gather(1, idx_t(x, idx)), a)
    check_grad(lambda x: lib_of(x).gather(x, 0, idx_t(x, [[2, 2, 2, 0]])), a)
    assert tg.zeros(2, requires_grad=True).gather(0, tg.tensor([1])).grad_fn.name() == "GatherBackward0"


def np_scatter_add(a, dim, idx, src):
    out = a.copy()
    for pos in np.ndindex(*idx.shape):
        tgt = list(pos)
        tgt[dim] = idx[pos]
        out[tuple(tgt)] += src[pos]
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_scatter_add(dtype):
    a, src = arr((3, 4), dtype, 1), arr((3, 5), dtype, 2)
    idx1 = np.array([[0, 1, 1, 3], [2, 2, 2, 2]])
    idx0 = np.array([[0, 2, 2, 0], [2, 2, 1, 0]])
    for t, s in zip(both(a), both(src)):
        np.testing.assert_array_equal(t.scatter_add(1, tg.tensor(idx1), s).numpy(), np_scatter_add(a, 1, idx1, src))
        np.testing.assert_array_equal(tg.scatter_add(t, 0, tg.tensor(idx0), s).numpy(), np_scatter_add(a, 0, idx0, src))
    np.testing.assert_array_equal(tg.tensor(a).numpy(), a)  # out of place


def test_scatter_add_errors_and_grad():
    t = tg.zeros(3, 4)
    with pytest.raises(IndexError, match="index 3 is out of bounds for dimension 0 with size 3"):
        t.scatter_add(0, tg.tensor([[3]]), tg.ones(1, 1))
    with pytest.raises(RuntimeError, match="Expected self.dtype to be equal to src.dtype"):
        t.scatter_add(0, tg.tensor([[0]]), tg.ones(1, 1, dtype=tg.float64))
    with pytest.raises(RuntimeError, match="no larger than src"):
        t.scatter_add(0, tg.tensor([[0, 0]]), tg.ones(1, 1))
    idx = np.array([[0, 2, 2, 0], [1, 2, 2, 2]])
    check_grad(lambda x, s: x.scatter_add(0, idx_t(x, idx), s), arr((3, 4), seed=1), arr((2, 4), seed=2))
    # src larger than index: its unread elements get zero gradient (PyTorch errors here)
    x, s = tg.tensor(arr((3, 4), seed=1), requires_grad=True), tg.tensor(arr((2, 5), seed=2), requires_grad=True)
    assert tg.autograd.gradcheck(lambda x, s: x.scatter_add(0, tg.tensor(idx), s), (x, s))
    x.scatter_add(0, tg.tensor(idx), s).backward(tg.ones(3, 4, dtype=tg.float64))
    np.testing.assert_array_equal(s.grad.numpy(), [[1, 1, 1, 1, 0], [1, 1, 1, 1, 0]])
    check_grad(lambda x, s: (x * 2.0).scatter_add(1, idx_t(x, idx % 4), s * s), arr((3, 4), seed=1), arr((2, 4), seed=2))


def test_big_gather_scatter_parallel_path():
    rng = np.random.default_rng(5)
    a = rng.standard_normal((3000, 40))
    idx = rng.integers(0, 40, size=(3000, 60))
    t = tg.tensor(a)
    np.testing.assert_array_equal(t.gather(1, tg.tensor(idx)).numpy(), np.take_along_axis(a, idx, 1))
    src = rng.standard_normal((3000, 60))
    expected = a.copy()
    np.add.at(expected, (np.arange(3000)[:, None], idx), src)
    np.testing.assert_allclose(t.scatter_add(1, tg.tensor(idx), tg.tensor(src)).numpy(), expected, rtol=1e-12)


# ---- masked_fill -------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_masked_fill(dtype):
    a = arr((3, 4), dtype)
    m = arr((3, 4), np.bool_, 7)
    for t in both(a):
        for mask in both(m):
            np.testing.assert_array_equal(t.masked_fill(mask, 1).numpy(), np.where(m, dtype(1), a))
        np.testing.assert_array_equal(tg.masked_fill(t, tg.tensor(m[0]), 0).numpy(), np.where(m[0], dtype(0), a))
        np.testing.assert_array_equal(t.masked_fill(tg.tensor(m), tg.tensor(0)).numpy(), np.where(m, dtype(0), a))
    # the mask may broadcast the input too, as in PyTorch
    r = tg.tensor(a[0]).masked_fill(tg.tensor(m), 5)
    np.testing.assert_array_equal(r.numpy(), np.where(m, dtype(5), a[0]))


def test_masked_fill_errors_and_grad():
    t = tg.zeros(2, 3)
    with pytest.raises(RuntimeError, match="only supports boolean masks, but got mask with dtype int64"):
        t.masked_fill(tg.tensor([1, 0, 0]), 1.0)
    with pytest.raises(RuntimeError, match="0-dimensional value tensor"):
        t.masked_fill(tg.tensor([True, False, True]), tg.tensor([1.0]))
    with pytest.raises(RuntimeError, match=r"\[2, 3\].*\[2\]"):
        t.masked_fill(tg.tensor([True, False]), 1.0)
    m = arr((3, 4), np.bool_, 7)
    check_grad(lambda x: x.masked_fill(lib_of(x).tensor(m), -2.0) * x, arr((3, 4)))
    check_grad(lambda x: x.masked_fill(lib_of(x).tensor(m), -2.0), arr((4,)))  # broadcast input
    check_grad(lambda x, v: x.masked_fill(lib_of(x).tensor(m), v.sum()), arr((3, 4)), arr((2,)))
    assert tg.zeros(2, requires_grad=True).masked_fill(tg.tensor([True, False]), 0.0).grad_fn.name() == "MaskedFillBackward0"


def test_masked_fill_inplace():
    a = arr((3, 4))
    m = a > 0
    t = tg.tensor(a)
    v0 = t._version
    assert t.masked_fill_(tg.tensor(m), 0.0) is t
    np.testing.assert_array_equal(t.numpy(), np.where(m, 0.0, a))
    assert t._version > v0
    x = tg.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        x.masked_fill_(tg.tensor([True, False, True]), 1.0)
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        tg.zeros(3).masked_fill_(tg.tensor([[True], [False]]), 1.0)


# ---- nonzero / index_put_ ----------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_nonzero(dtype):
    for shape in [(7,), (3, 4), (2, 3, 4), (0, 3)]:
        a = arr(shape, dtype)
        if dtype != np.bool_:
            a = np.where(np.abs(a) > 2, a, 0).astype(dtype)
        for t in both(a):
            r = t.nonzero()
            assert r.dtype == tg.int64
            np.testing.assert_array_equal(r.numpy(), np.argwhere(a))
    big = np.random.default_rng(0).random((300, 500)) > 0.7
    np.testing.assert_array_equal(tg.nonzero(tg.tensor(big)).numpy(), np.argwhere(big))
    assert tg.tensor(3.0).nonzero().shape == (1, 0) and tg.tensor(0.0).nonzero().shape == (0, 0)


def test_index_put_accumulate():
    t = tg.zeros(3, 4)
    t.index_put_((tg.tensor([0, 0, 2]),), tg.ones(3, 4), accumulate=True)
    np.testing.assert_array_equal(t.numpy()[:, 0], [2.0, 0.0, 1.0])
    t.index_put_((None, tg.tensor([1, 1])), tg.tensor(5.0))
    np.testing.assert_array_equal(t.numpy()[:, 1], [5.0, 5.0, 5.0])
    with pytest.raises(IndexError):
        t.index_put_((tg.tensor([3]),), tg.tensor(1.0))
