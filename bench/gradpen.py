"""Double backward, side by side with PyTorch 2.13: a training step of the README's MNIST
MLP (784-128-64-10, ReLU, batch 64, SGD) whose loss adds a gradient penalty on the
inputs ("double backpropagation", Drucker & LeCun; WGAN-GP's penalty has the same
shape):

    loss = cross_entropy(model(x), y) + 0.1 * mean(|d cross_entropy / d x|^2)

so every step runs backward twice: once recorded (create_graph=True) for the input
gradient, once through that graph for the parameters. Printed: ms per step, and the
plain step (no penalty) for reference, at 1 and 2 threads.

    python bench/gradpen.py [--threads 1 2] [--repeat 5] [--steps 50]

Each figure runs in a fresh subprocess per library with the same numpy-drawn weights and
batches; medians over --repeat runs; ratio = tinygrad_cpp / PyTorch (below 1 is faster)."""
import argparse
import json
import os
import statistics
import sys

import numpy as np

from common import median_ms, run_worker, torch_available
from mnist_data import DEFAULT_DATA, load_mnist

BATCH = 64


def worker(lib_name, threads, steps, data_dir):
    lib = __import__("torch" if lib_name == "torch" else "tinygrad_cpp")
    lib.set_num_threads(threads)
    nn, F = lib.nn, lib.nn.functional
    x_np, y_np = load_mnist(data_dir, test=False)
    x_np = ((x_np[:BATCH * 8] - 0.1307) / 0.3081).reshape(-1, 784).astype(np.float32)
    y_np = y_np[:BATCH * 8].astype(np.int64)
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
    rng = np.random.default_rng(0)
    with lib.no_grad():
        for p in model.parameters():
            p.copy_(lib.from_numpy((0.05 * rng.standard_normal(tuple(p.shape))).astype(np.float32)))
    opt = lib.optim.SGD(model.parameters(), lr=0.01)
    batches = [(lib.from_numpy(x_np[i:i + BATCH].copy()), lib.from_numpy(y_np[i:i + BATCH].copy()))
               for i in range(0, len(x_np), BATCH)]
    last = {}

    def step(penalty, i=[0]):
        x, y = batches[i[0] % len(batches)]
        i[0] += 1
        opt.zero_grad()
        if penalty:
            x = x.clone().requires_grad_(True)
        ce = F.cross_entropy(model(x), y)
        loss = ce
        if penalty:
            (gx,) = lib.autograd.grad(ce, x, create_graph=True)
            loss = ce + 0.1 * gx.pow(2).sum(1).mean()
        loss.backward()
        opt.step()
        last["loss"] = loss.item()

    pen_ms = median_ms(lambda: step(True), steps)
    pen_loss = last["loss"]
    plain_ms = median_ms(lambda: step(False), steps)
    print(json.dumps({"penalty_ms": pen_ms, "plain_ms": plain_ms, "loss": pen_loss}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--steps", type=int, default=50, help="timed steps inside each run")
    ap.add_argument("--data-dir", default=os.environ.get("MNIST_DIR", DEFAULT_DATA))
    ap.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        lib, threads, steps, data_dir = args.worker
        worker(lib, int(threads), int(steps), data_dir)
        return 0
    libs = ["tinygrad_cpp", "torch"] if torch_available() else ["tinygrad_cpp"]
    print(f"MNIST MLP with an input-gradient penalty (double backward), batch {BATCH}, SGD; "
          f"medians of {args.repeat} runs x {args.steps} steps")
    print(f"{'thr':>3} | {'tg ms/step':>10} {'torch':>7} {'ratio':>5} | {'plain tg':>8} {'torch':>7} {'ratio':>5} |"
          f" {'tg loss':>8} {'torch':>8}")
    for threads in args.threads:
        res = {lib: [run_worker(__file__, lib, threads, [args.steps, args.data_dir]) for _ in range(args.repeat)]
               for lib in libs}
        med = {lib: {k: statistics.median(r[k] for r in runs) for k in runs[0]} for lib, runs in res.items()}
        tg_, th = med["tinygrad_cpp"], med.get("torch")
        f = (lambda k, fmt: format(th[k], fmt)) if th else (lambda k, fmt: "n/a")
        r = (lambda k: format(tg_[k] / th[k], ".2f")) if th else (lambda k: "n/a")
        print(f"{threads:>3} | {tg_['penalty_ms']:>10.3f} {f('penalty_ms', '.3f'):>7} {r('penalty_ms'):>5} | "
              f"{tg_['plain_ms']:>8.3f} {f('plain_ms', '.3f'):>7} {r('plain_ms'):>5} | {tg_['loss']:>8.5f} "
              f"{f('loss', '.5f'):>8}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
