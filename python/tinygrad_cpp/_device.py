"""Devices: `tg.device` with torch.device's parsing, printing and equality, so that scripts
written for a GPU (`device = tg.device("cuda" if tg.cuda.is_available() else "cpu")`) run
unchanged. Every tensor lives on the CPU; a tensor moved to (or created on) any other
device raises RuntimeError, as PyTorch does on a machine without that backend."""
import builtins
import operator

import numpy as np

# PyTorch's device types; any of them names a valid device, but only "cpu" holds tensors.
_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve",
          "fpga", "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone")


class device:  # noqa: N801  (PyTorch's name)
    """device(type) / device("type:index") / device(type, index) / device(other_device).
    `str()` is "cpu" or "cuda:1"; `repr()` is "device(type='cpu')"; equal when type and
    index are equal (device("cpu") != device("cpu", 0), as in PyTorch)."""

    __slots__ = ("_type", "_index")

    def __init__(self, type, index=None):  # noqa: A002  (PyTorch's argument name)
        if isinstance(type, device):
            if index is not None:
                raise TypeError("device(): an index cannot be given with a device object")
            self._type, self._index = type._type, type._index
            return
        if isinstance(type, builtins.bool) or not isinstance(type, (str, int)):
            raise TypeError("device() received an invalid combination of arguments - got "
                            f"({builtins.type(type).__name__}), but expected one of: (device "
                            "device), (str type, int index = -1)")
        if isinstance(type, int):  # an accelerator's index
            raise RuntimeError("Cannot access accelerator device when none is available.")
        kind, idx = _parse(type)
        if index is not None:
            if isinstance(index, builtins.bool) or not hasattr(builtins.type(index), "__index__"):
                raise TypeError("device(): argument 'index' (position 2) must be int, not "
                                f"{builtins.type(index).__name__}")
            index = operator.index(index)
            if idx is not None:
                raise RuntimeError("type (string) must not include an index because index was "
                                   f"passed explicitly: {type}")
            if index < 0:
                raise RuntimeError("Device index must not be negative")
            idx = index
        self._type, self._index = kind, idx

    @property
    def type(self):
        return self._type

    @property
    def index(self):
        return self._index

    def __str__(self):
        return self._type if self._index is None else f"{self._type}:{self._index}"

    def __repr__(self):
        if self._index is None:
            return f"device(type='{self._type}')"
        return f"device(type='{self._type}', index={self._index})"

    def __eq__(self, other):
        if not isinstance(other, device):
            return NotImplemented
        return (self._type, self._index) == (other._type, other._index)

    def __hash__(self):
        return hash((self._type, self._index))

    def __reduce__(self):
        return (device, (self._type,) if self._index is None else (self._type, self._index))

    # `with tg.device("cpu"):` is PyTorch's way to set the default device for a block;
    # the CPU is always the default here, and other devices cannot hold tensors.
    def __enter__(self):
        _check_usable(self)
        return self

    def __exit__(self, *exc):
        return False


def _parse(s):
    """'cuda' -> ('cuda', None); 'cuda:1' -> ('cuda', 1), with PyTorch's errors."""
    kind, sep, idx = s.partition(":")
    if kind not in _TYPES:
        if kind.isidentifier():
            raise RuntimeError(f"Expected one of {', '.join(_TYPES)} device type at start of "
                               f"device string: {s}")
        raise RuntimeError(f"Invalid device string: '{s}'")
    if not sep:
        return kind, None
    # a non-negative decimal without leading zeros, as PyTorch's parser accepts
    if not idx.isdigit() or not idx.isascii() or (len(idx) > 1 and idx[0] == "0"):
        raise RuntimeError(f"Invalid device string: '{s}'")
    return kind, int(idx)


def _check_usable(dev):
    if dev.type == "cpu":
        return
    if dev.type == "cuda":
        raise RuntimeError("tinygrad_cpp has no CUDA backend (tg.cuda.is_available() is False): "
                           f"tensors live on the cpu device only, not on {dev}")
    raise RuntimeError(f"tinygrad_cpp is not linked with support for {dev.type} devices: tensors "
                       f"live on the cpu device only, not on {dev}")


def as_device(d):
    """A device from a device, a string or an int (an accelerator index); None stays None.
    Raises TypeError for other types and RuntimeError for malformed strings."""
    if d is None or isinstance(d, device):
        return d
    return device(d)


def check_device(d):
    """Validates a `device=` argument of a creation function: None or anything naming the
    CPU passes; another device raises RuntimeError."""
    d = as_device(d)
    if d is not None:
        _check_usable(d)
    return d


CPU = device("cpu")
_Device = device  # for functions whose `device` argument hides the class


def get_default_device():
    return CPU


def set_default_device(d):
    """Only the CPU (or None, the CPU too) can be the default device."""
    check_device(d)


# ---- Tensor.to and friends ---------------------------------------------------------------

def _is_dtype(x):
    from . import _C
    return isinstance(x, _C.dtype)


