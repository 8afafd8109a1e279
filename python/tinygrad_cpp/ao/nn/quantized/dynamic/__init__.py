"""Dynamically quantized modules: weights quantized ahead of time, activations at run
time from each batch's range."""
from .modules import Linear  # noqa: F401

__all__ = ["Linear"]
