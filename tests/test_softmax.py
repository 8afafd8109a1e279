"""softmax / log_softmax: values vs numpy in float64, stability at large magnitudes,
every dim and layout, gradients, errors."""
import numpy as np
import pytest

import tinygrad_cpp as tg
from helpers import check_grad, torch
from test_reduce import DTYPES, layouts

RNG = np.random.default_rng(2)


def np_log_softmax(a, axis):
    a = a.astype(np.float64)
    m = a.max(axis=axis, keepdims=True)
    return a - m - np.log(np.exp(a - m).sum(axis=axis, keepdims=True))


def np_softmax(a, axis):
    return np.exp(np_log_softmax(a, axis))


def tol(dtype):
    return dict(rtol=2e-6, atol=1e-7) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_softmax_forward(dtype, dim):
    a = (RNG.standard_normal((3, 4, 5)) * 4).astype(dtype)
    for name, t in layouts(a).items():
        s = t.softmax(dim)
        ls = tg.log_softmax(t, dim)
        assert s.dtype == t.dtype and ls.shape == t.shape
        np.testing.assert_allclose(s.numpy(), np_softmax(a, dim), **tol(dtype), err_msg=name)
        np.testing.assert_allclose(ls.numpy(), np_log_softmax(a, dim), **tol(dtype), err_msg=name)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,dim", [((64, 10), 1), ((64, 10), 0), ((3, 1000), 1), ((2, 300, 7), 1),
                                       ((2, 5, 600), 1), ((1, 100003), 1), ((8, 3, 33), 2)])
def test_softmax_shapes(dtype, shape, dim):
    # the MNIST shape, rows longer than the vector width, dims that are not last with more
    # than one block of columns, and odd sizes that leave vector tails
    a = (RNG.standard_normal(shape) * 3).astype(dtype)
    t = tg.tensor(a)
    np.testing.assert_allclose(t.softmax(dim).numpy(), np_softmax(a, dim), **tol(dtype))
    np.testing.assert_allclose(t.log_softmax(dim).numpy(), np_log_softmax(a, dim),
                               rtol=tol(dtype)["rtol"], atol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [0, 1])
def test_stable_at_large_magnitude(dtype, dim):
    a = np.array([[1e4, -1e4, 0.0, 1e4 - 1], [-1e4, -1e4 + 3, -1e4, -2e4]], dtype)
    t = tg.tensor(a if dim == 1 else a.T.copy())
    s, ls = t.softmax(dim).numpy(), t.log_softmax(dim).numpy()
    assert np.all(np.isfinite(s)) and np.all(np.isfinite(ls))
    ref = a if dim == 1 else a.T
    np.testing.assert_allclose(s, np_softmax(ref, dim), rtol=1e-6, atol=1e-30)
    np.testing.assert_allclose(ls, np_log_softmax(ref, dim), rtol=1e-6)
    for fn in ["softmax", "log_softmax"]:
        x = tg.tensor(a, requires_grad=True)
        (getattr(x, fn)(1) * tg.tensor(np.eye(2, 4, dtype=dtype))).sum().backward()
        assert np.all(np.isfinite(x.grad.numpy())), fn


def test_extreme_values_like_torch():
    inf = np.inf
    a = np.array([[-inf, 1.0, 2.0], [-inf, -inf, -inf], [inf, 1.0, 2.0], [np.nan, 1.0, 2.0]])
    s = tg.tensor(a).softmax(1).numpy()
    ls = tg.tensor(a).log_softmax(1).numpy()
    np.testing.assert_allclose(s[0], [0.0, *np_softmax(a[0, 1:], 0)])
    assert ls[0, 0] == -inf
    assert np.all(np.isnan(s[1:])) and np.all(np.isnan(ls[1:]))
    if torch is not None:
        np.testing.assert_allclose(s, torch.tensor(a).softmax(1).numpy())
        np.testing.assert_allclose(ls, torch.tensor(a).log_softmax(1).numpy())


def test_float32_exp_accuracy_over_the_range(vec_isa):
    # the vectorized float exp: every lane and tail position, arguments down to underflow
    a = np.linspace(-110, 0, 10007).astype(np.float32)
    got = tg.tensor(a[None]).softmax(1).numpy()[0]
    np.testing.assert_allclose(got, np_softmax(a, 0), rtol=2e-6, atol=1e-44)


