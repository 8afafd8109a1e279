"""Quantized modules (``tinygrad_cpp.ao.nn.quantized``)."""
from . import quantized  # noqa: F401
