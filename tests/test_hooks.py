"""Hooks with PyTorch's semantics: Tensor.register_hook, retain_grad,
register_post_accumulate_grad_hook, grad_fn hooks and Module forward/backward hooks.

Most tests run one scenario `f(m)` with m = torch and m = tinygrad_cpp and compare what the
hooks saw (an event log: names, gradient values, which .grad were set at that moment)."""
import copy
import gc

import numpy as np
import pytest

import tinygrad_cpp as tg
from tinygrad_cpp.utils.hooks import RemovableHandle

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore:The .grad attribute of a Tensor that is not a leaf")


def norm(v):
    """A log entry in a form both libraries give alike."""
    if isinstance(v, (tg.Tensor, torch.Tensor)):
        return ("T", tuple(v.shape), np.round(v.detach().numpy().astype(np.float64), 5).tolist())
    if isinstance(v, (list, tuple)):
        return type(v)(norm(x) for x in v)
    if isinstance(v, dict):
        return {k: norm(x) for k, x in v.items()}
    return v


def same(f):
    """Runs f(m) for both libraries; their logs must agree."""
    want, got = norm(f(torch)), norm(f(tg))
    assert got == want
    return got


def data(m, *shape, seed=0, requires_grad=True):
    a = np.random.default_rng(seed).standard_normal(shape)
    return m.tensor(a, dtype=m.float64, requires_grad=requires_grad)


# ---- tensor hooks ------------------------------------------------------------------------

def test_leaf_hooks_run_in_order_and_replace_the_gradient():
    def f(m):
        log = []
        x = data(m, 3)
        x.register_hook(lambda g: (log.append(("h1", g)), g * 2)[1])
        x.register_hook(lambda g: log.append(("h2", g)))  # None keeps the gradient
        x.register_hook(lambda g: (log.append(("h3", g)), g + 1)[1])
        (x * x).sum().backward()
        log.append(("grad", x.grad))
        return log
    log = same(f)
    assert [e[0] for e in log] == ["h1", "h2", "h3", "grad"]


def test_non_leaf_hook_changes_what_flows_on():
    def f(m):
        log = []
        x = data(m, 2, 3)
        y = x * 3
        y.register_hook(lambda g: (log.append(g), g * 0 + 1)[1])
        z = (y * y).sum()
        z.backward()
        log.append(x.grad)
        log.append(y.grad is None)
        return log
    log = same(f)
    np.testing.assert_allclose(log[1][2], np.full((2, 3), 3.0))


def test_hook_on_tensor_used_twice_sees_the_sum_once():
    def f(m):
        log = []
        x = data(m, 4)
        y = x.exp()
        y.register_hook(lambda g: log.append(g))
        x.register_hook(lambda g: log.append(g))
        (y * 2 + y * y).sum().backward()
        return log
    assert len(same(f)) == 2


def test_removed_hooks_are_not_called():
    def f(m):
        log = []
        x = data(m, 3)
        h1 = x.register_hook(lambda g: log.append("h1"))
        h2 = x.register_hook(lambda g: g * 10)
        x.register_hook(lambda g: log.append("h3"))
        h1.remove()
        h1.remove()  # twice is fine
        with h2:
            pass  # a handle is a context manager removing on exit
        x.sum().backward()
        log.append(x.grad)
        return log
    assert same(f)[:2] == ["h3", ("T", (3,), [1.0, 1.0, 1.0])]


def test_hooks_run_on_every_backward():
    def f(m):
        log = []
        x = data(m, 2)
        y = (x * x).sum()
        x.register_hook(lambda g: log.append(g))
        y.backward(retain_graph=True)
        y.backward()
        log.append(x.grad)
        return log
    assert len(same(f)) == 3


def test_retain_grad_sees_hooked_gradient_and_accumulates():
    def f(m):
        log = []
        x = data(m, 3)
        y = x.sin()
        y.retain_grad()
        y.register_hook(lambda g: g * 10)  # retain_grad's hook runs after, whatever the order
        y.retain_grad()  # twice is a no-op
        z = (y * y).sum()
        z.backward(retain_graph=True)
        log.append(y.grad)
        z.backward()
        log += [y.grad, x.grad, y.retains_grad, x.retains_grad, y.is_leaf]
        x.retain_grad()  # a leaf: no-op
        log.append(x.retains_grad)
        return log
    same(f)


