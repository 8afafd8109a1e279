"""The reference MNIST MLP epoch (784-128-64-10, ReLU, cross-entropy, SGD lr=0.01
momentum=0.9) under CPU contention, for tinygrad_cpp and PyTorch with identical code but
for the import line: seconds per epoch with 1 thread and with each library's default
thread count, on a quiet machine and beside one and two busy-looping processes that this
script starts itself and stops by their process id.

    python bench/contention.py [--loads 0 1 2] [--batch-sizes 64 256] [--repeat 3]
                               [--images 60000] [--markdown]

Every measurement runs in a fresh subprocess and times the training loop only; figures are
medians over --repeat runs. The point is the default/1-thread ratio under load: a parallel
region stalls whenever a busy process holds one of its cores, so the default should cost
at most 1.2x the 1-thread epoch beside one busy process and 1.5x beside two. On a quiet
machine the summary compares the default-thread epochs with PyTorch's instead."""
import argparse
import importlib.util
import json
import os
import signal
import statistics
import subprocess
import sys
import time

import numpy as np

from mnist_data import DEFAULT_DATA, equal_init, load_mnist

# Unset for "default" runs, so that each library picks its own thread count.
THREAD_VARS = ("OMP_NUM_THREADS", "TG_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
# Targets for tg default / tg 1 thread, by number of busy processes; and, on a quiet
# machine, for tg default / torch default (not slower than PyTorch).
RATIO_TARGETS = {1: 1.2, 2: 1.5}
QUIET_TARGET = 1.0
HOG_SETTLE_S = 0.5


def worker(lib_name, batch, threads, images, data_dir):
    """One measurement in this (fresh) process; prints a JSON line."""
    xtr, ytr = load_mnist(data_dir, test=False)  # before the import and outside the timing
    if lib_name == "torch":
        import torch as lib
    else:
        import tinygrad_cpp as lib
    nn, optim = lib.nn, lib.optim
    # ---- from here on the code is identical for both libraries ----
    if threads != "default":
        lib.set_num_threads(int(threads))
    lib.manual_seed(0)
    X, Y = lib.from_numpy(xtr), lib.from_numpy(ytr)
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
    # One starting point and one batch order for both libraries, drawn with numpy.
    rng = np.random.default_rng(0)
    equal_init(lib, model, rng)
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    start = time.perf_counter()
    perm = lib.from_numpy(rng.permutation(X.shape[0])[:images])  # --images: first N of it
    for i in range(0, perm.shape[0], batch):
        idx = perm[i:i + batch]
        x, y = X[idx], Y[idx]
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
    epoch_s = time.perf_counter() - start
    print(json.dumps({"epoch_s": epoch_s, "loss": loss.item(), "threads": lib.get_num_threads()}))


def measure(lib, batch, threads, args):
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    if threads != "default":
        env["OMP_NUM_THREADS"] = threads
    out = subprocess.run([sys.executable, __file__, "--worker", lib, str(batch), threads,
                          str(args.images), args.data_dir], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"{lib} worker failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def start_hogs(n):
    """n single-threaded busy loops; the caller stops them with stop_hogs (in a finally)."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(n)]


def stop_hogs(hogs):
    for h in hogs:  # by process id: Popen signals h.pid, and only if not yet reaped
        h.terminate()
    for h in hogs:
        try:
            h.wait(timeout=2)
        except subprocess.TimeoutExpired:
            h.kill()
            h.wait()


def fmt(v, spec=".2f"):
    return "n/a" if v is None else format(v, spec)


def div(a, b):
    return None if a is None or b is None else a / b


def run_load(load, libs, args):
    """All measurements beside `load` busy processes: {batch: {(lib, threads): median dict}}."""
    hogs = start_hogs(load)
    try:
        time.sleep(HOG_SETTLE_S if hogs else 0)  # let the scheduler spread the hogs first
        res = {}
        for batch in args.batch_sizes:
            runs = {(lib, thr): [] for thr in ("1", "default") for lib in libs}
            # Interleaved (tg 1, torch 1, tg default, torch default, tg 1, ...) so that slow
            # drift of the machine weighs on every column and on both ratios alike.
            for _ in range(args.repeat):
                for key in runs:
                    runs[key].append(measure(key[0], batch, key[1], args))
            res[batch] = {key: {"epoch_s": statistics.median(r["epoch_s"] for r in rs),
                                "loss": statistics.median(r["loss"] for r in rs),
                                "threads": rs[0]["threads"]} for key, rs in runs.items()}
            for (lib, thr), m in res[batch].items():  # a 1-thread run that isn't would void the ratio
                if thr == "1" and m["threads"] != 1:
                    print(f"warning: {lib} reported {m['threads']} threads in a 1-thread run", flush=True)
            print_row(batch, res[batch])
        return res
    finally:
        stop_hogs(hogs)


def cell(row, lib, thr, field="epoch_s"):
    return row.get((lib, thr), {}).get(field)


def print_row(batch, row):
    tg = [cell(row, "tinygrad_cpp", t) for t in ("1", "default")]
    th = [cell(row, "torch", t) for t in ("1", "default")]
    thr = f"{cell(row, 'tinygrad_cpp', 'default', 'threads')}/{fmt(cell(row, 'torch', 'default', 'threads'), 'd')}"
    loss = f"{cell(row, 'tinygrad_cpp', 'default', 'loss'):.3f}/{fmt(cell(row, 'torch', 'default', 'loss'), '.3f')}"
    print(f"{batch:>5} | {tg[0]:>7.3f} {tg[1]:>7.3f} {div(tg[1], tg[0]):>6.2f} | {fmt(th[0], '.3f'):>7} "
          f"{fmt(th[1], '.3f'):>7} {fmt(div(th[1], th[0])):>6} | {fmt(div(tg[1], th[1])):>8} | "
          f"{thr:>7} | {loss:>11}", flush=True)


def load_name(load):
    return "quiet" if load == 0 else f"{load} busy process" + ("es" if load > 1 else "")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--loads", type=int, nargs="+", default=[0, 1, 2], help="busy processes beside")
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 256])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--images", type=int, default=60000, help="train on the first N of the permutation")
    ap.add_argument("--data-dir", default=os.environ.get("MNIST_DIR", DEFAULT_DATA))
    ap.add_argument("--markdown", action="store_true", help="also print one markdown table")
    ap.add_argument("--no-torch", action="store_true", help="tinygrad_cpp only (quicker under load)")
    ap.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        lib, batch, threads, images, data_dir = args.worker
        worker(lib, int(batch), threads, int(images), data_dir)
        return 0
    # A SIGTERM must unwind through the finally blocks too, or the hogs would outlive us.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    # find_spec rather than an import: torch's import costs a second and 300 MB here.
    libs = ["tinygrad_cpp"] + (["torch"] if importlib.util.find_spec("torch") and not args.no_torch else [])
    print("loadavg %.2f %.2f %.2f" % os.getloadavg(),
          f"| cpu_count {os.cpu_count()} | affinity {len(os.sched_getaffinity(0))} CPUs")
    if 0 in args.loads and os.getloadavg()[0] > 0.5:  # someone else's work skews every row
        print("note: 1-minute load average above 0.5 before the start: the quiet rows may not be quiet")
    print(f"MNIST MLP, one epoch = {args.images:,} images; seconds, medians of {args.repeat} run(s); "
          "dflt = the library's own thread count (shown as tg/th), th = PyTorch")
    results = {}
    for load in args.loads:
        print(f"\n-- {load_name(load)} --")
        print(f"{'batch':>5} | {'tg 1thr':>7} {'tg dflt':>7} {'dflt/1':>6} | {'th 1thr':>7} {'th dflt':>7} "
              f"{'dflt/1':>6} | {'tg/th':>8} | {'dflt thr':>7} | {'loss tg/th':>11}")
        results[load] = run_load(load, libs, args)

    print("\nsummary (targets: tg dflt/1thr <= 1.2 beside one busy process, <= 1.5 beside two;"
          f" quiet: tg/torch at dflt <= {QUIET_TARGET})")
    for load, res in results.items():
        for batch, row in res.items():
            tg1, tgd = cell(row, "tinygrad_cpp", "1"), cell(row, "tinygrad_cpp", "default")
            if load == 0:
                what, value, target = "tg/torch dflt", div(tgd, cell(row, "torch", "default")), QUIET_TARGET
            else:
                what, value, target = "tg dflt/1thr", tgd / tg1, RATIO_TARGETS.get(load)
            verdict = "n/a" if value is None or target is None else ("ok" if value <= target else "MISSED")
            print(f"  {load_name(load):<18} batch {batch:>4}: {what:<13} {fmt(value):>5}"
                  f" (target <= {fmt(target)})  {verdict}")

    if args.markdown:
        def secs(row, lib, thr):
            s = cell(row, lib, thr)
            return "n/a" if s is None else f"{s:.2f} s" + (
                f" ({cell(row, lib, thr, 'threads')} thr)" if thr == "default" else "")
        print("\n| load | batch | tg 1 thr | tg default | ratio | torch 1 thr | torch default | ratio |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for load, res in results.items():
            for batch, row in res.items():
                r = [fmt(div(cell(row, lib, "default"), cell(row, lib, "1"))) for lib in ("tinygrad_cpp", "torch")]
                print(f"| {load_name(load)} | {batch} | {secs(row, 'tinygrad_cpp', '1')} | "
                      f"{secs(row, 'tinygrad_cpp', 'default')} | {r[0]} | {secs(row, 'torch', '1')} | "
                      f"{secs(row, 'torch', 'default')} | {r[1]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
