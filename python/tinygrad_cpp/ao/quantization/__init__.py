"""Quantization (PyTorch's ``torch.ao.quantization``): eager-mode dynamic int8
quantization of Linear layers with ``quantize_dynamic``."""
from ..._quantized import quantize_per_channel, quantize_per_tensor  # noqa: F401
from .qconfig import (QConfig, default_dynamic_qconfig, default_dynamic_quant_observer,  # noqa: F401
                      default_per_channel_weight_observer, default_weight_observer, per_channel_dynamic_qconfig)
from .quantize import get_default_dynamic_quant_module_mappings, quantize_dynamic  # noqa: F401

__all__ = ["quantize_dynamic", "QConfig", "default_dynamic_qconfig", "per_channel_dynamic_qconfig",
           "get_default_dynamic_quant_module_mappings"]