def test_hooks_on_views_and_multi_output_ops():
    def f(m):
        log = []
        x = data(m, 4, 3)
        a, b = x.chunk(2)
        b.register_hook(lambda g: (log.append(("b", g)), g * 3)[1])
        a.register_hook(lambda g: log.append(("a", g)))
        (a.exp().sum() + (b * b).sum()).backward()
        log.append(("x", x.grad))
        c = x[1:3]
        c.register_hook(lambda g: g * 0)
        (c * 2).sum().backward()
        log.append(("x2", x.grad))
        return sorted(log, key=lambda e: e[0])
    same(f)


def test_in_place_op_leaves_earlier_hooks_on_the_old_value():
    # PyTorch: hooks stay with the old grad_fn (they see the gradient of the old value),
    # the tensor's hook dict starts afresh, retain_grad moves to the new grad_fn
    def f(m):
        log = []
        x = data(m, 3)
        y = x * 2
        y.retain_grad()
        y.register_hook(lambda g: (log.append(("h1", g)), g + 1)[1])
        y.mul_(3)
        log.append(("reset", y._backward_hooks is None))
        y.register_hook(lambda g: (log.append(("h2", g)), g * 10)[1])
        (y * y).sum().backward()
        log += [("x", x.grad), ("y", y.grad), ("rg", y.retains_grad)]
        return log
    assert [e[0] for e in same(f)][:3] == ["reset", "h2", "h1"]


def test_retain_grad_without_requires_grad_raises():
    for m in (torch, tg):
        with pytest.raises(RuntimeError, match="can't retain_grad on Tensor that has requires_grad=False"):
            m.ones(2).retain_grad()


def test_autograd_grad_applies_hooks_and_skips_unneeded_ones():
    def f(m):
        log = []
        x = data(m, 3)
        x.register_hook(lambda g: (log.append(("x", g)), g * 2)[1])
        y = x * 2
        y.register_hook(lambda g: (log.append(("y", g)), g + 1)[1])
        y.retain_grad()
        z = (y ** 2).sum()
        gx, = m.autograd.grad(z, x, retain_graph=True)
        log.append(("gx", gx))
        gy, = m.autograd.grad(z, y)  # x's hook is upstream of y: not called
        log.append(("gy", gy))
        log.append(("x.grad", x.grad))
        log.append(("y.grad", y.grad))
        return log
    log = same(f)
    assert [e[0] for e in log].count("x") == 1


def test_hook_errors_as_torch():
    for m in (torch, tg):
        with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that doesn't require gradient"):
            m.ones(2).register_hook(lambda g: None)
        with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that doesn't require gradient"):
            m.ones(2).register_post_accumulate_grad_hook(lambda t: None)
        x = m.ones(2, requires_grad=True)
        with pytest.raises(RuntimeError, match="post accumulate grad hooks cannot be registered on non-leaf tensors"):
            (x * 2).register_post_accumulate_grad_hook(lambda t: None)
        w = m.ones(2, requires_grad=True)
        w.register_post_accumulate_grad_hook(lambda p: p)  # a tensor returned is ignored
        w.register_post_accumulate_grad_hook(lambda p: 3)
        with pytest.raises(TypeError, match="expected Variable, but hook returned 'int'"):
            w.sum().backward()
        for hook, exc, msg in [(lambda g: 3, TypeError, "expected Variable, but hook returned 'int'"),
                               (lambda g: g.double(), RuntimeError, "has changed the type of value"),
                               (lambda g: g[:1], RuntimeError, "has changed the size of value")]:
            y = x * 2
            y.register_hook(hook)
            with pytest.raises(exc, match=msg):
                y.sum().backward()


class HookError(Exception):
    pass


@pytest.mark.parametrize("where", ["leaf", "non_leaf", "post_accumulate", "autograd_grad", "grad_fn"])
def test_exception_in_a_hook_leaves_backward_as_itself(where):
    def boom(*a):
        raise HookError("from the hook")

    x = tg.ones(3, requires_grad=True)
    y = x * 2
    out = (y * y).sum()
    if where == "leaf":
        x.register_hook(boom)
    elif where == "non_leaf":
        y.register_hook(boom)
    elif where == "post_accumulate":
        x.register_post_accumulate_grad_hook(boom)
    elif where == "grad_fn":
        y.grad_fn.register_prehook(boom)
    else:
        y.register_hook(boom)
    with pytest.raises(HookError, match="from the hook") as info:
        if where == "autograd_grad":
            tg.autograd.grad(out, x)
        else:
            out.backward()
    assert type(info.value) is HookError
    # the engine is usable afterwards (grad mode restored, no lock held)
    assert tg.is_grad_enabled()
    x2 = tg.ones(2, requires_grad=True)
    (x2 * 3).sum().backward()
    np.testing.assert_allclose(x2.grad.numpy(), [3.0, 3.0])


