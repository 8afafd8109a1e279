"""PyTorch's dtype utilities: `finfo`, `iinfo`, `promote_types`, `result_type`, `can_cast`."""
import numpy as np

from . import _C

_d = _C.dtype


class finfo:
    """Machine limits of a floating dtype, as `torch.finfo` (default: float32)."""

    # numpy has no bfloat16: its limits written out (8 exponent bits, 7 mantissa bits)
    _BF16 = dict(bits=16, eps=0.0078125, max=3.3895313892515355e38, min=-3.3895313892515355e38,
                 tiny=1.1754943508222875e-38, smallest_normal=1.1754943508222875e-38, resolution=0.01)

    def __init__(self, type=None):  # noqa: A002  (PyTorch's argument name)
        type = _d.float32 if type is None else type
        if not isinstance(type, _d) or not type.is_floating_point:
            raise TypeError("torch.finfo() requires a floating point input type. Use torch.iinfo "
                            "to handle 'torch.finfo'")
        self.dtype = repr(type).split(".")[-1]
        if type == _d.bfloat16:
            vals = self._BF16
        else:
            f = np.finfo(self.dtype)
            vals = dict(bits=f.bits, eps=float(f.eps), max=float(f.max), min=float(f.min),
                        tiny=float(f.tiny), smallest_normal=float(f.smallest_normal),
                        resolution=float(10.0 ** -f.precision))  # exact, as torch (not f16-rounded)
        self.__dict__.update(vals)

    def __repr__(self):
        return (f"finfo(resolution={self.resolution}, min={self.min:g}, max={self.max:g}, "
                f"eps={self.eps:g}, smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, "
                f"dtype={self.dtype})")


class iinfo:
    """Machine limits of an integer dtype, as `torch.iinfo`."""

    def __init__(self, type):  # noqa: A002
        if not isinstance(type, _d) or type.is_floating_point or type == _d.bool:
            raise TypeError("torch.iinfo() requires an integer input type. Use torch.finfo to "
                            "handle 'torch.iinfo'")
        self.dtype = repr(type).split(".")[-1]
        i = np.iinfo(self.dtype)
        self.bits, self.min, self.max = i.bits, int(i.min), int(i.max)

    def __repr__(self):
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"


def promote_types(type1, type2):
    """The dtype PyTorch promotes two tensor dtypes to (uint8 + int8 -> int16 ...)."""
    for name, t in (("type1", type1), ("type2", type2)):
        if not isinstance(t, _d):
            raise TypeError(f"promote_types(): argument '{name}' must be torch.dtype, not {type(t).__name__}")
    return _C._promote_types(type1, type2)


def result_type(tensor, other):
    """The dtype of an arithmetic op on `tensor` and `other` (tensors or Python numbers)."""
    return _C._result_type([tensor, other])


def _kind(d):
    return 2 if d.is_floating_point else 0 if d == _d.bool else 1


def can_cast(from_, to):
    """PyTorch's casting rule for in-place ops: no float into an integer, no number into bool."""
    for name, t in (("from_", from_), ("to", to)):
        if not isinstance(t, _d):
            raise TypeError(f"can_cast(): argument '{name}' must be torch.dtype, not {type(t).__name__}")
    return _kind(from_) <= _kind(to)
