"""Quantized dtypes, quantization schemes and quantized tensors, as PyTorch names them
(``torch.qint8``, ``torch.per_channel_affine``, ``torch.quantize_per_channel``, the
tensor returned by a quantized Linear's ``weight()``).

tinygrad_cpp has no quantized storage in its core: a :class:`QuantizedTensor` holds its
integer values and quantization parameters as numpy arrays. It is what
``tg.ao.nn.quantized.dynamic.Linear.weight()`` returns and what ``tg.quantize_per_channel``
/ ``tg.quantize_per_tensor`` make; its arithmetic happens in the int8 GEMM of the
quantized Linear, or after ``dequantize()``."""
import builtins

import numpy as np

from . import _C

__all__ = ["qint8", "quint8", "qint32", "per_tensor_affine", "per_channel_affine",
           "per_tensor_symmetric", "per_channel_symmetric", "QuantizedTensor",
           "quantize_per_tensor", "quantize_per_channel"]


class qdtype:
    """A quantized dtype (``tinygrad_cpp.qint8`` ...): the integer type of the values of a
    quantized tensor. Compared by identity, like the other dtypes."""

    is_floating_point = False
    is_complex = False

    def __init__(self, name, np_dtype, qmin, qmax):
        self._name, self._np, self._min, self._max = name, np.dtype(np_dtype), qmin, qmax

    @property
    def is_signed(self):
        return self._min < 0

    @property
    def itemsize(self):
        return self._np.itemsize

    def __repr__(self):
        return f"tinygrad_cpp.{self._name}"

    def __reduce__(self):
        return self._name  # pickled as the module global of that name


class qscheme:
    """A quantization scheme (``tinygrad_cpp.per_channel_affine`` ...)."""

    def __init__(self, name):
        self._name = name

    def __repr__(self):
        return f"tinygrad_cpp.{self._name}"

    def __reduce__(self):
        return self._name


qdtype.__module__ = qscheme.__module__ = __name__
qint8 = qdtype("qint8", np.int8, -128, 127)
quint8 = qdtype("quint8", np.uint8, 0, 255)
qint32 = qdtype("qint32", np.int32, -2 ** 31, 2 ** 31 - 1)
per_tensor_affine = qscheme("per_tensor_affine")
per_channel_affine = qscheme("per_channel_affine")
per_tensor_symmetric = qscheme("per_tensor_symmetric")
per_channel_symmetric = qscheme("per_channel_symmetric")


def _np_of(t, what, fn):
    if isinstance(t, _C.Tensor):
        return t.detach().numpy()
    raise TypeError(f"{fn}(): argument '{what}' must be Tensor, not {type(t).__name__}")


def _check_qdtype(dtype, fn):
    if not isinstance(dtype, qdtype):
        raise RuntimeError(f"{fn}(): expected a quantized dtype (qint8, quint8 or qint32), got {dtype!r}")


class QuantizedTensor:
    """A quantized tensor: integer values ``int_repr()`` with per-tensor or per-channel
    ``scale`` and ``zero_point``; ``dequantize()`` gives ``(int_repr - zero_point) * scale``
    as float32."""

    is_quantized = True

    def __init__(self, values, scales, zero_points, axis, qscheme_, dtype):
        self._values = np.ascontiguousarray(values, dtype=dtype._np)
        self._scales = np.asarray(scales, dtype=np.float64)
        self._zero_points = np.asarray(zero_points, dtype=np.int64)
        self._axis = axis
        self._qscheme = qscheme_
        self.dtype = dtype

    # ---- geometry -----------------------------------------------------------------------
    @property
    def shape(self):
        return tuple(self._values.shape)

    def size(self, dim=None):
        if dim is None:
            return self.shape
        if not isinstance(dim, int) or isinstance(dim, builtins.bool):
            raise TypeError(f"size(): argument 'dim' must be int, not {type(dim).__name__}")
        nd = self._values.ndim
        if not -nd <= dim < nd:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-nd}, {nd - 1}], but got {dim})")
        return self.shape[dim]

    def dim(self):
        return self._values.ndim

    ndim = property(dim)

    def numel(self):
        return int(self._values.size)

    def element_size(self):
        return self.dtype.itemsize

    @property
    def requires_grad(self):
        return False

    @property
    def device(self):
        from ._device import device
        return device("cpu")

    # ---- quantization parameters -------------------------------------------------------
    def qscheme(self):
        return self._qscheme

    def _per_tensor(self, fn):
        if self._axis is not None:
            raise RuntimeError(f"Expected quantizer->qscheme() == kPerTensorAffine to be true, but got false.  "
                               f"({fn} of a per-channel quantized tensor)")

    def _per_channel(self, fn):
        if self._axis is None:
            raise RuntimeError(f"Expected quantizer->qscheme() == kPerChannelAffine to be true, but got false.  "
                               f"({fn} of a per-tensor quantized tensor)")

    def q_scale(self):
        self._per_tensor("q_scale")
        return builtins.float(self._scales)

    def q_zero_point(self):
        self._per_tensor("q_zero_point")
        return int(self._zero_points)

    def q_per_channel_scales(self):
        self._per_channel("q_per_channel_scales")
        return _C.from_numpy(self._scales.copy())

    def q_per_channel_zero_points(self):
        self._per_channel("q_per_channel_zero_points")
        return _C.from_numpy(self._zero_points.copy())

    def q_per_channel_axis(self):
        self._per_channel("q_per_channel_axis")
        return self._axis

    # ---- values ----------------------------------------------------------------------------
    def int_repr(self):
        """The integer values as a tensor of the matching integer dtype (int8 for qint8)."""
        try:
            return _C.from_numpy(self._values.copy())
        except TypeError as e:
            raise RuntimeError(f"int_repr(): this build has no tensor dtype for {self._values.dtype} values "
                               f"({e}); use int_repr_numpy()") from None

    def int_repr_numpy(self):
        """The integer values as a numpy array (tinygrad_cpp's own; always available)."""
        return self._values.copy()

    def _deq_numpy(self):
        v = self._values.astype(np.float64)
        if self._axis is None:
            out = (v - self._zero_points) * self._scales
        else:
            shape = [1] * v.ndim
            shape[self._axis] = -1
            out = (v - self._zero_points.reshape(shape)) * self._scales.reshape(shape)
        return out.astype(np.float32)

    def dequantize(self):
        return _C.from_numpy(self._deq_numpy())

    def numpy(self):
        raise TypeError("can't convert a quantized tensor to numpy: call dequantize() or int_repr_numpy() first")

    def __repr__(self):
        body = repr(_C.from_numpy(self._deq_numpy()))
        body = body[:-1] if body.endswith(")") else body
        ind = " " * 7
        s = f"{body}, size={self.shape}, dtype={self.dtype!r},\n{ind}quantization_scheme={self._qscheme!r},\n{ind}"
        if self._axis is None:
            return s + f"scale={self.q_scale()}, zero_point={self.q_zero_point()})"
        return (s + f"scale={self.q_per_channel_scales()!r},\n{ind}zero_point={self.q_per_channel_zero_points()!r}, "
                f"axis={self._axis})")


