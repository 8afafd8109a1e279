"""Per-call overhead of tiny ops from Python, and one full training step of the reference
MLP (784-128-64-10, ReLU, cross-entropy, SGD lr=0.01 momentum=0.9) at batch 1 and 64,
for tinygrad_cpp and PyTorch side by side (numpy where it has the op).

    python bench/ops.py [--threads 1] [--repeat 5]

Each figure is the median over --repeat runs of a timed loop; ratios are tinygrad_cpp's
time over PyTorch's (below 1 means faster)."""
import argparse
import statistics
import sys
import time

import numpy as np

import tinygrad_cpp as tg

try:
    import torch
except ImportError:
    torch = None


def per_call_us(fn, min_time=0.05):
    n = 1
    while True:  # grow the loop until it runs long enough to time
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt >= min_time:
            return dt / n * 1e6
        n *= 2


def median_us(fn, repeat):
    return statistics.median(per_call_us(fn) for _ in range(repeat))


def tiny_ops(lib, n):
    rng = np.random.default_rng(0)
    a_np, b_np = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
    m_np = rng.standard_normal((1, 1) if n == 1 else (25, 40)).astype(np.float32)
    w_np = rng.standard_normal((1, 1) if n == 1 else (40, 25)).astype(np.float32)
    if lib == "numpy":
        a, b, m, w = a_np, b_np, m_np, w_np
        return {"add": lambda: a + b, "mul": lambda: a * b, "relu": lambda: np.maximum(a, 0),
                "sum": lambda: a.sum(), "matmul": lambda: m @ w}
    mod = tg if lib == "tinygrad_cpp" else torch
    a, b, m, w = (mod.tensor(x) for x in (a_np, b_np, m_np, w_np))
    return {"add": lambda: a + b, "mul": lambda: a * b, "relu": lambda: a.relu(),
            "sum": lambda: a.sum(), "matmul": lambda: m @ w}


def train_step(lib, batch):
    mod = tg if lib == "tinygrad_cpp" else torch
    nn, optim = mod.nn, mod.optim
    mod.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(0)
    x = mod.tensor(rng.random((batch, 784), dtype=np.float32))
    y = mod.tensor(rng.integers(0, 10, batch))

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
    return step


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    tg.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    libs = ["tinygrad_cpp"] + (["torch"] if torch is not None else [])
    print(f"threads={args.threads}, median of {args.repeat} runs, microseconds per call")
    print(f"{'case':<24}{'tinygrad_cpp':>14}{'torch':>10}{'numpy':>10}{'tg/torch':>10}")
    for n in (1, 1000):
        cases = {lib: tiny_ops(lib, n) for lib in libs + ["numpy"]}
        for op in cases["tinygrad_cpp"]:
            t = {lib: median_us(cases[lib][op], args.repeat) for lib in cases}
            tt = t.get("torch")
            print(f"{op + f' n={n}':<24}{t['tinygrad_cpp']:>14.2f}{tt if tt else float('nan'):>10.2f}"
                  f"{t['numpy']:>10.2f}{t['tinygrad_cpp'] / tt if tt else float('nan'):>10.2f}")
    for batch in (1, 64):
        t = {lib: median_us(train_step(lib, batch), args.repeat) for lib in libs}
        tt = t.get("torch")
        print(f"{f'train step batch={batch}':<24}{t['tinygrad_cpp']:>14.2f}{tt if tt else float('nan'):>10.2f}"
              f"{'':>10}{t['tinygrad_cpp'] / tt if tt else float('nan'):>10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
