"""Quantization configurations, by PyTorch's names. tinygrad_cpp's dynamic quantization
has one scheme (int8 per-channel symmetric weights, 7-bit per-batch activations), so a
qconfig only says *whether* a module is quantized; the observers are descriptive."""
from collections import namedtuple

from ..._quantized import per_channel_symmetric, per_tensor_affine, qint8, quint8


class _Observer(namedtuple("_Observer", "name dtype qscheme")):
    def __repr__(self):
        return f"{self.name}(dtype={self.dtype!r}, qscheme={self.qscheme!r})"


class QConfig(namedtuple("QConfig", ["activation", "weight"])):
    """``QConfig(activation, weight)``: which observers quantize activations and weights."""


default_dynamic_quant_observer = _Observer("PlaceholderObserver", quint8, per_tensor_affine)
default_per_channel_weight_observer = _Observer("PerChannelMinMaxObserver", qint8, per_channel_symmetric)
default_weight_observer = default_per_channel_weight_observer
default_dynamic_qconfig = QConfig(activation=default_dynamic_quant_observer, weight=default_per_channel_weight_observer)
per_channel_dynamic_qconfig = default_dynamic_qconfig

__all__ = ["QConfig", "default_dynamic_qconfig", "per_channel_dynamic_qconfig", "default_dynamic_quant_observer",
           "default_per_channel_weight_observer", "default_weight_observer"]
