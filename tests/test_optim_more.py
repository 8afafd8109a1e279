"""Adadelta, Adagrad, LBFGS and the OneCycleLR / ReduceLROnPlateau schedulers: step-by-step
parity with PyTorch from equal weights and gradients (float32 and float64), PyTorch's
documented algorithms in numpy (without torch), state dicts, errors."""
import math

import numpy as np
import pytest

import tinygrad_cpp as tg
import tinygrad_cpp.nn as nn
import tinygrad_cpp.optim as optim
from helpers import torch
from tinygrad_cpp.optim import lr_scheduler
from test_optim import SHAPES, TinyMLP, batches, init_arrays, torch_mlp, train_step

# ---- Adadelta / Adagrad: parity with torch.optim ------------------------------------------

CONFIGS = [
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1)),
    ("Adadelta", dict(lr=2.0, maximize=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.05, lr_decay=0.01)),
    ("Adagrad", dict(lr=0.05, weight_decay=0.1, initial_accumulator_value=0.1)),
    ("Adagrad", dict(lr=0.02, eps=1e-6, maximize=True)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,kw", CONFIGS, ids=[f"{n}-{'-'.join(k) or 'default'}" for n, k in CONFIGS])
def test_matches_torch_step_by_step(name, kw, dtype, vec_isa):
    pytest.importorskip("torch")
    arrays = init_arrays(dtype=dtype)
    model, tmodel = TinyMLP(arrays), torch_mlp(arrays)
    opt = getattr(optim, name)(model.parameters(), **kw)
    topt = getattr(torch.optim, name)([getattr(tmodel, k) for k in SHAPES], **kw)
    rtol, atol = (1e-4, 1e-6) if dtype == np.float32 else (1e-10, 1e-12)
    for step, (x, y) in enumerate(batches(dtype=dtype)):
        loss, tloss = train_step(model, opt, x, y, tg), train_step(tmodel, topt, x, y, torch)
        np.testing.assert_allclose(loss, tloss, rtol=rtol, err_msg=f"loss at step {step}")
        for k in SHAPES:
            np.testing.assert_allclose(getattr(model, k).detach().numpy(),
                                       getattr(tmodel, k).detach().numpy(), rtol=rtol, atol=atol,
                                       err_msg=f"{k} after step {step}")
    for k in SHAPES:
        ours, theirs = opt.state[getattr(model, k)], topt.state[getattr(tmodel, k)]
        assert sorted(ours) == sorted(theirs)
        for key, v in theirs.items():
            assert isinstance(ours[key], tg.Tensor) and ours[key].shape == tuple(v.shape)
            np.testing.assert_allclose(ours[key].numpy(), v.numpy(), rtol=rtol, atol=atol)
        assert ours["step"].item() == 20.0


def adadelta_reference(p, grads, lr=1.0, rho=0.9, eps=1e-6, wd=0.0, maximize=False):
    """PyTorch's documented Adadelta, in numpy float64."""
    sq = acc = 0.0
    for g in grads:
        g = -g if maximize else g
        g = g + wd * p
        sq = rho * sq + (1 - rho) * g * g
        delta = np.sqrt(acc + eps) / np.sqrt(sq + eps) * g
        acc = rho * acc + (1 - rho) * delta * delta
        p = p - lr * delta
    return p, sq, acc


def adagrad_reference(p, grads, lr=1e-2, lr_decay=0.0, wd=0.0, init=0.0, eps=1e-10, maximize=False):
    """PyTorch's documented Adagrad, in numpy float64."""
    s = np.full_like(p, init)
    for t, g in enumerate(grads, 1):
        g = -g if maximize else g
        g = g + wd * p
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g * g
        p = p - clr * g / (np.sqrt(s) + eps)
    return p, s


@pytest.mark.parametrize("kw", [{}, dict(lr=0.3, rho=0.5, weight_decay=0.2), dict(eps=1e-3, maximize=True)])
def test_adadelta_matches_documented_algorithm(kw):
    rng = np.random.default_rng(3)
    grads = [rng.standard_normal(7) for _ in range(8)]
    p0 = rng.standard_normal(7)
    p = nn.Parameter(tg.tensor(p0))
    opt = optim.Adadelta([p], **kw)
    for g in grads:
        p.grad = tg.tensor(g)
        opt.step()
    ref = dict(kw)
    ref["wd"] = ref.pop("weight_decay", 0.0)
    want, sq, acc = adadelta_reference(p0, grads, **ref)
    np.testing.assert_allclose(p.detach().numpy(), want, rtol=1e-12)
    np.testing.assert_allclose(opt.state[p]["square_avg"].numpy(), sq, rtol=1e-12)
    np.testing.assert_allclose(opt.state[p]["acc_delta"].numpy(), acc, rtol=1e-12)
    assert opt.state[p]["step"].item() == 8.0


@pytest.mark.parametrize("kw", [{}, dict(lr=0.1, lr_decay=0.05), dict(weight_decay=0.3, initial_accumulator_value=0.5),
                                dict(lr=0.2, eps=1e-2, maximize=True)])
def test_adagrad_matches_documented_algorithm(kw):
    rng = np.random.default_rng(4)
    grads = [rng.standard_normal(6) for _ in range(8)]
    p0 = rng.standard_normal(6)
    p = nn.Parameter(tg.tensor(p0))
    opt = optim.Adagrad([p], **kw)
    for g in grads:
        p.grad = tg.tensor(g)
        opt.step()
    ref = dict(kw)
    ref["wd"] = ref.pop("weight_decay", 0.0)
    ref["init"] = ref.pop("initial_accumulator_value", 0.0)
    want, s = adagrad_reference(p0, grads, **ref)
    np.testing.assert_allclose(p.detach().numpy(), want, rtol=1e-12)
    np.testing.assert_allclose(opt.state[p]["sum"].numpy(), s, rtol=1e-12)


def test_float32_kernels_agree_with_float64(vec_isa):
    # the SIMD and portable float32 builds against the float64 loop, over a long vector
    rng = np.random.default_rng(5)
    p0 = rng.standard_normal(1037)
    grads = [rng.standard_normal(1037) for _ in range(5)]
    for make in (lambda ps: optim.Adadelta(ps, lr=0.7, weight_decay=0.05),
                 lambda ps: optim.Adagrad(ps, lr=0.05, lr_decay=0.1, weight_decay=0.05)):
        out = {}
        for dt in (tg.float32, tg.float64):
            p = nn.Parameter(tg.tensor(p0, dtype=dt))
            opt = make([p])
            for g in grads:
                p.grad = tg.tensor(g, dtype=dt)
                opt.step()
            out[dt] = p.detach().numpy().astype(np.float64)
        np.testing.assert_allclose(out[tg.float32], out[tg.float64], rtol=1e-5, atol=1e-6)


def test_adagrad_state_exists_from_construction_like_torch():
    a, b = nn.Parameter(tg.ones(2)), nn.Parameter(tg.ones(3, dtype=tg.float64))
    opt = optim.Adagrad([a, b], initial_accumulator_value=0.25)
    assert sorted(opt.state[a]) == ["step", "sum"] and opt.state[a]["step"].item() == 0.0
    np.testing.assert_array_equal(opt.state[b]["sum"].numpy(), [0.25] * 3)
    assert opt.state[b]["sum"].dtype == tg.float64
    sd = opt.state_dict()
    assert sorted(sd["state"]) == [0, 1]
    # a group added later is initialized lazily from the constructor's value
    c = nn.Parameter(tg.zeros(2))
    opt.add_param_group({"params": [c], "initial_accumulator_value": 9.0})
    assert c not in opt.state
    c.grad = tg.ones(2)
    opt.step()
    np.testing.assert_allclose(opt.state[c]["sum"].numpy(), [1.25, 1.25])
    if torch is not None:
        tc = torch.nn.Parameter(torch.zeros(2))
        topt = torch.optim.Adagrad([torch.nn.Parameter(torch.ones(2))], initial_accumulator_value=0.25)
        topt.add_param_group({"params": [tc], "initial_accumulator_value": 9.0})
        tc.grad = torch.ones(2)
        topt.step()
        np.testing.assert_allclose(opt.state[c]["sum"].numpy(), topt.state[tc]["sum"].numpy())
        np.testing.assert_allclose(c.detach().numpy(), tc.detach().numpy(), rtol=1e-6)


@pytest.mark.parametrize("make", [lambda ps: optim.Adadelta(ps, lr=0.5, weight_decay=0.01),
                                  lambda ps: optim.Adagrad(ps, lr=0.05, lr_decay=0.01)],
                         ids=["Adadelta", "Adagrad"])
def test_state_dict_round_trip(make):
    arrays = init_arrays(2)
    model = TinyMLP(arrays)
    opt = make([{"params": [model.w1, model.b1]}, {"params": [model.w2, model.b2], "lr": 0.003}])
    data = batches(6, seed=7)
    for x, y in data[:3]:
        train_step(model, opt, x, y, tg)
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2, 3]]
    assert sd["param_groups"][1]["lr"] == 0.003 and sorted(sd["state"]) == [0, 1, 2, 3]
    assert sd["state"][0]["step"].item() == 3.0

    model2 = TinyMLP({k: getattr(model, k).detach().numpy().copy() for k in SHAPES})
    opt2 = make([{"params": [model2.w1, model2.b1]}, {"params": [model2.w2, model2.b2]}])
    opt2.load_state_dict(sd)
    assert opt2.param_groups[1]["lr"] == 0.003
    for key, v in opt.state[model.w1].items():
        loaded = opt2.state[model2.w1][key]
        assert loaded.data_ptr() != v.data_ptr()  # copied, not shared
        np.testing.assert_array_equal(loaded.numpy(), v.numpy())
    for x, y in data[3:]:
        train_step(model, opt, x, y, tg)
        train_step(model2, opt2, x, y, tg)
    for k in SHAPES:
        np.testing.assert_array_equal(getattr(model2, k).detach().numpy(), getattr(model, k).detach().numpy())


