"""``tinygrad_cpp.quantization``: the legacy alias of ``tinygrad_cpp.ao.quantization``
(as ``torch.quantization`` is of ``torch.ao.quantization``)."""
from ..ao.quantization import *  # noqa: F401,F403
from ..ao.quantization import __all__  # noqa: F401
from ..ao.quantization import quantize_dynamic  # noqa: F401
