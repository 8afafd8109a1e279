"""Higher-order gradients (create_graph=True): second and third derivatives of the ops
with recorded backward formulas against PyTorch's (float64), gradgradcheck against finite
differences, .grad keeping its history after backward(create_graph=True), a gradient
penalty and a physics-style derivative loss through an MLP (parameter gradients against
PyTorch's), and the error raised when a fused backward without a formula is
differentiated again."""
import numpy as np
import pytest

import tinygrad_cpp as tg
import tinygrad_cpp.nn.functional as F
from helpers import torch

rng = np.random.default_rng(5)


def _derivatives(lib, fn, arrays, order):
    """d^k/dx^k of sum(fn(*xs)) for k = 1..order (each summed before the next), for
    every input, as numpy arrays."""
    xs = [lib.tensor(a, requires_grad=True) for a in arrays]
    out = fn(lib, *xs).sum()
    res = []
    for k in range(order):
        gs = lib.autograd.grad(out, xs, create_graph=k < order - 1, allow_unused=True)
        res.append([None if g is None else (g.detach().numpy(force=True) if lib is torch else g.detach().numpy())
                    for g in gs])
        out = sum(g.sum() for g in gs if g is not None and g.requires_grad) if k < order - 1 else None
        if k < order - 1 and not isinstance(out, (tg.Tensor, torch.Tensor if torch else tg.Tensor)):
            break
    return res


def check_against_torch(fn, arrays, order=3, tol=1e-10):
    if torch is None:
        pytest.skip("torch not installed")
    ours = _derivatives(tg, fn, arrays, order)
    theirs = _derivatives(torch, fn, arrays, order)
    # a derivative that is piecewise constant (relu's second) may come back without
    # history from us and as zeros from PyTorch: the orders past it must all be zero
    for extra in theirs[len(ours):]:
        assert all(y is None or not y.any() for y in extra)
    for k, (a, b) in enumerate(zip(ours, theirs)):
        for i, (x, y) in enumerate(zip(a, b)):
            if y is None:
                assert x is None or np.all(x == 0), (k, i)
                continue
            np.testing.assert_allclose(x, y, rtol=tol, atol=tol, err_msg=f"order {k + 1}, input {i}")


def pos(shape):
    return rng.uniform(0.5, 2.0, shape)


def anyv(shape):
    return rng.standard_normal(shape)


UNARY = {
    "exp": (lambda L, x: L.exp(x), anyv),
    "log": (lambda L, x: L.log(x), pos),
    "log1p": (lambda L, x: L.log1p(x), pos),
    "expm1": (lambda L, x: L.expm1(x), anyv),
    "sqrt": (lambda L, x: L.sqrt(x), pos),
    "rsqrt": (lambda L, x: L.rsqrt(x), pos),
    "reciprocal": (lambda L, x: L.reciprocal(x), pos),
    "sin": (lambda L, x: L.sin(x), anyv),
    "cos": (lambda L, x: L.cos(x), anyv),
    "tanh": (lambda L, x: L.tanh(x), anyv),
    "sigmoid": (lambda L, x: L.sigmoid(x), anyv),
    "abs": (lambda L, x: L.abs(x) * x, anyv),
    "neg": (lambda L, x: -x * x, anyv),
    "relu": (lambda L, x: L.relu(x) * x, anyv),
    "silu": (lambda L, x: L.nn.functional.silu(x), anyv),
    "softplus": (lambda L, x: L.nn.functional.softplus(x, beta=2.0, threshold=3.0), anyv),
    "leaky_relu": (lambda L, x: L.nn.functional.leaky_relu(x, 0.2) * x, anyv),
    "elu": (lambda L, x: L.nn.functional.elu(x, 0.7), anyv),
    "pow_scalar": (lambda L, x: x ** 3, anyv),
    "pow_frac": (lambda L, x: x ** 2.5, pos),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_third_derivatives_match_torch(name):
    fn, draw = UNARY[name]
    check_against_torch(fn, [draw((3, 4))])


BINARY = {
    "add": lambda L, a, b: (a + 2.0 * b) * a,
    "sub": lambda L, a, b: (a - b) * (b - 3.0 * a),
    "mul": lambda L, a, b: a * b * a,
    "div": lambda L, a, b: a / b,
    "pow": lambda L, a, b: a ** b,
    "rpow": lambda L, a, b: 2.0 ** (a * b),
    "where": lambda L, a, b: L.where(a > 1.0, a * a, b * a),
    "matmul": lambda L, a, b: L.matmul(a, b.transpose(-1, -2)) ** 2,
}


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((2, 3, 4), (3, 4))], ids=["same", "broadcast"])
def test_binary_third_derivatives_match_torch(name, shapes):
    a, b = pos(shapes[0]), pos(shapes[1])
    check_against_torch(BINARY[name], [a, b])