@pytest.mark.parametrize("name,kw", [("Adadelta", dict(lr=0.5)), ("Adagrad", dict(lr=0.05, lr_decay=0.01))])
def test_load_state_dict_from_torch_and_continue(name, kw):
    pytest.importorskip("torch")
    arrays = init_arrays(5)
    tmodel = torch_mlp(arrays)
    topt = getattr(torch.optim, name)([getattr(tmodel, k) for k in SHAPES], **kw)
    data = batches(8, seed=9)
    for x, y in data[:4]:
        train_step(tmodel, topt, x, y, torch)
    model = TinyMLP({k: getattr(tmodel, k).detach().numpy().copy() for k in SHAPES})
    opt = getattr(optim, name)(model.parameters(), lr=1.0)
    tsd = topt.state_dict()
    opt.load_state_dict({"state": {i: {k: tg.tensor(v.numpy()) for k, v in s.items()}
                                   for i, s in tsd["state"].items()},
                         "param_groups": tsd["param_groups"]})
    assert opt.param_groups[0]["lr"] == kw["lr"]
    for x, y in data[4:]:
        train_step(tmodel, topt, x, y, torch)
        train_step(model, opt, x, y, tg)
    for k in SHAPES:
        np.testing.assert_allclose(getattr(model, k).detach().numpy(), getattr(tmodel, k).detach().numpy(),
                                   rtol=1e-4, atol=1e-6)


