"""What each speed lever buys: the same workload timed with the lever off ("before") and
on ("after"), medians of --repeat timed loops, one thread unless a row says otherwise.

    python bench/levers.py [--repeat 5]

Workloads: one training step (forward, backward, SGD with momentum) of the reference MLP
784-128-64-10 at batch 64, and single calls where a lever acts on one op. Levers:
  - GEMM micro-kernel: portable C++ -> AVX2+FMA -> AVX-512 (tg._C._set_gemm_isa);
  - threads: 1 -> 2 (tg.set_num_threads; the pool in csrc/core/parallel.cpp);
  - buffer pool: TG_NO_POOL=1 -> default (a fresh process each, as the switch is read once);
  - fused linear: `x @ w.T + b` (matmul and add, two nodes) -> F.linear (one node);
  - fused cross entropy: F.nll_loss(F.log_softmax(x, 1), y) -> F.cross_entropy(x, y);
  - optimizer: a Python loop of in-place tensor ops per parameter -> optim.SGD.step
    (one C++ call for the whole group).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np


def per_call_us(fn, repeat, min_time=0.05):
    fn()
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        if time.perf_counter() - t0 >= min_time:
            break
        n *= 2
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        times.append((time.perf_counter() - t0) / n * 1e6)
    return statistics.median(times)


def mlp(tg):
    nn = tg.nn
    tg.manual_seed(0)
    return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))


def batch(tg, n):
    rng = np.random.default_rng(0)
    return tg.tensor(rng.random((n, 784), dtype=np.float32)), tg.tensor(rng.integers(0, 10, n))


def train_step(tg, batch_size=64, python_optimizer=False):
    model = mlp(tg)
    params = list(model.parameters())
    opt = tg.optim.SGD(params, lr=0.01, momentum=0.9)
    update = python_sgd(tg, params) if python_optimizer else opt.step
    loss_fn = tg.nn.CrossEntropyLoss()
    x, y = batch(tg, batch_size)

    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        update()
    return step


def python_sgd(tg, params, lr=0.01, momentum=0.9):
    """SGD with momentum as a per-parameter loop of tensor ops (what the fused step replaces)."""
    bufs = [None] * len(params)

    def update():
        with tg.no_grad():
            for i, p in enumerate(params):
                if bufs[i] is None:
                    bufs[i] = p.grad.clone()
                else:
                    bufs[i].mul_(momentum).add_(p.grad)
                p.add_(bufs[i], alpha=-lr)
    return update


def in_process(repeat):
    """The levers that can be switched inside one process."""
    import tinygrad_cpp as tg
    import tinygrad_cpp.nn.functional as F
    tg.set_num_threads(1)
    rows = []
    step = train_step(tg)
    best = tg._C._gemm_isa()
    isas = ["portable", "avx2", "avx512"][:["portable", "avx2", "avx512"].index(best) + 1]
    times = {}
    for isa in isas:
        tg._C._set_gemm_isa(isa)
        times[isa] = per_call_us(step, repeat)
    tg._C._set_gemm_isa(best)
    for lo, hi in zip(isas, isas[1:]):
        rows.append((f"GEMM kernel {lo} -> {hi}", "train step b=64", times[lo], times[hi]))

    for bs in (64, 256):
        step_b = train_step(tg, bs)
        one = per_call_us(step_b, repeat)
        tg.set_num_threads(2)
        two = per_call_us(step_b, repeat)
        tg.set_num_threads(1)
        rows.append(("threads, 1 -> 2", f"train step b={bs}", one, two))

    rng = np.random.default_rng(1)
    x = tg.tensor(rng.standard_normal((64, 784), dtype=np.float32), requires_grad=True)
    w = tg.tensor(rng.standard_normal((128, 784), dtype=np.float32) * 0.03, requires_grad=True)
    b = tg.tensor(rng.standard_normal(128, dtype=np.float32), requires_grad=True)
    rows.append(("fused linear", "x@W1.T+b fwd+bwd b=64",
                 per_call_us(lambda: (x @ w.T + b).sum().backward(), repeat),
                 per_call_us(lambda: F.linear(x, w, b).sum().backward(), repeat)))

    logits = tg.tensor(rng.standard_normal((512, 1000), dtype=np.float32), requires_grad=True)
    target = tg.tensor(rng.integers(0, 1000, 512))
    rows.append(("fused cross entropy", "[512,1000] fwd+bwd",
                 per_call_us(lambda: F.nll_loss(F.log_softmax(logits, 1), target).backward(), repeat),
                 per_call_us(lambda: F.cross_entropy(logits, target).backward(), repeat)))

    rows.append(("one optimizer call per group", "train step b=64",
                 per_call_us(train_step(tg, python_optimizer=True), repeat),
                 per_call_us(train_step(tg), repeat)))
    return rows


def pool_child(repeat):
    import tinygrad_cpp as tg
    tg.set_num_threads(1)
    a, b = tg.ones(1000), tg.ones(1000)
    step = train_step(tg)
    print(json.dumps({"add": per_call_us(lambda: a + b, repeat), "step": per_call_us(step, repeat),
                      "enabled": tg._C._pool_stats()["enabled"]}))


def pool_rows(repeat):
    res = {}
    for off in (True, False):
        env = dict(os.environ, OMP_NUM_THREADS="1")
        env.pop("TG_NO_POOL", None)
        if off:
            env["TG_NO_POOL"] = "1"
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--pool-child", "--repeat", str(repeat)],
                             env=env, check=True, capture_output=True, text=True)
        res[off] = json.loads(out.stdout.strip().splitlines()[-1])
        assert res[off]["enabled"] is (not off)
    return [("buffer pool", "add n=1000", res[True]["add"], res[False]["add"]),
            ("buffer pool", "train step b=64", res[True]["step"], res[False]["step"])]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--pool-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.pool_child:
        return pool_child(args.repeat)
    rows = in_process(args.repeat) + pool_rows(args.repeat)
    print(f"median of {args.repeat} runs, microseconds per call (1 thread unless the lever is threads)")
    print(f"{'lever':32s} {'workload':24s} {'before':>9} {'after':>9} {'speedup':>8}")
    for lever, work, before, after in rows:
        print(f"{lever:32s} {work:24s} {before:9.1f} {after:9.1f} {before / after:7.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
