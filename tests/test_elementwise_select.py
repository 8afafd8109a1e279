"""maximum, minimum, where, clamp and pow: forward vs numpy, gradients vs finite differences
and PyTorch (including PyTorch's conventions at ties and boundaries), dtype rules, errors."""
import numpy as np
import pytest

import tinygrad_cpp as tg
from helpers import check_grad, torch

RNG = np.random.default_rng(2)


def strided(a):
    if a.ndim < 2:
        return tg.from_numpy(a.copy())
    return tg.from_numpy(np.ascontiguousarray(np.swapaxes(a, 0, 1))).transpose(0, 1)


SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((), (2, 3)), ((2, 3), ()), ((0, 3), (3,))]


def pair(sa, sb, dtype):
    return (np.asarray(RNG.standard_normal(sa), dtype=dtype), np.asarray(RNG.standard_normal(sb), dtype=dtype))


# ---- maximum / minimum --------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sa,sb", SHAPES)
def test_maximum_minimum_forward(dtype, sa, sb):
    a, b = pair(sa, sb, dtype)
    for ta, tb in [(tg.tensor(a), tg.tensor(b)), (strided(a), strided(b))]:
        np.testing.assert_array_equal(tg.maximum(ta, tb).numpy(), np.maximum(a, b))
        np.testing.assert_array_equal(ta.minimum(tb).numpy(), np.minimum(a, b))


def test_maximum_minimum_nan_and_dtypes():
    a = np.array([np.nan, 1.0, 2.0, np.nan])
    b = np.array([1.0, np.nan, 1.0, np.nan])
    np.testing.assert_array_equal(tg.maximum(tg.tensor(a), tg.tensor(b)).numpy(), np.maximum(a, b))
    np.testing.assert_array_equal(tg.minimum(tg.tensor(a), tg.tensor(b)).numpy(), np.minimum(a, b))
    i, f = tg.tensor([1, 5, -3]), tg.tensor([2.5], dtype=tg.float64)
    assert tg.maximum(i, i).dtype == tg.int64
    out = tg.maximum(i, f)
    assert out.dtype == tg.float64
    np.testing.assert_array_equal(out.numpy(), [2.5, 5.0, 2.5])
    bb = tg.tensor([True, False])
    np.testing.assert_array_equal(tg.maximum(bb, tg.tensor([False, False])).numpy(), [True, False])
    np.testing.assert_array_equal(tg.minimum(i, tg.tensor(0)).numpy(), [0, 0, -3])
    with pytest.raises(TypeError, match=r"minimum\(\): argument 'other' \(position 2\) must be Tensor, not int"):
        tg.minimum(i, 0)  # PyTorch takes no Python number here


@pytest.mark.parametrize("sa,sb", SHAPES[:5])
def test_maximum_minimum_gradients(sa, sb):
    a, b = pair(sa, sb, np.float64)
    tmax = (lambda x, y: torch.maximum(x, y)) if torch else None
    tmin = (lambda x, y: torch.minimum(x, y)) if torch else None
    check_grad(tg.maximum, a, b, torch_fn=tmax)
    check_grad(tg.minimum, a, b, torch_fn=tmin)


def test_maximum_splits_gradient_at_ties_like_pytorch():
    x = tg.tensor([1.0, 2.0, np.nan, 0.0], requires_grad=True)
    y = tg.tensor([1.0, 1.0, 1.0, 3.0], requires_grad=True)
    tg.maximum(x, y).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.5, 1.0, 1.0, 0.0])
    np.testing.assert_array_equal(y.grad.numpy(), [0.5, 0.0, 1.0, 1.0])
    x.grad = None
    y.grad = None
    tg.minimum(x, y).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.5, 0.0, 1.0, 1.0])
    np.testing.assert_array_equal(y.grad.numpy(), [0.5, 1.0, 1.0, 0.0])
    if torch is not None:
        tx = torch.tensor([1.0, 2.0, np.nan, 0.0], requires_grad=True)
        ty = torch.tensor([1.0, 1.0, 1.0, 3.0], requires_grad=True)
        torch.minimum(tx, ty).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())
        np.testing.assert_array_equal(y.grad.numpy(), ty.grad.numpy())


