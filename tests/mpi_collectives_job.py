"""Run by tests/test_distributed.py under `mpiexec -n 2`: every collective on every dtype.

Each check runs on both ranks; rank 0 prints one JSON line {check: error or null} with the
errors of both ranks gathered, so every pytest test reads its own verdict.
"""
import json
import sys
import traceback

import numpy as np

import tinygrad_cpp as tg
import tinygrad_cpp.distributed as dist

dist.init_process_group("mpi")
R, W = dist.get_rank(), dist.get_world_size()
assert W == 2, W
from mpi4py import MPI  # noqa: E402

DT = {"float32": (tg.float32, np.float32), "float64": (tg.float64, np.float64), "int64": (tg.int64, np.int64),
      "int32": (tg.int32, np.int32), "uint8": (tg.uint8, np.uint8), "float16": (tg.float16, np.float16)}
results = {}


def check(name):
    def deco(f):
        try:
            f()
            results[name] = None
        except BaseException:  # noqa: BLE001
            results[name] = f"rank {R}: " + traceback.format_exc()
        return f
    return deco


def rank_values(r, npdt, shape=(3, 4)):
    # distinct, exactly representable values per rank (non-zero for PRODUCT, negative ones for AVG)
    base = np.arange(int(np.prod(shape))).reshape(shape) % 7 - 3
    return (base * (r + 2) + r + 1).astype(npdt)


