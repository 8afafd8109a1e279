"""tinygrad_cpp.nn: modules, parameters, losses, functional forms and initialisers, with
PyTorch's names and semantics."""
from . import functional, init, utils
from .modules import *  # noqa: F401,F403  (every layer, at PyTorch's module paths)
from .modules import __all__ as _modules
from .parameter import Parameter
from . import parallel  # noqa: E402  (DistributedDataParallel, over tinygrad_cpp.distributed)

__all__ = ["Parameter", "functional", "init", "parallel", "utils"] + _modules
