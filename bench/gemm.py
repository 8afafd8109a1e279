"""float32 GEMM throughput of tinygrad_cpp next to PyTorch (when importable) and numpy.

    PYTHONPATH=python python bench/gemm.py [--threads 1,2] [--repeats 7] [--clock wall|cpu]
                                           [--isa avx2]

Rows: square n x n @ n x n for n = 64 .. 2048, and the products of a 784-128-64-10 MLP
on a batch of 64, forward (x @ W.T with W stored [out, in], a transposed operand) and
backward (dx = g @ W, dW = g.T @ x, also the x.T @ g orientation). Each cell is GFLOP/s
(2*M*N*K / median seconds of several timed repeats, each repeat looping the call long
enough to be timed); the ratio columns divide tinygrad_cpp's figure by the others'.
Timings are wall clock, so a busy machine lowers every column: the load average is
printed first. On a shared machine `--clock cpu` times the 1-thread runs by the CPU time
of the calling thread instead (every library runs there with one thread), which leaves
out the time spent waiting for a core; runs with more threads always use wall clock.
The header also gives the single-thread FMA peak measured by a register-only loop in
the extension (`_C._fma_peak_gflops`, thread CPU time), and the summary the share of it
reached at n = 1024 and the 2-thread / 1-thread speedup.

Thread counts: each count runs in a fresh child process (this script re-executed with
`--child`), with tg.set_num_threads / torch.set_num_threads and, for numpy's OpenBLAS,
OPENBLAS_NUM_THREADS (and OMP_NUM_THREADS / MKL_NUM_THREADS) set in its environment,
because OpenBLAS reads them only when it loads. The children are started with
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed from the environment: this machine may
set them, and they can pin OpenBLAS to slower kernels than it picks by itself, which
would flatter the comparison.

`--isa avx2` measures the AVX2 paths on a CPU that also has AVX-512, as on the AVX2-only
CPUs most users have: our `_set_gemm_isa('avx2')`, OpenBLAS with OPENBLAS_CORETYPE=Haswell
(its AVX2 kernels) and PyTorch's MKL with MKL_ENABLE_INSTRUCTIONS=AVX2.
"""
import argparse
import json
import os
import subprocess
import sys
import time

SQUARE = [64, 128, 256, 512, 1024, 2048]
# (label, M, K, N, A transposed, B transposed): A is M x K, B is K x N.
MLP = [
    ("fwd x@W1.T  64x784@784x128", 64, 784, 128, False, True),
    ("fwd h@W2.T  64x128@128x64", 64, 128, 64, False, True),
    ("fwd h@W3.T  64x64@64x10", 64, 64, 10, False, True),
    ("bwd g@W1    64x128@128x784", 64, 128, 784, False, False),
    ("bwd g.T@x   128x64@64x784", 128, 64, 784, True, False),
    ("bwd x.T@g   784x64@64x128", 784, 64, 128, True, False),
    ("bwd g@W2    64x64@64x128", 64, 64, 128, False, False),
    ("bwd g.T@h   64x64@64x128", 64, 64, 128, True, False),
    ("bwd g@W3    64x10@10x64", 64, 10, 64, False, False),
    ("bwd g.T@h   10x64@64x64", 10, 64, 64, True, False),
]


