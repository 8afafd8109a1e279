"""SmoothL1Loss, HuberLoss and KLDivLoss (and F.smooth_l1_loss, F.huber_loss, F.kl_div):
values and gradients vs PyTorch (when importable), vs float64 finite differences and vs
numpy formulas, for every reduction; node names, modules, edge cases and errors."""
import warnings

import numpy as np
import pytest

import tinygrad_cpp as tg
import tinygrad_cpp.nn as nn
import tinygrad_cpp.nn.functional as F
from helpers import check_grad, torch
from test_loss import assert_matches_torch

REDUCTIONS = ["mean", "sum", "none"]
rng = np.random.default_rng(7)


def tfn(name):
    return getattr(torch.nn.functional, name)


def np_smooth_l1(x, y, beta):
    z = np.abs(x - y)
    return np.where(z < beta, 0.5 * z * z / beta, z - 0.5 * beta)


def np_huber(x, y, delta):
    z = np.abs(x - y)
    return np.where(z < delta, 0.5 * z * z, delta * (z - 0.5 * delta))


def reduce(v, reduction):
    return {"none": v, "sum": v.sum(), "mean": v.mean()}[reduction]


# ---- smooth L1 / Huber -------------------------------------------------------------------

REGRESSION = [("smooth_l1_loss", {}), ("smooth_l1_loss", {"beta": 0.3}), ("smooth_l1_loss", {"beta": 2.5}),
              ("huber_loss", {}), ("huber_loss", {"delta": 0.4}), ("huber_loss", {"delta": 3.0})]


@pytest.mark.parametrize("name,kw", REGRESSION, ids=[f"{n}-{k}" for n, k in REGRESSION])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_regression_losses_match_torch(name, kw, reduction, dtype):
    pytest.importorskip("torch")
    x, y = rng.standard_normal((5, 6)) * 2, rng.standard_normal((5, 6))
    assert_matches_torch(lambda a, b: getattr(F, name)(a, b, reduction=reduction, **kw),
                         lambda a, b: tfn(name)(a, b, reduction=reduction, **kw), [x, y], [True, True], dtype)


@pytest.mark.parametrize("name,kw", REGRESSION, ids=[f"{n}-{k}" for n, k in REGRESSION])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_losses_finite_differences(name, kw, reduction):
    x, y = rng.standard_normal((3, 4)) * 2, rng.standard_normal((3, 4))
    check_grad(lambda a, b: getattr(F, name)(a, b, reduction=reduction, **kw), x, y,
               torch_fn=None if torch is None else lambda a, b: tfn(name)(a, b, reduction=reduction, **kw))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_loss_values_against_numpy(reduction):
    x, y = rng.standard_normal((4, 5)) * 2, rng.standard_normal((4, 5))
    tx, ty = tg.tensor(x), tg.tensor(y)
    for beta in (0.2, 1.0, 4.0):
        np.testing.assert_allclose(F.smooth_l1_loss(tx, ty, reduction=reduction, beta=beta).numpy(),
                                   reduce(np_smooth_l1(x, y, beta), reduction), rtol=1e-13)
        np.testing.assert_allclose(nn.SmoothL1Loss(reduction=reduction, beta=beta)(tx, ty).numpy(),
                                   reduce(np_smooth_l1(x, y, beta), reduction), rtol=1e-13)
        np.testing.assert_allclose(F.huber_loss(tx, ty, reduction=reduction, delta=beta).numpy(),
                                   reduce(np_huber(x, y, beta), reduction), rtol=1e-13)
        np.testing.assert_allclose(nn.HuberLoss(reduction=reduction, delta=beta)(tx, ty).numpy(),
                                   reduce(np_huber(x, y, beta), reduction), rtol=1e-13)
        # Huber is smooth L1 scaled by delta
        np.testing.assert_allclose(F.huber_loss(tx, ty, reduction=reduction, delta=beta).numpy(),
                                   beta * F.smooth_l1_loss(tx, ty, reduction=reduction, beta=beta).numpy(),
                                   rtol=1e-12)


