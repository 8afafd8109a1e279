"""Optimizers: step-by-step parity with PyTorch on an identical model and batches, state
and state_dict in PyTorch's format, param groups, errors."""
import numpy as np
import pytest

import tinygrad_cpp as tg
import tinygrad_cpp.nn as nn
import tinygrad_cpp.nn.functional as F
import tinygrad_cpp.optim as optim
from helpers import torch

SHAPES = {"w1": (8, 5), "b1": (8,), "w2": (3, 8), "b2": (3,)}


def init_arrays(seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return {k: (rng.standard_normal(s) * 0.5).astype(dtype) for k, s in SHAPES.items()}


def batches(n=20, seed=1, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((6, 5)).astype(dtype), rng.standard_normal((6, 3)).astype(dtype))
            for _ in range(n)]


class TinyMLP(nn.Module):
    """A two-layer MLP whose parameters come from numpy arrays (no random init)."""

    def __init__(self, arrays):
        super().__init__()
        for k, a in arrays.items():
            setattr(self, k, nn.Parameter(tg.tensor(a)))

    def forward(self, x):
        return (x @ self.w1.T + self.b1).relu() @ self.w2.T + self.b2


def torch_mlp(arrays):
    m = torch.nn.Module()
    for k, a in arrays.items():
        setattr(m, k, torch.nn.Parameter(torch.tensor(a)))
    m.forward = lambda x: torch.relu(x @ m.w1.T + m.b1) @ m.w2.T + m.b2
    return m


def train_step(model, opt, x, y, lib):
    opt.zero_grad()
    if lib is tg:
        loss = F.mse_loss(model(tg.tensor(x)), tg.tensor(y))
    else:
        loss = torch.nn.functional.mse_loss(model.forward(torch.tensor(x)), torch.tensor(y))
    loss.backward()
    opt.step()
    return loss.item()


CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.5)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.8, weight_decay=0.05, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, maximize=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.005, centered=True, momentum=0.5, alpha=0.9)),
    ("RMSprop", dict(lr=0.01, weight_decay=0.1)),
]


@pytest.mark.parametrize("name,kw", CONFIGS, ids=[f"{n}-{'-'.join(k)}" for n, k in CONFIGS])
def test_matches_torch_step_by_step(name, kw, vec_isa):
    pytest.importorskip("torch")
    arrays = init_arrays()
    model, tmodel = TinyMLP(arrays), torch_mlp(arrays)
    opt = getattr(optim, name)(model.parameters(), **kw)
    topt = getattr(torch.optim, name)([getattr(tmodel, k) for k in SHAPES], **kw)
    for step, (x, y) in enumerate(batches()):
        loss, tloss = train_step(model, opt, x, y, tg), train_step(tmodel, topt, x, y, torch)
        np.testing.assert_allclose(loss, tloss, rtol=1e-4, err_msg=f"loss at step {step}")
        for k in SHAPES:
            np.testing.assert_allclose(getattr(model, k).detach().numpy(),
                                       getattr(tmodel, k).detach().numpy(), rtol=1e-4, atol=1e-6,
                                       err_msg=f"{k} after step {step}")
    # state tensors are tg tensors with torch's keys and values
    for k in SHAPES:
        ours, theirs = opt.state[getattr(model, k)], topt.state[getattr(tmodel, k)]
        assert sorted(ours) == sorted(theirs)
        for key, v in theirs.items():
            assert isinstance(ours[key], tg.Tensor)
            np.testing.assert_allclose(ours[key].numpy(), v.numpy(), rtol=1e-4, atol=1e-6)


def test_float64_parameters():
    p = nn.Parameter(tg.tensor(np.array([1.0, -2.0])))
    opt = optim.Adam([p], lr=0.1)
    p.grad = tg.tensor(np.array([0.5, 0.5]))
    opt.step()
    # the first Adam step moves each element by lr * g / (|g| + eps)
    np.testing.assert_allclose(p.detach().numpy(), np.array([1.0, -2.0]) - 0.1 * 0.5 / (0.5 + 1e-8),
                               rtol=1e-14)
    assert opt.state[p]["exp_avg"].dtype == tg.float64


def sgd_reference(p, grads, lr, momentum=0.0, dampening=0.0, wd=0.0, nesterov=False):
    """PyTorch's documented SGD algorithm, in numpy float64."""
    buf = None
    for g in grads:
        d = g + wd * p
        if momentum:
            buf = d.copy() if buf is None else momentum * buf + (1 - dampening) * d
            d = d + momentum * buf if nesterov else buf
        p = p - lr * d
    return p