def test_param_groups_and_one_c_call_per_group(monkeypatch):
    for cname, make in [("_adadelta_step", lambda g: optim.Adadelta(g, lr=1.0)),
                        ("_adagrad_step", lambda g: optim.Adagrad(g, lr=0.1))]:
        calls = []
        real = getattr(tg._C, cname)
        monkeypatch.setattr(tg._C, cname, lambda *a, _real=real, **k: (calls.append(len(a[0])), _real(*a, **k))[1])
        ps = [nn.Parameter(tg.ones(4)) for _ in range(5)]
        opt = make([{"params": ps[:3]}, {"params": ps[3:], "lr": 0.0}])
        for p in ps:
            p.grad = tg.ones(4)
        opt.step()
        assert calls == [3, 2], cname
        assert np.all(ps[0].detach().numpy() < 1.0)
        np.testing.assert_array_equal(ps[4].detach().numpy(), np.ones(4))  # lr 0 in group 1


def test_params_without_grad_are_skipped_and_views_updated_in_place():
    a, b = nn.Parameter(tg.ones(3)), nn.Parameter(tg.ones(2))
    opt = optim.Adadelta([a, b])
    a.grad = tg.ones(3)
    opt.step()
    assert b not in opt.state and len(opt.state[a]) == 3
    np.testing.assert_array_equal(b.detach().numpy(), [1.0, 1.0])
    base = tg.tensor(np.arange(6, dtype=np.float64).reshape(2, 3))
    p = base.T  # a non-contiguous view
    p.requires_grad_(True)
    p.grad = tg.ones(3, 2, dtype=tg.float64)
    optim.Adagrad([p], lr=0.5).step()
    # first Adagrad step: -lr * g / (|g| + eps)
    np.testing.assert_allclose(base.numpy(), np.arange(6).reshape(2, 3) - 0.5 / (1 + 1e-10), rtol=1e-14)


@pytest.mark.parametrize("name,kw,match", [
    ("Adadelta", dict(lr=-0.1), "Invalid learning rate"),
    ("Adadelta", dict(rho=1.5), "Invalid rho value"),
    ("Adadelta", dict(rho=-0.1), "Invalid rho value"),
    ("Adadelta", dict(eps=-1e-6), "Invalid epsilon"),
    ("Adadelta", dict(weight_decay=-1), "Invalid weight_decay"),
    ("Adagrad", dict(lr=-0.1), "Invalid learning rate"),
    ("Adagrad", dict(lr_decay=-0.1), "Invalid lr_decay"),
    ("Adagrad", dict(weight_decay=-0.1), "Invalid weight_decay"),
    ("Adagrad", dict(initial_accumulator_value=-1), "Invalid initial_accumulator_value"),
    ("Adagrad", dict(eps=-1), "Invalid epsilon"),
    ("LBFGS", dict(lr=-1), "Invalid learning rate"),
])
def test_invalid_options_raise_value_error(name, kw, match):
    with pytest.raises(ValueError, match=match):
        getattr(optim, name)([nn.Parameter(tg.ones(1))], **kw)
    if torch is not None:  # PyTorch raises the same error
        with pytest.raises(ValueError, match=match):
            getattr(torch.optim, name)([torch.nn.Parameter(torch.ones(1))], **kw)
    with pytest.raises(ValueError, match="empty parameter list"):
        getattr(optim, name)([])


