"""Memory: backward frees the graph, models hold no reference cycles, and a long training
run keeps the process size flat.

Python weakrefs only see Python wrappers, so the C++ side is watched through numpy:
a tensor made by `tg.from_numpy(arr)` keeps `arr` alive from C++ for as long as its
storage lives (in any view, saved tensor or graph node), so `weakref.ref(arr)` dying
proves that every C++ reference to it is gone. Every node of a graph reaches the
AccumulateGrad of a leaf, which holds the leaf, so a numpy-backed leaf also tells whether
any node of its graph is still alive.
"""
import gc
import os
import subprocess
import sys
import weakref

import numpy as np
import pytest

import tinygrad_cpp as tg
import tinygrad_cpp.nn as nn
import tinygrad_cpp.nn.functional as F
import tinygrad_cpp.optim as optim


class _Watched:
    """A numpy-backed tensor and a weakref to the array behind it."""

    def __init__(self, shape, requires_grad=False, seed=0, dtype=np.float64):
        arr = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
        self.ref = weakref.ref(arr)
        self.tensor = tg.from_numpy(arr)
        if requires_grad:
            self.tensor.requires_grad_()

    def alive(self):
        return self.ref() is not None


@pytest.fixture
def no_gc():
    """Reference counting alone must free everything: a cycle would survive this."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _build_graph(x, w, c):
    h = (x @ w).relu()
    v = h.T                    # a view saved by the next op
    y = (v * c.T).sigmoid()    # c is saved for backward (it needs no grad itself)
    s = y.log_softmax(0)[1:, ::2]
    loss = (s.exp() * 3.0).sum() + y.logsumexp(1).mean()
    return [h, v, y, s], loss


def test_backward_frees_saved_tensors_and_nodes(no_gc):
    x = _Watched((4, 3), requires_grad=True, seed=1)
    w = _Watched((3, 5), requires_grad=True, seed=2)
    c = _Watched((4, 5), seed=3)
    inter, loss = _build_graph(x.tensor, w.tensor, c.tensor)
    tensor_refs = [weakref.ref(t) for t in inter]
    nodes = [t.grad_fn for t in inter + [loss]]  # Python handles on the C++ nodes
    node_refs = [weakref.ref(n) for n in nodes]
    assert [n.name() for n in nodes[-2:]] == ["SliceBackward0", "AddBackward0"]

    loss.backward()
    assert x.tensor.grad is not None and w.tensor.grad is not None
    # Saved tensors are released by backward: c's storage is now referenced only by `c`.
    c.tensor = None
    assert not c.alive(), "a node still holds a saved tensor after backward()"

    del inter, loss, nodes
    assert all(r() is None for r in tensor_refs)
    assert all(r() is None for r in node_refs)
    # No node survives: every one of them would hold x's and w's accumulators, which hold x and w.
    gx, gw = x.tensor.grad, w.tensor.grad
    x.tensor = w.tensor = None
    assert not x.alive() and not w.alive(), "a graph node outlived backward() and its outputs"
    assert gx.shape == (4, 3) and gw.shape == (3, 5)


def test_retain_graph_keeps_saved_tensors_until_outputs_die(no_gc):
    x = _Watched((4, 3), requires_grad=True, seed=1)
    w = _Watched((3, 5), requires_grad=True, seed=2)
    c = _Watched((4, 5), seed=3)
    inter, loss = _build_graph(x.tensor, w.tensor, c.tensor)
    del inter
    loss.backward(retain_graph=True)
    loss.backward()
    c.tensor = None
    assert not c.alive()
    del loss
    x.tensor = w.tensor = None
    assert not x.alive() and not w.alive()


def test_graph_without_backward_dies_with_its_outputs(no_gc):
    x = _Watched((8, 8), requires_grad=True)
    y = x.tensor
    for _ in range(50):  # a long chain
        y = (y * 1.01 + 0.1).tanh()
    x.tensor = None
    assert x.alive()  # held by the graph of y
    del y
    assert not x.alive()


def test_autograd_grad_and_failed_backward_free_the_graph(no_gc):
    x = _Watched((3, 3), requires_grad=True)
    y = (x.tensor.exp() * 2).sum()
    (g,) = tg.autograd.grad(y, x.tensor)
    assert g.shape == (3, 3)
    with pytest.raises(RuntimeError):
        y.backward()  # the graph was freed by grad()
    with pytest.raises(RuntimeError):
        (x.tensor * 2).backward()  # non-scalar without gradient
    del y, g
    x.tensor = None
    assert not x.alive()


def test_views_and_numpy_exports_release_storage(no_gc):
    a = _Watched((6, 4))
    views = [a.tensor.T, a.tensor[::2], a.tensor.reshape(24), a.tensor.unsqueeze(0).expand(3, 6, 4)]
    exported = views[1].numpy()
    a.tensor = None
    del views
    assert a.alive()  # the numpy export still holds the storage
    del exported
    assert not a.alive()


def _train_model(steps=3):
    model = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 4))
    opt = optim.Adam(model.parameters(), lr=1e-2)
    x, y = tg.randn(8, 20), tg.randint(0, 4, (8,))
    out = None
    for _ in range(steps):
        opt.zero_grad()
        out = model(x)
        loss = F.cross_entropy(out, y)
        loss.backward()
        opt.step()
    return model, opt, out, loss


@pytest.mark.parametrize("opt_name", ["SGD", "Adam", "RMSprop"])
def test_model_and_optimizer_have_no_cycles(no_gc, opt_name):
    watched = _Watched((16, 20), dtype=np.float32)
    model = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 4), nn.Dropout(0.1))
    model[0].weight = nn.Parameter(watched.tensor)  # storage shared with the numpy array
    watched.tensor = None
    kw = {"momentum": 0.9} if opt_name != "Adam" else {}
    opt = getattr(optim, opt_name)(model.parameters(), lr=1e-2, **kw)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2)
    x, y = tg.randn(8, 20), tg.randint(0, 4, (8,))
    for _ in range(3):
        opt.zero_grad()
        out = model(x)
        loss = F.cross_entropy(out, y)
        loss.backward()
        opt.step()
        sched.step()
    sd = model.state_dict()
    osd = opt.state_dict()
    refs = [weakref.ref(o) for o in [model, opt, out, loss] + list(model.modules()) + list(model.parameters())]
    refs += [weakref.ref(p.grad) for p in model.parameters()]
    del model, opt, sched, out, loss, sd, osd
    dead = [r() is None for r in refs]
    assert all(dead), f"{dead.count(False)} objects survived without the garbage collector"
    assert not watched.alive(), "a parameter's storage survived its model"


def test_module_without_optimizer_has_no_cycles(no_gc):
    model, opt, out, loss = _train_model()
    del opt, out, loss
    ref = weakref.ref(model)
    prefs = [weakref.ref(p) for p in model.parameters()]
    model.eval()
    model.train()
    model.zero_grad()
    repr(model)
    del model
    assert ref() is None and all(r() is None for r in prefs)


_RSS_SCRIPT = r"""
import os, sys, numpy as np
import tinygrad_cpp as tg, tinygrad_cpp.nn as nn, tinygrad_cpp.optim as optim
tg.set_num_threads(1)
tg.manual_seed(0)
page = os.sysconf("SC_PAGE_SIZE")
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * page
model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
loss_fn = nn.CrossEntropyLoss()
rng = np.random.default_rng(0)
xs = tg.tensor(rng.random((1024, 784), dtype=np.float32))
ys = tg.tensor(rng.integers(0, 10, 1024))
samples = []
for step in range(3000):
    i = (step * 64) % 1024
    x, y = xs[i:i + 64], ys[i:i + 64]
    opt.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    opt.step()
    if step >= 300 and step % 100 == 0:
        samples.append(rss())
samples.append(rss())
print(samples[0], max(samples), samples[-1], loss.item())
"""


@pytest.mark.slow
@pytest.mark.skipif("asan" in os.environ.get("LD_PRELOAD", ""),
                    reason="ASan's quarantine and shadow memory make RSS meaningless")
def test_training_rss_stays_flat():
    env = dict(os.environ)
    pkg_root = os.path.dirname(os.path.dirname(os.path.abspath(tg.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([pkg_root] + [p for p in [env.get("PYTHONPATH")] if p])
    env["OMP_NUM_THREADS"] = "1"
    proc = subprocess.run([sys.executable, "-c", _RSS_SCRIPT], capture_output=True, text=True,
                          timeout=900, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    after_warmup, peak, final, loss = proc.stdout.split()
    after_warmup, peak, final = int(after_warmup), int(peak), int(final)
    assert np.isfinite(float(loss))
    assert peak < after_warmup * 1.05, (
        f"RSS grew from {after_warmup / 2**20:.1f} MiB after warm-up to {peak / 2**20:.1f} MiB "
        f"(final {final / 2**20:.1f} MiB)")
