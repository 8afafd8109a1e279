"""Activation checkpointing (tg.utils.checkpoint): the same gradients as without it (also
with dropout, thanks to the restored RNG state), both use_reentrant variants, PyTorch's
warnings and errors, and the memory it saves on a deep MLP (peak RSS in a subprocess)."""
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import tinygrad_cpp as tg
import tinygrad_cpp.nn as nn
import tinygrad_cpp.nn.functional as F
from tinygrad_cpp.utils.checkpoint import checkpoint, checkpoint_sequential


def grads_of(model, x, run):
    model.zero_grad()
    if x.grad is not None:
        x.grad = None
    out = run(model, x)
    (out * out).sum().backward()
    return out.detach().numpy(), [p.grad.numpy().copy() for p in model.parameters()], x.grad.numpy().copy()


def assert_same(a, b):
    np.testing.assert_allclose(a[0], b[0], rtol=1e-5, atol=1e-6)
    for ga, gb in zip(a[1], b[1]):
        np.testing.assert_allclose(ga, gb, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a[2], b[2], rtol=1e-5, atol=1e-6)


def mlp():
    tg.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 16), nn.Tanh(),
                         nn.Dropout(0.3), nn.Linear(16, 4))


@pytest.mark.parametrize("use_reentrant", [True, False])
def test_mlp_with_dropout_same_gradients(use_reentrant):
    model = mlp()
    x = tg.randn(5, 8, requires_grad=True)

    def plain(m, x):
        return m(x)

    def ckpt(m, x):
        h = checkpoint(lambda t: m[3:6](m[0:3](t)), x, use_reentrant=use_reentrant)
        return m[6](h)

    tg.manual_seed(123)
    ref = grads_of(model, x, plain)
    tg.manual_seed(123)
    got = grads_of(model, x, ckpt)
    assert_same(ref, got)
    # the RNG advanced as much as without checkpointing (the recompute does not consume draws)
    tg.manual_seed(123)
    grads_of(model, x, plain)
    after_plain = tg.rand(3).numpy()
    tg.manual_seed(123)
    grads_of(model, x, ckpt)
    np.testing.assert_array_equal(tg.rand(3).numpy(), after_plain)


def test_without_preserve_rng_state_dropout_differs():
    model = mlp()
    x = tg.randn(5, 8, requires_grad=True)
    tg.manual_seed(7)
    ref = grads_of(model, x, lambda m, x: m(x))
    tg.manual_seed(7)
    got = grads_of(model, x, lambda m, x: checkpoint(m, x, use_reentrant=True, preserve_rng_state=False))
    np.testing.assert_allclose(ref[0], got[0], rtol=1e-6)  # the forward is the same
    assert not np.allclose(ref[2], got[2])  # the recompute drew other masks


class Block(nn.Module):
    """A transformer-ish block: pre-norm attention and MLP with residuals and dropout."""

    def __init__(self, d=16, heads=2):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc1, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
        self.drop = nn.Dropout(0.1)
        self.heads = heads

    def forward(self, x, scale=1.0):
        B, T, D = x.shape
        q, k, v = self.qkv(self.ln1(x)).chunk(3, dim=-1)
        q, k, v = (t.reshape(B, T, self.heads, D // self.heads).transpose(1, 2) for t in (q, k, v))
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, D)
        x = x + self.drop(self.proj(a)) * scale
        return x + self.drop(self.fc2(F.gelu(self.fc1(self.ln2(x)))))


@pytest.mark.parametrize("use_reentrant", [True, False])
def test_transformer_block_same_gradients(use_reentrant):
    tg.manual_seed(1)
    blocks = nn.Sequential(Block(), Block())
    x = tg.randn(2, 5, 16, requires_grad=True)
    tg.manual_seed(9)
    ref = grads_of(blocks, x, lambda m, x: m(x))
    tg.manual_seed(9)
    got = grads_of(blocks, x, lambda m, x: m[1](checkpoint(m[0], x, use_reentrant=use_reentrant)))
    assert_same(ref, got)
    tg.manual_seed(9)
    got = grads_of(blocks, x, lambda m, x: checkpoint_sequential(m, 2, x, use_reentrant=use_reentrant))
    assert_same(ref, got)


def test_matches_torch_checkpoint():
    torch = pytest.importorskip("torch")
    import torch.utils.checkpoint as tcp

    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
    tmodel = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    with torch.no_grad():
        for p, tp in zip(model.parameters(), tmodel.parameters()):
            tp.copy_(torch.tensor(p.detach().numpy()))
    a = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    for reentrant in (True, False):
        model.zero_grad()
        tmodel.zero_grad()
        x, xt = tg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        checkpoint(model, x, use_reentrant=reentrant).pow(2).sum().backward()
        tcp.checkpoint(tmodel, xt, use_reentrant=reentrant).pow(2).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-6)
        for p, tp in zip(model.parameters(), tmodel.parameters()):
            np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_use_reentrant_warning_is_torchs():
    torch = pytest.importorskip("torch")
    import torch.utils.checkpoint as tcp

    lin, tlin = nn.Linear(2, 2), torch.nn.Linear(2, 2)
    msgs = []
    for fn, m, x in ((checkpoint, lin, tg.ones(1, 2, requires_grad=True)),
                     (tcp.checkpoint, tlin, torch.ones(1, 2, requires_grad=True))):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            fn(m, x)
        msgs.append([str(i.message) for i in w if "use_reentrant" in str(i.message)])
    assert msgs[0] == msgs[1] and len(msgs[0]) == 1
    msgs = []
    for fn, m, x in ((checkpoint_sequential, nn.Sequential(lin), tg.ones(1, 2, requires_grad=True)),
                     (tcp.checkpoint_sequential, torch.nn.Sequential(tlin), torch.ones(1, 2, requires_grad=True))):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            fn(m, 1, x)
        msgs.append([str(i.message) for i in w if "use_reentrant" in str(i.message)])
    assert msgs[0] == msgs[1] and len(msgs[0]) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        checkpoint(lin, tg.ones(1, 2, requires_grad=True), use_reentrant=False)