def test_maximum_with_broadcast_tie_sums_halves():
    x = tg.tensor([[1.0, 1.0], [1.0, 0.0]], requires_grad=True)
    y = tg.tensor(1.0, requires_grad=True)
    tg.maximum(x, y).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0.5, 0.5], [0.5, 0.0]])
    assert y.grad.item() == 2.5


# ---- where --------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_where_forward(dtype):
    c = RNG.random((3, 1)) > 0.5
    a = np.asarray(RNG.standard_normal((4,)), dtype)
    b = np.asarray(RNG.standard_normal((2, 3, 4)), dtype)
    out = tg.where(tg.tensor(c), tg.tensor(a), tg.tensor(b))
    np.testing.assert_array_equal(out.numpy(), np.where(c, a, b))
    assert out.numpy().dtype == dtype
    m = RNG.random((4, 3)) > 0.5
    x = np.asarray(RNG.standard_normal((3, 4)), dtype)
    np.testing.assert_array_equal(tg.where(strided(m.T.copy()), strided(x), 0.5).numpy(),
                                  np.where(m.T, x, dtype(0.5)))
    np.testing.assert_array_equal(tg.tensor(x).where(tg.tensor(x > 0), -1).numpy(), np.where(x > 0, x, -1))
    assert tg.where(tg.tensor(True), tg.tensor(1.0), 2.0).shape == ()
    assert tg.where(tg.tensor(np.ones((0, 2), bool)), 1.0, 0.0).shape == (0, 2)


def test_where_dtypes():
    c = tg.tensor([True, False])
    assert tg.where(c, 1.0, 0.0).dtype == tg.float32
    assert tg.where(c, 1, 0).dtype == tg.int64
    assert tg.where(c, tg.tensor([1, 2]), 0.5).dtype == tg.float32
    assert tg.where(c, tg.ones(2, dtype=tg.float64), 2.0).dtype == tg.float64
    assert tg.where(c, tg.ones(2), tg.ones(2, dtype=tg.float64)).dtype == tg.float64
    np.testing.assert_array_equal(tg.where(c, 1, 0.5).numpy(), [1.0, 0.5])


def test_where_gradients():
    c = RNG.random((3, 4)) > 0.5
    cond = tg.tensor(c)
    a, b = RNG.standard_normal((3, 4)), RNG.standard_normal((4,))
    tfn = (lambda x, y: torch.where(torch.tensor(c), x, y)) if torch else None
    check_grad(lambda x, y: tg.where(cond, x, y), a, b, torch_fn=tfn)
    tfn2 = (lambda x: torch.where(torch.tensor(c), x, 0.0)) if torch else None
    check_grad(lambda x: tg.where(cond, x, 0.0), a, torch_fn=tfn2)
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    assert tg.where(tg.tensor([True, False]), x, 0.0).grad_fn.name() == "WhereBackward0"


def test_where_errors():
    with pytest.raises(RuntimeError, match="boolean.*int64"):
        tg.where(tg.tensor([1, 0]), 1.0, 0.0)
    with pytest.raises(RuntimeError, match=r"\[2\].*\[3\]"):
        tg.where(tg.tensor([True, False]), tg.ones(3), 0.0)
    with pytest.raises(TypeError):
        tg.where(tg.tensor([True]), "a", 0.0)


# ---- clamp --------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clamp_forward(dtype):
    a = np.asarray(RNG.standard_normal((3, 4)) * 2, dtype)
    for t in (tg.tensor(a), strided(a)):
        np.testing.assert_array_equal(t.clamp(-0.5, 0.5).numpy(), np.clip(a, -0.5, 0.5))
        np.testing.assert_array_equal(tg.clamp(t, min=0).numpy(), np.maximum(a, 0))
        np.testing.assert_array_equal(tg.clamp(t, max=0.25).numpy(), np.minimum(a, dtype(0.25)))
        np.testing.assert_array_equal(tg.clip(t, -1, 1).numpy(), np.clip(a, -1, 1))
        np.testing.assert_array_equal(t.clamp_min(0.1).numpy(), np.maximum(a, dtype(0.1)))
        np.testing.assert_array_equal(t.clamp_max(0.1).numpy(), np.minimum(a, dtype(0.1)))
        np.testing.assert_array_equal(t.clamp(1.0, 0.0).numpy(), np.zeros_like(a))  # min > max: max
    lo = np.asarray(RNG.standard_normal((4,)), dtype)
    hi = lo + 1
    np.testing.assert_array_equal(tg.clamp(tg.tensor(a), tg.tensor(lo), tg.tensor(hi)).numpy(), np.clip(a, lo, hi))
    np.testing.assert_array_equal(tg.clamp(tg.tensor(a), min=tg.tensor(lo)).numpy(), np.maximum(a, lo))
    big = tg.clamp(tg.tensor(a[0]), tg.tensor(lo.reshape(1, 4).repeat(3, 0)))
    assert big.shape == (3, 4)
    assert tg.clamp(tg.tensor(2.5), 0, 1).item() == 1.0
    assert tg.clamp(tg.ones(0, 3), 0, 1).shape == (0, 3)
    assert np.isnan(tg.clamp(tg.tensor([np.nan]), 0, 1).item())