def test_rho_bounds_are_inclusive_like_torch():
    p = nn.Parameter(tg.ones(2))
    for rho in (0.0, 1.0):
        opt = optim.Adadelta([p], rho=rho)
        p.grad = tg.ones(2)
        opt.step()
    assert np.all(np.isfinite(p.detach().numpy()))


def test_step_rejects_mismatched_state_without_writing():
    p, q = nn.Parameter(tg.ones(3)), nn.Parameter(tg.ones(2))
    for opt, key, name in [(optim.Adadelta([p, q]), "acc_delta", "acc_delta"),
                           (optim.Adagrad([p, q]), "sum", "sum")]:
        p.grad, q.grad = tg.ones(3), tg.ones(2)
        opt.step()
        before = p.detach().numpy().copy()
        opt.state[q][key] = tg.zeros(5)
        with pytest.raises(RuntimeError, match=rf"{name} of parameter 1 .*\[5\].*\[2\]"):
            opt.step()
        np.testing.assert_array_equal(p.detach().numpy(), before)  # nothing was written
        opt.state[q][key] = tg.zeros(2, dtype=tg.float64)
        with pytest.raises(RuntimeError, match="float64"):
            opt.step()


def test_unsupported_flags():
    p = [nn.Parameter(tg.ones(1))]
    with pytest.raises(NotImplementedError, match="differentiable"):
        optim.Adadelta(p, differentiable=True)
    with pytest.raises(NotImplementedError, match="differentiable"):
        optim.Adagrad(p, differentiable=True)
    with pytest.raises(RuntimeError, match="foreach"):
        optim.Adagrad(p, fused=True, foreach=True)
    # accepted and kept in the groups, as in PyTorch
    assert optim.Adagrad(p, fused=True, foreach=False).param_groups[0]["fused"] is True
    assert optim.Adadelta(p, foreach=False).param_groups[0]["foreach"] is False


def test_adadelta_and_adagrad_train():
    arrays = init_arrays(11)
    for make in (lambda ps: optim.Adadelta(ps, lr=1.0), lambda ps: optim.Adagrad(ps, lr=0.1)):
        model = TinyMLP(arrays)
        opt = make(model.parameters())
        x, y = batches(1, seed=12)[0]
        first = train_step(model, opt, x, y, tg)
        for _ in range(80):
            last = train_step(model, opt, x, y, tg)
        assert last < 0.5 * first


# ---- LBFGS ---------------------------------------------------------------------------------

def lbfgs_problem(lib, w0, c0, A, b, opt_cls, **kw):
    """Least squares plus a quartic term (so that the Hessian changes): returns the params,
    the optimizer and its closure."""
    w = lib.tensor(w0.copy(), requires_grad=True)
    c = lib.tensor(c0.copy(), requires_grad=True)
    opt = opt_cls([w, c], **kw)
    At, bt = lib.tensor(A), lib.tensor(b)

    def closure():
        opt.zero_grad()
        r = At @ w + c - bt
        loss = (r * r).sum() + ((w * w) * (w * w)).sum() * 0.1
        loss.backward()
        return loss
    return (w, c), opt, closure


LBFGS_CONFIGS = [dict(), dict(line_search_fn="strong_wolfe"), dict(history_size=3, max_iter=7),
                 dict(lr=0.5, line_search_fn="strong_wolfe", history_size=2), dict(max_iter=4, max_eval=6),
                 dict(tolerance_change=1e-4, tolerance_grad=1e-3)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kw", LBFGS_CONFIGS, ids=[",".join(f"{k}={v}" for k, v in c.items()) or "default"
                                                   for c in LBFGS_CONFIGS])