def test_sgd_momentum_buffer_starts_at_first_grad_without_dampening():
    grads = [np.array([1.0, -2.0]), np.array([0.5, 0.5]), np.array([-1.0, 3.0])]
    p = nn.Parameter(tg.tensor(np.array([0.3, 0.7])))
    opt = optim.SGD([p], lr=0.1, momentum=0.9, dampening=0.5, weight_decay=0.01)
    for i, g in enumerate(grads):
        p.grad = tg.tensor(g)
        opt.step()
        if i == 0:
            np.testing.assert_allclose(opt.state[p]["momentum_buffer"].numpy(), g + 0.01 * np.array([0.3, 0.7]))
    want = sgd_reference(np.array([0.3, 0.7]), grads, 0.1, 0.9, 0.5, 0.01)
    np.testing.assert_allclose(p.detach().numpy(), want, rtol=1e-12)


def adam_reference(p, grads, lr, b1, b2, eps, wd=0.0, amsgrad=False, decoupled=False):
    m = v = vmax = 0.0
    for t, g in enumerate(grads, 1):
        if decoupled:
            p = p * (1 - lr * wd)
        else:
            g = g + wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = np.maximum(vmax, v)
        vhat = (vmax if amsgrad else v) / (1 - b2 ** t)
        p = p - lr * (m / (1 - b1 ** t)) / (np.sqrt(vhat) + eps)
    return p


@pytest.mark.parametrize("cls,kw", [(optim.Adam, {}), (optim.Adam, dict(weight_decay=0.1, amsgrad=True)),
                                    (optim.AdamW, {}), (optim.AdamW, dict(weight_decay=0.3, amsgrad=True))])
def test_adam_matches_documented_algorithm(cls, kw):
    rng = np.random.default_rng(3)
    grads = [rng.standard_normal(4) for _ in range(6)]
    p0 = rng.standard_normal(4)
    p = nn.Parameter(tg.tensor(p0))
    opt = cls([p], lr=0.05, **kw)
    for g in grads:
        p.grad = tg.tensor(g)
        opt.step()
    wd = kw.get("weight_decay", 1e-2 if cls is optim.AdamW else 0.0)
    want = adam_reference(p0, grads, 0.05, 0.9, 0.999, 1e-8, wd, kw.get("amsgrad", False), cls is optim.AdamW)
    np.testing.assert_allclose(p.detach().numpy(), want, rtol=1e-10)
    assert opt.state[p]["step"].item() == 6.0


def rmsprop_reference(p, grads, lr, alpha, eps, wd=0.0, momentum=0.0, centered=False):
    sq = gavg = buf = 0.0
    for g in grads:
        g = g + wd * p
        sq = alpha * sq + (1 - alpha) * g * g
        if centered:
            gavg = alpha * gavg + (1 - alpha) * g
            avg = np.sqrt(sq - gavg * gavg) + eps
        else:
            avg = np.sqrt(sq) + eps
        if momentum > 0:
            buf = momentum * buf + g / avg
            p = p - lr * buf
        else:
            p = p - lr * g / avg
    return p


@pytest.mark.parametrize("kw", [{}, dict(momentum=0.9), dict(centered=True),
                                dict(centered=True, momentum=0.5, weight_decay=0.1)])
def test_rmsprop_matches_documented_algorithm(kw):
    rng = np.random.default_rng(4)
    grads = [rng.standard_normal(5) for _ in range(6)]
    p0 = rng.standard_normal(5)
    p = nn.Parameter(tg.tensor(p0))
    opt = optim.RMSprop([p], lr=0.01, **kw)
    for g in grads:
        p.grad = tg.tensor(g)
        opt.step()
    want = rmsprop_reference(p0, grads, 0.01, 0.99, 1e-8, kw.get("weight_decay", 0.0),
                             kw.get("momentum", 0.0), kw.get("centered", False))
    np.testing.assert_allclose(p.detach().numpy(), want, rtol=1e-10)


def test_params_without_grad_are_skipped():
    a, b = nn.Parameter(tg.ones(3)), nn.Parameter(tg.ones(2))
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = tg.ones(3)
    opt.step()
    np.testing.assert_allclose(b.detach().numpy(), [1.0, 1.0])
    assert len(opt.state[a]) > 0 and b not in opt.state
    sgd = optim.SGD([a, b], lr=0.1, momentum=0.9)
    sgd.step()
    assert b not in sgd.state


