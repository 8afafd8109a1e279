"""tinygrad_cpp.nn.parallel: data-parallel training across MPI ranks (PyTorch's path)."""
from .distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