def test_regression_gradients_at_the_kink_and_at_equality():
    # |x - y| == beta exactly: both branches give slope +-1 (resp. +-delta)
    x = tg.tensor([1.0, -1.0, 0.25, 0.0, 3.0], dtype=tg.float64, requires_grad=True)
    y = tg.zeros(5, dtype=tg.float64)
    F.smooth_l1_loss(x, y, reduction="sum", beta=1.0).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, -1.0, 0.25, 0.0, 1.0])
    x.grad = None
    F.huber_loss(x, y, reduction="sum", delta=1.0).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, -1.0, 0.25, 0.0, 1.0])
    x.grad = None
    F.huber_loss(x, y, reduction="sum", delta=2.0).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, -1.0, 0.25, 0.0, 2.0])
    if torch is not None:
        tx = torch.tensor([1.0, -1.0, 0.25, 0.0, 3.0], dtype=torch.float64, requires_grad=True)
        tfn("huber_loss")(tx, torch.zeros(5, dtype=torch.float64), reduction="sum", delta=2.0).backward()
        np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


def test_smooth_l1_beta_zero_is_l1():
    # PyTorch computes beta=0 as l1_loss: the gradient at x == y is 0, not nan
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = tg.tensor([1.0, 0.0, 5.0])
    out = F.smooth_l1_loss(x, y, reduction="sum", beta=0.0)
    assert out.grad_fn.name() == "L1LossBackward0"
    assert out.item() == 4.0
    out.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, -1.0])


def test_node_names_and_one_node():
    x = tg.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    y = tg.tensor(rng.standard_normal((2, 3)))
    for fn, name in [(F.smooth_l1_loss, "SmoothL1LossBackward0"), (F.huber_loss, "HuberLossBackward0"),
                     (F.kl_div, "KlDivBackward0")]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for reduction in REDUCTIONS + (["batchmean"] if fn is F.kl_div else []):
                loss = fn(x, y, reduction=reduction)
                assert loss.grad_fn.name() == name
                (nxt, _), (none, _) = loss.grad_fn.next_functions
                assert nxt.name() == "AccumulateGrad" and none is None


