"""Quantized modules: ``dynamic.Linear`` (int8 weights, activations quantized per batch)
and the ``LinearPackedParams`` holding its packed weights."""
from . import dynamic  # noqa: F401
from .modules.linear import LinearPackedParams  # noqa: F401

__all__ = ["LinearPackedParams", "dynamic"]
