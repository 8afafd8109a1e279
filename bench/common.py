"""What the side-by-side benchmarks share: each library runs in a subprocess of its own
(its threads, its ISA, its memory figures untouched by the other), timed by medians."""
import json
import os
import statistics
import subprocess
import sys
import time


def median_ms(fn, repeat):
    """The median wall time of fn() over `repeat` calls after one warm-up call, in ms."""
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)


def rss_kb(field):
    """A memory figure of this process from /proc/self/status, in kB (VmRSS, VmHWM, ...)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def reset_peak_rss():
    """Makes VmHWM measure the peak from here on (Linux >= 4.0; elsewhere a no-op)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def run_worker(script, lib, threads, args, isa=None):
    """Runs `script --worker lib threads *args` with `threads` threads and returns the JSON
    object its last line prints. isa='avx2' puts PyTorch on its AVX2 kernels too (oneDNN,
    ATen, MKL) and tells our worker to force them (see use_isa)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    if isa:
        env["TG_ISA"] = isa
        if isa == "avx2" and lib == "torch":
            env.update(ONEDNN_MAX_CPU_ISA="AVX2", ATEN_CPU_CAPABILITY="avx2", MKL_ENABLE_INSTRUCTIONS="AVX2")
    out = subprocess.run([sys.executable, script, "--worker", lib, str(threads), *map(str, args)],
                         capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"{lib} worker failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def use_isa(lib_name):
    """In a worker: force tinygrad_cpp's GEMM and vector kernels to $TG_ISA when it is set."""
    if lib_name != "torch" and os.environ.get("TG_ISA"):
        import tinygrad_cpp as tg
        tg._C._set_gemm_isa(os.environ["TG_ISA"])
        tg._C._set_vec_isa(os.environ["TG_ISA"])


def torch_available():
    try:
        import torch  # noqa: F401
        return True
    except ImportError:
        return False