def test_inputs_not_requiring_grad():
    lin = nn.Linear(3, 2)
    x = tg.ones(4, 3)
    with pytest.warns(UserWarning, match="None of the inputs have requires_grad=True. Gradients will be None"):
        y = checkpoint(lin, x, use_reentrant=True)
    assert not y.requires_grad  # (PyTorch's reentrant variant: the parameters get nothing)
    y = checkpoint(lin, x, use_reentrant=False)
    y.sum().backward()
    ref = nn.Linear(3, 2)
    ref.load_state_dict(lin.state_dict())
    ref(x).sum().backward()
    np.testing.assert_allclose(lin.weight.grad.numpy(), ref.weight.grad.numpy(), rtol=1e-6)


def test_kwargs_and_non_tensor_args():
    blk = Block()
    x = tg.randn(1, 3, 16, requires_grad=True)
    with pytest.raises(ValueError, match="Unexpected keyword arguments: scale"):
        checkpoint(blk, x, use_reentrant=True, scale=0.5)
    blk.eval()
    ref = blk(x, scale=0.5)
    (ref * ref).sum().backward()
    gx = x.grad.numpy().copy()
    x.grad = None
    out = checkpoint(blk, x, use_reentrant=False, scale=0.5)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-6)
    (out * out).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), gx, rtol=1e-5, atol=1e-7)
    x.grad = None
    out = checkpoint(blk, x, 0.5, use_reentrant=True)  # a positional float
    (out * out).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), gx, rtol=1e-5, atol=1e-7)


def test_tuple_outputs():
    def f(a, b):
        return a * b, a + b, 3

    a, b = tg.randn(3, requires_grad=True), tg.randn(3, requires_grad=True)
    p, s, k = checkpoint(f, a, b, use_reentrant=True)
    assert k == 3
    (p.sum() + (s * s).sum()).backward()
    np.testing.assert_allclose(a.grad.numpy(), b.detach().numpy() + 2 * (a + b).detach().numpy(), rtol=1e-6)


