"""Run by tests/test_ddp.py under `mpiexec -n 2`: DistributedDataParallel checks.

Each check runs on both ranks and compares DDP against a single-process reference computed
in the same process (the whole batch, or each rank's shard, on a copy of the model); rank 0
prints one JSON line {check: error or null} with the errors of both ranks gathered.
"""
import copy
import json
import traceback
import warnings

import numpy as np

import tinygrad_cpp as tg
import tinygrad_cpp.distributed as dist
from tinygrad_cpp import nn, optim
from tinygrad_cpp.nn.parallel import DistributedDataParallel as DDP

dist.init_process_group("mpi")
R, W = dist.get_rank(), dist.get_world_size()
assert W == 2, W
from mpi4py import MPI  # noqa: E402

COMM = MPI.COMM_WORLD
results = {}


def check(name):
    def deco(f):
        try:
            f()
            results[name] = None
        except BaseException:  # noqa: BLE001
            results[name] = f"rank {R}: " + traceback.format_exc()
        COMM.Barrier()
        return f
    return deco


def mlp(seed):
    tg.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(),
                         nn.Linear(16, 5))


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 4 * 4, 5)

    def forward(self, x):
        x = nn.functional.max_pool2d(nn.functional.relu(self.bn(self.conv(x))), 2)
        return self.fc(x.flatten(1))


def cnn(seed):
    tg.manual_seed(seed)
    return CNN()


def data(n=8, shape=(20,), seed=1):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n,) + shape).astype(np.float32), rng.integers(0, 5, n).astype(np.int64))


def shard(a, r=R):
    n = len(a) // W
    return tg.from_numpy(np.ascontiguousarray(a[r * n:(r + 1) * n]))


def loss_fn(out, y):
    return nn.functional.cross_entropy(out, y)


def grads(model):
    return [None if p.grad is None else p.grad.numpy().copy() for p in model.parameters()]


def params(model):
    return [p.detach().numpy().copy() for p in model.parameters()]


def same_on_all_ranks(arrays, what):
    """Bitwise the same arrays on every rank."""
    blob = b"".join(np.ascontiguousarray(a).tobytes() for a in arrays)
    every = COMM.allgather(blob)
    assert all(b == every[0] for b in every), f"{what} differ across ranks"


def close(got, want, what, rtol=1e-5, atol=1e-6):
    assert len(got) == len(want), (len(got), len(want))
    for k, (a, b) in enumerate(zip(got, want)):
        assert (a is None) == (b is None), f"{what}[{k}]: {a is None} vs {b is None}"
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"{what}[{k}]")


def ref_grads_whole(model, X, Y):
    ref = copy.deepcopy(model)
    for p in ref.parameters():
        p.grad = None
    loss_fn(ref(tg.from_numpy(X)), tg.from_numpy(Y)).backward()
    return grads(ref)


# ----------------------------------------------------------------------------- checks

@check("init-broadcast")
def _():
    m = mlp(seed=100 + R)  # different weights on each rank
    m0 = params(mlp(seed=100))
    ddp = DDP(m)
    close(params(m), m0, "params", rtol=0, atol=0)
    assert ddp.module is m


@check("mlp-grads-equal-whole-batch")
def _():
    X, Y = data(8)
    ddp = DDP(mlp(0))
    want = ref_grads_whole(ddp.module, X, Y)
    loss_fn(ddp(shard(X)), shard(Y)).backward()
    got = grads(ddp.module)
    same_on_all_ranks(got, "gradients")
    close(got, want, "grad")


@check("cnn-bn-grads-and-buffers")
def _():
    X, Y = data(8, (1, 8, 8), seed=2)
    model = cnn(0)
    ddp = DDP(model)
    # with BatchNorm each rank normalizes its own shard: DDP's gradient is the mean of the
    # per-shard gradients (SyncBatchNorm would be needed for the whole-batch statistics)
    per_shard = []
    for r in range(W):
        ref = copy.deepcopy(model)
        loss_fn(ref(shard(X, r)), shard(Y, r)).backward()
        per_shard.append(grads(ref))
    want = [np.mean([g[k] for g in per_shard], axis=0) for k in range(len(per_shard[0]))]
    loss_fn(ddp(shard(X)), shard(Y)).backward()
    got = grads(model)
    same_on_all_ranks(got, "gradients")
    close(got, want, "grad")
    # the running statistics now differ (each rank saw its own shard) ...
    rm = model.bn.running_mean.numpy().copy()
    others = COMM.allgather(rm)
    assert not np.array_equal(others[0], others[1]), "running stats should differ before the broadcast"
    # ... until the next forward broadcasts rank 0's (an eval forward leaves them as broadcast)
    ddp.eval()
    assert not model.training and not model.bn.training
    with tg.no_grad():
        ddp(shard(X))
    for name, b in model.named_buffers():
        np.testing.assert_array_equal(b.numpy(), COMM.bcast(b.numpy().copy(), root=0), err_msg=name)
    np.testing.assert_array_equal(model.bn.running_mean.numpy(), others[0])
    ddp.train()
    assert model.training


