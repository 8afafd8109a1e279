"""Numerical robustness: the stable formulations (softmax, log_softmax, logsumexp,
cross-entropy, sigmoid, BCE-with-logits) stay finite and correct for logits of magnitude
1e4, where the naive formulas overflow; and IEEE special values (division by zero,
log(0), exp overflow) come out as in PyTorch, never as exceptions."""
import numpy as np
import pytest

import tinygrad_cpp as tg
import tinygrad_cpp.nn.functional as F
from helpers import torch

DTYPES = [(tg.float32, np.float32, dict(rtol=1e-5, atol=1e-5)),
          (tg.float64, np.float64, dict(rtol=1e-12, atol=1e-12))]
MAG = 1e4


def big_logits(shape, seed=0):
    """Logits of magnitude up to 1e4 whose gaps are also large (so outputs are not all 0/1
    by construction), plus a few exact ties and some moderate values."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-MAG, MAG, size=shape)
    x[..., 0] = MAG            # a tie between the two largest entries of each row
    x[..., 1] = MAG
    x[..., 2] = MAG - 3.0      # close to the max: contributes e^-3
    return x


def ref_logsumexp(x, axis):
    m = np.max(x, axis=axis, keepdims=True)
    return (m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))).squeeze(axis)


def ref_log_softmax(x, axis):
    return x - ref_logsumexp(x, axis)[..., None] if axis in (-1, x.ndim - 1) else \
        x - np.expand_dims(ref_logsumexp(x, axis), axis)


def finite(t):
    return np.all(np.isfinite(t.detach().numpy()))


@pytest.mark.parametrize("tg_dt,np_dt,tol", DTYPES)
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_family_large_logits(tg_dt, np_dt, tol, dim):
    x64 = big_logits((5, 7))
    if dim == 0:
        x64 = np.ascontiguousarray(x64.T).T  # same values, reduce over the other dim
        x64[0, :] = MAG
        x64[1, :] = MAG
    xq = x64.astype(np_dt).astype(np.float64)  # what the low-precision input really holds
    for sign in (1, -1):
        xs = sign * xq
        x = tg.tensor(xs.astype(np_dt))
        lsm_ref = ref_log_softmax(xs, dim)
        lse = x.logsumexp(dim)
        lsm = x.log_softmax(dim)
        sm = x.softmax(dim)
        assert finite(lse) and finite(lsm) and finite(sm)
        np.testing.assert_allclose(lse.numpy(), ref_logsumexp(xs, dim), rtol=tol["rtol"], atol=tol["atol"] * MAG)
        np.testing.assert_allclose(lsm.numpy(), lsm_ref, rtol=tol["rtol"], atol=tol["atol"] * MAG)
        np.testing.assert_allclose(sm.numpy(), np.exp(lsm_ref), rtol=tol["rtol"], atol=tol["atol"])
        np.testing.assert_allclose(sm.numpy().sum(dim), 1.0, rtol=tol["rtol"] * 10)


@pytest.mark.parametrize("tg_dt,np_dt,tol", DTYPES)
def test_softmax_family_gradients_stay_finite(tg_dt, np_dt, tol):
    x64 = big_logits((4, 6), seed=1)
    w = np.random.default_rng(2).standard_normal((4, 6))
    for fn in ("softmax", "log_softmax", "logsumexp"):
        x = tg.tensor(x64.astype(np_dt), requires_grad=True)
        out = getattr(x, fn)(1)
        gw = w if fn != "logsumexp" else w[:, 0]
        out.backward(tg.tensor(gw.astype(np_dt)))
        g = x.grad.numpy()
        assert np.all(np.isfinite(g)), (fn, g)
        if torch is not None:
            tx = torch.tensor(x64.astype(np_dt), requires_grad=True)
            getattr(tx, fn)(1).backward(torch.tensor(gw.astype(np_dt)))
            np.testing.assert_allclose(g, tx.grad.numpy(), rtol=tol["rtol"] * 10, atol=tol["atol"] * 10)


@pytest.mark.parametrize("tg_dt,np_dt,tol", DTYPES)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_cross_entropy_large_logits(tg_dt, np_dt, tol, label_smoothing):
    x64 = big_logits((6, 5), seed=3).astype(np_dt).astype(np.float64)
    target = np.array([0, 1, 2, 3, 4, 4])
    lsm = ref_log_softmax(x64, 1)
    n, c = x64.shape
    nll = -lsm[np.arange(n), target]
    smooth = -lsm.mean(1)
    ref = ((1 - label_smoothing) * nll + label_smoothing * smooth)
    x = tg.tensor(x64.astype(np_dt), requires_grad=True)
    loss = F.cross_entropy(x, tg.tensor(target), reduction="none", label_smoothing=label_smoothing)
    assert finite(loss)
    np.testing.assert_allclose(loss.detach().numpy(), ref, rtol=tol["rtol"], atol=tol["atol"] * MAG)
    loss.sum().backward()
    assert np.all(np.isfinite(x.grad.numpy()))
    # d/dx = softmax - smoothed one-hot
    onehot = np.eye(c)[target] * (1 - label_smoothing) + label_smoothing / c
    np.testing.assert_allclose(x.grad.numpy(), np.exp(lsm) - onehot, rtol=tol["rtol"], atol=tol["atol"])
    if torch is not None:
        tx = torch.tensor(x64.astype(np_dt), requires_grad=True)
        tl = torch.nn.functional.cross_entropy(tx, torch.tensor(target), reduction="none",
                                               label_smoothing=label_smoothing)
        np.testing.assert_allclose(loss.detach().numpy(), tl.detach().numpy(), rtol=tol["rtol"],
                                   atol=tol["atol"] * MAG)


@pytest.mark.parametrize("tg_dt,np_dt,tol", DTYPES)
def test_sigmoid_and_bce_with_logits_large_logits(tg_dt, np_dt, tol):
    xs = np.array([-MAG, -1e3, -50.0, -1.0, 0.0, 1.0, 50.0, 1e3, MAG])
    x = tg.tensor(xs.astype(np_dt), requires_grad=True)
    s = x.sigmoid()
    assert finite(s)
    ref = np.where(xs >= 0, 1 / (1 + np.exp(-np.abs(xs))), np.exp(-np.abs(xs)) / (1 + np.exp(-np.abs(xs))))
    np.testing.assert_allclose(s.detach().numpy(), ref, rtol=tol["rtol"], atol=0)
    s.sum().backward()
    assert np.all(np.isfinite(x.grad.numpy()))
    np.testing.assert_allclose(x.grad.numpy(), ref * (1 - ref), rtol=tol["rtol"], atol=1e-30)

    for target in (0.0, 1.0, 0.3):
        x = tg.tensor(xs.astype(np_dt), requires_grad=True)
        t = tg.tensor(np.full(xs.shape, target, np_dt))
        loss = F.binary_cross_entropy_with_logits(x, t, reduction="none")
        # max(x, 0) - x*t + log1p(exp(-|x|)), the stable form
        want = np.maximum(xs, 0) - xs * target + np.log1p(np.exp(-np.abs(xs)))
        assert finite(loss)
        np.testing.assert_allclose(loss.detach().numpy(), want, rtol=tol["rtol"], atol=tol["atol"])
        loss.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), ref - target, rtol=tol["rtol"], atol=tol["atol"])
        pw = tg.tensor(np.full(xs.shape, 3.0, np_dt))
        loss_pw = F.binary_cross_entropy_with_logits(x.detach(), t, pos_weight=pw, reduction="none")
        log_sig = -(np.maximum(-xs, 0) + np.log1p(np.exp(-np.abs(xs))))
        log_one_minus = -(np.maximum(xs, 0) + np.log1p(np.exp(-np.abs(xs))))
        want_pw = -(3.0 * target * log_sig + (1 - target) * log_one_minus)
        assert finite(loss_pw)
        np.testing.assert_allclose(loss_pw.numpy(), want_pw, rtol=tol["rtol"], atol=tol["atol"])


def test_binary_cross_entropy_clamps_log():
    """BCE on probabilities that are exactly 0 or 1: log is clamped to -100 (PyTorch)."""
    p = tg.tensor([0.0, 1.0, 0.0, 1.0], dtype=tg.float64)
    t = tg.tensor([1.0, 0.0, 0.0, 1.0], dtype=tg.float64)
    loss = F.binary_cross_entropy(p, t, reduction="none")
    np.testing.assert_array_equal(loss.numpy(), [100.0, 100.0, 0.0, 0.0])


@pytest.mark.parametrize("tg_dt,np_dt", [(tg.float32, np.float32), (tg.float64, np.float64)])
def test_ieee_special_values(tg_dt, np_dt):
    one = tg.tensor(np.array([1.0, -1.0, 0.0], np_dt))
    zero = tg.zeros(3, dtype=tg_dt)
    with np.errstate(all="ignore"):
        cases = [
            (one / zero, np.array([np.inf, -np.inf, np.nan])),
            (one / 0.0, np.array([np.inf, -np.inf, np.nan])),
            (1.0 / zero, np.array([np.inf, np.inf, np.inf])),
            (tg.log(tg.tensor(np.array([0.0, -1.0, 1.0], np_dt))), np.array([-np.inf, np.nan, 0.0])),
            (tg.sqrt(tg.tensor(np.array([-1.0, 0.0], np_dt))), np.array([np.nan, 0.0])),
            (tg.rsqrt(tg.tensor(np.array([0.0, -0.0], np_dt))), np.array([np.inf, -np.inf])),
            (tg.reciprocal(tg.tensor(np.array([0.0, -0.0], np_dt))), np.array([np.inf, -np.inf])),
            (tg.exp(tg.tensor(np.array([1e3, -1e3, np.inf, -np.inf], np_dt))), np.array([np.inf, 0.0, np.inf, 0.0])),
            (tg.tensor(np.array([0.0], np_dt)) ** -1.0, np.array([np.inf])),
            (tg.pow(tg.tensor(np.array([-8.0], np_dt)), 1.0 / 3), np.array([np.nan])),
            (tg.log1p(tg.tensor(np.array([-1.0, -2.0], np_dt))), np.array([-np.inf, np.nan])),
            (tg.tensor(np.array([np.inf, -np.inf, np.nan], np_dt)) * 0.0, np.array([np.nan, np.nan, np.nan])),
            (tg.tensor(np.array([np.inf], np_dt)) - np.inf, np.array([np.nan])),
            (tg.remainder(tg.tensor(np.array([1.0], np_dt)), 0.0), np.array([np.nan])),
            (tg.tanh(tg.tensor(np.array([1e4, -1e4, np.inf], np_dt))), np.array([1.0, -1.0, 1.0])),
            (tg.sigmoid(tg.tensor(np.array([np.inf, -np.inf], np_dt))), np.array([1.0, 0.0])),
        ]
    for got, want in cases:
        assert got.dtype == tg_dt
        np.testing.assert_array_equal(got.numpy(), want.astype(np_dt))
        if torch is not None:
            pass  # the expected values above are PyTorch's (checked in test_ieee_matches_torch)


def test_ieee_matches_torch():
    if torch is None:
        pytest.skip("torch not installed")
    xs = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 1e-30, 1e38, -1e38, 100.0, -100.0])
    for np_dt, tdt, gdt in [(np.float32, torch.float32, tg.float32), (np.float64, torch.float64, tg.float64)]:
        a = xs.astype(np_dt)
        ta, ga = torch.tensor(a), tg.tensor(a)
        rtol = 4 * np.finfo(np_dt).eps  # last-bit differences are fine; inf/nan must match exactly
        for name in ("exp", "log", "sqrt", "rsqrt", "reciprocal", "sigmoid", "tanh", "log1p", "expm1",
                     "abs", "sign", "relu", "floor", "ceil"):
            np.testing.assert_allclose(getattr(ga, name)().numpy(), getattr(ta, name)().numpy(), rtol=rtol,
                                       atol=0, equal_nan=True, err_msg=f"{name} {np_dt.__name__}")
        for name in ("div", "mul", "add", "sub", "pow", "maximum", "minimum", "remainder"):
            got = getattr(tg, name)(ga[:, None], ga[None, :]).numpy()
            want = getattr(torch, name)(ta[:, None], ta[None, :]).numpy()
            np.testing.assert_allclose(got, want, rtol=rtol, atol=0, equal_nan=True,
                                       err_msg=f"{name} {np_dt.__name__}")


def test_integer_true_division_by_zero_gives_float_inf():
    a = tg.tensor([1, -1, 0])
    out = a / tg.tensor([0, 0, 0])
    assert out.dtype == tg.float32
    np.testing.assert_array_equal(out.numpy(), np.array([np.inf, -np.inf, np.nan], np.float32))


def test_exp_overflow_and_backward():
    x = tg.tensor([100.0, 1000.0], requires_grad=True)  # float32: e^100 overflows
    y = x.exp()
    np.testing.assert_array_equal(y.detach().numpy(), [np.inf, np.inf])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [np.inf, np.inf])
    x = tg.tensor([0.0], dtype=tg.float64, requires_grad=True)
    x.log().sum().backward()  # d log(x) at 0 is +inf, as in PyTorch
    np.testing.assert_array_equal(x.grad.numpy(), [np.inf])


def test_reductions_with_nan_and_inf():
    x = tg.tensor([[1.0, np.nan, 3.0], [np.inf, 1.0, -np.inf], [1.0, 2.0, np.inf]], dtype=tg.float64)
    np.testing.assert_array_equal(x.sum(1).numpy(), [np.nan, np.nan, np.inf])
    np.testing.assert_array_equal(x.max(1).values.numpy(), [np.nan, np.inf, np.inf])
    np.testing.assert_array_equal(x.min(1).values.numpy(), [np.nan, -np.inf, 1.0])
    assert x.argmax(1).tolist()[0] == 1  # NaN wins, as in PyTorch
    np.testing.assert_array_equal(x.logsumexp(1).numpy()[1:], [np.inf, np.inf])
    assert np.isnan(x.logsumexp(1).numpy()[0])
    sm = tg.tensor([[0.0, np.inf], [-np.inf, -np.inf], [-np.inf, 0.0]]).softmax(1).numpy()
    if torch is not None:
        want = torch.tensor([[0.0, np.inf], [-np.inf, -np.inf], [-np.inf, 0.0]]).softmax(1).numpy()
        np.testing.assert_array_equal(sm, want)
    np.testing.assert_array_equal(sm[2], [0.0, 1.0])


def test_var_has_no_catastrophic_cancellation():
    v = tg.tensor(np.array([1e4 + 1, 1e4 + 2, 1e4 + 3], np.float32)).var().item()
    np.testing.assert_allclose(v, 1.0, rtol=1e-4)
    v = tg.tensor(np.array([1e8 + 1, 1e8 + 2, 1e8 + 3], np.float64)).var().item()
    np.testing.assert_allclose(v, 1.0, rtol=1e-9)