def test_hook_can_keep_the_gradient_and_call_ops():
    # a hook that stores the gradient and runs ops (with the GIL, from the engine's thread)
    kept = []
    x = tg.ones(1000, requires_grad=True)
    x.register_hook(lambda g: kept.append(g.clone()) or (g @ g) * 0 + g)
    (x * x).sum().backward()
    np.testing.assert_allclose(kept[0].numpy(), 2.0)
    np.testing.assert_allclose(x.grad.numpy(), 2.0)


def test_hooks_from_backward_in_other_threads():
    # the engine runs without the GIL; each hook takes it, so threads interleave safely
    import threading
    errors, seen = [], []

    def work(k):
        try:
            for _ in range(20):
                w = tg.ones(64, requires_grad=True)
                w.register_hook(lambda g: g * 2)
                w.register_post_accumulate_grad_hook(lambda p: seen.append(k))
                (w * w).sum().backward()
                np.testing.assert_allclose(w.grad.numpy(), 4.0)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(seen) == 80


def test_hooks_keep_alive_with_the_tensor_and_handles_stay_valid():
    x = tg.ones(2, requires_grad=True)
    log = []
    h = x.register_hook(lambda g: log.append(1))
    gc.collect()
    x.sum().backward()
    assert log == [1]
    h.remove()
    x.sum().backward()
    assert log == [1]
    assert isinstance(h, RemovableHandle)
    # a non-leaf's hook stays with its grad_fn when the Python tensor is gone
    y = x * 2
    y.register_hook(lambda g: log.append(2))
    out = y.sum()
    del y
    gc.collect()
    out.backward()
    assert log == [1, 2]


# ---- post-accumulate-grad hooks ----------------------------------------------------------

def _mlp(m):
    m.manual_seed(0)
    nn = m.nn
    model = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3), nn.Tanh(), nn.Linear(3, 2))
    with m.no_grad():
        for i, p in enumerate(model.parameters()):
            p.copy_(m.tensor(np.random.default_rng(i).standard_normal(tuple(p.shape)), dtype=m.float32))
    return model


def test_post_accumulate_hooks_fire_during_backward_in_torch_order():
    def f(m):
        model = _mlp(m).double()
        names = dict(model.named_parameters())
        log = []

        def hook(name):
            def fn(p):
                # the layers with a final .grad already when this one is (DDP starts a bucket
                # here); the order of a layer's weight and bias between them is the engine's
                layer = name.split(".")[0]
                done = sorted({n.split(".")[0] for n, q in names.items() if q.grad is not None} - {layer})
                log.append((name, layer, done, p.grad))
            return fn

        for n, p in names.items():
            p.register_post_accumulate_grad_hook(hook(n))
        x = m.tensor(np.random.default_rng(9).standard_normal((6, 4)))
        model(x).pow(2).sum().backward()
        final = {n: p.grad for n, p in names.items()}
        layers = [e[1] for e in log]
        return [sorted(log), [l for i, l in enumerate(layers) if i == 0 or layers[i - 1] != l], final]
    log, layers, final = same(f)
    # the last layer's parameters are final before the first layer's gradient is computed
    assert layers == ["4", "2", "0"]
    for name, _, done, g in log:
        assert g == final[name]
        assert done == {"0": ["2", "4"], "2": ["4"], "4": []}[name.split(".")[0]]


def test_post_accumulate_hook_sees_accumulated_grad_and_runs_after_tensor_hooks():
    def f(m):
        log = []
        w = data(m, 3)
        w.register_post_accumulate_grad_hook(lambda p: log.append(("post", p.grad)))
        w.register_hook(lambda g: (log.append(("pre", g)), g * 2)[1])
        (w * w).sum().backward()
        (w * 3).sum().backward()
        m.autograd.grad((w * w).sum(), w)  # accumulates nothing: no post-accumulate call
        return log
    log = same(f)
    assert [e[0] for e in log] == ["pre", "post", "pre", "post", "pre"]


def test_post_accumulate_hook_can_modify_grad_in_place_and_removal():
    def f(m):
        w = data(m, 3)
        h = w.register_post_accumulate_grad_hook(lambda p: (p.grad.mul_(0.5), None)[1])
        (w * 4).sum().backward()
        first = w.grad.clone()
        h.remove()
        (w * 4).sum().backward()
        return [first, w.grad]
    same(f)


# ---- grad_fn hooks -----------------------------------------------------------------------