@check("broadcast-buffers-off")
def _():
    X, Y = data(8, (1, 8, 8), seed=3)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ddp = DDP(cnn(0), broadcast_buffers=False)
    assert any(issubclass(x.category, FutureWarning) for x in w)  # PyTorch 2.13 deprecates it
    for _ in range(2):
        loss_fn(ddp(shard(X)), shard(Y)).backward()
    rms = COMM.allgather(ddp.module.bn.running_mean.numpy().copy())
    assert not np.array_equal(rms[0], rms[1])


def train(make, opt_make, steps, per_rank=True, seed=4, **ddp_kw):
    X, Y = data(16, seed=seed)
    model = make(0)
    ref = copy.deepcopy(model)
    ddp = DDP(model, **ddp_kw)
    opt, ropt = opt_make(model.parameters()), opt_make(ref.parameters())
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        idx = rng.permutation(16)[:8]
        xb, yb = X[idx], Y[idx]
        opt.zero_grad()
        loss_fn(ddp(shard(xb)), shard(yb)).backward()
        opt.step()
        ropt.zero_grad()
        loss_fn(ref(tg.from_numpy(xb)), tg.from_numpy(yb)).backward()
        ropt.step()
    return model, ref


@check("sgd-10-steps")
def _():
    model, ref = train(mlp, lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), 10)
    same_on_all_ranks(params(model), "parameters")
    close(params(model), params(ref), "param", rtol=1e-4, atol=1e-5)


@check("adam-10-steps")
def _():
    model, ref = train(mlp, lambda ps: optim.Adam(ps, lr=1e-2), 10, bucket_cap_mb=0.001)
    same_on_all_ranks(params(model), "parameters")
    close(params(model), params(ref), "param", rtol=1e-4, atol=1e-5)


@check("cnn-bn-sgd-10-steps-identical")
def _():
    X, Y = data(16, (1, 8, 8), seed=5)
    model = cnn(R)
    ddp = DDP(model)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for s in range(10):
        opt.zero_grad()
        loss_fn(ddp(shard(X)), shard(Y)).backward()
        opt.step()
    same_on_all_ranks(params(model), "parameters")


@check("no_sync")
def _():
    X1, Y1 = data(8, seed=6)
    X2, Y2 = data(8, seed=7)
    ddp = DDP(mlp(0))
    ref = copy.deepcopy(ddp.module)
    with ddp.no_sync():
        loss_fn(ddp(shard(X1)), shard(Y1)).backward()
    local = grads(ddp.module)
    loc_ref = copy.deepcopy(ref)
    loss_fn(loc_ref(shard(X1)), shard(Y1)).backward()
    close(local, grads(loc_ref), "local grad (no_sync)")  # not averaged
    everyone = COMM.allgather(local[0])
    assert not np.array_equal(everyone[0], everyone[1])
    loss_fn(ddp(shard(X2)), shard(Y2)).backward()
    got = grads(ddp.module)
    same_on_all_ranks(got, "gradients")
    loss_fn(ref(tg.from_numpy(X1)), tg.from_numpy(Y1)).backward()
    loss_fn(ref(tg.from_numpy(X2)), tg.from_numpy(Y2)).backward()
    close(got, grads(ref), "accumulated grad")
    # and the next synchronized step is a plain one again
    for p in ddp.module.parameters():
        p.grad = None
    loss_fn(ddp(shard(X1)), shard(Y1)).backward()
    close(grads(ddp.module), ref_grads_whole(ddp.module, X1, Y1), "grad after no_sync")


class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(20, 5)
        self.b = nn.Linear(20, 5)        # used on rank 0 only
        self.unused = nn.Linear(20, 5)   # used on no rank

    def forward(self, x, use_b):
        out = self.a(x)
        return out + self.b(x) if use_b else out