def expected(op, arrs):
    a = np.stack(arrs)
    if op == "SUM":
        return a.sum(0)
    if op == "PRODUCT":
        return a.prod(0)
    if op == "MIN":
        return a.min(0)
    if op == "MAX":
        return a.max(0)
    if op == "AVG":
        s = a.sum(0).astype(a.dtype)  # the sum in the dtype (wrapping, as MPI's uint8 sum), then / W
        return s / W if a.dtype.kind == "f" else (np.abs(s) // W) * np.sign(s)
    if op == "BAND":
        return np.bitwise_and.reduce(a, 0)
    if op == "BOR":
        return np.bitwise_or.reduce(a, 0)
    if op == "BXOR":
        return np.bitwise_xor.reduce(a, 0)


def eq(t, want):
    got = t.numpy()
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert np.array_equal(got, want), (got, want)


for dname, (tdt, npdt) in DT.items():
    ops = ["SUM", "AVG", "PRODUCT", "MIN", "MAX"] + (["BAND", "BOR", "BXOR"] if dname in ("int64", "int32") else [])
    for op in ops:
        @check(f"all_reduce-{dname}-{op}")
        def _(op=op, npdt=npdt):
            t = tg.from_numpy(rank_values(R, npdt))
            view, ptr = t.numpy(), t.data_ptr()
            assert dist.all_reduce(t, op=getattr(dist.ReduceOp, op)) is None
            want = expected(op, [rank_values(r, npdt) for r in range(W)]).astype(npdt)
            eq(t, want)
            assert t.data_ptr() == ptr and np.array_equal(view, want)  # in place, same memory

        @check(f"all_reduce_async-{dname}-{op}")
        def _(op=op, npdt=npdt):
            t = tg.from_numpy(rank_values(R, npdt))
            w = dist.all_reduce(t, op=getattr(dist.ReduceOp, op), async_op=True)
            assert isinstance(w, dist.Work)
            assert w.wait() is True and w.is_completed()
            eq(t, expected(op, [rank_values(r, npdt) for r in range(W)]).astype(npdt))

        @check(f"all_reduce_noncontig-{dname}-{op}")
        def _(op=op, npdt=npdt):
            big = rank_values(R, npdt, (4, 6))
            base = tg.from_numpy(big.copy())
            t = base.t()[1:5:2]  # non-contiguous view
            assert not t.is_contiguous()
            dist.all_reduce(t, op=getattr(dist.ReduceOp, op))
            want_full = big.copy()
            want_full.T[1:5:2] = expected(op, [rank_values(r, npdt, (4, 6)).T[1:5:2] for r in range(W)])
            eq(base, want_full)  # the view's elements reduced, the rest untouched

    @check(f"broadcast-{dname}")
    def _(npdt=npdt):
        for src in range(W):
            t = tg.from_numpy(rank_values(R, npdt))
            dist.broadcast(t, src=src)
            eq(t, rank_values(src, npdt))
        base = tg.from_numpy(rank_values(R, npdt, (4, 6)))
        dist.broadcast(base.t(), src=1)
        eq(base, rank_values(1, npdt, (4, 6)))

    @check(f"reduce-{dname}")
    def _(npdt=npdt):
        for dst in range(W):
            t = tg.from_numpy(rank_values(R, npdt))
            dist.reduce(t, dst=dst, op=dist.ReduceOp.SUM)
            eq(t, expected("SUM", [rank_values(r, npdt) for r in range(W)]).astype(npdt) if R == dst else rank_values(R, npdt))

    @check(f"all_gather-{dname}")
    def _(npdt=npdt):
        t = tg.from_numpy(rank_values(R, npdt))
        outs = [tg.zeros(3, 4, dtype=tdt), tg.zeros(4, 3, dtype=tdt).t()]  # the second non-contiguous
        assert dist.all_gather(outs, t) is None
        for r in range(W):
            eq(outs[r], rank_values(r, npdt))

    @check(f"all_gather_into_tensor-{dname}")
    def _(npdt=npdt):
        out = tg.zeros(W * 3, 4, dtype=tdt)
        dist.all_gather_into_tensor(out, tg.from_numpy(rank_values(R, npdt)))
        eq(out, np.concatenate([rank_values(r, npdt) for r in range(W)]))

    @check(f"reduce_scatter-{dname}")
    def _(npdt=npdt):
        inputs = [tg.from_numpy(rank_values(R, npdt) * (i + 1)) for i in range(W)]
        out = tg.zeros(3, 4, dtype=tdt)
        dist.reduce_scatter(out, inputs, op=dist.ReduceOp.SUM)
        eq(out, (sum(rank_values(r, npdt) for r in range(W)) * (R + 1)).astype(npdt))
        out2 = tg.zeros(3, 4, dtype=tdt)
        full = tg.from_numpy(np.concatenate([rank_values(R, npdt) * (i + 1) for i in range(W)]))
        dist.reduce_scatter_tensor(out2, full, op=dist.ReduceOp.MAX)
        eq(out2, np.maximum(*[rank_values(r, npdt) * (R + 1) for r in range(W)]))


@check("all_reduce-bfloat16")
def _():
    # no numpy bfloat16: values compared through float32 (all exactly representable)
    for op in ["SUM", "AVG", "MAX"]:
        t = tg.from_numpy(rank_values(R, np.float32)).to(tg.bfloat16)
        dist.all_reduce(t, op=getattr(dist.ReduceOp, op))
        assert t.dtype == tg.bfloat16
        want = expected(op, [rank_values(r, np.float32) for r in range(W)]).astype(np.float32)
        eq(t.float(), tg.from_numpy(want).to(tg.bfloat16).float().numpy())
    outs = [tg.zeros(3, 4, dtype=tg.bfloat16) for _ in range(W)]
    dist.all_gather(outs, tg.from_numpy(rank_values(R, np.float32)).to(tg.bfloat16))
    for r in range(W):
        eq(outs[r].float(), rank_values(r, np.float32))


@check("all_reduce-bool")
def _():
    a = np.array([[True, False, True], [False, False, True]])
    mine = a if R == 0 else np.array([[True, True, False], [False, True, True]])
    other = [a, np.array([[True, True, False], [False, True, True]])]
    for op, want in [("SUM", other[0] | other[1]), ("MAX", other[0] | other[1]),
                     ("MIN", other[0] & other[1]), ("PRODUCT", other[0] & other[1])]:
        t = tg.from_numpy(mine.copy())
        dist.all_reduce(t, op=getattr(dist.ReduceOp, op))
        eq(t, want)
    t = tg.from_numpy(mine.copy()).t()
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    eq(t, (other[0] | other[1]).T)
    try:
        dist.all_reduce(tg.from_numpy(mine.copy()), op=dist.ReduceOp.AVG)
        raise AssertionError("AVG on bool did not raise")
    except RuntimeError as e:
        assert "AVG with boolean" in str(e)
    t = tg.from_numpy(mine.copy())
    dist.broadcast(t, src=1)
    eq(t, other[1])
    outs = [tg.zeros(2, 3, dtype=tg.bool) for _ in range(W)]
    dist.all_gather(outs, tg.from_numpy(mine.copy()))
    eq(outs[0], other[0])
    eq(outs[1], other[1])


@check("all_reduce_async-overlapping")
def _():
    # several buckets in flight at once (as DDP starts them from gradient hooks), waited at the end
    ts = [tg.full((1000 * (i + 1),), float(R + i), dtype=tg.float32) for i in range(5)]
    works = [dist.all_reduce(t, op=dist.ReduceOp.AVG, async_op=True) for t in ts]
    x = tg.ones(64, 64) @ tg.ones(64, 64)  # compute meanwhile
    assert x[0, 0].item() == 64
    polled = [w.is_completed() for w in works]
    assert all(isinstance(p, bool) for p in polled)
    for w in works:
        w.wait()
        w.wait()  # a second wait is harmless
    for i, t in enumerate(ts):
        assert np.all(t.numpy() == (0 + i + 1 + i) / 2), (i, t.numpy()[:3])
    w = dist.barrier(async_op=True)
    w.wait()


@check("async-others")
def _():
    t = tg.from_numpy(rank_values(R, np.float64))
    dist.broadcast(t, src=1, async_op=True).wait()
    eq(t, rank_values(1, np.float64))
    t = tg.from_numpy(rank_values(R, np.int64, (4, 6))).t()
    dist.reduce(t, dst=0, op=dist.ReduceOp.MAX, async_op=True).wait()
    eq(t, np.maximum(*[rank_values(r, np.int64, (4, 6)) for r in range(W)]).T if R == 0
       else rank_values(R, np.int64, (4, 6)).T)
    outs = [tg.zeros(3, 4) for _ in range(W)]
    dist.all_gather(outs, tg.from_numpy(rank_values(R, np.float32)), async_op=True).wait()
    for r in range(W):
        eq(outs[r], rank_values(r, np.float32))
    out = tg.zeros(W * 3, 4)
    dist.all_gather_into_tensor(out, tg.from_numpy(rank_values(R, np.float32)), async_op=True).wait()
    eq(out, np.concatenate([rank_values(r, np.float32) for r in range(W)]))
    out = tg.zeros(3, 4)
    full = tg.from_numpy(np.concatenate([rank_values(R, np.float32)] * W))
    dist.reduce_scatter_tensor(out, full, op=dist.ReduceOp.AVG, async_op=True).wait()
    eq(out, (sum(rank_values(r, np.float32) for r in range(W)) / W).astype(np.float32))


@check("all_reduce-requires_grad-and-empty")
def _():
    p = tg.full((4,), float(R + 1), requires_grad=True)
    dist.all_reduce(p.grad if p.grad is not None else p.detach())  # on the detached alias: same memory
    assert np.all(p.detach().numpy() == 3.0)
    e = tg.zeros(0)
    dist.all_reduce(e)
    assert e.shape == (0,)
    s = tg.tensor(float(R + 1))
    dist.all_reduce(s)
    assert s.item() == 3.0


@check("api")
def _():
    assert dist.is_initialized() and dist.is_available() and dist.is_mpi_available()
    assert dist.get_backend() == "mpi"
    assert dist.get_rank(dist.group.WORLD) == R and dist.get_world_size(dist.GroupMember.WORLD) == W
    assert dist.barrier() is None
    try:
        dist.init_process_group("mpi")
        raise AssertionError("a second init did not raise")
    except ValueError as e:
        assert "twice" in str(e)
    for bad in ([1, 2], np.zeros(3)):
        try:
            dist.all_reduce(bad)
            raise AssertionError("all_reduce of a non-tensor did not raise")
        except TypeError:
            pass
    try:
        dist.all_gather([tg.zeros(3)], tg.zeros(3))
        raise AssertionError("all_gather with a short list did not raise")
    except ValueError:
        pass
    try:
        dist.broadcast(tg.zeros(3), src=W)
        raise AssertionError("broadcast from a rank out of range did not raise")
    except ValueError:
        pass
    try:
        dist.all_reduce(tg.zeros(3), op=dist.ReduceOp.BAND)
        raise AssertionError("BAND on float did not raise")
    except RuntimeError:
        pass


@check("sampler-default-replicas")
def _():
    from tinygrad_cpp.utils.data import DistributedSampler
    s = DistributedSampler(list(range(11)), shuffle=False)
    assert s.num_replicas == W and s.rank == R and list(s) == [i % 11 for i in range(R, 12, W)]


threads = {"threads": tg.get_num_threads(), "cpus": tg._C._available_cpus(), "local": dist._S.local_size}
allres = MPI.COMM_WORLD.gather(results, root=0)
allthreads = MPI.COMM_WORLD.gather(threads, root=0)
if R == 0:
    merged = {k: "\n".join(r[k] for r in allres if r[k]) or None for k in results}
    print("RESULTS " + json.dumps({"checks": merged, "threads": allthreads}), flush=True)
dist.destroy_process_group()
assert not dist.is_initialized()
sys.exit(0)