@pytest.mark.parametrize("sa,sb", [((3, 4), (4, 5)), ((2, 3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)),
                                   ((2, 3, 4), (2, 4, 2))])
def test_matmul_shapes(sa, sb):
    check_against_torch(lambda L, a, b: L.sin(L.matmul(a, b)), [anyv(sa), anyv(sb)])


@pytest.mark.parametrize("xshape", [(5, 3), (2, 5, 3), (3,)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear(xshape, bias):
    arrays = [anyv(xshape), anyv((4, 3))] + ([anyv(4)] if bias else [])
    check_against_torch(lambda L, x, w, *b: L.tanh(L.nn.functional.linear(x, w, *b)), arrays)


def test_views_reductions_and_joins():
    def fn(L, x, y):
        a = x.reshape(6, 2).transpose(0, 1)[:, 1:5]          # view, transpose, slice
        b = a.sum(1, keepdim=True) * a.mean() + a[1]         # reductions, select, broadcast
        c = L.cat([b, y.expand(2, 4)], 0)                    # cat, expand
        d = L.stack([c, c * c], 0).permute(2, 0, 1)          # stack, permute
        return L.exp(d.unsqueeze(0).squeeze(0).flatten() * 0.1) * d.flatten()
    check_against_torch(fn, [anyv((3, 4)), anyv((1, 4))])


def test_split_chunk_unbind_and_dtype_casts():
    def fn(L, x):
        p, q = x.split(2, 1)
        r, s = x.double().float().double().chunk(2, 0)
        u = x.unbind(0)
        return (p * q).sum() + (r * s * s).sum() + u[0].dot(u[1]) * u[2].sum()
    check_against_torch(fn, [anyv((4, 4))])


@pytest.mark.parametrize("name", ["sin_exp", "pow_log", "mlp"])
def test_gradgradcheck(name):
    x = tg.tensor(anyv((2, 3)), requires_grad=True)
    if name == "sin_exp":
        assert tg.autograd.gradgradcheck(lambda t: tg.sin(t) * tg.exp(t), [x])
    elif name == "pow_log":
        y = tg.tensor(pos((2, 3)), requires_grad=True)
        assert tg.autograd.gradgradcheck(lambda a, b: (b ** a) * tg.log(b), [x, y])
    else:
        w = tg.tensor(anyv((4, 3)), requires_grad=True)
        b = tg.tensor(anyv(4), requires_grad=True)
        assert tg.autograd.gradgradcheck(lambda t, w, b: tg.tanh(F.linear(t, w, b)).sum(1), [x, w, b])


def test_gradgradcheck_catches_a_wrong_derivative():
    # a hook doubles every gradient flowing through y: the analytical derivatives (first and
    # second) disagree with finite differences, and gradgradcheck must say so
    x = tg.tensor(anyv((2, 2)), requires_grad=True)

    def wrong(t):
        y = t * t
        y.register_hook(lambda g: g * 2)
        return y * t
    assert not tg.autograd.gradgradcheck(wrong, [x], raise_exception=False)
    assert tg.autograd.gradgradcheck(lambda t: t * t * t, [x])


def test_backward_create_graph_keeps_history_in_grad():
    x = tg.tensor([1.0, 2.0, -0.5], dtype=tg.float64, requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    assert x.grad.requires_grad and x.grad.grad_fn is not None
    np.testing.assert_allclose(x.grad.detach().numpy(), 3 * x.detach().numpy() ** 2)
    (g2,) = tg.autograd.grad(x.grad.sum(), x)
    np.testing.assert_allclose(g2.numpy(), 6 * x.detach().numpy())
    # a second backward(create_graph=True) adds into .grad out of place, with history
    (x ** 2).sum().backward(create_graph=True)
    np.testing.assert_allclose(x.grad.detach().numpy(), 3 * x.detach().numpy() ** 2 + 2 * x.detach().numpy())
    assert x.grad.grad_fn is not None
    # create_graph implies retain_graph: the graph can be walked again
    y = (x * x).sum()
    y.backward(create_graph=True)
    y.backward()


def test_without_create_graph_gradients_have_no_history():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    (g,) = tg.autograd.grad((x ** 3).sum(), x)
    assert not g.requires_grad and g.grad_fn is None
    (x ** 3).sum().backward()
    assert x.grad.grad_fn is None and not x.grad.requires_grad


def _gradient_penalty(lib, data, weights):
    """WGAN-GP's penalty on a small critic: (||d critic / d x|| - 1)^2, then backward."""
    x = lib.tensor(data, requires_grad=True)
    w1, b1, w2 = (lib.tensor(a, requires_grad=True) for a in weights)
    out = lib.nn.functional.linear(lib.nn.functional.leaky_relu(lib.nn.functional.linear(x, w1, b1), 0.2), w2)
    (gx,) = lib.autograd.grad(out.sum(), x, create_graph=True)
    penalty = ((gx.pow(2).sum(1).sqrt() - 1) ** 2).mean()
    penalty.backward()
    # b1 reaches the penalty only through leaky_relu's piecewise-constant slope: PyTorch
    # gives it a zero gradient, we none (nothing differentiable connects them)
    return [penalty.item()] + [np.zeros(tuple(p.shape)) if p.grad is None else p.grad.numpy() for p in (w1, b1, w2)]


def test_gradient_penalty_matches_torch():
    if torch is None:
        pytest.skip("torch not installed")
    data = anyv((8, 5))
    weights = [anyv((16, 5)), anyv(16), anyv((1, 16))]
    ours, theirs = _gradient_penalty(tg, data, weights), _gradient_penalty(torch, data, weights)
    assert ours[0] == pytest.approx(theirs[0], rel=1e-12)
    for a, b in zip(ours[1:], theirs[1:]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def _pinn_loss_grads(lib, xs, weights, dtype):
    """u'' + u on an MLP's output, derivatives in x taken with create_graph (float32 too)."""
    x = lib.tensor(xs.astype(dtype), requires_grad=True)
    ps = [lib.tensor(a.astype(dtype), requires_grad=True) for a in weights]
    h = lib.tanh(lib.nn.functional.linear(x, ps[0], ps[1]))
    u = lib.nn.functional.linear(lib.tanh(lib.nn.functional.linear(h, ps[2], ps[3])), ps[4])
    (ux,) = lib.autograd.grad(u.sum(), x, create_graph=True)
    (uxx,) = lib.autograd.grad(ux.sum(), x, create_graph=True)
    loss = lib.nn.functional.mse_loss(uxx + u, lib.zeros_like(u)) if lib is torch else ((uxx + u) ** 2).mean()
    loss.backward()
    return [loss.item()] + [p.grad.numpy() for p in ps]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_physics_loss_through_an_mlp_matches_torch(dtype):
    if torch is None:
        pytest.skip("torch not installed")
    xs = np.linspace(0, 1, 9).reshape(9, 1)
    weights = [anyv((8, 1)), anyv(8), anyv((8, 8)), anyv(8), anyv((1, 8))]
    ours, theirs = _pinn_loss_grads(tg, xs, weights, dtype), _pinn_loss_grads(torch, xs, weights, dtype)
    tol = 1e-10 if dtype == np.float64 else 2e-4
    assert ours[0] == pytest.approx(theirs[0], rel=tol)
    for a, b in zip(ours[1:], theirs[1:]):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def test_remainder():
    """remainder's gradient (-floor(a / b) for b) differentiates again."""
    check_against_torch(lambda L, x, y: L.remainder(x * x, y.abs() + 0.5) * x, [anyv((3, 4)), anyv((3, 4))])


def _inplace(op):
    def fn(L, x, y):
        u = (x * y).clone() if op != "pow_" else (x.abs() + 1).clone()
        if op == "copy_view":
            u[0].copy_(x[1] * x[1])
        elif op == "copy_zero":
            u.copy_(x * x * y)
            u[2].zero_()
        elif op == "mul_":
            u.mul_(x)
        elif op == "mul_view":
            u[1:, 2:].mul_(x[1:, :2])
        elif op == "mul_transposed_view":
            u.t()[1].mul_(y[:, 1])
        elif op == "div_":
            u.div_(x.abs() + 1)
        elif op == "div_view":
            u[1:].div_(y[1:].abs() + 1)
        elif op == "pow_":
            u.pow_(y.abs() + 1)
        elif op == "clamp_":
            u.clamp_(min=y * 0.1, max=y.abs() + 0.5)
        elif op == "exp_":
            u.exp_()
        elif op == "sigmoid_view":
            u[:, 1:].sigmoid_()
        return u * y
    return fn


@pytest.mark.parametrize("op", ["copy_view", "copy_zero", "mul_", "mul_view", "mul_transposed_view", "div_",
                                "div_view", "pow_", "clamp_", "exp_", "sigmoid_view"])
def test_inplace_ops_on_tensors_and_views(op):
    """In-place ops, on whole tensors and on views (CopySlices), differentiate again: what they
    save of self's old value is a recorded clone, as PyTorch's original_self."""
    check_against_torch(_inplace(op), [anyv((3, 4)), anyv((3, 4))])


def _probs(shape):
    return rng.uniform(0.05, 0.95, shape)


LOSSES = {
    "l1_mean": (lambda F_, x, y: F_.l1_loss(x * y, y), anyv),
    "l1_none_broadcast": (lambda F_, x, y: F_.l1_loss(x * x, y[:1], reduction="none") * x, anyv),
    "smooth_l1_beta": (lambda F_, x, y: F_.smooth_l1_loss(x * y, y, beta=0.7, reduction="sum") * x.sum(), anyv),
    "smooth_l1_default": (lambda F_, x, y: F_.smooth_l1_loss(x * x, y), anyv),
    "huber": (lambda F_, x, y: F_.huber_loss(x * y, y * 0.3, delta=0.5, reduction="none") * x, anyv),
    "bce": (lambda F_, x, y: F_.binary_cross_entropy(x * 0.5 + 0.25, y), _probs),
    "bce_weight_sum": (lambda F_, x, y: F_.binary_cross_entropy(x * x, y, weight=y.detach() * 2, reduction="sum"), _probs),
    "bce_logits": (lambda F_, x, y: F_.binary_cross_entropy_with_logits(x * 3, y), anyv),
    "bce_logits_pos_weight": (lambda F_, x, y: F_.binary_cross_entropy_with_logits(
        x * y, y.sigmoid(), weight=y.detach().abs(), pos_weight=y[0].detach().abs() + 0.5, reduction="none") * x, anyv),
    "kl_batchmean": (lambda F_, x, y: F_.kl_div(F_.log_softmax(x, 1), F_.softmax(y, 1), reduction="batchmean"), anyv),
    "kl_log_target": (lambda F_, x, y: F_.kl_div(x * y, y * 0.5, reduction="sum", log_target=True) * x.sum(), anyv),
}


@pytest.mark.filterwarnings("ignore:Using a target size")  # l1's broadcast case, on purpose
@pytest.mark.parametrize("case", sorted(LOSSES))
def test_pointwise_losses(case):
    """Third-order derivatives of each pointwise loss, with respect to input and target, as PyTorch's."""
    fn, gen = LOSSES[case]
    # bce's third derivative reaches 1e2 near 0 and 1, where the orders of rounding differ
    tol = 1e-8 if case.startswith("bce") else 1e-10
    check_against_torch(lambda L, x, y: fn(L.nn.functional, x, y), [gen((3, 4)), gen((3, 4))], tol=tol)


@pytest.mark.parametrize("zeros", [0, 1, 2])
@pytest.mark.parametrize("case", ["prod_all", "prod_dim", "prod_keepdim", "cumprod", "cumprod_dim0"])
def test_prod_and_cumprod(case, zeros):
    """prod/cumprod twice and three times differentiated, with no, one and two zeros in a row (the
    n x n path) as PyTorch's."""
    a = anyv((3, 4))
    a[1, :zeros] = 0
    a[2, 1:1 + zeros] = 0

    def fn(L, x, w):
        if case == "prod_all":
            return (x * w).prod() * w
        if case == "prod_dim":
            return (x * w).prod(1) * w[:, 0]
        if case == "prod_keepdim":
            return L.prod(x * w, 0, keepdim=True) * x
        if case == "cumprod":
            return L.cumprod(x * w, 1)
        return (x * w).cumprod(0) * x
    check_against_torch(fn, [a, anyv((3, 4)) + 2.0])


@pytest.mark.filterwarnings("ignore:Using a target size")  # the broadcast case, on purpose
@pytest.mark.parametrize("case", ["softmax", "log_softmax", "mse_mean", "mse_sum", "mse_none_broadcast"])
def test_softmax_and_mse(case):
    def fn(L, x, y):
        F_ = L.nn.functional
        if case == "softmax":
            return F_.softmax(x * y, 1) * y
        if case == "log_softmax":
            return F_.log_softmax(x * y, 0) * x
        if case == "mse_mean":
            return F_.mse_loss(L.sin(x), y * x)
        if case == "mse_sum":
            return F_.mse_loss(x * x, y, reduction="sum")
        return F_.mse_loss(x * y, y[:1], reduction="none")
    check_against_torch(fn, [anyv((3, 4)), anyv((3, 4))])


@pytest.mark.parametrize("case", ["ce_mean", "ce_sum_weight", "ce_none_ignore", "ce_3d", "ce_1d", "nll_mean_weight"])
def test_cross_entropy_and_nll(case):
    target = np.array([2, 0, 1])

    def fn(L, x, w):
        F_ = L.nn.functional
        t = L.tensor(target)
        if case == "ce_mean":
            return F_.cross_entropy(x * w, t)
        if case == "ce_sum_weight":
            return F_.cross_entropy(L.tanh(x), t, weight=L.tensor(np.array([0.5, 2.0, 1.0, 3.0])), reduction="sum") * w.sum()
        if case == "ce_none_ignore":
            return F_.cross_entropy(x * w, L.tensor(np.array([2, -100, 1])), reduction="none") * w[:, 0]
        if case == "ce_3d":
            return F_.cross_entropy((x * w).reshape(3, 2, 2), L.tensor(np.array([[0, 1], [1, 1], [0, 0]])))
        if case == "ce_1d":
            return F_.cross_entropy((x * w)[0], t[0])
        return F_.nll_loss(F_.log_softmax(x * w, 1), t, weight=L.tensor(np.array([0.5, 2.0, 1.0, 3.0])))
    check_against_torch(fn, [anyv((3, 4)), anyv((3, 4))])


def test_through_a_module_with_a_full_backward_hook():
    """A full backward hook's identity node differentiates again; the hook runs in both passes,
    as PyTorch's."""
    if torch is None:
        pytest.skip("torch not installed")

    def run(L):
        lin = L.nn.Linear(3, 2).double()
        with L.no_grad():
            lin.weight.copy_(L.tensor(np.arange(6.0).reshape(2, 3) / 5))
            lin.bias.fill_(0.1)
        seen = []
        lin.register_full_backward_hook(lambda m, gi, go: seen.append(1))
        x = L.tensor(np.array([[0.5, -1.0, 2.0]]), dtype=L.float64, requires_grad=True)
        (g,) = L.autograd.grad(L.tanh(lin(x)).sum(), x, create_graph=True)
        (g2,) = L.autograd.grad((g * g).sum(), x)
        return g2.numpy(), len(seen)
    (a, na), (b, nb) = run(tg), run(torch)
    np.testing.assert_allclose(a, b, rtol=1e-12)
    assert na == nb == 2
