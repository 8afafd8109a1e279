"""nn.parallel.DistributedDataParallel on real 2-rank MPI jobs (`mpiexec -n 2`), the
examples/mnist_ddp.py smoke run, and the autograd final callbacks DDP finishes its
all-reduces in. The MPI tests skip only where mpi4py or an mpiexec launcher is missing."""
import importlib.util
import json
import os
import re
import subprocess
import sys
import time

import pytest

import tinygrad_cpp as tg
from helpers import torch
from test_distributed import MPIEXEC, _env, _script, mpirun, needs_mpi

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


@pytest.fixture(scope="module")
def ddp_checks():
    if importlib.util.find_spec("mpi4py") is None or MPIEXEC is None:
        pytest.skip("needs mpi4py and an mpiexec launcher")
    r = mpirun(os.path.join(HERE, "ddp_job.py"))
    lines = [l for l in r.stdout.splitlines() if l.startswith("RESULTS ")]
    assert r.returncode == 0 and lines, f"rc={r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    return json.loads(lines[0][len("RESULTS "):])["checks"]


_CHECKS = ["init-broadcast", "mlp-grads-equal-whole-batch", "cnn-bn-grads-and-buffers", "broadcast-buffers-off",
           "sgd-10-steps", "adam-10-steps", "cnn-bn-sgd-10-steps-identical", "no_sync", "find_unused_parameters",
           "find_unused_parameters-one-rank-uses-all", "unused-parameter-error", "buckets", "dtypes",
           "gradient_as_bucket_view", "api", "hooks-removed-with-ddp", "shape-mismatch"]


@needs_mpi
@pytest.mark.parametrize("name", _CHECKS)
def test_ddp(ddp_checks, name):
    assert name in ddp_checks, f"check {name} did not run"
    assert ddp_checks[name] is None, ddp_checks[name]


@needs_mpi
def test_every_check_listed(ddp_checks):
    assert set(ddp_checks) == set(_CHECKS)


FAIL_IN_BACKWARD = """
import tinygrad_cpp as tg, tinygrad_cpp.distributed as dist
from tinygrad_cpp import nn
dist.init_process_group("mpi")
R = dist.get_rank()
tg.manual_seed(0)
model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
ddp = nn.parallel.DistributedDataParallel(model, bucket_cap_mb=1e-4)  # one bucket per layer
def boom(grad):
    if R == 1:
        raise ValueError("boom in backward on rank 1")
h = ddp(tg.randn(4, 8))
h.register_hook(boom)
h.sum().backward()  # rank 0 waits for all-reduces rank 1 never starts
print("rank", R, "finished backward", flush=True)
"""


@needs_mpi
def test_rank_raising_in_backward_ends_the_job(tmp_path):
    path = _script(tmp_path, FAIL_IN_BACKWARD)
    t0 = time.monotonic()
    try:
        r = mpirun(path, timeout=90)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"the job hung after a rank raised in backward: {e}")
    out = f"rc={r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    assert time.monotonic() - t0 < 90, out
    assert r.returncode != 0, out
    assert "ValueError: boom in backward on rank 1" in r.stderr and "[rank 1]" in r.stderr, out
    assert "rank 0 finished backward" not in r.stdout, out


@needs_mpi
def test_mnist_ddp_example_smoke():
    from test_mnist import mnist_dir
    data = mnist_dir()
    r = subprocess.run([MPIEXEC, "-n", "2", sys.executable, os.path.join(ROOT, "examples", "mnist_ddp.py"),
                        "--epochs", "1", "--limit-batches", "40", "--data-dir", data, "--no-download"],
                       env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("2 ranks x batch 64 = global batch 128"), r.stdout
    acc = [float(m.group(1)) for m in re.finditer(r"epoch 1/1 .* test accuracy ([\d.]+)%", r.stdout)]
    assert len(acc) == 1, r.stdout  # printed by rank 0 only
    assert acc[0] > 70, r.stdout    # 40 steps of a global batch of 128 already learn


# ---------------------------------------------------------------------------- without MPI

def test_needs_a_process_group():
    from tinygrad_cpp.nn.parallel import DistributedDataParallel
    assert tg.nn.parallel.DistributedDataParallel is DistributedDataParallel
    with pytest.raises(ValueError) as ours:
        DistributedDataParallel(tg.nn.Linear(2, 2))
    assert str(ours.value) == ("Default process group has not been initialized, please make sure to call "
                               "init_process_group.")
    if torch is not None:
        with pytest.raises(ValueError) as theirs:
            torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(2, 2))
        assert str(ours.value) == str(theirs.value)


def test_final_callbacks():
    engine = tg.autograd.Variable._execution_engine
    with pytest.raises(RuntimeError, match="Final callbacks can only be installed during backward pass."):
        engine.queue_callback(lambda: None)
    x = tg.randn(3, requires_grad=True)
    log = []

    def hook(p):
        # runs during backward; the callbacks run after it, in order, and may queue more
        log.append("hook")
        engine.queue_callback(lambda: (log.append(("first", p.grad.sum().item())),
                                       engine.queue_callback(lambda: log.append("nested"))))
        engine.queue_callback(lambda: log.append("second"))
    x.register_post_accumulate_grad_hook(hook)
    (x * 2).sum().backward()
    assert log == ["hook", ("first", 6.0), "second", "nested"]
    log.clear()
    tg.autograd.grad((x * x).sum(), [x])  # no accumulation: no post-accumulate hook, no callback
    assert log == []
    # autograd.grad runs the callbacks its hooks queue
    y = tg.randn(2, requires_grad=True)
    y.register_hook(lambda g: engine.queue_callback(lambda: log.append("grad cb")))
    tg.autograd.grad((y * 3).sum(), [y])
    assert log == ["grad cb"]
    with pytest.raises(TypeError):
        z = tg.randn(2, requires_grad=True)
        z.register_hook(lambda g: engine.queue_callback(5))
        z.sum().backward()


def test_final_callbacks_dropped_when_backward_raises():
    engine = tg.autograd.Variable._execution_engine
    x = tg.randn(3, requires_grad=True)
    log = []

    def hook(g):
        engine.queue_callback(lambda: log.append("callback"))
        raise ValueError("hook failed")
    x.register_hook(hook)
    with pytest.raises(ValueError, match="hook failed"):
        (x * 2).sum().backward()
    assert log == []
    # the next backward starts clean
    w = tg.randn(2, requires_grad=True)
    w.register_hook(lambda g: engine.queue_callback(lambda: log.append("ok")))
    w.sum().backward()
    assert log == ["ok"]


def test_final_callbacks_match_torch():
    if torch is None:
        pytest.skip("torch not installed")
    for lib in (torch, tg):
        engine = lib.autograd.Variable._execution_engine
        x = lib.ones(3, requires_grad=True)
        log = []
        x.register_hook(lambda g: engine.queue_callback(
            lambda: (log.append(1), engine.queue_callback(lambda: log.append(2)))))
        x.sum().backward()
        assert log == [1, 2], lib
        with pytest.raises(RuntimeError) as e:
            engine.queue_callback(print)
        assert str(e.value) == "Final callbacks can only be installed during backward pass."
