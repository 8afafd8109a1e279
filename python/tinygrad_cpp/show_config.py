"""``python -m tinygrad_cpp.show_config`` prints what this installation is, for bug
reports: version, build flags, the SIMD kernels chosen for this CPU, threads, optional
extras. The same report comes from ``tinygrad_cpp.show_config()``
(see ``tinygrad_cpp._config``)."""
from ._config import show_config

__all__ = ["show_config"]

if __name__ == "__main__":
    show_config()
