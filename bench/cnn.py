"""PyTorch's MNIST CNN (the pytorch/examples Net: conv 1->32 3x3, relu, conv 32->64 3x3,
relu, max_pool2d 2, dropout, fc 9216->128, relu, dropout, fc 128->10, log_softmax +
nll_loss) trained with SGD momentum at batch 64, tinygrad_cpp beside PyTorch 2.13:

  * ms per training step (forward, backward, optimizer step) at 1 and 2 threads;
  * the convolutions alone: conv2 (the 32->64 layer, 90% of the FLOPs) forward and
    backward in GFLOP/s, beside our GEMM's GFLOP/s on a product of the same FLOP count
    (the target: convolution at >= 70% of the GEMM's rate);
  * the memory training adds at its peak (peak RSS over the three first steps, less the
    RSS with the model and the batches in place).

    python bench/cnn.py [--threads 1 2] [--repeat 5] [--steps 30]

Each figure runs in a fresh subprocess with the same numpy-drawn weights and batch for both
libraries; medians over --repeat runs; ratio = tinygrad_cpp / PyTorch (below 1 is faster)."""
import argparse
import json
import os
import statistics
import sys

import numpy as np

from common import median_ms, reset_peak_rss, rss_kb, run_worker, torch_available, use_isa
from mnist_data import DEFAULT_DATA, load_mnist

BATCH = 64


def build(lib):
    nn, F = lib.nn, lib.nn.functional

    class Net(nn.Module):  # pytorch/examples mnist/main.py, verbatim but for the import
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, 1)
            self.conv2 = nn.Conv2d(32, 64, 3, 1)
            self.dropout1 = nn.Dropout(0.25)
            self.dropout2 = nn.Dropout(0.5)
            self.fc1 = nn.Linear(9216, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = self.conv1(x)
            x = F.relu(x)
            x = self.conv2(x)
            x = F.relu(x)
            x = F.max_pool2d(x, 2)
            x = self.dropout1(x)
            x = lib.flatten(x, 1)
            x = self.fc1(x)
            x = F.relu(x)
            x = self.dropout2(x)
            x = self.fc2(x)
            return F.log_softmax(x, dim=1)

    model = Net()
    rng = np.random.default_rng(0)
    with lib.no_grad():  # one starting point for both libraries
        for p in model.parameters():
            bound = 1 / np.sqrt(np.prod(p.shape[1:])) if p.dim() > 1 else 0.05
            p.copy_(lib.from_numpy(rng.uniform(-bound, bound, tuple(p.shape)).astype(np.float32)))
    return model


def worker(lib_name, threads, steps, data_dir):
    x_np, y_np = load_mnist(data_dir, test=False)
    x_np = ((x_np[:BATCH * 8] - 0.1307) / 0.3081).reshape(-1, 1, 28, 28)
    y_np = y_np[:BATCH * 8]
    lib = __import__("torch" if lib_name == "torch" else "tinygrad_cpp")
    lib.set_num_threads(threads)
    lib.manual_seed(0)
    F = lib.nn.functional
    model = build(lib)
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    batches = [(lib.from_numpy(x_np[i:i + BATCH].copy()), lib.from_numpy(y_np[i:i + BATCH].copy()))
               for i in range(0, len(x_np), BATCH)]

    def step(i=[0]):
        x, y = batches[i[0] % len(batches)]
        i[0] += 1
        opt.zero_grad()
        loss = F.nll_loss(model(x), y)
        loss.backward()
        opt.step()

    reset_peak_rss()
    before = rss_kb("VmRSS")
    for _ in range(3):
        step()
    # what training needs beyond the model and the data: activations, gradients, optimizer
    # state and whatever the library keeps cached between steps
    peak_mb = (rss_kb("VmHWM") - before) / 1024
    step_ms = median_ms(step, steps)

    # conv2 alone, forward and forward + backward, and a GEMM of the same FLOP count
    x = lib.from_numpy(np.random.default_rng(1).standard_normal((BATCH, 32, 26, 26)).astype(np.float32))
    x.requires_grad_(True)
    w = model.conv2.weight.detach().clone().requires_grad_(True)
    gy = lib.ones(BATCH, 64, 24, 24)
    with lib.no_grad():
        fwd_ms = median_ms(lambda: F.conv2d(x, w), steps)

    def fwd_bwd():
        F.conv2d(x, w).backward(gy)
    bwd_ms = median_ms(fwd_bwd, steps) - fwd_ms
    flops = 2 * BATCH * 64 * 32 * 9 * 24 * 24  # one direction; backward does two of these
    out = {"step_ms": step_ms, "peak_mb": peak_mb, "conv_fwd_gflops": flops / fwd_ms / 1e6,
           "conv_bwd_gflops": 2 * flops / bwd_ms / 1e6}
    if lib_name != "torch":  # the GEMM with conv2's FLOPs: [64 x 288] @ [288 x 64*576]
        a, b = lib.randn(64, 288), lib.randn(288, BATCH * 576)
        out["gemm_gflops"] = flops / median_ms(lambda: a @ b, steps) / 1e6
    print(json.dumps(out))


def measure(lib, threads, args):
    return run_worker(__file__, lib, threads, [args.steps, args.data_dir], isa=args.isa)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--steps", type=int, default=30, help="timed repetitions inside each run")
    ap.add_argument("--isa", choices=["avx512", "avx2", "portable"],
                    help="force tinygrad_cpp's kernels (avx2: PyTorch's oneDNN, ATen and MKL too)")
    ap.add_argument("--data-dir", default=os.environ.get("MNIST_DIR", DEFAULT_DATA))
    ap.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        lib, threads, steps, data_dir = args.worker
        use_isa(lib)
        worker(lib, int(threads), int(steps), data_dir)
        return 0
    libs = ["tinygrad_cpp", "torch"] if torch_available() else ["tinygrad_cpp"]
    print(f"MNIST CNN (pytorch/examples Net), batch {BATCH}, SGD momentum; medians of {args.repeat} runs"
          + (f"; tinygrad_cpp on {args.isa}" if args.isa else ""))
    print(f"{'thr':>3} | {'tg ms/step':>10} {'torch':>7} {'ratio':>5} | {'conv2 fwd GF/s':>14} {'torch':>6} |"
          f" {'bwd GF/s':>8} {'torch':>6} | {'tg GEMM GF/s':>12} | {'step MB':>7} {'torch':>6}")
    for threads in args.threads:
        res = {lib: [measure(lib, threads, args) for _ in range(args.repeat)] for lib in libs}
        med = {lib: {k: statistics.median(r[k] for r in runs) for k in runs[0]} for lib, runs in res.items()}
        tg_, th = med["tinygrad_cpp"], med.get("torch")
        f = (lambda k, fmt: format(th[k], fmt)) if th else (lambda k, fmt: "n/a")
        ratio = format(tg_["step_ms"] / th["step_ms"], ".2f") if th else "n/a"
        print(f"{threads:>3} | {tg_['step_ms']:>10.1f} {f('step_ms', '.1f'):>7} {ratio:>5} | "
              f"{tg_['conv_fwd_gflops']:>14.0f} {f('conv_fwd_gflops', '.0f'):>6} | {tg_['conv_bwd_gflops']:>8.0f} "
              f"{f('conv_bwd_gflops', '.0f'):>6} | {tg_['gemm_gflops']:>12.0f} | {tg_['peak_mb']:>7.1f} "
              f"{f('peak_mb', '.1f'):>6}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
