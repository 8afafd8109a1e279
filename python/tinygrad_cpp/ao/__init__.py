"""tinygrad_cpp.ao: PyTorch's ``torch.ao`` namespace (architecture optimization), here
int8 dynamic quantization: ``ao.quantization.quantize_dynamic`` and the quantized modules
in ``ao.nn.quantized``."""
from . import nn, quantization  # noqa: F401