def test_lbfgs_matches_torch(kw, dtype):
    pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    A, b = rng.standard_normal((6, 3)).astype(dtype), rng.standard_normal(6).astype(dtype)
    w0, c0 = rng.standard_normal(3).astype(dtype), np.array([0.5], dtype=dtype)
    (w, c), opt, closure = lbfgs_problem(tg, w0, c0, A, b, optim.LBFGS, **kw)
    (tw, tc), topt, tclosure = lbfgs_problem(torch, w0, c0, A, b, torch.optim.LBFGS, **kw)
    # float32: the stopping tests compare float32 losses, so one iteration more or less can
    # happen at the end of a step; one step is compared there, three in float64
    steps, rtol = (3, 1e-9) if dtype == np.float64 else (1, 2e-4)
    for step in range(steps):
        loss = opt.step(closure)
        tloss = topt.step(tclosure)
        assert isinstance(loss, tg.Tensor)
        np.testing.assert_allclose(loss.item(), tloss.item(), rtol=rtol, err_msg=f"step {step}")
        np.testing.assert_allclose(w.detach().numpy(), tw.detach().numpy(), rtol=rtol, atol=rtol * 1e-2)
        np.testing.assert_allclose(c.detach().numpy(), tc.detach().numpy(), rtol=rtol, atol=rtol * 1e-2)
    st, tst = opt.state[w], topt.state[tw]
    assert sorted(st) == sorted(tst)
    if dtype == np.float64:
        assert (st["func_evals"], st["n_iter"]) == (tst["func_evals"], tst["n_iter"])
        assert len(st["old_dirs"]) == len(tst["old_dirs"]) and len(st["ro"]) == len(tst["ro"])
        np.testing.assert_allclose(st["d"].numpy(), tst["d"].numpy(), rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(float(st["t"]), float(tst["t"]), rtol=1e-9)
        np.testing.assert_allclose(st["prev_flat_grad"].numpy(), tst["prev_flat_grad"].numpy(),
                                   rtol=1e-8, atol=1e-12)


def rosenbrock_closure(opt, x):
    def closure():
        opt.zero_grad()
        loss = (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
        loss.backward()
        return loss
    return closure


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_minimizes_rosenbrock(line_search_fn):
    x = tg.tensor([-1.5, 2.0], dtype=tg.float64, requires_grad=True)
    opt = optim.LBFGS([x], lr=1 if line_search_fn else 0.1, max_iter=200, history_size=10,
                      line_search_fn=line_search_fn, tolerance_grad=1e-12, tolerance_change=1e-14)
    closure = rosenbrock_closure(opt, x)
    first = opt.step(closure).item()
    assert first == pytest.approx((1 + 1.5) ** 2 + 100 * (2.0 - 2.25) ** 2)
    for _ in range(20 if line_search_fn else 60):
        opt.step(closure)
    np.testing.assert_allclose(x.detach().numpy(), [1.0, 1.0], atol=1e-4)


def test_lbfgs_stops_at_an_optimum_and_handles_missing_grads():
    x = tg.tensor([1.0, 1.0], dtype=tg.float64, requires_grad=True)
    unused = tg.tensor([3.0], dtype=tg.float64, requires_grad=True)  # never gets a gradient
    opt = optim.LBFGS([x, unused])
    closure = rosenbrock_closure(opt, x)
    assert opt.step(closure).item() == 0.0
    np.testing.assert_array_equal(x.detach().numpy(), [1.0, 1.0])
    assert opt.state[x]["func_evals"] == 1 and opt.state[x]["n_iter"] == 0
    x2 = tg.tensor([0.0, 0.0], dtype=tg.float64, requires_grad=True)
    opt = optim.LBFGS([unused, x2], line_search_fn="strong_wolfe")
    opt.step(rosenbrock_closure(opt, x2))
    assert opt.step(rosenbrock_closure(opt, x2)).item() < 1.0  # the first step's loss is 1
    np.testing.assert_array_equal(unused.detach().numpy(), [3.0])
    assert "n_iter" in opt.state[unused]  # the state lives under the first parameter


def test_lbfgs_state_dict_round_trip():
    rng = np.random.default_rng(2)
    A, b = rng.standard_normal((5, 3)), rng.standard_normal(5)
    w0, c0 = rng.standard_normal(3), np.array([0.1])
    (w, c), opt, closure = lbfgs_problem(tg, w0, c0, A, b, optim.LBFGS, max_iter=3, history_size=4)
    opt.step(closure)
    sd = opt.state_dict()
    assert sorted(sd["state"]) == [0] and sd["param_groups"][0]["params"] == [0, 1]
    assert sd["param_groups"][0]["max_eval"] == 3 * 5 // 4 and sd["param_groups"][0]["line_search_fn"] is None
    assert sorted(sd["state"][0]) == ["H_diag", "al", "d", "func_evals", "n_iter", "old_dirs", "old_stps",
                                      "prev_flat_grad", "prev_loss", "ro", "t"]
    (w2, c2), opt2, closure2 = lbfgs_problem(tg, w.detach().numpy(), c.detach().numpy(), A, b, optim.LBFGS,
                                            max_iter=3, history_size=4)
    opt2.load_state_dict(sd)
    st2 = opt2.state[w2]
    assert st2["old_dirs"][0].data_ptr() != opt.state[w]["old_dirs"][0].data_ptr()
    for _ in range(2):
        np.testing.assert_array_equal(opt2.step(closure2).item(), opt.step(closure).item())
    np.testing.assert_array_equal(w2.detach().numpy(), w.detach().numpy())
    assert opt2.state[w2]["n_iter"] == opt.state[w]["n_iter"] > 3


def test_lbfgs_errors():
    p, q = nn.Parameter(tg.ones(2)), nn.Parameter(tg.ones(2))
    with pytest.raises(ValueError, match="parameter groups"):
        optim.LBFGS([{"params": [p]}, {"params": [q]}])
    opt = optim.LBFGS([p])
    with pytest.raises(ValueError, match="parameter groups"):
        opt.add_param_group({"params": [q]})
    with pytest.raises(TypeError):
        opt.step()
    with pytest.raises(RuntimeError, match="closure"):
        opt.step(None)
    x = nn.Parameter(tg.zeros(2))  # not at the optimum, so the line search is reached
    bad = optim.LBFGS([x], line_search_fn="armijo")
    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        bad.step(rosenbrock_closure(bad, x))
    # a closure that raises leaves the optimizer usable
    with pytest.raises(ZeroDivisionError):
        opt.step(lambda: 1 / 0)
    opt = optim.LBFGS([x])
    opt.step(rosenbrock_closure(opt, x))
    assert x.grad is not None and tg.is_grad_enabled() and opt.state[x]["n_iter"] > 0


def test_lbfgs_runs_closure_with_grad_enabled_even_under_no_grad():
    x = tg.tensor([-1.0, 1.0], dtype=tg.float64, requires_grad=True)
    opt = optim.LBFGS([x], max_iter=2)
    with tg.no_grad():
        opt.step(rosenbrock_closure(opt, x))
    # grad (-4, 0), so d = (4, 0) and t = min(1, 1 / |g|_1) = 0.25; the loss then rises
    # from 4 to 101, but only the change tests stop L-BFGS (as in PyTorch, after 1 iteration)
    np.testing.assert_array_equal(x.detach().numpy(), [0.0, 1.0])
    assert opt.state[x]["n_iter"] == 1
    assert tg.is_grad_enabled()


# ---- OneCycleLR ------------------------------------------------------------------------------

def sgd_pair(lrs=(0.1,), momentum=0.9):
    ours = optim.SGD([{"params": [nn.Parameter(tg.ones(1))], "lr": lr} for lr in lrs], lr=lrs[0],
                     momentum=momentum)
    theirs = None
    if torch is not None:
        theirs = torch.optim.SGD([{"params": [torch.nn.Parameter(torch.ones(1))], "lr": lr} for lr in lrs],
                                 lr=lrs[0], momentum=momentum)
    return ours, theirs


def adam_pair(lrs=(0.1,)):
    ours = optim.Adam([{"params": [nn.Parameter(tg.ones(1))], "lr": lr} for lr in lrs], lr=lrs[0])
    theirs = None
    if torch is not None:
        theirs = torch.optim.Adam([{"params": [torch.nn.Parameter(torch.ones(1))], "lr": lr} for lr in lrs],
                                  lr=lrs[0])
    return ours, theirs


def group_values(opt):
    """lr, momentum and betas of each group (nan where the optimizer has none)."""
    nan = float("nan")
    return [(g["lr"], g.get("momentum", nan)) + tuple(g.get("betas", (nan, nan))) for g in opt.param_groups]


ONECYCLE = [
    ("sgd", dict(max_lr=1.0, total_steps=30)),
    ("sgd", dict(max_lr=[0.5, 2.0], total_steps=25, anneal_strategy="linear")),
    ("sgd", dict(max_lr=1.0, epochs=4, steps_per_epoch=7, three_phase=True)),
    ("sgd", dict(max_lr=0.3, total_steps=20, pct_start=0.45, div_factor=10.0, final_div_factor=100.0,
                 base_momentum=[0.7, 0.8], max_momentum=0.99)),
    ("sgd", dict(max_lr=0.3, total_steps=20, cycle_momentum=False, three_phase=True, anneal_strategy="linear")),
    ("adam", dict(max_lr=0.01, total_steps=30)),
    ("adam", dict(max_lr=0.01, total_steps=17, three_phase=True, base_momentum=0.5)),
]


@pytest.mark.parametrize("kind,kw", ONECYCLE, ids=[f"{k}-{i}" for i, (k, _) in enumerate(ONECYCLE)])
def test_one_cycle_matches_torch(kind, kw):
    pytest.importorskip("torch")
    opt, topt = (sgd_pair if kind == "sgd" else adam_pair)((0.1, 0.03))
    sched = lr_scheduler.OneCycleLR(opt, **kw)
    tsched = torch.optim.lr_scheduler.OneCycleLR(topt, **kw)
    total = kw.get("total_steps") or kw["epochs"] * kw["steps_per_epoch"]
    assert sched.total_steps == total
    for step in range(total):
        ours, theirs = group_values(opt), group_values(topt)
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15, err_msg=f"step {step}")
        assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12)
        if step < total - 1:
            opt.step(), topt.step()
            sched.step(), tsched.step()
    for key in ("initial_lr", "max_lr", "min_lr"):
        assert [g[key] for g in opt.param_groups] == pytest.approx([g[key] for g in topt.param_groups])
    opt.step()
    sched.step()  # step total_steps is the last one allowed
    with pytest.raises(ValueError, match=f"Tried to step {total + 1} times.*total steps is {total}"):
        sched.step()