def _quantize(x, scale, zp, dtype):
    q = np.rint(x / scale) + zp
    return np.clip(q, dtype._min, dtype._max)


def quantize_per_tensor(input, scale, zero_point, dtype):
    """``tg.quantize_per_tensor(input, scale, zero_point, dtype)``: round(input / scale) +
    zero_point clamped to the range of ``dtype`` (qint8, quint8, qint32)."""
    x = _np_of(input, "input", "quantize_per_tensor")
    if not isinstance(scale, (builtins.float, int)) or isinstance(scale, builtins.bool):
        raise TypeError(f"quantize_per_tensor(): argument 'scale' must be float, not {type(scale).__name__}")
    if not isinstance(zero_point, int) or isinstance(zero_point, builtins.bool):
        raise TypeError(f"quantize_per_tensor(): argument 'zero_point' must be int, not {type(zero_point).__name__}")
    _check_qdtype(dtype, "quantize_per_tensor")
    if not x.dtype.kind == "f":
        raise RuntimeError(f"Quantize only works on Float Tensor, got {x.dtype}")
    scale = np.float32(scale)
    q = _quantize(x.astype(np.float32), scale, zero_point, dtype)
    return QuantizedTensor(q, np.float64(scale), zero_point, None, per_tensor_affine, dtype)


def quantize_per_channel(input, scales, zero_points, axis, dtype):
    """``tg.quantize_per_channel(input, scales, zero_points, axis, dtype)``: per-channel
    affine quantization along ``axis`` (scales and zero_points 1-D tensors)."""
    x = _np_of(input, "input", "quantize_per_channel")
    s = _np_of(scales, "scales", "quantize_per_channel").astype(np.float64).reshape(-1)
    z = _np_of(zero_points, "zero_points", "quantize_per_channel").reshape(-1)
    if not isinstance(axis, int) or isinstance(axis, builtins.bool):
        raise TypeError(f"quantize_per_channel(): argument 'axis' must be int, not {type(axis).__name__}")
    _check_qdtype(dtype, "quantize_per_channel")
    if not x.dtype.kind == "f":
        raise RuntimeError(f"Quantize only works on Float Tensor, got {x.dtype}")
    if not -x.ndim <= axis < max(x.ndim, 1):
        raise IndexError(f"Dimension out of range (expected to be in range of [{-x.ndim}, {x.ndim - 1}], but got {axis})")
    axis %= x.ndim
    if s.shape[0] != x.shape[axis] or z.shape[0] != x.shape[axis]:
        raise RuntimeError(f"quantize_per_channel(): expected {x.shape[axis]} scales and zero points "
                           f"(the size of dim {axis}), got {s.shape[0]} and {z.shape[0]}")
    shape = [1] * x.ndim
    shape[axis] = -1
    s32 = s.astype(np.float32)
    q = _quantize(x.astype(np.float32), s32.reshape(shape), z.reshape(shape), dtype)
    return QuantizedTensor(q, s32.astype(np.float64), z.astype(np.int64), axis, per_channel_affine, dtype)
