"""Losses: values and gradients vs PyTorch (when importable) and vs float64 finite
differences, for every reduction; edge cases and errors."""
import warnings

import numpy as np
import pytest

import tinygrad_cpp as tg
import tinygrad_cpp.nn as nn
import tinygrad_cpp.nn.functional as F
from helpers import check_grad, numeric_grad, torch

REDUCTIONS = ["mean", "sum", "none"]
rng = np.random.default_rng(0)


def tfn(name):
    """The torch.nn.functional counterpart of a loss."""
    return getattr(torch.nn.functional, name)


def value_and_grads(fn, arrays, dtype, requires_grad, lib):
    """Runs fn on tensors of `lib` (tg or torch) made from arrays; returns the loss and the
    gradients of sum(loss * w) for a fixed w."""
    if lib is tg:
        ts = [tg.tensor(a.astype(dtype), requires_grad=r) for a, r in zip(arrays, requires_grad)]
    else:
        ts = [torch.tensor(a.astype(dtype), requires_grad=r) for a, r in zip(arrays, requires_grad)]
    out = fn(*ts)
    w = np.random.default_rng(5).standard_normal(tuple(out.shape)).astype(dtype)
    out.backward((tg.tensor(w) if lib is tg else torch.tensor(w)))
    grads = [t.grad.numpy() if r else None for t, r in zip(ts, requires_grad)]
    return out.detach().numpy(), grads


def assert_matches_torch(tg_fn, torch_fn, arrays, requires_grad, dtype=np.float32, rtol=1e-5, atol=1e-6):
    if torch is None:
        pytest.skip("torch not installed")
    v, g = value_and_grads(tg_fn, arrays, dtype, requires_grad, tg)
    tv, tgr = value_and_grads(torch_fn, arrays, dtype, requires_grad, torch)
    assert v.shape == tv.shape and v.dtype == tv.dtype
    np.testing.assert_allclose(v, tv, rtol=rtol, atol=atol)
    for a, b in zip(g, tgr):
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


# ---- mse / l1 --------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_regression_losses_match_torch(name, reduction, dtype):
    pytest.importorskip("torch")
    x, y = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    assert_matches_torch(lambda a, b: getattr(F, name)(a, b, reduction=reduction),
                         lambda a, b: tfn(name)(a, b, reduction=reduction), [x, y], [True, True], dtype)


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_losses_finite_differences(name, reduction):
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    check_grad(lambda a, b: getattr(F, name)(a, b, reduction=reduction), x, y,
               torch_fn=None if torch is None else lambda a, b: tfn(name)(a, b, reduction=reduction))


def test_regression_loss_values_against_numpy():
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    tx, ty = tg.tensor(x), tg.tensor(y)
    np.testing.assert_allclose(F.mse_loss(tx, ty).item(), np.mean((x - y) ** 2))
    np.testing.assert_allclose(F.mse_loss(tx, ty, reduction="sum").item(), np.sum((x - y) ** 2))
    np.testing.assert_allclose(F.l1_loss(tx, ty, reduction="none").numpy(), np.abs(x - y))
    np.testing.assert_allclose(nn.L1Loss()(tx, ty).item(), np.mean(np.abs(x - y)))
    np.testing.assert_allclose(nn.MSELoss(reduction="sum")(tx, ty).item(), np.sum((x - y) ** 2))


def test_regression_losses_non_contiguous_and_broadcast():
    x = rng.standard_normal((5, 4))
    y = rng.standard_normal((4, 5))
    tx = tg.from_numpy(x.T)  # a transposed (non-contiguous) view
    assert not tx.is_contiguous()
    np.testing.assert_allclose(F.mse_loss(tx, tg.tensor(y)).item(), np.mean((x.T - y) ** 2))
    b = rng.standard_normal(5)
    with pytest.warns(UserWarning, match="different to the input size"):
        out = F.mse_loss(tg.tensor(y), tg.tensor(b), reduction="none")
    np.testing.assert_allclose(out.numpy(), (y - b) ** 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_grad(lambda a, t: F.l1_loss(a, t, reduction="sum"), y, b,
                   torch_fn=None if torch is None else lambda a, t: tfn("l1_loss")(a, t, reduction="sum"))


def test_regression_losses_empty_and_0d():
    e = tg.zeros(0, 3)
    assert np.isnan(F.mse_loss(e, e).item())  # mean over nothing, as in PyTorch
    assert F.mse_loss(e, e, reduction="sum").item() == 0.0
    assert F.l1_loss(e, e, reduction="none").shape == (0, 3)
    s = tg.tensor(2.0, requires_grad=True)
    out = F.mse_loss(s, tg.tensor(0.5))
    out.backward()
    assert out.shape == () and abs(out.item() - 2.25) < 1e-6 and abs(s.grad.item() - 3.0) < 1e-6


def test_l1_gradient_is_zero_at_equality():
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    F.l1_loss(x, tg.tensor([1.0, 0.0, 5.0]), reduction="sum").backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 1.0, -1.0])