def test_grad_fn_prehook_and_hook():
    def f(m):
        log = []
        x = data(m, 3)
        y = x.exp()
        y.grad_fn.register_prehook(lambda go: (log.append(("pre", go)), (go[0] * 3,))[1])
        y.grad_fn.register_hook(lambda gi, go: (log.append(("post", gi, go)), (gi[0] + 1,))[1])
        y.sum().backward()
        log.append(x.grad)
        return log
    same(f)


# ---- module hooks ------------------------------------------------------------------------

def _linear(m, i=3, o=2, seed=0):
    m.manual_seed(0)
    lin = m.nn.Linear(i, o).double()
    with m.no_grad():
        lin.weight.copy_(data(m, o, i, seed=seed, requires_grad=False))
        lin.bias.copy_(data(m, o, seed=seed + 1, requires_grad=False))
    return lin


def test_forward_pre_and_forward_hooks_modify_inputs_and_outputs():
    def f(m):
        log = []
        lin = _linear(m)
        lin.register_forward_pre_hook(lambda mod, args: (log.append(("pre1", args)), args[0] * 2)[1])
        lin.register_forward_pre_hook(lambda mod, args: log.append(("pre0", args)), prepend=True)
        lin.register_forward_pre_hook(lambda mod, args, kw: (log.append(("prekw", args, sorted(kw))), None)[1],
                                      with_kwargs=True)
        lin.register_forward_hook(lambda mod, args, out: (log.append(("fwd", args, out)), out + 1)[1])
        lin.register_forward_hook(lambda mod, args, kw, out: log.append(("fwdkw", out)), with_kwargs=True)
        h = lin.register_forward_hook(lambda mod, args, out: out * 100, prepend=True)
        y1 = lin(data(m, 4, 3, seed=5))
        h.remove()
        y2 = lin(data(m, 4, 3, seed=5))
        log += [y1, y2]
        return log
    log = same(f)
    assert [e[0] for e in log[:5]] == ["pre0", "pre1", "prekw", "fwd", "fwdkw"]


def test_forward_pre_hook_with_kwargs_replaces_args_and_kwargs():
    class Scale:
        pass

    def f(m):
        class Mod(m.nn.Module):
            def forward(self, x, scale=1.0):
                return x * scale

        mod = Mod()
        mod.register_forward_pre_hook(lambda mod, args, kw: ((args[0] + 1,), {"scale": 3.0}), with_kwargs=True)
        return mod(data(m, 2), scale=2.0)
    same(f)
    del Scale


def test_forward_hook_always_call_runs_when_forward_raises():
    def f(m):
        log = []

        class Bad(m.nn.Module):
            def forward(self, x):
                raise ValueError("bad forward")

        mod = Bad()
        mod.register_forward_hook(lambda mod, args, out: log.append(("always", out)), always_call=True)
        mod.register_forward_hook(lambda mod, args, out: log.append("never"))
        with pytest.raises(ValueError, match="bad forward"):
            mod(data(m, 2))
        return log
    assert same(f) == [("always", None)]


def test_full_backward_hook_values_and_replacement():
    def f(m):
        log = []
        lin = _linear(m)
        lin.register_full_backward_pre_hook(lambda mod, go: log.append(("bpre", go)))
        lin.register_full_backward_hook(lambda mod, gi, go: (log.append(("bwd", gi, go)),
                                                               (gi[0] * 2,))[1])
        x = data(m, 4, 3, seed=3)
        y = lin(x)
        (y * y).sum().backward()
        log += [("x.grad", x.grad), ("w.grad", lin.weight.grad), ("b.grad", lin.bias.grad)]
        return log
    log = same(f)
    assert [e[0] for e in log] == ["bpre", "bwd", "x.grad", "w.grad", "b.grad"]


def test_full_backward_pre_hook_replaces_grad_output():
    def f(m):
        lin = _linear(m)
        lin.register_full_backward_pre_hook(lambda mod, go: (go[0] * 0 + 1,))
        x = data(m, 4, 3, seed=3)
        (lin(x) ** 3).sum().backward()
        return [x.grad, lin.weight.grad, lin.bias.grad]
    same(f)


def test_full_backward_hooks_across_a_model_in_torch_order():
    def f(m):
        model = _mlp(m).double()
        log = []
        for name, mod in model.named_children():
            mod.register_full_backward_hook(lambda mod, gi, go, name=name: log.append((name, gi, go)))
            mod.register_full_backward_pre_hook(lambda mod, go, name=name: log.append(("pre" + name, go)))
        x = m.tensor(np.random.default_rng(9).standard_normal((6, 4)), requires_grad=True)
        model(x).pow(2).sum().backward()
        return log
    log = same(f)
    assert [e[0] for e in log][:2] == ["pre4", "4"]