def parse_to(name, args, kwargs, *, allow_copy=True):
    """PyTorch's three `to` forms: to(dtype, non_blocking, copy), to(device=None,
    dtype=None, non_blocking, copy) and to(other_tensor, non_blocking, copy), keyword forms
    included. Returns (device or None, dtype or None, non_blocking, copy)."""
    from . import _C
    names = ["device", "dtype", "non_blocking", "copy", "memory_format"]
    if not allow_copy:
        names.remove("copy")
    unknown = set(kwargs) - set(names)
    if unknown:
        raise TypeError(f"{name}() got an unexpected keyword argument '{sorted(unknown)[0]}'")
    given = {}
    n_positional = len(args)
    args = list(args)
    order = []
    if args and isinstance(args[0], _C.Tensor):
        other = args.pop(0)
        given["dtype"], given["device"] = other.dtype, CPU
        order = ["non_blocking", "copy"]
    elif args and _is_dtype(args[0]):
        given["dtype"] = args.pop(0)
        order = ["non_blocking", "copy"]
    elif args and isinstance(args[0], (builtins.float, builtins.bool)):
        # PyTorch's parser reads a float or bool value given as the dtype as its Python type
        # (to(1.5) is to(float), float64; to(True) is to(bool))
        given["dtype"] = _C.dtype.bool if isinstance(args.pop(0), builtins.bool) else _C.dtype.float64
        order = ["non_blocking", "copy"]
    elif args and (args[0] is None or isinstance(args[0], (str, device, int))) and \
            not isinstance(args[0], builtins.bool):
        given["device"] = args.pop(0)
        order = ["dtype", "non_blocking", "copy"]
    elif args:
        raise TypeError(f"{name}() received an invalid combination of arguments - got "
                        f"({', '.join(type(a).__name__ for a in args)}), but expected one of: "
                        "(device device=None, dtype dtype=None, bool non_blocking=False, bool "
                        "copy=False), (dtype dtype, bool non_blocking=False, bool copy=False), "
                        "(Tensor other, bool non_blocking=False, bool copy=False)")
    if not allow_copy:
        order = [o for o in order if o != "copy"]
    if len(args) > len(order):
        raise TypeError(f"{name}() takes at most {n_positional - len(args) + len(order)} positional "
                        f"arguments but {n_positional} were given")
    for key, value in zip(order, args):
        given[key] = value
    for key, value in kwargs.items():
        if key in given:
            raise TypeError(f"{name}() got multiple values for argument '{key}'")
        given[key] = value
    dev = as_device(given.get("device"))
    dtype = given.get("dtype")
    if dtype is not None and not _is_dtype(dtype):
        raise TypeError(f"{name}(): argument 'dtype' must be tinygrad_cpp.dtype, not "
                        f"{type(dtype).__name__}")
    flags = []
    for key in ("non_blocking", "copy"):
        v = given.get(key, False)
        if not isinstance(v, (builtins.bool, np.bool_)):
            raise TypeError(f"{name}(): argument '{key}' must be bool, not {type(v).__name__}")
        flags.append(builtins.bool(v))
    return dev, dtype, flags[0], flags[1]


def install(tensor_cls):
    """Tensor.to (devices, dtypes, another tensor's dtype and device), .cpu(), .cuda(),
    .device and friends. The dtype conversion itself is the C++ `to` (with autograd)."""
    from . import _C
    to_dtype = tensor_cls.to
    dtype_cls = _C.dtype

    def to(self, *args, **kwargs):
        """to(dtype, non_blocking=False, copy=False), to(device=None, dtype=None,
        non_blocking=False, copy=False) or to(other, non_blocking=False, copy=False): self
        when nothing changes and copy is False, else a converted copy (recorded by autograd).
        Only CPU devices are accepted; others raise RuntimeError."""
        if len(args) == 1 and not kwargs:  # the common calls, without the general parsing
            a = args[0]
            if type(a) is dtype_cls:
                return to_dtype(self, a)
            if (type(a) is str and a == "cpu") or (type(a) is _Device and a._type == "cpu"):
                return self
        dev, dtype, _non_blocking, copy = parse_to("to", args, kwargs)
        if dev is not None:
            _check_usable(dev)
        out = self if dtype is None or dtype == self.dtype else to_dtype(self, dtype)
        if copy and out is self:
            out = self.clone()
        return out

    def cuda(self, device=None, non_blocking=False, memory_format=None):
        if isinstance(device, int) and not isinstance(device, builtins.bool):
            device = _Device("cuda", device)
        _check_usable(as_device("cuda" if device is None else device))
        return self  # not reached: only CPU devices are usable

    tensor_cls.to = to
    tensor_cls.cpu = lambda self, memory_format=None: self
    tensor_cls.cuda = cuda
    tensor_cls.device = property(lambda self: CPU)
    tensor_cls.is_cpu = property(lambda self: True)
    tensor_cls.is_cuda = property(lambda self: False)
    tensor_cls.is_meta = property(lambda self: False)
    tensor_cls.get_device = lambda self: -1  # PyTorch's answer for CPU tensors