def test_target_gradients_and_broadcasting():
    x = rng.standard_normal((3, 4)) * 2
    b = rng.standard_normal(4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in ("smooth_l1_loss", "huber_loss"):
            check_grad(lambda a, t: getattr(F, name)(a, t, reduction="mean"), x, b,
                       torch_fn=None if torch is None else lambda a, t: tfn(name)(a, t, reduction="mean"))
            check_grad(lambda a, t: getattr(F, name)(a, t, reduction="none"), b, x,
                       torch_fn=None if torch is None else lambda a, t: tfn(name)(a, t, reduction="none"))
    with pytest.warns(UserWarning, match="different to the input size"):
        out = F.smooth_l1_loss(tg.tensor(x), tg.tensor(b), reduction="none")
    assert out.shape == (3, 4)
    with pytest.warns(UserWarning, match="different to the input size"):
        F.huber_loss(tg.tensor(b), tg.tensor(x))


def test_mixed_dtypes_promote_and_non_contiguous_inputs():
    x = rng.standard_normal((4, 3))
    tx = tg.from_numpy(x.T.copy()).T  # a transposed (non-contiguous) view
    assert not tx.is_contiguous()
    y = rng.standard_normal((4, 3)).astype(np.float32)
    out = F.smooth_l1_loss(tx, tg.tensor(y), beta=0.5)
    assert out.dtype == tg.float64
    np.testing.assert_allclose(out.item(), np_smooth_l1(x, y.astype(np.float64), 0.5).mean(), rtol=1e-13)
    out = F.huber_loss(tg.tensor(x, dtype=tg.float32), tg.tensor(y), reduction="none")
    assert out.dtype == tg.float32
    with pytest.raises(RuntimeError, match="floating"):
        F.smooth_l1_loss(tg.tensor([1, 2]), tg.tensor([0, 1]))
    with pytest.raises(RuntimeError, match="floating"):
        F.huber_loss(tg.tensor([1, 2]), tg.tensor([0, 1]))


def test_huber_weight_like_torch():
    x, y = rng.standard_normal((3, 4)) * 2, rng.standard_normal((3, 4))
    w = rng.uniform(0.5, 2, (3, 4))
    tw = tg.tensor(w)
    for reduction in REDUCTIONS:
        out = F.huber_loss(tg.tensor(x), tg.tensor(y), reduction=reduction, delta=0.7, weight=tw)
        np.testing.assert_allclose(out.numpy(), reduce(w * np_huber(x, y, 0.7), reduction), rtol=1e-13)
        check_grad(lambda a, t, ww: F.huber_loss(a, t, reduction=reduction, delta=0.7, weight=ww), x, y, w,
                   torch_fn=None if torch is None else
                   lambda a, t, ww: tfn("huber_loss")(a, t, reduction=reduction, delta=0.7, weight=ww))
    with pytest.raises(ValueError, match="Weights and input must have the same size"):
        F.huber_loss(tg.tensor(x), tg.tensor(y), weight=tg.ones(4, dtype=tg.float64))
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        F.huber_loss(tg.tensor(x), tg.tensor(y), weight=tw, reduction="avg")


def test_regression_losses_empty_and_0d_and_large():
    e = tg.zeros(0, 3)
    for fn in (F.smooth_l1_loss, F.huber_loss):
        assert np.isnan(fn(e, e).item())  # mean over nothing, as in PyTorch
        assert fn(e, e, reduction="sum").item() == 0.0
        assert fn(e, e, reduction="none").shape == (0, 3)
    s = tg.tensor(3.0, requires_grad=True)
    out = F.smooth_l1_loss(s, tg.tensor(0.5), beta=2.0)
    out.backward()
    assert out.shape == () and out.item() == 1.5 and s.grad.item() == 1.0
    big = tg.tensor([1e30, -1e30], requires_grad=True)
    out = F.huber_loss(big, tg.zeros(2), reduction="sum", delta=1e-3)
    out.backward()
    np.testing.assert_allclose(out.item(), 2e27, rtol=1e-6)  # linear far out: no overflow
    np.testing.assert_allclose(big.grad.numpy(), [1e-3, -1e-3], rtol=1e-7)
    inf = F.smooth_l1_loss(tg.tensor([2.0]), tg.tensor([0.0]), beta=float("inf"), reduction="none")
    np.testing.assert_array_equal(inf.numpy(), [0.0])  # 0.5 z^2 / inf, as in PyTorch


def test_regression_loss_modules():
    m = nn.SmoothL1Loss(beta=0.5, reduction="sum")
    assert repr(m) == "SmoothL1Loss()" and m.beta == 0.5 and list(m.state_dict()) == []
    assert nn.SmoothL1Loss(size_average=False).reduction == "sum"
    assert nn.SmoothL1Loss(reduce=False).reduction == "none"
    h = nn.HuberLoss(reduction="none", delta=2.0)
    assert repr(h) == "HuberLoss()" and h.delta == 2.0 and h.reduction == "none"
    assert isinstance(m, nn.Module)
    from tinygrad_cpp.nn.modules.loss import HuberLoss, KLDivLoss, SmoothL1Loss
    assert (SmoothL1Loss, HuberLoss, KLDivLoss) == (nn.SmoothL1Loss, nn.HuberLoss, nn.KLDivLoss)
    if torch is not None:
        x, y = rng.standard_normal((4, 2)).astype(np.float32), rng.standard_normal((4, 2)).astype(np.float32)
        np.testing.assert_allclose(m(tg.tensor(x), tg.tensor(y)).item(),
                                   torch.nn.SmoothL1Loss(beta=0.5, reduction="sum")(torch.tensor(x), torch.tensor(y)).item(),
                                   rtol=1e-6)
        np.testing.assert_allclose(h(tg.tensor(x), tg.tensor(y)).numpy(),
                                   torch.nn.HuberLoss(reduction="none", delta=2.0)(torch.tensor(x), torch.tensor(y)).numpy(),
                                   rtol=1e-6)


def test_regression_loss_errors():
    x, y = tg.ones(3, 4), tg.ones(3, 4)
    with pytest.raises(RuntimeError, match="negative values for beta. Got: -1"):
        F.smooth_l1_loss(x, y, beta=-1.0)
    with pytest.raises(RuntimeError, match="negative values for beta"):
        F.smooth_l1_loss(x, y, beta=float("nan"))
    for delta in (0.0, -1.0, float("nan")):
        with pytest.raises(RuntimeError, match="non-positive values for delta"):
            F.huber_loss(x, y, delta=delta)
    for fn in (F.smooth_l1_loss, F.huber_loss):
        with pytest.raises(RuntimeError, match=r"\[3, 4\] and \[3, 5\]"), pytest.warns(UserWarning):
            fn(x, tg.ones(3, 5))
        with pytest.raises(TypeError, match="must be a Tensor"):
            fn(x, [[1.0] * 4] * 3)
        with pytest.raises(TypeError, match="must be a Tensor"):
            fn(None, y)
        with pytest.raises(ValueError, match="batchmean is not a valid value for reduction"):
            fn(x, y, reduction="batchmean")
        with pytest.raises(ValueError, match="not a valid value for reduction"):
            fn(x, y, reduction=None)
    with pytest.raises(TypeError, match="'beta' must be float, not str"):
        F.smooth_l1_loss(x, y, beta="1")
    with pytest.raises(TypeError, match="'delta' must be float, not NoneType"):
        F.huber_loss(x, y, delta=None)


# ---- KL divergence -------------------------------------------------------------------------

def kl_inputs(shape=(4, 5), zero=True, log_target=False):
    """log-probabilities over the last dim, and target probabilities (a zero entry when
    `zero`) or target log-probabilities."""
    logits = rng.standard_normal(shape)
    lp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    t = rng.dirichlet(np.ones(shape[-1]), shape[:-1]) if len(shape) > 1 else rng.dirichlet(np.ones(shape[0]))
    if log_target:
        return lp, np.log(t)
    if zero:
        t.reshape(-1)[1] = 0.0
    return lp, t


def np_kl(x, t, log_target):
    if log_target:
        return np.exp(t) * (t - x)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(t == 0, 0.0, t * np.log(np.where(t == 0, 1.0, t))) - t * x


KL_REDUCTIONS = ["mean", "sum", "none", "batchmean"]


@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("reduction", KL_REDUCTIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kl_div_matches_torch(log_target, reduction, dtype):
    pytest.importorskip("torch")
    x, t = kl_inputs(log_target=log_target, zero=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_matches_torch(lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=log_target),
                             lambda a, b: tfn("kl_div")(a, b, reduction=reduction, log_target=log_target),
                             [x, t], [True, True], dtype)


@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("reduction", KL_REDUCTIONS)
def test_kl_div_finite_differences(log_target, reduction):
    x, t = kl_inputs((3, 4), log_target=log_target, zero=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_grad(lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=log_target), x, t,
                   torch_fn=None if torch is None else
                   lambda a, b: tfn("kl_div")(a, b, reduction=reduction, log_target=log_target))


@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_values_against_numpy(log_target):
    x, t = kl_inputs((3, 5), log_target=log_target)
    tx, tt = tg.tensor(x), tg.tensor(t)
    per = np_kl(x, t, log_target)
    np.testing.assert_allclose(F.kl_div(tx, tt, reduction="none", log_target=log_target).numpy(), per, rtol=1e-13)
    np.testing.assert_allclose(F.kl_div(tx, tt, reduction="sum", log_target=log_target).item(), per.sum(), rtol=1e-13)
    np.testing.assert_allclose(F.kl_div(tx, tt, reduction="batchmean", log_target=log_target).item(),
                               per.sum() / 3, rtol=1e-13)
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        mean = F.kl_div(tx, tt, log_target=log_target)
    np.testing.assert_allclose(mean.item(), per.mean(), rtol=1e-13)
    m = nn.KLDivLoss(reduction="batchmean", log_target=log_target)
    assert repr(m) == "KLDivLoss()" and m.log_target == log_target
    np.testing.assert_allclose(m(tx, tt).item(), per.sum() / 3, rtol=1e-13)
    # KL(p || p) == 0
    p_log = tg.tensor(x)
    same = F.kl_div(p_log, p_log if log_target else p_log.exp(), reduction="batchmean", log_target=log_target)
    assert abs(same.item()) < 1e-15


def test_kl_div_zero_targets_like_torch():
    # a zero target contributes 0 (xlogy), its input gradient is -0, and the gradient with
    # respect to that target is nan in PyTorch's composite formula (log 0 + 0/0): kept
    x, t = kl_inputs((2, 3))
    tx, tt = tg.tensor(x, requires_grad=True), tg.tensor(t, requires_grad=True)
    out = F.kl_div(tx, tt, reduction="sum")
    assert np.isfinite(out.item())
    out.backward()
    np.testing.assert_array_equal(tx.grad.numpy(), -t)
    g = tt.grad.numpy()
    assert np.isnan(g.reshape(-1)[1]) and np.isfinite(np.delete(g.reshape(-1), 1)).all()
    np.testing.assert_allclose(np.delete(g.reshape(-1), 1),
                               np.delete((np.log(np.where(t == 0, 1, t)) + 1 - x).reshape(-1), 1), rtol=1e-13)
    if torch is not None:
        ttx, ttt = torch.tensor(x, requires_grad=True), torch.tensor(t, requires_grad=True)
        tout = tfn("kl_div")(ttx, ttt, reduction="sum")
        tout.backward()
        np.testing.assert_allclose(out.item(), tout.item(), rtol=1e-13)
        np.testing.assert_array_equal(np.isnan(g), np.isnan(ttt.grad.numpy()))
        np.testing.assert_allclose(tx.grad.numpy(), ttx.grad.numpy())
    neg = F.kl_div(tg.tensor([1.0, 2.0]), tg.tensor([0.0, -1.0]), reduction="none")
    assert neg[0].item() == 0.0 and np.isnan(neg[1].item())  # xlogy(-1, -1) is nan


def test_kl_div_shapes_batchmean_and_broadcasting():
    # batchmean divides by the input's first dimension; a 0-d input gives the sum
    assert F.kl_div(tg.tensor(1.0), tg.tensor(0.5), reduction="batchmean").item() == pytest.approx(
        0.5 * np.log(0.5) - 0.5, rel=1e-6)
    assert np.isnan(F.kl_div(tg.zeros(0, 3), tg.zeros(0, 3), reduction="batchmean").item())
    assert F.kl_div(tg.zeros(0, 3), tg.zeros(0, 3), reduction="sum").item() == 0.0
    x, t = kl_inputs((2, 3, 4))
    out = F.kl_div(tg.tensor(x), tg.tensor(t), reduction="batchmean")
    np.testing.assert_allclose(out.item(), np_kl(x, t, False).sum() / 2, rtol=1e-13)
    # target broadcasts (without a warning, as in PyTorch's kl_div)
    b = rng.dirichlet(np.ones(4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = F.kl_div(tg.tensor(x), tg.tensor(b), reduction="none")
    assert out.shape == (2, 3, 4)
    np.testing.assert_allclose(out.numpy(), np_kl(x, np.broadcast_to(b, x.shape), False), rtol=1e-13)
    check_grad(lambda a, c: F.kl_div(a, c, reduction="batchmean"), x, b,
               torch_fn=None if torch is None else lambda a, c: tfn("kl_div")(a, c, reduction="batchmean"))


def test_kl_div_legacy_flags_and_dtypes():
    x, t = kl_inputs((2, 3), zero=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(F.kl_div(tg.tensor(x), tg.tensor(t), reduce=False).numpy(),
                                   np_kl(x, t, False), rtol=1e-13)
        np.testing.assert_allclose(F.kl_div(tg.tensor(x), tg.tensor(t), size_average=False).item(),
                                   np_kl(x, t, False).sum(), rtol=1e-13)
        assert nn.KLDivLoss(reduce=False).reduction == "none"
    out = F.kl_div(tg.tensor(x, dtype=tg.float32), tg.tensor(t), reduction="sum")
    assert out.dtype == tg.float64  # promoted, as in PyTorch


def test_kl_div_errors():
    x = tg.ones(3, 4)
    with pytest.raises(RuntimeError, match="Integral inputs not supported.*int64"):
        F.kl_div(x, tg.ones(3, 4, dtype=tg.int64), reduction="sum")
    with pytest.raises(RuntimeError, match="Integral inputs not supported"):
        F.kl_div(tg.tensor([1, 2]), tg.tensor([0.5, 0.5]), reduction="none")
    with pytest.raises(RuntimeError, match=r"\[3, 4\] and \[3, 5\]"):
        F.kl_div(x, tg.ones(3, 5), reduction="sum")
    with pytest.raises(ValueError, match="avg is not a valid value for reduction"):
        F.kl_div(x, x, reduction="avg")
    with pytest.raises(TypeError, match="argument 'target' must be a Tensor"):
        F.kl_div(x, [0.5])
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        tg._C._kl_div(x, x, 7, False)


def test_losses_in_a_training_step():
    # the new losses drive an optimizer like the old ones
    import tinygrad_cpp.optim as optim
    model = nn.Linear(3, 2)
    opt = optim.SGD(model.parameters(), lr=0.1)
    x = tg.tensor(rng.standard_normal((8, 3)).astype(np.float32))
    y = tg.tensor(rng.standard_normal((8, 2)).astype(np.float32))
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = nn.HuberLoss(delta=0.5)(model(x), y) + 0.1 * F.kl_div(
            F.log_softmax(model(x), dim=1), F.softmax(y, dim=1), reduction="batchmean")
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


@pytest.mark.parametrize("case", ["ce", "nll", "bce", "bce_logits_weight", "bce_logits_pos_weight"])
def test_weight_that_requires_grad_is_refused_like_torch(case):
    """PyTorch does not differentiate these losses with respect to their weights: a weight that
    requires grad raises (ours must not silently leave its gradient out); under no_grad it is fine."""
    def call(L):
        F_ = L.nn.functional
        x = L.tensor([[0.2, -1.0, 0.5], [1.5, 0.3, -0.2]], requires_grad=True)
        w = L.tensor([0.5, 2.0, 1.0], requires_grad=True)
        p = L.tensor([[0.2, 0.7, 0.9], [0.4, 0.1, 0.5]])
        if case == "ce":
            return F_.cross_entropy(x, L.tensor([0, 2]), weight=w)
        if case == "nll":
            return F_.nll_loss(x, L.tensor([0, 2]), weight=w)
        if case == "bce":
            return F_.binary_cross_entropy(x.sigmoid(), p, weight=w)
        if case == "bce_logits_weight":
            return F_.binary_cross_entropy_with_logits(x, p, weight=w)
        return F_.binary_cross_entropy_with_logits(x, p, pos_weight=w)
    with pytest.raises(RuntimeError, match="is not differentiable with respect to argument") as ours:
        call(tg)
    if torch is not None:
        with pytest.raises(RuntimeError) as theirs:
            call(torch)
        assert str(ours.value) == str(theirs.value)
    with tg.no_grad():
        assert call(tg).item() > 0