# ---- cross entropy / nll ---------------------------------------------------------------

def ce_pair(reduction="mean", **kw):
    def ours(x, target=None):
        return F.cross_entropy(x, target, reduction=reduction, **kw)
    return ours


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_matches_torch(reduction, dtype):
    pytest.importorskip("torch")
    x = rng.standard_normal((6, 5)) * 3
    y = np.array([0, 4, 2, 2, 1, 3])
    assert_matches_torch(lambda a: F.cross_entropy(a, tg.tensor(y), reduction=reduction),
                         lambda a: tfn("cross_entropy")(a, torch.tensor(y), reduction=reduction),
                         [x], [True], dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_finite_differences(reduction):
    x = rng.standard_normal((4, 3))
    y = np.array([2, 0, 1, 1])
    check_grad(lambda a: F.cross_entropy(a, tg.tensor(y), reduction=reduction), x,
               torch_fn=None if torch is None else
               lambda a: tfn("cross_entropy")(a, torch.tensor(y), reduction=reduction))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_options_match_torch(reduction):
    pytest.importorskip("torch")
    x = rng.standard_normal((7, 4))
    y = np.array([0, 3, -100, 2, 1, 3, -100])
    w = np.array([0.5, 2.0, 1.0, 0.25])
    for kw in [dict(ignore_index=-100), dict(label_smoothing=0.2), dict(weight=True),
               dict(weight=True, label_smoothing=0.3, ignore_index=-100)]:
        ours = dict(kw, weight=tg.tensor(w) if kw.get("weight") else None)
        theirs = dict(kw, weight=torch.tensor(w) if kw.get("weight") else None)
        assert_matches_torch(lambda a: F.cross_entropy(a, tg.tensor(y), reduction=reduction, **ours),
                             lambda a: tfn("cross_entropy")(a, torch.tensor(y), reduction=reduction, **theirs),
                             [x], [True], np.float64, rtol=1e-9, atol=1e-12)


def test_cross_entropy_weight_and_smoothing_finite_differences():
    x = rng.standard_normal((5, 3))
    y = np.array([2, 0, 1, 7, 1])
    w = tg.tensor([0.3, 1.5, 2.0], dtype=tg.float64)
    check_grad(lambda a: F.cross_entropy(a, tg.tensor(y), weight=w, ignore_index=7,
                                         label_smoothing=0.1), x,
               torch_fn=None if torch is None else
               lambda a: tfn("cross_entropy")(a, torch.tensor(y), weight=torch.tensor(w.numpy()),
                                              ignore_index=7, label_smoothing=0.1))


def test_cross_entropy_shapes_1d_and_spatial():
    pytest.importorskip("torch")
    x1 = rng.standard_normal(5)
    assert_matches_torch(lambda a: F.cross_entropy(a, tg.tensor(3)),
                         lambda a: tfn("cross_entropy")(a, torch.tensor(3)), [x1], [True], np.float64)
    out = F.cross_entropy(tg.tensor(x1), tg.tensor(3), reduction="none")
    assert out.shape == ()
    x = rng.standard_normal((2, 4, 3, 2))
    y = rng.integers(0, 4, (2, 3, 2))
    for reduction in REDUCTIONS:
        assert_matches_torch(lambda a: F.cross_entropy(a, tg.tensor(y), reduction=reduction),
                             lambda a: tfn("cross_entropy")(a, torch.tensor(y), reduction=reduction),
                             [x], [True], np.float64, rtol=1e-9, atol=1e-12)
    assert F.cross_entropy(tg.tensor(x), tg.tensor(y), reduction="none").shape == (2, 3, 2)


def test_cross_entropy_spatial_finite_differences():
    x = rng.standard_normal((2, 3, 2))
    y = np.array([[0, 2], [1, 1]])
    check_grad(lambda a: F.cross_entropy(a, tg.tensor(y), reduction="none"), x,
               torch_fn=None if torch is None else
               lambda a: tfn("cross_entropy")(a, torch.tensor(y), reduction="none"))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_class_probabilities(reduction):
    x = rng.standard_normal((4, 3))
    p = rng.random((4, 3))
    p /= p.sum(1, keepdims=True)
    w = np.array([1.0, 0.5, 2.0])
    tw = tg.tensor(w)
    check_grad(lambda a, t: F.cross_entropy(a, t, weight=tw, reduction=reduction, label_smoothing=0.1),
               x, p, torch_fn=None if torch is None else
               lambda a, t: tfn("cross_entropy")(a, t, weight=torch.tensor(w), reduction=reduction,
                                                 label_smoothing=0.1))


def test_cross_entropy_is_stable_for_huge_logits():
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [1e4, 1e4, -1e4]], dtype=np.float32)
    y = np.array([1, 2, 0])
    tx = tg.tensor(x, requires_grad=True)
    loss = F.cross_entropy(tx, tg.tensor(y), reduction="none")
    loss.sum().backward()
    expected = np.array([2e4, 0.0, np.log(2.0)])
    np.testing.assert_allclose(loss.detach().numpy(), expected, rtol=1e-6)
    assert np.all(np.isfinite(tx.grad.numpy()))
    softmax = np.array([[1, 0, 0], [0, 0, 1], [0.5, 0.5, 0]])
    onehot = np.eye(3)[y]
    np.testing.assert_allclose(tx.grad.numpy(), softmax - onehot, atol=1e-6)