def test_non_contiguous_parameter_is_updated_in_place():
    base = tg.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    p = base.T  # a non-contiguous view
    assert not p.is_contiguous()
    p.requires_grad_(True)
    p.grad = tg.ones(3, 2)
    optim.SGD([p], lr=0.5).step()
    np.testing.assert_allclose(base.numpy(), np.arange(6).reshape(2, 3) - 0.5)


def test_one_c_call_per_param_group(monkeypatch):
    calls = []
    real = tg._C._adam_step
    monkeypatch.setattr(tg._C, "_adam_step", lambda *a, **k: (calls.append(len(a[0])), real(*a, **k))[1])
    ps = [nn.Parameter(tg.ones(4)) for _ in range(5)]
    opt = optim.Adam([{"params": ps[:3]}, {"params": ps[3:], "lr": 0.5}])
    for p in ps:
        p.grad = tg.ones(4)
    opt.step()
    assert calls == [3, 2]


def test_param_groups_have_their_own_options():
    a, b = nn.Parameter(tg.zeros(2)), nn.Parameter(tg.zeros(2))
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 1.0}], lr=0.1, momentum=0.0)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[1]["lr"] == 1.0
    assert opt.param_groups[1]["params"] == [b]
    a.grad, b.grad = tg.ones(2), tg.ones(2)
    opt.step()
    np.testing.assert_allclose(a.detach().numpy(), [-0.1, -0.1])
    np.testing.assert_allclose(b.detach().numpy(), [-1.0, -1.0])
    c = nn.Parameter(tg.zeros(1))
    opt.add_param_group({"params": [c], "momentum": 0.5})
    assert opt.param_groups[2]["lr"] == 0.1 and opt.param_groups[2]["momentum"] == 0.5
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})


def test_zero_grad_and_closure():
    p = nn.Parameter(tg.tensor([1.0, 2.0]))
    opt = optim.SGD([p], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == 5.0
    np.testing.assert_allclose(p.detach().numpy(), [0.8, 1.6], rtol=1e-6)
    opt.zero_grad()
    assert p.grad is None
    (p * p).sum().backward()
    opt.zero_grad(set_to_none=False)
    np.testing.assert_allclose(p.grad.numpy(), [0.0, 0.0])


def test_state_dict_format_and_round_trip():
    arrays = init_arrays(2)
    model = TinyMLP(arrays)
    opt = optim.Adam([{"params": [model.w1, model.b1]}, {"params": [model.w2, model.b2], "lr": 0.003}],
                     lr=0.01, amsgrad=True)
    data = batches(6, seed=7)
    for x, y in data[:3]:
        train_step(model, opt, x, y, tg)
    sd = opt.state_dict()
    assert sorted(sd) == ["param_groups", "state"] and sorted(sd["state"]) == [0, 1, 2, 3]
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2, 3]]
    assert sd["param_groups"][1]["lr"] == 0.003 and sd["param_groups"][0]["betas"] == (0.9, 0.999)
    assert sorted(sd["state"][0]) == ["exp_avg", "exp_avg_sq", "max_exp_avg_sq", "step"]

    model2 = TinyMLP({k: getattr(model, k).detach().numpy().copy() for k in SHAPES})
    opt2 = optim.Adam([{"params": [model2.w1, model2.b1]}, {"params": [model2.w2, model2.b2]}], lr=0.5)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[1]["lr"] == 0.003 and opt2.param_groups[1]["params"][0] is model2.w2
    loaded = opt2.state[model2.w1]["exp_avg"]
    assert loaded.data_ptr() != opt.state[model.w1]["exp_avg"].data_ptr()  # copied, not shared
    before = loaded.numpy().copy()
    with tg.no_grad():
        opt.state[model.w1]["exp_avg"].add_(1.0)  # changing the source leaves the copy alone
    np.testing.assert_array_equal(loaded.numpy(), before)
    with tg.no_grad():
        opt.state[model.w1]["exp_avg"].add_(-1.0)
    for x, y in data[3:]:
        train_step(model, opt, x, y, tg)
        train_step(model2, opt2, x, y, tg)
    for k in SHAPES:
        np.testing.assert_allclose(getattr(model2, k).detach().numpy(), getattr(model, k).detach().numpy(),
                                   rtol=1e-6)


