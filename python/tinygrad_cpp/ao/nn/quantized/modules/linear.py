"""The packed parameters of a quantized Linear (PyTorch's
``torch.ao.nn.quantized.modules.linear.LinearPackedParams``).

State dict (tinygrad_cpp's own keys; PyTorch pickles an opaque ``_packed_params`` object,
which a safetensors file cannot hold), under the module's prefix (``_packed_params.`` in a
quantized Linear):

- ``weight``: the int8 values, [out_features, in_features], an ``int8`` tensor where the
  build has that dtype (``tg.int8``), else float32 tensor of the same integer values;
  loading accepts either.
- ``weight_scale``: float32 [out_features], the per-channel scales (zero points are 0).
- ``bias``: float32 [out_features], absent without bias.
"""
import numpy as np

from ..... import _C
from ....._quantized import QuantizedTensor, per_channel_affine, qint8
from .....nn.modules.module import Module

_Packed = _C._QLinearPackedParams


def _int8_tensor(values):
    """The int8 weight as a state-dict tensor: int8 when the core has the dtype."""
    try:
        return _C.from_numpy(values)
    except TypeError:
        return _C.from_numpy(values.astype(np.float32))


class LinearPackedParams(Module):
    """Holds the int8 weight of a quantized Linear, packed for the int8 GEMM, with its
    per-channel scales and the float bias."""

    _version = 1

    def __init__(self, dtype=qint8):
        super().__init__()
        if dtype is not qint8:
            raise NotImplementedError(f"tinygrad_cpp's quantized Linear supports dtype=qint8 only, got {dtype!r}")
        self.dtype = dtype
        self._packed_params = None

    def set_weight_bias(self, weight, bias):
        """``weight``: a per-channel qint8 QuantizedTensor with zero points 0 along axis 0
        (or a float [out, in] tensor, quantized here); ``bias``: float tensor or None."""
        if bias is not None and not isinstance(bias, _C.Tensor):
            raise TypeError(f"set_weight_bias(): argument 'bias' must be Tensor or None, not {type(bias).__name__}")
        if bias is not None:
            bias = bias.detach()
        if isinstance(weight, QuantizedTensor):
            if weight.dtype is not qint8 or weight.qscheme() is not per_channel_affine or weight.ndim != 2 \
                    or weight.q_per_channel_axis() != 0:
                raise RuntimeError("quantized Linear: the weight must be a 2-D qint8 tensor quantized per channel "
                                   "along axis 0")
            if np.any(weight._zero_points != 0):
                raise RuntimeError("quantized Linear: the weight's zero points must be 0 (symmetric quantization)")
            self._packed_params = _Packed.from_int8(weight._values, weight._scales.astype(np.float32).tolist(), bias)
        elif isinstance(weight, _C.Tensor):
            self._packed_params = _Packed.quantize(weight.detach(), bias)
        else:
            raise TypeError(f"set_weight_bias(): argument 'weight' must be a quantized tensor or Tensor, "
                            f"not {type(weight).__name__}")

    def _weight_bias(self):
        p = self._packed_params
        w = QuantizedTensor(p.int8_numpy(), np.asarray(p.scales_list(), dtype=np.float32).astype(np.float64),
                            np.zeros(p.out_features, dtype=np.int64), 0, per_channel_affine, qint8)
        return w, p.bias

    def forward(self, x):
        return x

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        p = self._packed_params
        destination[prefix + "weight"] = _int8_tensor(p.int8_numpy())
        destination[prefix + "weight_scale"] = _C.from_numpy(np.asarray(p.scales_list(), dtype=np.float32))
        if p.bias is not None:
            destination[prefix + "bias"] = p.bias if keep_vars else p.bias.detach()

    def _load_from_state_dict(self, state_dict, prefix, missing_keys, unexpected_keys, error_msgs):
        p = self._packed_params
        known = {prefix + "weight", prefix + "weight_scale", prefix + "bias"}
        for k in state_dict:
            if k.startswith(prefix) and k not in known:
                unexpected_keys.append(k)
        need = [prefix + "weight", prefix + "weight_scale"] + ([prefix + "bias"] if p.bias is not None else [])
        absent = [k for k in need if k not in state_dict]
        if absent:
            missing_keys.extend(absent)
            return
        if p.bias is None and prefix + "bias" in state_dict:
            unexpected_keys.append(prefix + "bias")
        w, s = state_dict[prefix + "weight"], state_dict[prefix + "weight_scale"]
        b = state_dict.get(prefix + "bias") if p.bias is not None else None
        for key, v in ((prefix + "weight", w), (prefix + "weight_scale", s), (prefix + "bias", b)):
            if v is not None and not isinstance(v, _C.Tensor):
                error_msgs.append(f'While copying the parameter named "{key}", expected Tensor '
                                  f"from checkpoint but received {type(v)}")
                return
        shape = (p.out_features, p.in_features)
        for key, v, want in ((prefix + "weight", w, shape), (prefix + "weight_scale", s, shape[:1]),
                             (prefix + "bias", b, shape[:1])):
            if v is not None and tuple(v.shape) != want:
                error_msgs.append(f"size mismatch for {key}: copying a param with shape {tuple(v.shape)} from "
                                  f"checkpoint, the shape in current model is {want}.")
                return
        wn = w.detach().numpy()
        if wn.dtype != np.int8:
            if not np.all(np.isfinite(wn)) or np.any(wn != np.rint(wn)) or np.any(np.abs(wn) > 127):
                error_msgs.append(f'While copying the parameter named "{prefix}weight": expected the int8 '
                                  "values of a quantized weight (integers in [-127, 127])")
                return
            wn = wn.astype(np.int8)
        try:
            self._packed_params = _Packed.from_int8(wn, s.detach().numpy().astype(np.float32).tolist(),
                                                    None if b is None else b.detach())
        except (ValueError, RuntimeError) as ex:
            error_msgs.append(f'While copying the parameter named "{prefix}weight", an exception occurred : '
                              f"{ex.args}.")

    def __repr__(self):
        return repr(self._weight_bias())  # (weight, bias), as PyTorch shows it