@pytest.mark.parametrize("classes", [1, 5, 8, 17, 100, 1001])
def test_cross_entropy_float32_rows_match_float64(classes, vec_isa):
    # the SIMD row kernels of the fused loss, forward and backward, against float64
    rng = np.random.default_rng(classes)
    x = (rng.standard_normal((9, classes)) * 3).astype(np.float32)
    x[4] -= 300.0  # far from 0: the row max is subtracted first
    y = rng.integers(0, classes, 9)
    out = {}
    for dt in (tg.float32, tg.float64):
        t = tg.tensor(x, dtype=dt, requires_grad=True)
        loss = F.cross_entropy(t, tg.tensor(y), reduction="none")
        (loss * tg.tensor(np.arange(1.0, 10.0), dtype=dt)).sum().backward()
        out[dt] = loss.detach().numpy().astype(np.float64), t.grad.numpy().astype(np.float64)
    np.testing.assert_allclose(out[tg.float32][0], out[tg.float64][0], rtol=2e-6, atol=2e-6)
    np.testing.assert_allclose(out[tg.float32][1], out[tg.float64][1], rtol=2e-5, atol=2e-6)


def test_cross_entropy_is_one_node():
    x = tg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    loss = F.cross_entropy(x, tg.tensor([0, 1, 2]))
    assert loss.grad_fn.name() == "CrossEntropyLossBackward0"
    (nxt, _), _ = loss.grad_fn.next_functions
    assert nxt.name() == "AccumulateGrad"


def test_cross_entropy_module_and_buffers():
    w = tg.tensor([1.0, 2.0, 3.0])
    m = nn.CrossEntropyLoss(weight=w, label_smoothing=0.05, reduction="sum")
    assert list(m.state_dict()) == ["weight"] and repr(m) == "CrossEntropyLoss()"
    x = rng.standard_normal((4, 3)).astype(np.float32)
    y = np.array([0, 2, 1, 1])
    got = m(tg.tensor(x), tg.tensor(y)).item()
    want = F.cross_entropy(tg.tensor(x), tg.tensor(y), weight=w, label_smoothing=0.05, reduction="sum").item()
    assert got == want
    if torch is not None:
        t = torch.nn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0, 3.0]), label_smoothing=0.05,
                                      reduction="sum")(torch.tensor(x), torch.tensor(y)).item()
        np.testing.assert_allclose(got, t, rtol=1e-6)


