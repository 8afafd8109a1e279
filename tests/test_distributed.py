"""tinygrad_cpp.distributed on real MPI jobs (2 ranks, `mpiexec -n 2`) and DistributedSampler
against PyTorch's. The MPI tests skip only where mpi4py or an mpiexec launcher is missing."""
import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import tinygrad_cpp as tg
from tinygrad_cpp.utils.data import DataLoader, DistributedSampler, TensorDataset

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _mpiexec():
    cand = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return cand if os.access(cand, os.X_OK) else shutil.which("mpiexec")


MPIEXEC = _mpiexec()
needs_mpi = pytest.mark.skipif(
    importlib.util.find_spec("mpi4py") is None or MPIEXEC is None,
    reason="needs mpi4py and an mpiexec launcher (pip install \"tinygrad_cpp[distributed]\")")


def _env(**extra):
    env = dict(os.environ)
    for k in ("TG_NUM_THREADS", "OMP_NUM_THREADS"):
        env.pop(k, None)
    # the ranks import the tinygrad_cpp this process imported (the checkout's, an installed one,
    # or dev/sanitize's build)
    pkg_root = os.path.dirname(os.path.dirname(os.path.abspath(tg.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([pkg_root] + [p for p in [env.get("PYTHONPATH")] if p])
    env["FI_TCP_IFACE"] = env["FI_SOCKETS_IFACE"] = "lo"  # keep MPI traffic on this machine
    env.update(extra)
    return env


def mpirun(script_path, n=2, timeout=180, **env):
    return subprocess.run([MPIEXEC, "-n", str(n), sys.executable, script_path], env=_env(**env),
                          capture_output=True, text=True, timeout=timeout)


def _script(tmp_path, body, name="job.py"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(body))
    return str(p)


@pytest.fixture(scope="module")
def collectives():
    if importlib.util.find_spec("mpi4py") is None or MPIEXEC is None:
        pytest.skip("needs mpi4py and an mpiexec launcher")
    r = mpirun(os.path.join(HERE, "mpi_collectives_job.py"))
    lines = [l for l in r.stdout.splitlines() if l.startswith("RESULTS ")]
    assert r.returncode == 0 and lines, f"rc={r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    return json.loads(lines[0][len("RESULTS "):])


_DTYPES = ["float32", "float64", "int64", "int32", "uint8", "float16"]
_CHECKS = ([f"{k}-{d}-{op}" for k in ("all_reduce", "all_reduce_async", "all_reduce_noncontig") for d in _DTYPES
            for op in ["SUM", "AVG", "PRODUCT", "MIN", "MAX"] + (["BAND", "BOR", "BXOR"] if d in ("int64", "int32") else [])]
           + [f"{k}-{d}" for k in ("broadcast", "reduce", "all_gather", "all_gather_into_tensor", "reduce_scatter")
              for d in _DTYPES]
           + ["all_reduce-bool", "all_reduce-bfloat16", "all_reduce_async-overlapping", "async-others", "all_reduce-requires_grad-and-empty", "api",
              "sampler-default-replicas"])


@needs_mpi
@pytest.mark.parametrize("name", _CHECKS)
def test_collective(collectives, name):
    assert name in collectives["checks"], f"check {name} did not run"
    err = collectives["checks"][name]
    assert err is None, err


@needs_mpi
def test_every_check_listed(collectives):
    assert set(collectives["checks"]) == set(_CHECKS)


@needs_mpi
def test_default_threads_per_rank(collectives):
    # 2 ranks on this node: each uses cores // 2 threads (at least 1)
    for t in collectives["threads"]:
        assert t["local"] == 2
        assert t["threads"] == max(1, t["cpus"] // 2), t


THREADS_JOB = """
import sys
import tinygrad_cpp as tg, tinygrad_cpp.distributed as dist
if sys.argv[-1] == "call":
    tg.set_num_threads(7)
dist.init_process_group("mpi")
from mpi4py import MPI
got = MPI.COMM_WORLD.gather(tg.get_num_threads(), root=0)  # one printing rank: no interleaved lines
if dist.get_rank() == 0:
    print("THREADS", *got, flush=True)
dist.destroy_process_group()
"""


@needs_mpi
@pytest.mark.parametrize("how,want", [("env", 3), ("call", 7)])
def test_user_threads_respected(tmp_path, how, want):
    path = _script(tmp_path, THREADS_JOB)
    env = {"TG_NUM_THREADS": "3"} if how == "env" else {}
    r = subprocess.run([MPIEXEC, "-n", "2", sys.executable, path, how], env=_env(**env),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    got = [l.split()[1:] for l in r.stdout.splitlines() if l.startswith("THREADS")]
    assert got == [[str(want), str(want)]], r.stdout


FAIL_JOB = """
import time
import tinygrad_cpp as tg, tinygrad_cpp.distributed as dist
dist.init_process_group("mpi")
if dist.get_rank() == 1:
    time.sleep(0.5)
    raise ValueError("boom from rank 1")
dist.barrier()   # rank 0 waits here for a rank that never comes
print("rank 0 passed the barrier", flush=True)
"""


@needs_mpi
def test_failing_rank_aborts_the_job(tmp_path):
    path = _script(tmp_path, FAIL_JOB)
    t0 = time.monotonic()
    try:
        r = mpirun(path, timeout=90)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"the job hung after a rank raised: {e}")
    assert time.monotonic() - t0 < 90
    assert r.returncode != 0
    assert "ValueError: boom from rank 1" in r.stderr and "[rank 1]" in r.stderr, r.stderr
    assert "passed the barrier" not in r.stdout


def test_init_errors_without_mpi_job():
    import tinygrad_cpp.distributed as dist
    assert not dist.is_initialized()
    with pytest.raises(ValueError, match="not been initialized"):
        dist.get_rank()
    with pytest.raises(ValueError, match="not been initialized"):
        dist.all_reduce(tg.zeros(3))
    with pytest.raises(AssertionError, match="Unknown backend type foo"):
        dist.init_process_group("foo")
    with pytest.raises(ValueError, match="string-ish"):
        dist.init_process_group(3)
    assert dist.ReduceOp.SUM == 0 and dist.ReduceOp.MAX.name == "MAX"


def test_reduce_op_values_match_torch():
    torch = pytest.importorskip("torch")
    import tinygrad_cpp.distributed as dist
    for name in ["SUM", "AVG", "PRODUCT", "MIN", "MAX", "BAND", "BOR", "BXOR"]:
        assert int(getattr(dist.ReduceOp, name)) == int(getattr(torch.distributed.ReduceOp, name))


# ----------------------------------------------------------------------------- sampler

_SAMPLER_CASES = [(n, k, d) for n in [0, 1, 2, 5, 7, 10, 13, 100] for k in [1, 2, 3, 4, 8] for d in [False, True]]


@pytest.mark.parametrize("n,replicas,drop_last", _SAMPLER_CASES)
def test_sampler_partition_matches_torch_unshuffled(n, replicas, drop_last):
    torch = pytest.importorskip("torch")
    from torch.utils.data.distributed import DistributedSampler as TDS
    for rank in range(replicas):
        ours = DistributedSampler(range(n), num_replicas=replicas, rank=rank, shuffle=False, drop_last=drop_last)
        theirs = TDS(range(n), num_replicas=replicas, rank=rank, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(theirs)
        assert len(ours) == len(theirs) and ours.total_size == theirs.total_size


@pytest.mark.parametrize("n,replicas,drop_last", [(10, 3, False), (10, 3, True), (7, 4, False), (2, 8, False),
                                                  (100, 8, True), (13, 2, False)])
def test_sampler_shuffled_is_torch_given_the_same_permutation(monkeypatch, n, replicas, drop_last):
    # Our generator is not PyTorch's, so the permutations differ; given the same
    # permutation (torch.randperm replaced by ours, seeded with seed + epoch) the partition,
    # padding and truncation are PyTorch's exactly.
    torch = pytest.importorskip("torch")
    from torch.utils.data.distributed import DistributedSampler as TDS

    def randperm(m, generator=None):
        g = tg.Generator()
        g.manual_seed(generator.initial_seed())
        return torch.from_numpy(tg.randperm(m, generator=g).numpy())
    monkeypatch.setattr(torch, "randperm", randperm)
    for epoch in [0, 1, 5]:
        for rank in range(replicas):
            ours = DistributedSampler(range(n), num_replicas=replicas, rank=rank, seed=17, drop_last=drop_last)
            theirs = TDS(range(n), num_replicas=replicas, rank=rank, seed=17, drop_last=drop_last)
            ours.set_epoch(epoch)
            theirs.set_epoch(epoch)
            assert list(ours) == list(theirs)


def test_sampler_epochs_and_ranks():
    n, k = 103, 4
    samplers = [DistributedSampler(range(n), num_replicas=k, rank=r, seed=3) for r in range(k)]
    orders = [list(s) for s in samplers]
    assert all(len(o) == math.ceil(n / k) for o in orders)
    flat = sum(orders, [])
    assert set(flat) == set(range(n)) and len(flat) == k * math.ceil(n / k)  # padded by repetition
    assert orders == [list(s) for s in samplers]  # same epoch, same order
    for s in samplers:
        s.set_epoch(1)
    assert [list(s) for s in samplers] != orders
    other_seed = DistributedSampler(range(n), num_replicas=k, rank=0, seed=4)
    assert list(other_seed) != orders[0]


def test_sampler_errors_and_loader():
    with pytest.raises(ValueError, match=r"Invalid rank 2, rank should be in the interval \[0, 1\]"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="Invalid rank -1"):
        DistributedSampler(range(4), num_replicas=2, rank=-1)
    with pytest.raises(ValueError, match="not been initialized"):
        DistributedSampler(range(4))  # no process group: as torch, it asks for the world size
    ds = TensorDataset(tg.arange(10.))
    s = DistributedSampler(ds, num_replicas=3, rank=1, shuffle=False)
    got = [b[0].tolist() for b in DataLoader(ds, batch_size=2, sampler=s)]
    assert got == [[1.0, 4.0], [7.0, 0.0]]
    import tinygrad_cpp.utils.data.distributed as mod
    assert mod.DistributedSampler is DistributedSampler


SINGLETON_JOB = """
import tinygrad_cpp as tg, tinygrad_cpp.distributed as dist
dist.init_process_group()
t = tg.tensor([1.0, 3.0])
dist.all_reduce(t, op=dist.ReduceOp.AVG)
print("SINGLETON", dist.get_world_size(), dist.get_rank(), t.tolist(), flush=True)
dist.destroy_process_group()
"""


@pytest.mark.skipif(importlib.util.find_spec("mpi4py") is None, reason="needs mpi4py")
def test_singleton_without_launcher(tmp_path):
    # `python train.py` without mpiexec: MPI's singleton init, a world of one
    r = subprocess.run([sys.executable, _script(tmp_path, SINGLETON_JOB)], env=_env(), capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "SINGLETON 1 0 [1.0, 3.0]" in r.stdout, r.stdout