def test_one_cycle_shape_without_torch():
    opt, _ = sgd_pair((1.0,))
    sched = lr_scheduler.OneCycleLR(opt, max_lr=2.0, total_steps=11, pct_start=0.5, anneal_strategy="linear")
    lrs, moms = [], []
    for _ in range(11):
        lrs.append(opt.param_groups[0]["lr"])
        moms.append(opt.param_groups[0]["momentum"])
        opt.step()
        sched.step()
    # linear up from 2/25 to 2 over steps 0..4.5 (end_step = 0.5 * 11 - 1), then down to 2/25/1e4
    np.testing.assert_allclose(lrs[0], 2 / 25)
    np.testing.assert_allclose(lrs[1], 2 / 25 + (2 - 2 / 25) / 4.5)
    assert max(lrs) == lrs[5] and lrs[5] < 2.0
    np.testing.assert_allclose(lrs[-1], 2 / 25 / 1e4)
    np.testing.assert_allclose(moms[0], 0.95)
    np.testing.assert_allclose(moms[-1], 0.95)
    assert min(moms) == moms[5]
    assert all(a > b for a, b in zip(lrs[5:], lrs[6:]))


def test_one_cycle_cos_values_and_state_dict():
    opt, _ = adam_pair((1.0,))
    sched = lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10, pct_start=0.5)
    # cosine annealing from 1/25 to 1 over end_step = 4 steps
    for step in range(3):
        want = 1.0 + (1 / 25 - 1.0) / 2 * (math.cos(math.pi * step / 4) + 1)
        assert opt.param_groups[0]["lr"] == pytest.approx(want, rel=1e-14)
        beta1 = 0.85 + (0.95 - 0.85) / 2 * (math.cos(math.pi * step / 4) + 1)
        assert opt.param_groups[0]["betas"] == pytest.approx((beta1, 0.999), rel=1e-14)
        opt.step()
        sched.step()
    sd = sched.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 3 and sd["total_steps"] == 10
    opt2, _ = adam_pair((1.0,))
    sched2 = lr_scheduler.OneCycleLR(opt2, max_lr=1.0, total_steps=10, pct_start=0.5)
    sched2.load_state_dict(sd)
    opt2.load_state_dict(opt.state_dict())
    for _ in range(5):
        opt.step(), opt2.step()
        sched.step(), sched2.step()
        np.testing.assert_array_equal(group_values(opt), group_values(opt2))