def test_cross_entropy_all_ignored_mean_is_nan():
    out = F.cross_entropy(tg.ones(2, 3), tg.tensor([-100, -100]))
    assert np.isnan(out.item())
    assert F.cross_entropy(tg.ones(2, 3), tg.tensor([-100, -100]), reduction="sum").item() == 0.0


def test_cross_entropy_errors():
    x = tg.ones(3, 4)
    with pytest.raises(IndexError, match=r"Target 4 .*4 classes"):
        F.cross_entropy(x, tg.tensor([0, 4, 1]))
    with pytest.raises(IndexError, match=r"Target -1 "):
        F.cross_entropy(x, tg.tensor([0, -1, 1]))
    with pytest.raises(RuntimeError, match="int64"):
        F.cross_entropy(x, tg.tensor([0.0, 1.0, 1.0]))
    with pytest.raises(RuntimeError, match="int64"):
        F.cross_entropy(x, tg.tensor([True, False, True]))
    with pytest.raises(ValueError, match=r"batch_size \(3\).*\(2\)"):
        F.cross_entropy(x, tg.tensor([0, 1]))
    with pytest.raises(RuntimeError, match=r"\[3\]"):
        F.cross_entropy(x, tg.tensor([[0], [1], [2]]))
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        F.cross_entropy(x, tg.tensor([0, 1, 2]), reduction="avg")
    with pytest.raises(RuntimeError, match=r"weight tensor.*4 classes.*\[3\]"):
        F.cross_entropy(x, tg.tensor([0, 1, 2]), weight=tg.ones(3))
    with pytest.raises(RuntimeError, match="floating"):
        F.cross_entropy(tg.ones(3, 4, dtype=tg.int64), tg.tensor([0, 1, 2]))
    with pytest.raises(RuntimeError):
        F.cross_entropy(tg.tensor(1.0), tg.tensor(0))
    with pytest.raises(RuntimeError, match="label_smoothing"):  # PyTorch: RuntimeError
        F.cross_entropy(x, tg.tensor([0, 1, 2]), label_smoothing=1.5)
    with pytest.raises(TypeError):
        F.cross_entropy(x, [0, 1, 2])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_matches_torch_and_finite_differences(reduction):
    x = rng.standard_normal((5, 4))
    y = np.array([3, 0, -100, 2, 2])
    w = np.array([1.0, 0.5, 2.0, 1.5])
    tw = tg.tensor(w)
    check_grad(lambda a: F.nll_loss(a, tg.tensor(y), weight=tw, reduction=reduction), x,
               torch_fn=None if torch is None else
               lambda a: tfn("nll_loss")(a, torch.tensor(y), weight=torch.tensor(w), reduction=reduction))
    out = F.nll_loss(tg.tensor(x), tg.tensor(y), reduction=reduction)
    picked = np.array([-x[i, t] if t >= 0 else 0.0 for i, t in enumerate(y)])
    want = {"none": picked, "sum": picked.sum(), "mean": picked.sum() / 4}[reduction]
    np.testing.assert_allclose(out.numpy(), want)


def test_nll_loss_module_and_errors():
    x = tg.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    loss = nn.NLLLoss()(x, tg.tensor([2, 1]))
    assert loss.grad_fn.name() == "NllLossBackward0"
    with pytest.raises(IndexError, match="Target 3"):
        F.nll_loss(x, tg.tensor([3, 1]))
    with pytest.raises(RuntimeError, match="int64"):
        F.nll_loss(x, tg.tensor([[0.2, 0.3, 0.5], [0.2, 0.3, 0.5]]))