def test_full_backward_hook_when_no_input_requires_grad():
    def f(m):
        log = []
        lin = _linear(m)
        lin.register_full_backward_hook(lambda mod, gi, go: log.append((gi, go)))
        x = data(m, 4, 3, seed=3, requires_grad=False)
        with pytest.warns(UserWarning, match="Full backward hook is firing when gradients are computed"):
            lin(x).sum().backward()
        log.append(lin.weight.grad)
        return log
    assert same(f)[0][0] == (None,)


def test_full_backward_hook_with_a_non_tensor_and_a_tuple_output():
    def f(m):
        log = []

        class Two(m.nn.Module):
            def forward(self, a, k, b):
                return a * k, a + b

        mod = Two()
        mod.register_full_backward_hook(lambda mod, gi, go: log.append((gi, go)))
        a, b = data(m, 3, seed=1), data(m, 3, seed=2, requires_grad=False)
        p, q = mod(a, 2.0, b)
        (p * q).sum().backward()
        log.append(a.grad)
        return log
    same(f)


def test_module_hook_handles_remove_and_global_hooks():
    def f(m):
        log = []
        mm = m.nn.modules.module
        lin = _linear(m)
        hs = [lin.register_forward_pre_hook(lambda mod, a: log.append("pre")),
              lin.register_forward_hook(lambda mod, a, o: log.append("fwd")),
              lin.register_full_backward_hook(lambda mod, gi, go: log.append("bwd")),
              lin.register_full_backward_pre_hook(lambda mod, go: log.append("bpre"))]
        gs = [mm.register_module_forward_pre_hook(lambda mod, a: log.append("gpre")),
              mm.register_module_forward_hook(lambda mod, a, o: log.append("gfwd")),
              mm.register_module_full_backward_hook(lambda mod, gi, go: log.append("gbwd")),
              mm.register_module_full_backward_pre_hook(lambda mod, go: log.append("gbpre"))]
        try:
            x = data(m, 4, 3)
            lin(x).sum().backward()
            log.append("--")
            for h in hs + gs:
                h.remove()
            lin(x).sum().backward()
            log.append(x.grad)
        finally:
            for h in gs:
                h.remove()
        return log
    log = same(f)
    assert log[log.index("--") + 1][0] == "T"


def test_module_hooks_survive_deepcopy_and_state_dict():
    log = []
    lin = _linear(tg)
    lin.register_forward_hook(lambda mod, a, o: log.append(("fwd", id(mod))))
    lin.register_full_backward_hook(lambda mod, gi, go: log.append(("bwd", id(mod))))
    sd = lin.state_dict()
    assert sorted(sd) == ["bias", "weight"]
    lin.load_state_dict(sd)
    twin = copy.deepcopy(lin)
    x = data(tg, 2, 3)
    twin(x).sum().backward()
    lin(x).sum().backward()
    assert log == [("fwd", id(twin)), ("bwd", id(twin)), ("fwd", id(lin)), ("bwd", id(lin))]
    assert twin.weight.grad is not None and lin.weight.grad is not None


def test_module_without_hooks_calls_forward_directly():
    lin = tg.nn.Linear(3, 2)
    h = lin.register_forward_hook(lambda *a: None)
    h.remove()
    assert not lin._forward_hooks and not lin._forward_hooks_with_kwargs
    y = lin(tg.ones(1, 3))
    assert y.grad_fn.name() != "BackwardHookFunctionBackward"


def test_non_callable_hooks_raise_type_error():
    # PyTorch fails on the first call ("'int' object is not callable"); we refuse at once
    x = tg.ones(2, requires_grad=True)
    lin = tg.nn.Linear(2, 2)
    for reg in (x.register_hook, x.register_post_accumulate_grad_hook, lin.register_forward_hook,
                lin.register_forward_pre_hook, lin.register_full_backward_hook,
                lin.register_full_backward_pre_hook):
        with pytest.raises(TypeError):
            reg(3)


def test_removable_handle_like_torch():
    d = {}
    from collections import OrderedDict
    d = OrderedDict()
    extra = OrderedDict()
    h = RemovableHandle(d, extra_dict=extra)
    d[h.id] = 1
    extra[h.id] = True
    h2 = RemovableHandle(d)
    assert h2.id == h.id + 1
    h.remove()
    assert h.id not in d and h.id not in extra