def test_one_cycle_errors():
    opt, _ = sgd_pair()
    with pytest.raises(ValueError, match="total_steps OR"):
        lr_scheduler.OneCycleLR(opt, max_lr=1.0)
    with pytest.raises(ValueError, match="total_steps OR"):
        lr_scheduler.OneCycleLR(opt, max_lr=1.0, epochs=3)
    with pytest.raises(ValueError, match="positive integer total_steps"):
        lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=0)
    with pytest.raises(ValueError, match="positive integer total_steps"):
        lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=2.5)
    with pytest.raises(ValueError, match="positive integer epochs"):
        lr_scheduler.OneCycleLR(opt, max_lr=1.0, epochs=-1, steps_per_epoch=2)
    with pytest.raises(ValueError, match="positive integer steps_per_epoch"):
        lr_scheduler.OneCycleLR(opt, max_lr=1.0, epochs=1, steps_per_epoch=0)
    with pytest.raises(ValueError, match="pct_start"):
        lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10, pct_start=1.5)
    with pytest.raises(ValueError, match="pct_start"):
        lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10, pct_start=1)
    with pytest.raises(ValueError, match="anneal_strategy"):
        lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10, anneal_strategy="exp")
    with pytest.raises(ValueError, match="max_lr must have the same length"):
        lr_scheduler.OneCycleLR(opt, max_lr=[1.0, 2.0], total_steps=10)
    with pytest.raises(ValueError, match="momentum or beta1"):
        lr_scheduler.OneCycleLR(optim.Adagrad([nn.Parameter(tg.ones(1))]), max_lr=1.0, total_steps=10)
    lr_scheduler.OneCycleLR(optim.Adadelta([nn.Parameter(tg.ones(1))]), max_lr=1.0, total_steps=10,
                            cycle_momentum=False)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.OneCycleLR(object(), max_lr=1.0, total_steps=10)


# ---- ReduceLROnPlateau -----------------------------------------------------------------------

METRICS = [1.0, 0.9, 0.95, 0.95, 0.9, 0.91, 0.89999, 0.95, 1.0, 0.5, 0.6, 0.6, 0.6, 0.6, 0.49, 0.7,
           0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7]

PLATEAU = [
    dict(patience=1),
    dict(patience=0, factor=0.5, cooldown=2),
    dict(mode="max", patience=1, factor=0.3),
    dict(threshold_mode="abs", threshold=0.05, patience=1),
    dict(mode="max", threshold_mode="abs", threshold=0.01, patience=0, cooldown=1),
    dict(patience=0, factor=0.5, min_lr=[0.02, 0.001]),
    dict(patience=0, factor=0.9, eps=0.002),
    dict(patience=2, threshold=0.1),
]