@pytest.mark.parametrize("n", [1, 3, 7, 8, 15, 16, 17, 63, 64, 65, 129, 1000, 4099])
def test_float32_rows_of_every_length(n, vec_isa):
    # the SIMD row passes (max, exp and sum, scale): every lane count, tail and block
    a = (RNG.standard_normal((3, n)) * 4).astype(np.float32)
    a[1] += 50  # the max is subtracted first
    s, ls = tg.tensor(a).softmax(1).numpy(), tg.tensor(a).log_softmax(1).numpy()
    np.testing.assert_allclose(s, np_softmax(a, 1), rtol=2e-6, atol=1e-30)
    np.testing.assert_allclose(ls, np_log_softmax(a, 1), rtol=2e-6, atol=2e-6)
    np.testing.assert_allclose(tg.tensor(a).logsumexp(1).numpy(),
                               np.log(np.exp(a.astype(np.float64) - 60).sum(1)) + 60, rtol=1e-6)
    nan_row = a.copy()
    nan_row[0, n // 2] = np.nan
    assert np.all(np.isnan(tg.tensor(nan_row).softmax(1).numpy()[0]))
    assert np.all(np.isfinite(tg.tensor(nan_row).softmax(1).numpy()[1:]))


def test_dtype_argument_and_int_inputs():
    t = tg.tensor([[1, 2, 3], [4, 5, 7]])
    with pytest.raises(RuntimeError, match="softmax.*int64"):
        t.softmax(1)
    with pytest.raises(RuntimeError, match="log_softmax.*int64"):
        tg.log_softmax(t, 0)
    s = t.softmax(1, dtype=tg.float64)
    assert s.dtype == tg.float64
    np.testing.assert_allclose(s.numpy(), np_softmax(np.array([[1, 2, 3], [4, 5, 7]]), 1), rtol=1e-13)
    x = tg.tensor(RNG.standard_normal((2, 3)).astype(np.float32), requires_grad=True)
    y = x.log_softmax(1, dtype=tg.float64)
    assert y.dtype == tg.float64
    y.sum().backward()
    assert x.grad.dtype == tg.float32


def test_zero_dim_and_empty():
    assert tg.tensor(3.0).softmax(0).item() == 1.0
    assert tg.tensor(3.0).log_softmax(-1).item() == 0.0
    with pytest.raises(IndexError, match=r"\[-1, 0\], but got 1"):
        tg.tensor(3.0).softmax(1)
    with pytest.raises(IndexError, match=r"\[-2, 1\], but got 2"):
        tg.ones(2, 3).softmax(2)
    e = tg.zeros(0, 4)
    assert e.softmax(1).shape == (0, 4) and e.log_softmax(0).shape == (0, 4)
    x = tg.zeros(0, 4, requires_grad=True)
    x.softmax(0).sum().backward()
    assert x.grad.shape == (0, 4)


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_backward(fn, dim):
    a = RNG.standard_normal((3, 4, 5))
    check_grad(lambda x: getattr(x, fn)(dim), a)
    check_grad(lambda x: getattr(x.permute(2, 0, 1), fn)(dim), a)


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape,dim", [((64, 10), 1), ((2, 300), 1), ((300, 2), 0), ((2, 3, 290), 1)])
def test_backward_against_torch_on_larger_shapes(fn, shape, dim):
    if torch is None:
        pytest.skip("needs torch")
    a = RNG.standard_normal(shape)
    g = RNG.standard_normal(shape)
    for dtype, tdtype, rtol in [(tg.float64, torch.float64, 1e-12), (tg.float32, torch.float32, 1e-5)]:
        x = tg.tensor(a, dtype=dtype, requires_grad=True)
        getattr(x, fn)(dim).backward(tg.tensor(g, dtype=dtype))
        tx = torch.tensor(a, dtype=tdtype, requires_grad=True)
        getattr(tx, fn)(dim).backward(torch.tensor(g, dtype=tdtype))
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=rtol, atol=rtol * 1e-1)


def test_grad_fn_names():
    x = tg.tensor(RNG.standard_normal((2, 3)), requires_grad=True)
    assert x.softmax(1).grad_fn.name() == "SoftmaxBackward0"
    assert x.log_softmax(0).grad_fn.name() == "LogSoftmaxBackward0"


def test_graph_freed_after_backward():
    x = tg.tensor(RNG.standard_normal((2, 3)), requires_grad=True)
    y = x.softmax(1).sum()
    y.backward()
    with pytest.raises(RuntimeError):
        y.backward()
