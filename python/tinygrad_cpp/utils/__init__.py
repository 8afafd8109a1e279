"""Utilities with torch.utils' names: `tinygrad_cpp.utils.data` (Dataset, DataLoader ...),
`tinygrad_cpp.utils.hooks` (RemovableHandle), `tinygrad_cpp.utils.checkpoint`."""
from . import checkpoint, data, hooks

__all__ = ["checkpoint", "data", "hooks"]
