"""Utilities with torch.utils' names: `tinygrad_cpp.utils.data` (Dataset, DataLoader ...)."""
from . import data

__all__ = ["data"]