def test_clamp_dtypes():
    i = tg.tensor([1, 5, 9])
    assert tg.clamp(i, 2, 6).dtype == tg.int64
    np.testing.assert_array_equal(tg.clamp(i, 2, 6).numpy(), [2, 5, 6])
    out = tg.clamp(i, 2.0, 6)
    assert out.dtype == tg.float32
    np.testing.assert_array_equal(out.numpy(), [2.0, 5.0, 6.0])
    assert tg.clamp(tg.tensor([True, False]), min=0).dtype == tg.int64
    big = 2**62 + 1
    assert tg.clamp(tg.tensor([big, -big]), -big + 2, big - 2).tolist() == [big - 2, -big + 2]


def test_clamp_errors():
    with pytest.raises(RuntimeError, match="At least one of 'min' or 'max'"):
        tg.clamp(tg.ones(2))
    with pytest.raises(RuntimeError, match="At least one"):
        tg.ones(2).clamp(None, None)
    with pytest.raises(RuntimeError, match=r"\[3\].*\[2\]"):
        tg.clamp(tg.ones(3), tg.zeros(2))
    with pytest.raises(TypeError):
        tg.clamp(tg.ones(2), "0")


def test_clamp_gradients():
    a = RNG.standard_normal((3, 4))
    a[np.abs(np.abs(a) - 0.5) < 0.05] = 0.0
    check_grad(lambda x: x.clamp(-0.5, 0.5), a)
    check_grad(lambda x: x.clamp(min=-0.5), a)
    check_grad(lambda x: x.clamp(max=0.5), a)
    lo = RNG.standard_normal((4,)) - 0.5
    hi = lo + RNG.uniform(0.5, 1.0, (4,))
    hi[0] = lo[0] - 0.3  # a column where min > max: the gradient goes to max
    check_grad(lambda x, l, h: tg.clamp(x, l, h), a, lo, hi,
               torch_fn=(lambda x, l, h: torch.clamp(x, l, h)) if torch else None)
    check_grad(lambda x, l: tg.clamp(x, min=l), a, lo,
               torch_fn=(lambda x, l: torch.clamp(x, min=l)) if torch else None)
    check_grad(lambda x, h: tg.clamp(x, max=h), a, hi,
               torch_fn=(lambda x, h: torch.clamp(x, max=h)) if torch else None)


def test_clamp_gradient_passes_at_the_boundaries():
    # PyTorch: the gradient flows where min <= x <= max, ends included
    x = tg.tensor([-1.0, 0.0, 0.5, 1.0, 2.0], requires_grad=True)
    x.clamp(0, 1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 1, 1, 1, 0])
    x.grad = None
    x.clamp(1.0, 0.0).sum().backward()  # empty interval: x never passes through
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0, 0, 0, 0])
    assert x.clamp(0, 1).grad_fn.name() == "ClampBackward1"
    assert x.clamp(tg.tensor(0.0)).grad_fn.name() == "ClampBackward0"
    if torch is not None:
        lo = torch.tensor([0.0, 0.0, 1.0, 1.0, 3.0], requires_grad=True)
        hi = torch.tensor([0.0, 1.0, 0.5, 2.0, 2.0], requires_grad=True)
        tx = torch.tensor([-1.0, 0.0, 0.5, 1.0, 2.0], requires_grad=True)
        torch.clamp(tx, lo, hi).sum().backward()
        ours = [tg.tensor(v.detach().numpy(), requires_grad=True) for v in (tx, lo, hi)]
        tg.clamp(*ours).sum().backward()
        for o, t in zip(ours, (tx, lo, hi)):
            np.testing.assert_array_equal(o.grad.numpy(), t.grad.numpy())


