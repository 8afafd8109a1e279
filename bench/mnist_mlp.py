"""The reference MLP (784-128-64-10, ReLU, cross-entropy, SGD lr=0.01 momentum=0.9) on
the 60,000 MNIST images, for tinygrad_cpp and PyTorch with identical code but for the
import line: seconds per epoch at several batch sizes and thread counts, test accuracy,
the memory the framework adds (peak RSS minus RSS just before the import; the data is
loaded with numpy before the import and shared with the tensors, so it is excluded) and
the import time.

    python bench/mnist_mlp.py [--batch-sizes 32 64 128 256] [--threads 1 2] [--repeat 3]

Every measurement runs in a fresh subprocess; figures are medians over --repeat runs and
the last column is tinygrad_cpp's epoch time over PyTorch's (below 1 means faster)."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

from common import reset_peak_rss, rss_kb
from mnist_data import DEFAULT_DATA, equal_init, load_mnist


def worker(lib_name, batch, threads, epochs, data_dir):
    """One measurement in this (fresh) process; prints a JSON line."""
    xtr, ytr, xte, yte = load_mnist(data_dir)
    reset_peak_rss()
    rss_before = rss_kb("VmRSS")
    t0 = time.perf_counter()
    if lib_name == "torch":
        import torch as lib
    else:
        import tinygrad_cpp as lib
    import_s = time.perf_counter() - t0
    nn, optim = lib.nn, lib.optim
    # ---- from here on the code is identical for both libraries ----
    lib.set_num_threads(threads)
    lib.manual_seed(0)
    X, Y, Xte, Yte = (lib.from_numpy(a) for a in (xtr, ytr, xte, yte))
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
    # One starting point and one batch order for both libraries, drawn with numpy.
    rng = np.random.default_rng(0)
    equal_init(lib, model, rng)
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    epoch_s = []
    for _ in range(epochs):
        start = time.perf_counter()
        perm = lib.from_numpy(rng.permutation(X.shape[0]))
        for i in range(0, X.shape[0], batch):
            idx = perm[i:i + batch]
            x, y = X[idx], Y[idx]
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
        epoch_s.append(time.perf_counter() - start)
    with lib.no_grad():
        acc = (model(Xte).argmax(1) == Yte).float().mean().item()
    print(json.dumps({"epoch_s": min(epoch_s), "acc": acc, "import_s": import_s,
                      "added_mb": (rss_kb("VmHWM") - rss_before) / 1024}))


def measure(lib, batch, threads, args):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    out = subprocess.run([sys.executable, __file__, "--worker", lib, str(batch), str(threads),
                          str(args.epochs), args.data_dir], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"{lib} worker failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 64, 128, 256])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=1, help="epochs per run (the fastest is kept)")
    ap.add_argument("--data-dir", default=os.environ.get("MNIST_DIR", DEFAULT_DATA))
    ap.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        lib, batch, threads, epochs, data_dir = args.worker
        worker(lib, int(batch), int(threads), int(epochs), data_dir)
        return 0
    try:
        import torch  # noqa: F401
        libs = ["tinygrad_cpp", "torch"]
    except ImportError:
        libs = ["tinygrad_cpp"]
    print(f"MNIST MLP, 1 epoch = 60,000 images; medians of {args.repeat} runs")
    print(f"{'batch':>5} {'thr':>3} | {'tg s/epoch':>10} {'torch':>8} {'ratio':>6} | {'tg acc':>7} {'torch':>7} |"
          f" {'tg MB':>6} {'torch':>6} | {'tg import':>9} {'torch':>7}")
    for threads in args.threads:
        for batch in args.batch_sizes:
            res = {lib: [measure(lib, batch, threads, args) for _ in range(args.repeat)] for lib in libs}
            med = {lib: {k: statistics.median(r[k] for r in runs) for k in runs[0]} for lib, runs in res.items()}
            tg_, th = med["tinygrad_cpp"], med.get("torch")
            f = (lambda k, fmt: format(th[k], fmt)) if th else (lambda k, fmt: "n/a")
            ratio = format(tg_["epoch_s"] / th["epoch_s"], ".2f") if th else "n/a"
            print(f"{batch:>5} {threads:>3} | {tg_['epoch_s']:>10.2f} {f('epoch_s', '.2f'):>8} {ratio:>6} | "
                  f"{100 * tg_['acc']:>6.2f}% {f('acc', '.2%'):>7} | {tg_['added_mb']:>6.0f} {f('added_mb', '.0f'):>6} | "
                  f"{tg_['import_s']:>8.3f}s {f('import_s', '.3f'):>6}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
