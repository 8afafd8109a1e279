"""DLPack import. Export is `Tensor.__dlpack__` (in _tensor.py); both go through numpy's
zero-copy DLPack support, so memory is shared, never copied."""
import numpy as np

from . import _C


def from_dlpack(ext_tensor):
    """A tensor sharing memory with any object that implements the DLPack protocol."""
    if not hasattr(ext_tensor, "__dlpack__"):
        raise TypeError(f"from_dlpack(): expected an object with __dlpack__, got {type(ext_tensor).__name__}")
    if isinstance(ext_tensor, np.ndarray):
        return _C.from_numpy(ext_tensor)
    try:
        arr = np.from_dlpack(ext_tensor)
    except (BufferError, TypeError, ValueError, RuntimeError):
        # what numpy cannot hold (bfloat16): read the DLPack capsule ourselves
        return _C._from_dlpack(ext_tensor.__dlpack__())
    return _C.from_numpy(arr)