# ---- pow ----------------------------------------------------------------------------------

@np.errstate(invalid="ignore")
def test_pow_special_exponents_are_exact():
    a = RNG.standard_normal(100).astype(np.float32)
    t = tg.tensor(a)
    np.testing.assert_array_equal((t ** 2).numpy(), a * a)
    np.testing.assert_array_equal((t ** 3).numpy(), a * a * a)
    np.testing.assert_array_equal((t ** -1).numpy(), np.float32(1) / a)
    p = np.abs(a)
    np.testing.assert_array_equal((tg.tensor(p) ** 0.5).numpy(), np.sqrt(p))
    np.testing.assert_array_equal((t ** 0).numpy(), np.ones_like(a))
    np.testing.assert_array_equal(t.pow(1).numpy(), a)
    np.testing.assert_allclose(tg.pow(t, 1.7).numpy(), np.power(a.astype(np.float64), 1.7).astype(np.float32),
                               rtol=1e-6)


def test_pow_integers():
    i = np.array([-3, -1, 0, 1, 2, 5], dtype=np.int64)
    t = tg.tensor(i)
    np.testing.assert_array_equal((t ** 3).numpy(), i**3)
    np.testing.assert_array_equal((2 ** tg.tensor([0, 1, 10, 62])).numpy(), [1, 2, 1024, 2**62])
    e = tg.tensor([-1, -2, -3, -1, -2, -1])
    np.testing.assert_array_equal((t ** e).numpy(), [0, 1, 0, 1, 0, 0])  # truncated 1 / a^|e|
    with pytest.raises(RuntimeError, match="negative integer powers"):
        t ** -1
    with pytest.raises(RuntimeError, match="negative integer powers"):
        t.pow(-2)
    assert (t ** 2.0).dtype == tg.float32 and (2.5 ** t).dtype == tg.float32
    assert (tg.tensor([True, False]) ** 2).dtype == tg.int64
    assert (tg.tensor([True, False]) ** True).tolist() == [True, False]
    with pytest.raises(RuntimeError, match="pow"):
        tg.tensor([True]) ** tg.tensor([True])


def test_pow_function_forms():
    x = tg.tensor([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(tg.pow(x, 2).numpy(), [1, 4, 9])
    np.testing.assert_array_equal(tg.pow(2, x).numpy(), [2, 4, 8])
    np.testing.assert_array_equal(tg.pow(x, x).numpy(), [1, 4, 27])
    np.testing.assert_array_equal(x.pow(tg.tensor(2.0)).numpy(), [1, 4, 9])


@pytest.mark.skipif(torch is None, reason="needs torch")
def test_pow_gradients_at_zero_follow_pytorch():
    base = [0.0, 0.0, 0.0, 0.0, 2.0, -1.5]
    expo = [0.0, -1.0, 2.0, 0.5, 0.0, 2.0]
    x = tg.tensor(base, dtype=tg.float64, requires_grad=True)
    e = tg.tensor(expo, dtype=tg.float64, requires_grad=True)
    tx = torch.tensor(base, dtype=torch.float64, requires_grad=True)
    te = torch.tensor(expo, dtype=torch.float64, requires_grad=True)
    (x ** e).sum().backward()
    (tx ** te).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())
    np.testing.assert_array_equal(e.grad.numpy(), te.grad.numpy())
    for s in (0.0, 2.0):
        e.grad = None
        te.grad = None
        (s ** e).sum().backward()
        (s ** te).sum().backward()
        np.testing.assert_array_equal(e.grad.numpy(), te.grad.numpy())
    for p in (0, 0.5, 2, -1, 3):
        x.grad = None
        tx.grad = None
        (x ** p).sum().backward()
        (tx ** p).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


def test_pow_gradients_broadcast():
    a = RNG.uniform(0.5, 2.0, (3, 4))
    check_grad(lambda x, y: x ** y, a, RNG.uniform(-2, 2, (4,)))
    check_grad(lambda x, y: x ** y, RNG.uniform(0.5, 2.0, ()), RNG.uniform(-2, 2, (2, 3)))
    check_grad(lambda x: x ** 2.5, a)
    check_grad(lambda x: 0.5 ** x, a)