# ---- binary cross entropy --------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_matches_torch_and_finite_differences(reduction):
    x = rng.uniform(0.05, 0.95, (3, 4))
    y = rng.uniform(0, 1, (3, 4))
    w = rng.uniform(0.5, 2, 4)
    tw = tg.tensor(w)
    check_grad(lambda a, t: F.binary_cross_entropy(a, t, weight=tw, reduction=reduction), x, y,
               torch_fn=None if torch is None else
               lambda a, t: tfn("binary_cross_entropy")(a, t, weight=torch.tensor(w), reduction=reduction))
    if torch is not None:
        assert_matches_torch(lambda a, t: nn.BCELoss(reduction=reduction)(a, t),
                             lambda a, t: torch.nn.BCELoss(reduction=reduction)(a, t), [x, y],
                             [True, False], np.float32)


def test_bce_clamps_log_at_minus_100():
    x = tg.tensor([0.0, 1.0, 0.0, 1.0], requires_grad=True)
    y = tg.tensor([1.0, 0.0, 0.0, 1.0])
    out = F.binary_cross_entropy(x, y, reduction="none")
    np.testing.assert_allclose(out.detach().numpy(), [100.0, 100.0, 0.0, 0.0])
    out.sum().backward()
    assert np.all(np.isfinite(x.grad.numpy()))
    if torch is not None:
        tx = torch.tensor([0.0, 1.0, 0.0, 1.0], requires_grad=True)
        torch.nn.functional.binary_cross_entropy(tx, torch.tensor([1.0, 0.0, 0.0, 1.0]),
                                                 reduction="none").sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)


def test_bce_errors():
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(tg.tensor([0.5, 1.5]), tg.tensor([0.0, 1.0]))
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(tg.tensor([0.5, float("nan")]), tg.tensor([0.0, 1.0]))
    with pytest.raises(RuntimeError, match="target should be between 0 and 1"):
        F.binary_cross_entropy(tg.tensor([0.5, 0.5]), tg.tensor([0.0, 2.0]))
    with pytest.raises(ValueError, match=r"\[2, 1\].*\[2\]"):
        F.binary_cross_entropy(tg.tensor([0.5, 0.5]), tg.tensor([[0.0], [1.0]]))
    with pytest.raises(RuntimeError, match="int64"):
        F.binary_cross_entropy(tg.tensor([0.5, 0.5]), tg.tensor([0, 1]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_matches_torch_and_finite_differences(reduction):
    x = rng.standard_normal((3, 4)) * 3
    y = rng.uniform(0, 1, (3, 4))
    w = rng.uniform(0.5, 2, (3, 1))
    pw = rng.uniform(0.5, 3, 4)
    tw, tpw = tg.tensor(w), tg.tensor(pw)
    check_grad(lambda a, t: F.binary_cross_entropy_with_logits(a, t, weight=tw, pos_weight=tpw,
                                                               reduction=reduction), x, y,
               torch_fn=None if torch is None else
               lambda a, t: tfn("binary_cross_entropy_with_logits")(
                   a, t, weight=torch.tensor(w), pos_weight=torch.tensor(pw), reduction=reduction))
    check_grad(lambda a, t: F.binary_cross_entropy_with_logits(a, t, reduction=reduction), x, y,
               torch_fn=None if torch is None else
               lambda a, t: tfn("binary_cross_entropy_with_logits")(a, t, reduction=reduction))


def test_bce_with_logits_is_stable_and_module():
    x = tg.tensor([200.0, -200.0, 200.0, -200.0], requires_grad=True)
    y = tg.tensor([1.0, 0.0, 0.0, 1.0])
    out = nn.BCEWithLogitsLoss(reduction="none")(x, y)
    np.testing.assert_allclose(out.detach().numpy(), [0.0, 0.0, 200.0, 200.0])
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.0, 1.0, -1.0])
    m = nn.BCEWithLogitsLoss(pos_weight=tg.tensor([2.0]))
    assert list(m.state_dict()) == ["pos_weight"]
    with pytest.raises(ValueError, match=r"Target size \(\[4, 1\]\).*input size \(\[4\]\)"):
        F.binary_cross_entropy_with_logits(x, y.reshape(4, 1))
    with pytest.raises(RuntimeError, match=r"\[3\].*\[4\]|\[4\].*\[3\]"):
        F.binary_cross_entropy_with_logits(x, y, weight=tg.ones(3))


# ---- common ----------------------------------------------------------------------------