@check("find_unused_parameters")
def _():
    X, Y = data(8, seed=8)
    tg.manual_seed(0)
    model = Branchy()
    ddp = DDP(model, find_unused_parameters=True, bucket_cap_mb=0.0001)
    for it in range(2):  # twice: the reducer must be ready for the next iteration
        for p in model.parameters():
            p.grad = None
        loss_fn(ddp(shard(X), use_b=(R == 0)), shard(Y)).backward()
        ga, gb = [], []
        for r in range(W):
            ref = copy.deepcopy(model)
            loss_fn(ref(shard(X, r), use_b=(r == 0)), shard(Y, r)).backward()
            ga.append([p.grad.numpy() for p in ref.a.parameters()])
            gb.append([p.grad.numpy() if r == 0 else np.zeros(tuple(p.shape), np.float32)
                       for p in ref.b.parameters()])
        close([p.grad.numpy() for p in model.a.parameters()], [(u + v) / 2 for u, v in zip(*ga)], "a")
        close([p.grad.numpy() for p in model.b.parameters()], [(u + v) / 2 for u, v in zip(*gb)],
              "b (rank 0 only)")
        assert all(p.grad is None for p in model.unused.parameters()), "unused by every rank: .grad stays None"


class TwoBranches(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(20, 5)
        self.b = nn.Linear(20, 5)

    def forward(self, x, use_b):
        return self.a(x) + self.b(x) if use_b else self.a(x)


@check("find_unused_parameters-one-rank-uses-all")
def _():
    # rank 0 misses no gradient, rank 1 misses b's: both still agree on the collectives
    X, Y = data(8, seed=12)
    tg.manual_seed(0)
    model = TwoBranches()
    ddp = DDP(model, find_unused_parameters=True)
    for it in range(2):
        for p in model.parameters():
            p.grad = None
        loss_fn(ddp(shard(X), use_b=(R == 0)), shard(Y)).backward()
        ref = copy.deepcopy(model)
        loss_fn(ref(shard(X, 0), use_b=True), shard(Y, 0)).backward()
        close([p.grad.numpy() for p in model.b.parameters()], [p.grad.numpy() / 2 for p in ref.b.parameters()],
              "b (rank 0 only)")
        same_on_all_ranks(grads(model), "gradients")


@check("unused-parameter-error")
def _():
    X, Y = data(8, seed=9)
    tg.manual_seed(0)
    ddp = DDP(Branchy())
    loss_fn(ddp(shard(X), use_b=True), shard(Y)).backward()  # `unused` got no gradient
    try:
        ddp(shard(X), use_b=True)
    except RuntimeError as e:
        assert str(e).startswith("Expected to have finished reduction in the prior iteration before "
                                 "starting a new one."), str(e)
        assert "find_unused_parameters=True" in str(e) and "unused.weight" in str(e), str(e)
    else:
        raise AssertionError("no error for a parameter that got no gradient")
    with tg.no_grad():  # an inference forward is fine
        ddp(shard(X), use_b=True)


@check("buckets")
def _():
    X, Y = data(8, seed=10)
    model = mlp(0)
    ddp = DDP(model, bucket_cap_mb=300 / 2**20)  # 300 bytes: several buckets
    sizes = ddp._bucket_sizes()
    names = [n for n, _ in model.named_parameters()]
    assert len(sizes) >= 3, sizes
    flat = [n for ns, _ in sizes for n in ns]
    assert flat == names[::-1], (flat, names)  # reverse registration order
    assert all(b >= 300 for _, b in sizes[:-1]), sizes
    whole = DDP(mlp(0))
    assert len(whole._bucket_sizes()) == 1  # 25 MiB: one bucket
    # the early buckets' all-reduces start while backward still runs: a hook that runs
    # after DDP's on every parameter sees the first bucket in flight before the last
    # gradients arrive
    seen = []
    for p in model.parameters():
        p.register_post_accumulate_grad_hook(lambda p: seen.append([b.work is not None for b in ddp._buckets]))
    want = ref_grads_whole(model, X, Y)
    seen.clear()
    loss_fn(ddp(shard(X)), shard(Y)).backward()
    assert len(seen) == len(names), seen
    assert any(s[0] and not s[-1] for s in seen) and all(seen[-1]), seen
    close(grads(model), want, "grad")


class Mixed(nn.Module):
    """float32 layers and a float64 parameter: one bucket per dtype."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(20, 5)
        self.scale = nn.Parameter(tg.tensor([1.5, -0.5, 2.0, 1.0, 0.25], dtype=tg.float64))

    def forward(self, x):
        return self.fc(x) * self.scale.float()


@check("dtypes")
def _():
    X, Y = data(8, seed=14)
    for make, x64 in ((lambda: mlp(0).double(), True), (lambda: (tg.manual_seed(0), Mixed())[1], False)):
        model = make()
        ddp = DDP(model, bucket_cap_mb=1e-6)  # every parameter its own bucket
        assert len(ddp._bucket_sizes()) == len(list(model.parameters()))
        Xc = X.astype(np.float64) if x64 else X
        want = ref_grads_whole(model, Xc, Y)
        loss_fn(ddp(shard(Xc)), shard(Y)).backward()
        got = grads(model)
        assert [g.dtype for g in got] == [w.dtype for w in want]
        same_on_all_ranks(got, "gradients")
        close(got, want, "grad", rtol=1e-5, atol=1e-7)


@check("gradient_as_bucket_view")
def _():
    X, Y = data(8, seed=11)
    model = mlp(0)
    ddp = DDP(model, gradient_as_bucket_view=True, bucket_cap_mb=0.001)
    ref = copy.deepcopy(model)
    for it in range(3):
        loss_fn(ddp(shard(X)), shard(Y)).backward()  # accumulates (zero_grad not called)
        loss_fn(ref(tg.from_numpy(X)), tg.from_numpy(Y)).backward()
        close(grads(model), grads(ref), f"grad {it}")
    slots = {s.ctypes.data for b in ddp._buckets for s in b.slots}
    assert all(p.grad.data_ptr() in slots for p in model.parameters())


@check("api")
def _():
    model = mlp(0)
    ddp = DDP(model)
    assert list(ddp.state_dict()) == ["module." + k for k in model.state_dict()]
    assert [n for n, _ in ddp.named_parameters()] == ["module." + n for n, _ in model.named_parameters()]
    assert ddp.eval() is ddp and not model.training and ddp.train() is ddp and model.training
    assert tg.nn.parallel.DistributedDataParallel is DDP
    assert ddp.process_group is dist.group.WORLD
    try:
        DDP(nn.ReLU())
    except RuntimeError as e:
        assert "doesn't have any parameter that requires a gradient" in str(e)
    else:
        raise AssertionError("no error for a module without parameters")
    for kw, exc in (({"device_ids": [0, 1]}, ValueError), ({"device_ids": [0]}, ValueError),
                    ({"output_device": 1}, ValueError)):
        try:
            DDP(mlp(0), **kw)
        except exc:
            pass
        else:
            raise AssertionError(f"no {exc.__name__} for {kw}")
    for bad in (None, 3, "x", [nn.Linear(2, 2)]):
        try:
            DDP(bad)
        except TypeError:
            pass
        else:
            raise AssertionError(f"no TypeError for module={bad!r}")
    # as PyTorch: TypeError for these (its C++ reducer takes bools), numbers are fine
    for kw in ({"process_group": "world"}, {"device_ids": 5}, {"find_unused_parameters": "yes"},
               {"gradient_as_bucket_view": "yes"}, {"static_graph": "yes"}, {"bucket_cap_mb": "x"}):
        try:
            DDP(mlp(0), **kw)
        except TypeError:
            pass
        else:
            raise AssertionError(f"no TypeError for {kw}")
    for kw in ({"find_unused_parameters": 1}, {"gradient_as_bucket_view": 0}, {"bucket_cap_mb": 0},
               {"bucket_cap_mb": True}, {"check_reduction": False}):
        DDP(mlp(0), **kw)


@check("hooks-removed-with-ddp")
def _():
    import gc
    model = mlp(0)
    ddp = DDP(model)
    del ddp
    gc.collect()
    assert all(not p._post_accumulate_grad_hooks for p in model.parameters())
    ddp = DDP(model)  # wrapped again: one reducer, correct gradients
    X, Y = data(8, seed=13)
    want = ref_grads_whole(model, X, Y)
    loss_fn(ddp(shard(X)), shard(Y)).backward()
    close(grads(model), want, "grad")


@check("shape-mismatch")
def _():
    tg.manual_seed(0)
    m = nn.Linear(4, 3 + R)
    try:
        DDP(m)
    except RuntimeError as e:
        assert "DDP expects same model across all ranks" in str(e), str(e)
    else:
        raise AssertionError("no error for different models")


everything = COMM.gather(results, root=0)
if R == 0:
    merged = {}
    for res in everything:
        for k, v in res.items():
            merged[k] = v if merged.get(k) is None else merged[k]
            if v is not None and merged[k] is not v:
                merged[k] += "\n" + v
    print("RESULTS " + json.dumps({"checks": merged}), flush=True)
dist.destroy_process_group()
