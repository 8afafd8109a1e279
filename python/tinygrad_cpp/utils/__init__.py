"""Utilities with torch.utils' names: `tinygrad_cpp.utils.data` (Dataset, DataLoader ...),
`tinygrad_cpp.utils.hooks` (RemovableHandle)."""
from . import data, hooks

__all__ = ["data", "hooks"]