@pytest.mark.parametrize("kw", PLATEAU, ids=[",".join(f"{k}={v}" for k, v in c.items()) for c in PLATEAU])
def test_reduce_on_plateau_matches_torch(kw):
    pytest.importorskip("torch")
    opt, topt = sgd_pair((0.1, 0.03), momentum=0)
    sched = lr_scheduler.ReduceLROnPlateau(opt, **kw)
    tsched = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kw)
    assert sched.get_last_lr() == tsched.get_last_lr() == [0.1, 0.03]
    for i, m in enumerate(METRICS):
        opt.step(), topt.step()
        sched.step(tg.tensor(m, dtype=tg.float64) if i % 2 else m)  # a 0-d tensor works too
        tsched.step(m)
        assert [g["lr"] for g in opt.param_groups] == pytest.approx([g["lr"] for g in topt.param_groups],
                                                                    rel=1e-12), f"epoch {i}"
        assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12)
        assert (sched.best, sched.num_bad_epochs, sched.cooldown_counter, sched.last_epoch) == \
            pytest.approx((tsched.best, tsched.num_bad_epochs, tsched.cooldown_counter, tsched.last_epoch))


def test_reduce_on_plateau_values_without_torch():
    opt, _ = sgd_pair((1.0,), momentum=0)
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=2, factor=0.5, cooldown=1, min_lr=0.2)
    lrs = []
    for m in [5, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4]:
        sched.step(m)
        lrs.append(sched.get_last_lr()[0])
    # 3 bad epochs (> patience 2) halve the lr; one cooldown epoch then counts nothing
    assert lrs == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]
    for _ in range(10):
        sched.step(4)
    assert sched.get_last_lr() == [0.2]  # min_lr
    assert sched.best == 4 and sched.last_epoch == 21


def test_reduce_on_plateau_state_dict_round_trip():
    opt, _ = sgd_pair((1.0,), momentum=0)
    sched = lr_scheduler.ReduceLROnPlateau(opt, mode="max", patience=1, cooldown=2)
    for m in [1.0, 2.0, 1.5, 1.5]:
        sched.step(m)
    sd = sched.state_dict()
    assert "optimizer" not in sd and sd["best"] == 2.0 and sd["mode"] == "max" and sd["cooldown_counter"] == 2
    opt2, _ = sgd_pair((1.0,), momentum=0)
    opt2.load_state_dict(opt.state_dict())
    sched2 = lr_scheduler.ReduceLROnPlateau(opt2)
    sched2.load_state_dict(sd)
    assert sched2.mode_worse == -math.inf and sched2.mode == "max"
    for m in [1.0, 1.0, 1.0, 3.0, 2.0, 2.0, 2.0]:
        sched.step(m)
        sched2.step(m)
        assert sched2.get_last_lr() == sched.get_last_lr()
        assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]


def test_reduce_on_plateau_errors():
    opt, _ = sgd_pair((1.0, 2.0), momentum=0)
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode avg is unknown"):
        lr_scheduler.ReduceLROnPlateau(opt, mode="avg")
    with pytest.raises(ValueError, match="threshold mode x is unknown"):
        lr_scheduler.ReduceLROnPlateau(opt, threshold_mode="x")
    with pytest.raises(ValueError, match="expected 2 min_lrs, got 3"):
        lr_scheduler.ReduceLROnPlateau(opt, min_lr=[0.1, 0.1, 0.1])
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.ReduceLROnPlateau(object())
    sched = lr_scheduler.ReduceLROnPlateau(opt, min_lr=[0.1, 0.1], patience=0)
    with pytest.raises(TypeError):
        sched.step(None)
    with pytest.raises(ValueError):
        sched.step("low")
    with pytest.raises((ValueError, RuntimeError)):
        sched.step(tg.ones(2))  # not a single number
    sched.step(1.0)
    opt.add_param_group({"params": [nn.Parameter(tg.ones(1))], "lr": 0.5})
    with pytest.raises(RuntimeError, match="number of param groups"):
        sched.step(2.0)
    # with one min_lr for all groups, a new group just gets it
    opt2, _ = sgd_pair((1.0,), momentum=0)
    sched2 = lr_scheduler.ReduceLROnPlateau(opt2, min_lr=0.4, patience=0)
    sched2.step(1.0)
    opt2.add_param_group({"params": [nn.Parameter(tg.ones(1))], "lr": 0.5})
    sched2.step(2.0)
    assert sched2.get_last_lr() == [0.4, 0.4] and sched2.min_lrs == [0.4, 0.4]
    with pytest.warns(UserWarning, match="epoch parameter"):
        lr_scheduler.ReduceLROnPlateau(opt).step(1.0, epoch=4)