def test_load_state_dict_from_torch_and_continue():
    pytest.importorskip("torch")
    arrays = init_arrays(5)
    tmodel = torch_mlp(arrays)
    topt = torch.optim.SGD([getattr(tmodel, k) for k in SHAPES], lr=0.05, momentum=0.9, nesterov=True)
    data = batches(8, seed=9)
    for x, y in data[:4]:
        train_step(tmodel, topt, x, y, torch)
    model = TinyMLP({k: getattr(tmodel, k).detach().numpy().copy() for k in SHAPES})
    opt = optim.SGD(model.parameters(), lr=1.0, momentum=0.9, nesterov=True)
    tsd = topt.state_dict()
    opt.load_state_dict({"state": {i: {k: tg.tensor(v.numpy()) for k, v in s.items()}
                                   for i, s in tsd["state"].items()},
                         "param_groups": tsd["param_groups"]})
    assert opt.param_groups[0]["lr"] == 0.05
    for x, y in data[4:]:
        train_step(tmodel, topt, x, y, torch)
        train_step(model, opt, x, y, tg)
    for k in SHAPES:
        np.testing.assert_allclose(getattr(model, k).detach().numpy(), getattr(tmodel, k).detach().numpy(),
                                   rtol=1e-4, atol=1e-6)


def test_load_state_dict_errors():
    a, b = nn.Parameter(tg.ones(1)), nn.Parameter(tg.ones(1))
    opt = optim.SGD([a, b], lr=0.1)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        opt.load_state_dict({"state": {}, "param_groups": []})
    with pytest.raises(ValueError, match="doesn't match the size"):
        opt.load_state_dict({"state": {}, "param_groups": [{"lr": 0.1, "params": [0]}]})


@pytest.mark.parametrize("make,match", [
    (lambda p: optim.SGD(p, lr=-0.1), "Invalid learning rate"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=-1), "Invalid momentum"),
    (lambda p: optim.SGD(p, lr=0.1, weight_decay=-1), "Invalid weight_decay"),
    (lambda p: optim.SGD(p, lr=0.1, nesterov=True), "Nesterov momentum requires"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov"),
    (lambda p: optim.Adam(p, lr=-1), "Invalid learning rate"),
    (lambda p: optim.Adam(p, eps=-1), "Invalid epsilon"),
    (lambda p: optim.Adam(p, betas=(1.0, 0.999)), "beta parameter at index 0"),
    (lambda p: optim.Adam(p, betas=(0.9, -0.1)), "beta parameter at index 1"),
    (lambda p: optim.AdamW(p, weight_decay=-0.1), "Invalid weight_decay"),
    (lambda p: optim.RMSprop(p, alpha=-0.5), "Invalid alpha"),
    (lambda p: optim.RMSprop(p, momentum=-0.5), "Invalid momentum"),
    (lambda p: optim.RMSprop(p, eps=-1e-8), "Invalid epsilon"),
    (lambda p: optim.SGD([], lr=0.1), "empty parameter list"),
])
def test_invalid_options_raise_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make([nn.Parameter(tg.ones(1))])


def test_invalid_params_raise():
    p = nn.Parameter(tg.ones(2))
    with pytest.raises(TypeError, match="iterable of Tensors"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        optim.SGD([p, 3.0], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([p * 2], lr=0.1)
    with pytest.raises(TypeError, match="ordered collections"):
        optim.SGD([{"params": {p}}], lr=0.1)


def test_step_rejects_mismatched_state_without_writing():
    p, q = nn.Parameter(tg.ones(3)), nn.Parameter(tg.ones(2))
    opt = optim.SGD([p, q], lr=0.1, momentum=0.9)
    p.grad, q.grad = tg.ones(3), tg.ones(2)
    opt.state[q]["momentum_buffer"] = tg.zeros(5)
    with pytest.raises(RuntimeError, match=r"momentum_buffer of parameter 1 .*\[5\].*\[2\]"):
        opt.step()
    np.testing.assert_array_equal(p.detach().numpy(), [1.0, 1.0, 1.0])  # nothing was written


def test_repr_lists_groups():
    opt = optim.SGD([nn.Parameter(tg.ones(1))], lr=0.1, momentum=0.9)
    r = repr(opt)
    assert r.startswith("SGD (\nParameter Group 0\n") and "    lr: 0.1\n" in r and "    momentum: 0.9\n" in r


def test_training_reduces_loss():
    arrays = init_arrays(11)
    model = TinyMLP(arrays)
    opt = optim.Adam(model.parameters(), lr=0.02)
    x, y = batches(1, seed=12)[0]
    first = train_step(model, opt, x, y, tg)
    for _ in range(60):
        last = train_step(model, opt, x, y, tg)
    assert last < 0.2 * first
