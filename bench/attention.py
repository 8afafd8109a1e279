"""Causal scaled-dot-product attention, tinygrad_cpp's fused kernel beside PyTorch 2.13's
CPU kernel (its flash-attention path for this shape):

  * ms for the forward and for forward + backward, batch 1, 4 heads, head dim 32, float32,
    is_causal=True, at sequence lengths 1024 and 4096 (default);
  * the memory the first forward + backward at that size adds at its peak (peak RSS less
    the RSS with the inputs in place; the gradients of q, k, v are 3 * 2 MiB at T = 4096):
    a T x T score tensor per head would be 4 * T^2 * 4 bytes (256 MiB at T = 4096).

    python bench/attention.py [--seq 1024 4096] [--threads 2] [--repeat 3] [--steps 5]

Each figure runs in a fresh subprocess with the same numpy-drawn inputs for both libraries;
medians over --steps calls inside a run, then over --repeat runs; ratio = tinygrad_cpp /
PyTorch (below 1 is faster)."""
import argparse
import json
import statistics
import sys

import numpy as np

from common import median_ms, reset_peak_rss, rss_kb, run_worker, torch_available

B, H, D = 1, 4, 32


def worker(lib_name, threads, T, steps):
    lib = __import__("torch" if lib_name == "torch" else "tinygrad_cpp")
    lib.set_num_threads(threads)
    sdpa = lib.nn.functional.scaled_dot_product_attention
    rng = np.random.default_rng(0)
    q, k, v = (lib.from_numpy(rng.standard_normal((B, H, T, D), dtype=np.float32)).requires_grad_(True)
               for _ in range(3))
    g = lib.from_numpy(rng.standard_normal((B, H, T, D), dtype=np.float32))

    def fwd_bwd():
        sdpa(q, k, v, is_causal=True).backward(g)

    sdpa(q[:, :, :64], k[:, :, :64], v[:, :, :64], is_causal=True)  # threads and kernels, not buffers
    reset_peak_rss()
    before = rss_kb("VmRSS")
    fwd_bwd()  # the first call at this size: every buffer it needs is fresh memory
    peak_mb = (rss_kb("VmHWM") - before) / 1024

    with lib.no_grad():
        fwd_ms = median_ms(lambda: sdpa(q, k, v, is_causal=True), steps)
    total_ms = median_ms(fwd_bwd, steps)
    print(json.dumps({"fwd_ms": fwd_ms, "fwd_bwd_ms": total_ms, "peak_mb": peak_mb}))


def measure(lib, threads, T, args):
    return run_worker(__file__, lib, threads, [T, args.steps])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seq", type=int, nargs="+", default=[1024, 4096])
    ap.add_argument("--threads", type=int, nargs="+", default=[2])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--steps", type=int, default=5, help="timed calls inside each run")
    ap.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        lib, threads, T, steps = args.worker
        worker(lib, int(threads), int(T), int(steps))
        return 0
    libs = ["tinygrad_cpp", "torch"] if torch_available() else ["tinygrad_cpp"]
    print(f"causal SDPA, B={B} H={H} head dim {D}, float32; medians of {args.repeat} runs x {args.steps} calls")
    print(f"{'thr':>3} {'T':>5} | {'tg fwd ms':>9} {'torch':>7} {'ratio':>5} | {'tg f+b ms':>9} {'torch':>7} "
          f"{'ratio':>5} | {'tg peak MB':>10} {'torch':>6} | {'T*T*H*4 MB':>10}")
    for threads in args.threads:
        for T in args.seq:
            res = {lib: [measure(lib, threads, T, args) for _ in range(args.repeat)] for lib in libs}
            med = {lib: {k: statistics.median(r[k] for r in runs) for k in runs[0]} for lib, runs in res.items()}
            a, b = med["tinygrad_cpp"], med.get("torch")
            f = (lambda k, fmt: format(b[k], fmt)) if b else (lambda k, fmt: "n/a")
            r = (lambda k: format(a[k] / b[k], ".2f")) if b else (lambda k: "n/a")
            print(f"{threads:>3} {T:>5} | {a['fwd_ms']:>9.1f} {f('fwd_ms', '.1f'):>7} {r('fwd_ms'):>5} | "
                  f"{a['fwd_bwd_ms']:>9.1f} {f('fwd_bwd_ms', '.1f'):>7} {r('fwd_bwd_ms'):>5} | "
                  f"{a['peak_mb']:>10.1f} {f('peak_mb', '.1f'):>6} | {T * T * H * 4 / 2**20:>10.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
