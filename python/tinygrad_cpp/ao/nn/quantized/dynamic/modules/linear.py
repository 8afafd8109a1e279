"""Dynamically quantized Linear (PyTorch's ``torch.ao.nn.quantized.dynamic.Linear``, shown
as ``DynamicQuantizedLinear``).

- weight: int8, symmetric, per output channel: ``scale[n] = max|w[n, :]| / 127``, zero
  point 0, values in [-127, 127] (PyTorch's per-channel observer divides by 127.5 and may
  produce -128; the int8 GEMM keeps -128 out so that AVX2's ``vpmaddubsw`` cannot
  saturate);
- activations: quantized at each call per tensor from the batch's min/max, asymmetric
  uint8 on [0, 127] (7 bits: PyTorch fbgemm's ``reduce_range``);
- y = x_scale * w_scale[n] * (sum_k x_q[m, k] w_q[n, k] - x_zero_point * sum_k w_q[n, k]) +
  bias[n] with exact int32 sums, in float32.

Inference only: the output never requires grad (PyTorch's quantized Linear has no
gradient for its input or weight either)."""
from ...... import _C
from ......_creation import zeros
from ......_quantized import per_channel_affine, qint8
from ......nn.modules.linear import Linear as _FloatLinear
from ......nn.modules.module import Module
from ...modules.linear import LinearPackedParams


class Linear(Module):
    """``Linear(in_features, out_features, bias_=True, dtype=qint8)``: a quantized Linear
    with zero weights; ``Linear.from_float(float_linear)`` quantizes a trained one."""

    _version = 4
    _FLOAT_MODULE = _FloatLinear

    def __init__(self, in_features, out_features, bias_=True, dtype=qint8):
        super().__init__()
        for name, v in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(v, int) or isinstance(v, bool):
                raise TypeError(f"Linear.__init__(): argument '{name}' must be int, not {type(v).__name__}")
            if v < 0:
                raise RuntimeError(f"Trying to create tensor with negative dimension {v}: [{out_features}, {in_features}]")
        if not isinstance(bias_, bool):
            raise TypeError(f"Linear.__init__(): argument 'bias_' must be bool, not {type(bias_).__name__}")
        if dtype is not qint8:
            raise RuntimeError(f"Unsupported dtype specified for dynamic quantized Linear: {dtype!r} "
                               "(tinygrad_cpp supports qint8 only)")
        self.in_features = in_features
        self.out_features = out_features
        self._packed_params = LinearPackedParams(dtype)
        bias = zeros(out_features) if bias_ else None
        self._packed_params.set_weight_bias(zeros(out_features, in_features), bias)
        self.training = False

    # ---- PyTorch's accessors ---------------------------------------------------------------
    def weight(self):
        """The int8 weight: a QuantizedTensor (qint8, per_channel_affine, axis 0)."""
        return self._packed_params._weight_bias()[0]

    def bias(self):
        return self._packed_params._weight_bias()[1]

    def set_weight_bias(self, w, b):
        self._packed_params.set_weight_bias(w, b)
        p = self._packed_params._packed_params
        self.in_features, self.out_features = p.in_features, p.out_features

    @property
    def dtype(self):
        return self._packed_params.dtype

    def forward(self, x):
        if not isinstance(x, _C.Tensor):
            raise TypeError(f"linear(): argument 'input' (position 1) must be Tensor, not {type(x).__name__}")
        return self._packed_params._packed_params.forward(x)

    def _get_name(self):
        return "DynamicQuantizedLinear"

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"dtype={self.dtype!r}, qscheme={per_channel_affine!r}")

    def __repr__(self):
        # PyTorch hides the packed-parameters child in the repr.
        return f"{self._get_name()}({self.extra_repr()})"

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        """Quantizes a float ``nn.Linear`` (its qconfig, if any, is not consulted: weights
        are always per-channel symmetric int8)."""
        if type(mod) is not _FloatLinear:
            raise AssertionError(f"nnqd.Linear.from_float only works for {_FloatLinear.__name__}, "
                                 f"got {type(mod).__name__}")
        q = cls.__new__(cls)
        Module.__init__(q)
        q.in_features, q.out_features = mod.in_features, mod.out_features
        q._packed_params = LinearPackedParams(qint8)
        q._packed_params.set_weight_bias(mod.weight, mod.bias)
        q.training = False
        return q


__all__ = ["Linear"]