def test_invalid_reduction_raises_value_error_everywhere():
    x, y = tg.ones(2), tg.ones(2)
    for fn in (F.mse_loss, F.l1_loss, F.binary_cross_entropy, F.binary_cross_entropy_with_logits):
        with pytest.raises(ValueError, match="bad is not a valid value for reduction"):
            fn(x * 0.5, y, reduction="bad")
    with pytest.raises(ValueError):
        nn.MSELoss(reduction="avg")(x, y)


def test_legacy_size_average_and_reduce_flags():
    x, y = tg.tensor([1.0, 3.0]), tg.tensor([0.0, 0.0])
    assert F.mse_loss(x, y, size_average=False).item() == 10.0
    assert F.mse_loss(x, y, reduce=False).shape == (2,)
    assert nn.MSELoss(size_average=False).reduction == "sum"


def test_loss_grad_flows_to_target_when_it_requires_grad():
    x = rng.standard_normal(4)
    y = rng.standard_normal(4)
    check_grad(lambda a, b: F.mse_loss(a, b), x, y,
               torch_fn=None if torch is None else lambda a, b: tfn("mse_loss")(a, b))
    w, (gx, gy) = numeric_grad(lambda a, b: np.mean((a - b) ** 2), [x.copy(), y.copy()])
    tx, ty = tg.tensor(x, requires_grad=True), tg.tensor(y, requires_grad=True)
    (F.mse_loss(tx, ty) * float(w)).backward()
    np.testing.assert_allclose(ty.grad.numpy(), gy, rtol=1e-5, atol=1e-7)


def test_saved_input_modified_in_place_is_detected():
    x = tg.tensor([0.5, 2.0], requires_grad=True)
    y = tg.tensor([1.0, 1.0])
    loss = F.mse_loss(x, y)
    with tg.no_grad():
        x.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_dtype_promotion_like_torch():
    x32 = tg.tensor(np.array([[0.2, 0.7, 0.1]], dtype=np.float32), requires_grad=True)
    t64 = tg.tensor(np.array([[0.0, 1.0, 0.0]]))
    for fn in (F.mse_loss, F.l1_loss, F.binary_cross_entropy_with_logits, F.binary_cross_entropy,
               F.cross_entropy):
        out = fn(x32, t64)
        assert out.dtype == tg.float64, fn.__name__
        out.backward()
        assert x32.grad.dtype == tg.float32
        x32.grad = None
    assert F.mse_loss(x32, tg.tensor([[1, 0, 1]])).dtype == tg.float32
    with pytest.raises(RuntimeError, match="floating"):
        F.mse_loss(tg.tensor([1, 2]), tg.tensor([1, 1]))


def test_class_losses_non_contiguous_and_empty():
    x = rng.standard_normal((5, 4))
    y = np.array([3, 0, 1, 2])
    tx = tg.from_numpy(x).T  # [4, 5], non-contiguous
    assert not tx.is_contiguous()
    xt = x.T
    logp = xt - np.log(np.exp(xt).sum(1, keepdims=True))
    want = -logp[np.arange(4), y]
    np.testing.assert_allclose(F.cross_entropy(tx, tg.tensor(y), reduction="none").numpy(), want, rtol=1e-12)
    np.testing.assert_allclose(F.nll_loss(tg.tensor(logp).T.T, tg.tensor(y)).item(), want.mean(), rtol=1e-12)
    p = rng.uniform(0.1, 0.9, (3, 2))
    tp = tg.from_numpy(p.T.copy()).T
    bce = -(0.5 * np.log(p) + 0.5 * np.log(1 - p))
    np.testing.assert_allclose(F.binary_cross_entropy(tp, tg.full((3, 2), 0.5, dtype=tg.float64),
                                                      reduction="none").numpy(), bce, rtol=1e-12)
    empty = tg.zeros(0, 3, requires_grad=True)
    out = F.cross_entropy(empty, tg.zeros(0, dtype=tg.int64))
    assert np.isnan(out.item())
    F.cross_entropy(empty, tg.zeros(0, dtype=tg.int64), reduction="sum").backward()
    assert empty.grad.shape == (0, 3)
    assert F.cross_entropy(empty, tg.zeros(0, dtype=tg.int64), reduction="none").shape == (0,)