def timed(f, repeats, clock=time.perf_counter, min_time=0.01):
    """Median seconds per call over `repeats` timed loops of >= min_time each."""
    f()
    n = 1
    while True:
        t0 = clock()
        for _ in range(n):
            f()
        if clock() - t0 >= min_time:
            break
        n *= 2
    times = []
    for _ in range(repeats):
        t0 = clock()
        for _ in range(n):
            f()
        times.append((clock() - t0) / n)
    times.sort()
    return times[len(times) // 2]


def child(threads, repeats, clock_name, isa):
    import numpy as np

    import tinygrad_cpp as tg
    if isa != "native":
        tg._C._set_gemm_isa(isa)
    try:
        import torch
    except ImportError:
        torch = None
    clock = time.thread_time if clock_name == "cpu" and threads == 1 else time.perf_counter
    tg.set_num_threads(threads)
    if torch is not None:
        torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    cases = [(f"square {n}", n, n, n, False, False) for n in SQUARE] + MLP
    rows = []
    for label, m, k, n, ta, tb in cases:
        # Operands stored as the transposes when the row says so, then viewed back.
        a0 = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
        b0 = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
        na, nb = (a0.T if ta else a0), (b0.T if tb else b0)
        ga, gb = tg.from_numpy(a0), tg.from_numpy(b0)
        ga, gb = (ga.T if ta else ga), (gb.T if tb else gb)
        flops = 2.0 * m * n * k
        row = {"label": label, "tg": flops / timed(lambda: ga @ gb, repeats, clock) / 1e9,
               "numpy": flops / timed(lambda: na @ nb, repeats, clock) / 1e9}
        if torch is not None:
            xa, xb = torch.from_numpy(a0), torch.from_numpy(b0)
            xa, xb = (xa.t() if ta else xa), (xb.t() if tb else xb)
            row["torch"] = flops / timed(lambda: xa @ xb, repeats, clock) / 1e9
        rows.append(row)
    peak = tg._C._fma_peak_gflops(0.5) if threads == 1 else None
    print(json.dumps({"threads": threads, "isa": tg._C._gemm_isa(), "peak": peak, "rows": rows,
                      "clock": "cpu" if clock is time.thread_time else "wall"}))


def run_child(threads, repeats, clock, isa):
    env = dict(os.environ)
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "MKL_ENABLE_INSTRUCTIONS"):
        env.pop(var, None)
    if isa == "avx2":
        env.update(OPENBLAS_CORETYPE="Haswell", MKL_ENABLE_INSTRUCTIONS="AVX2")
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", str(threads),
                          "--repeats", str(repeats), "--clock", clock, "--isa", isa],
                         env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="cpu: time 1-thread runs by thread CPU time (busy machines)")
    p.add_argument("--isa", choices=("native", "avx2"), default="native",
                   help="avx2: every library on its AVX2 kernels")
    p.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return child(args.child, args.repeats, args.clock, args.isa)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    results = [run_child(int(t), args.repeats, args.clock, args.isa) for t in args.threads.split(",")]
    peak = next((r["peak"] for r in results if r["peak"]), None)
    print(f"tinygrad_cpp GEMM ({results[0]['isa']}), float32 GFLOP/s, median of {args.repeats}; "
          f"load average {load:.2f}")
    if peak:
        print(f"measured FMA peak, 1 thread: {peak:.1f} GFLOP/s")
    has_torch = "torch" in results[0]["rows"][0]
    for r in results:
        print(f"\n== {r['threads']} thread(s), {r['clock']} clock ==")
        head = f"{'product':30s} {'tg':>8s} {'numpy':>8s}" + (f" {'torch':>8s}" if has_torch else "")
        head += f" {'tg/np':>7s}" + (f" {'tg/torch':>8s}" if has_torch else "")
        print(head)
        for row in r["rows"]:
            line = f"{row['label']:30s} {row['tg']:8.1f} {row['numpy']:8.1f}"
            if has_torch:
                line += f" {row['torch']:8.1f}"
            line += f" {row['tg'] / row['numpy']:7.2f}"
            if has_torch:
                line += f" {row['tg'] / row['torch']:8.2f}"
            print(line)

    def at(r, label):
        return next(row["tg"] for row in r["rows"] if row["label"] == label)

    one = next((r for r in results if r["threads"] == 1), None)
    two = next((r for r in results if r["threads"] == 2), None)
    print()
    if one and peak:
        print(f"n=1024, 1 thread: {at(one, 'square 1024'):.1f} GFLOP/s = "
              f"{100 * at(one, 'square 1024') / peak:.0f}% of FMA peak")
    if one and two:
        print(f"n=1024, 2 threads / 1 thread: {at(two, 'square 1024') / at(one, 'square 1024'):.2f}x")


if __name__ == "__main__":
    main()