def test_autograd_grad():
    lin = nn.Linear(3, 3)
    x = tg.randn(2, 3, requires_grad=True)
    y = checkpoint(lin, x, use_reentrant=True)
    with pytest.raises(RuntimeError, match="When use_reentrant=True, torch.utils.checkpoint is incompatible"
                                           " with .grad()"):
        tg.autograd.grad(y.sum(), x)
    # non-reentrant: gradients w.r.t. inputs and the parameters used inside, .grad untouched
    h = x * 2
    y = checkpoint(lambda t: lin(t).tanh(), h, use_reentrant=False)
    assert y.grad_fn.name() == "CheckpointBackward"
    gw, gx = tg.autograd.grad((y * y).sum(), [lin.weight, x])
    assert lin.weight.grad is None and x.grad is None
    rw, rx = tg.autograd.grad((lin(x * 2).tanh() ** 2).sum(), [lin.weight, x])
    np.testing.assert_allclose(gw.numpy(), rw.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(gx.numpy(), rx.numpy(), rtol=1e-5, atol=1e-7)


def test_non_reentrant_hooks_run_once_and_nested():
    lin = nn.Linear(3, 3)
    calls = []
    lin.weight.register_hook(lambda g: calls.append(1))
    x = tg.randn(2, 3, requires_grad=True)

    def inner(t):
        return checkpoint(lin, t, use_reentrant=False).relu()

    y = checkpoint(inner, x, use_reentrant=False)
    (y * y).sum().backward()
    assert calls == [1]
    gw, gx = lin.weight.grad.numpy().copy(), x.grad.numpy().copy()
    lin.zero_grad()
    x.grad = None
    (lin(x).relu() ** 2).sum().backward()
    np.testing.assert_allclose(gw, lin.weight.grad.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(gx, x.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_non_reentrant_no_grad_anywhere_and_under_no_grad():
    x = tg.ones(2)
    y = checkpoint(lambda t: t * 2, x, use_reentrant=False)
    assert not y.requires_grad and y.grad_fn is None
    with tg.no_grad():
        y = checkpoint(nn.Linear(2, 2), x, use_reentrant=False)
    assert not y.requires_grad


def test_non_reentrant_saved_input_modified_in_place_raises():
    x = tg.randn(3, requires_grad=True)
    h = x * 1
    y = checkpoint(lambda t: t.exp(), h, use_reentrant=False)
    h.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


# ---- memory ---------------------------------------------------------------------------------

_MEMORY_SCRIPT = r"""
import sys, tinygrad_cpp as tg, tinygrad_cpp.nn as nn
from tinygrad_cpp.utils.checkpoint import checkpoint_sequential
mode = sys.argv[1]
def kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
tg.manual_seed(0)
layers = []
for _ in range(32):
    layers += [nn.Linear(1024, 1024), nn.ReLU()]
model = nn.Sequential(*layers)
x = tg.randn(256, 1024, requires_grad=True)
def step():
    if mode == "plain":
        out = model(x)
    else:
        out = checkpoint_sequential(model, 8, x, use_reentrant=mode == "reentrant")
    out.sum().backward()
step()  # the parameters' .grad exist from here on (later steps accumulate into them)
tg._C._empty_cache()
try:
    with open("/proc/self/clear_refs", "w") as f:  # the peak restarts from the current size
        f.write("5")
except OSError:
    print("no clear_refs")
    raise SystemExit(0)
before = kb("VmRSS")
step()
print(kb("VmHWM") - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux") or "asan" in os.environ.get("LD_PRELOAD", ""),
                    reason="peak RSS from /proc (and meaningless under ASan)")
def test_checkpoint_saves_memory_on_deep_mlp():
    """32 layers of Linear(1024, 1024) + ReLU at batch 256: without checkpointing backward
    starts with every layer's input saved (the ReLU's output is the next Linear's input: 1 MiB
    per layer, 32 MiB); checkpoint_sequential with 8 segments keeps the 8 segment inputs and
    one segment's worth. Measured: 38 MiB without, 18 MiB with."""
    env = dict(os.environ)
    pkg_root = os.path.dirname(os.path.dirname(os.path.abspath(tg.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([pkg_root] + [p for p in [env.get("PYTHONPATH")] if p])
    peaks = {}
    for mode in ("plain", "reentrant", "non_reentrant"):
        proc = subprocess.run([sys.executable, "-c", _MEMORY_SCRIPT, mode], capture_output=True, text=True,
                              timeout=600, env=env)
        assert proc.returncode == 0, proc.stderr[-3000:]
        if "no clear_refs" in proc.stdout:
            pytest.skip("/proc/self/clear_refs is not writable here (the peak cannot be reset)")
        peaks[mode] = int(proc.stdout.split()[-1])
    print("peak RSS growth (KiB):", peaks)
    assert peaks["plain"] > 28 * 1024, peaks  # the measure sees the saved activations
    assert peaks["reentrant"] < peaks["plain"] * 0.6, peaks
    assert peaks["non_reentrant"] < peaks["plain"] * 0.6, peaks


@pytest.mark.parametrize("use_reentrant", [True, False])
def test_parameter_used_inside_and_outside(use_reentrant):
    lin = nn.Linear(3, 3)
    x = tg.randn(2, 3, requires_grad=True)

    def loss(ck):
        h = ck(lambda t: lin(t).sigmoid(), x) if ck else lin(x).sigmoid()
        return (lin(h) ** 2).sum()

    loss(None).backward()
    ref = [p.grad.numpy().copy() for p in lin.parameters()] + [x.grad.numpy().copy()]
    lin.zero_grad()
    x.grad = None
    loss(lambda f, t: checkpoint(f, t, use_reentrant=use_reentrant)).backward()
    got = [p.grad.numpy() for p in lin.parameters()] + [x.grad.numpy()]
    for a, b in zip(got, ref):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    if not use_reentrant:
        gs = tg.autograd.grad(loss(lambda f, t: checkpoint(f, t, use_reentrant=False)), list(lin.parameters()) + [x])
        for a, b in zip(gs, ref):
            np.testing.assert_allclose(a.numpy(), b, rtol=1e-5, atol=1e-7)
