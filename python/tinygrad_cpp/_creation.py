"""Tensor factories: argument parsing in Python, filling in C++."""
import builtins
import operator

import numpy as np

from . import _C
from ._device import check_device

_default_float = _C.dtype.float32


def _size(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    out = []
    for i, s in enumerate(size):
        # PyTorch's parser checks the first element's type strictly (no bool) and unpacks the
        # rest as indices, bools included: empty(2, True) is a [2, 1] tensor there.
        if (isinstance(s, builtins.bool) and i == 0) or not hasattr(type(s), "__index__"):
            raise TypeError(f"size must be a sequence of ints, but got {type(s).__name__}")
        s = operator.index(s)  # ints, numpy integers, 0-d integer tensors
        if s < 0:
            raise ValueError(f"negative dimension {s} in size {list(size)}")
        out.append(s)
    return out


def _finish(t, requires_grad, fn="factory", allow_none=True):
    # PyTorch's parser takes only a real bool here (not 1, not numpy.bool_); its factories
    # (zeros, ones, ...) also let None through as False, tensor() does not.
    if not (isinstance(requires_grad, builtins.bool) or (allow_none and requires_grad is None)):
        raise TypeError(f"{fn}(): argument 'requires_grad' must be bool, not {type(requires_grad).__name__}")
    if requires_grad:
        t.requires_grad_(True)
    return t


# Python's scalar types name dtypes too, as in PyTorch (dtype=float is float64).
_PY_DTYPES = {builtins.float: _C.dtype.float64, int: _C.dtype.int64, builtins.bool: _C.dtype.bool}


def _dtype(dtype, default):
    if dtype is None:
        return default
    if isinstance(dtype, _C.dtype):
        return dtype
    if isinstance(dtype, type) and dtype in _PY_DTYPES:
        return _PY_DTYPES[dtype]
    raise TypeError(f"argument 'dtype' must be torch.dtype, not {type(dtype).__name__}")


def _leaf_type(data):
    """The type of the first element of nested lists/tuples that is not a number (or None)."""
    if isinstance(data, (list, tuple)):
        for d in data:
            bad = _leaf_type(d)
            if bad is not None:
                return bad
        return None
    if isinstance(data, (builtins.bool, int, builtins.float, complex, np.generic, np.ndarray, _C.Tensor)):
        return None
    return type(data)


def _first_chain_has_str(data):
    """Whether a str/bytes sits on the chain of first elements PyTorch reads the shape from."""
    while isinstance(data, (list, tuple)) and len(data) > 0:
        data = data[0]
        if isinstance(data, (str, bytes)):
            return True
    return False


def _check_data(data):
    """PyTorch's exceptions for data it cannot infer a dtype for: a str where it reads the
    shape (the first elements) has 'too many dimensions' (ValueError), one elsewhere is an
    invalid data type (TypeError)."""
    if isinstance(data, str):
        raise TypeError(f"new(): invalid data type '{type(data).__name__}'")
    bad = _leaf_type(data)
    if bad is str or bad is bytes:
        if _first_chain_has_str(data):
            raise ValueError(f"too many dimensions '{bad.__name__}'")
        raise TypeError(f"new(): invalid data type '{bad.__name__}'")
    if bad is not None:
        raise RuntimeError(f"Could not infer dtype of {bad.__name__}")


# numpy integer dtypes kept as they are; other integers (uint16 ...) become int64.
_NP_INTS = ("int64", "int32", "int16", "int8", "uint8")
_NP_FLOATS = {2: "float16", 4: "float32", 8: "float64"}


def _numpy_dtype_to_tg(arr):
    k = arr.dtype.kind
    if k == "b":
        return _C.dtype.bool
    if k in "iu":
        return getattr(_C.dtype, arr.dtype.name) if arr.dtype.name in _NP_INTS else _C.dtype.int64
    if k == "f":
        return getattr(_C.dtype, _NP_FLOATS.get(arr.dtype.itemsize, "float32"))
    raise TypeError(f"can't convert data of numpy type {arr.dtype} to a tensor")


def tensor(data, dtype=None, requires_grad=False, device=None):
    """A new tensor holding a copy of `data` (nested lists, numbers, numpy arrays, tensors)."""
    check_device(device)
    if isinstance(data, _C.Tensor):
        # through the tensor itself, not numpy: bfloat16 has no numpy dtype
        t = data.detach()
        t = t.to(_dtype(dtype, t.dtype)) if dtype is not None else t
        t = (t.clone() if t.data_ptr() == data.data_ptr() else t).contiguous()
        return _finish(t, requires_grad, "tensor", allow_none=False)
    elif isinstance(data, (np.ndarray, np.generic)):  # numpy scalars keep their dtype too
        from_python = False
        arr = np.asarray(data)
    else:
        _check_data(data)
        from_python = True
        arr = np.asarray(data)
        if arr.dtype.kind == "f" and dtype is None:  # Python floats: the default float dtype
            arr = arr.astype(np.float32)
        elif arr.dtype.kind == "O":
            raise TypeError(f"could not convert {type(data).__name__} to a tensor")
    if arr.dtype.kind in "iu" and arr.dtype.name not in _NP_INTS:
        arr = arr.astype(np.int64)
    elif arr.dtype.kind == "f" and arr.dtype.itemsize not in (2, 4, 8):
        arr = arr.astype(np.float32)
    dtype = _dtype(dtype, None) if dtype is not None else _numpy_dtype_to_tg(arr)
    if (not dtype.is_floating_point and dtype != _C.dtype.bool and arr.dtype.kind == "f"
            and not np.isfinite(arr).all()):
        raise RuntimeError(f"value cannot be converted to type {dtype!r} without overflow")
    if (from_python and arr.size and dtype.itemsize < 8 and not dtype.is_floating_point
            and dtype != _C.dtype.bool and arr.dtype.kind in "iuf"):
        # PyTorch refuses Python numbers a narrow integer dtype cannot hold (c10's
        # overflows(): uint8 also takes -255..-1, wrapping them)
        name = repr(dtype).split(".")[1]
        info = np.iinfo(name)
        lo = -info.max if info.min == 0 else info.min
        if arr.min() < lo or arr.max() > info.max:
            raise RuntimeError(f"value cannot be converted to type {name} without overflow")
    if not arr.flags.c_contiguous:
        arr = np.ascontiguousarray(arr)
    return _finish(_C._tensor_from_numpy(arr, dtype), requires_grad, "tensor", allow_none=False)


def zeros(*size, dtype=None, requires_grad=False, device=None):
    check_device(device)
    return _finish(_C._zeros(_size(size), _dtype(dtype, _default_float)), requires_grad, "zeros")


def ones(*size, dtype=None, requires_grad=False, device=None):
    check_device(device)
    return _finish(_C._full(_size(size), 1.0, _dtype(dtype, _default_float)), requires_grad, "ones")


def empty(*size, dtype=None, requires_grad=False, device=None):
    check_device(device)
    return _finish(_C._empty(_size(size), _dtype(dtype, _default_float)), requires_grad, "empty")


def full(size, fill_value, dtype=None, requires_grad=False, device=None):
    check_device(device)
    fill_value = _number("full", "fill_value", 2, fill_value)
    if dtype is None:
        dtype = (_C.dtype.bool if isinstance(fill_value, builtins.bool) else
                 _C.dtype.int64 if isinstance(fill_value, int) else _default_float)
    return _finish(_C._full(_size((size,)), fill_value, dtype), requires_grad, "full")


def _like(fn, input):
    if not isinstance(input, _C.Tensor):
        raise TypeError(f"{fn}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    return input


def zeros_like(input, dtype=None, requires_grad=False, device=None):
    check_device(device)
    input = _like("zeros_like", input)
    return zeros(input.shape, dtype=_dtype(dtype, input.dtype), requires_grad=requires_grad)


def ones_like(input, dtype=None, requires_grad=False, device=None):
    check_device(device)
    input = _like("ones_like", input)
    return ones(input.shape, dtype=_dtype(dtype, input.dtype), requires_grad=requires_grad)


def empty_like(input, dtype=None, requires_grad=False, device=None):
    check_device(device)
    input = _like("empty_like", input)
    return empty(input.shape, dtype=_dtype(dtype, input.dtype), requires_grad=requires_grad)


def full_like(input, fill_value, dtype=None, requires_grad=False, device=None):
    check_device(device)
    input = _like("full_like", input)
    return full(input.shape, fill_value, dtype=_dtype(dtype, input.dtype), requires_grad=requires_grad)


def rand(*size, dtype=None, requires_grad=False, generator=None, device=None):
    check_device(device)
    return _finish(_C._rand(_size(size), _dtype(dtype, _default_float), generator), requires_grad, "rand")


def randn(*size, dtype=None, requires_grad=False, generator=None, device=None):
    check_device(device)
    return _finish(_C._randn(_size(size), _dtype(dtype, _default_float), generator), requires_grad, "randn")


def randint(low, high=None, size=None, dtype=None, generator=None, requires_grad=False,
            device=None):
    """randint(high, size) or randint(low, high, size), like PyTorch."""
    check_device(device)
    if size is None:
        if not isinstance(high, (tuple, list)):
            raise TypeError("randint() missing required argument 'size'")
        low, high, size = 0, low, high
    elif high is None:
        raise TypeError("randint() missing required argument 'high'")
    low, high = _int("randint", "low", low), _int("randint", "high", high)
    return _finish(_C._randint(low, high, _size((size,)), _dtype(dtype, _C.dtype.int64), generator),
                   requires_grad, "randint")


def randperm(n, *, generator=None, dtype=None, requires_grad=False, device=None):
    check_device(device)
    return _finish(_C.randperm(n, dtype=_dtype(dtype, _C.dtype.int64), generator=generator), requires_grad, "randperm")


def rand_like(input, dtype=None, requires_grad=False, device=None):
    check_device(device)
    input = _like("rand_like", input)
    return rand(input.shape, dtype=_dtype(dtype, input.dtype), requires_grad=requires_grad)


def randn_like(input, dtype=None, requires_grad=False, device=None):
    check_device(device)
    input = _like("randn_like", input)
    return randn(input.shape, dtype=_dtype(dtype, input.dtype), requires_grad=requires_grad)


def _is_float(*xs):
    return any(isinstance(x, builtins.float) or
               (isinstance(x, _C.Tensor) and x.dtype.is_floating_point) for x in xs)


def _number(fn, name, position, v):
    """A Number argument: Python and numpy numbers, one-element tensors; TypeError otherwise."""
    if isinstance(v, _C.Tensor):
        if v.numel() != 1:
            raise TypeError(f"{fn}(): argument '{name}' (position {position}) must be Number, not Tensor")
        return v
    if isinstance(v, (int, builtins.float, np.number, np.bool_)):
        return v
    raise TypeError(f"{fn}(): argument '{name}' (position {position}) must be Number, not {type(v).__name__}")


_MISSING = object()  # an argument not given (None given is a TypeError there, as in PyTorch)


def arange(start, end=_MISSING, step=_MISSING, dtype=None, requires_grad=False, device=None):
    check_device(device)
    dtype = _dtype(dtype, None)
    if end is _MISSING:
        if step is not _MISSING:
            raise TypeError("arange() received an invalid combination of arguments: step given without end")
        start, end, step = 0, _number("arange", "end", 1, start), 1
    else:
        start, end = _number("arange", "start", 1, start), _number("arange", "end", 2, end)
    step = _number("arange", "step", 3, 1 if step is _MISSING else step)
    if dtype is None:
        dtype = _default_float if _is_float(start, end, step) else _C.dtype.int64
    return _finish(_C._arange(float(start), float(end), float(step), dtype), requires_grad, "arange")


def _int(fn, name, v):
    """An integer argument: ints and numpy integers, not floats (TypeError, as in PyTorch)."""
    if isinstance(v, builtins.bool) or not hasattr(type(v), "__index__"):
        raise TypeError(f"{fn}(): argument '{name}' must be int, not {type(v).__name__}")
    return operator.index(v)


def _linspace_end(name, position, v):
    """start/end of linspace: a Number, or a 0-d tensor (PyTorch's Tensor overloads)."""
    if isinstance(v, _C.Tensor) and v.dim() != 0:
        raise RuntimeError(f"linspace only supports 0-dimensional start and end tensors, but got {name} "
                           f"with {v.dim()} dimension(s).")
    return float(_number("linspace", name, position, v))


def linspace(start, end, steps, dtype=None, requires_grad=False, device=None):
    check_device(device)
    start, end = _linspace_end("start", 1, start), _linspace_end("end", 2, end)
    return _finish(_C._linspace(start, end, _int("linspace", "steps", steps),
                                _dtype(dtype, _default_float)), requires_grad, "linspace")


def eye(n, m=_MISSING, dtype=None, requires_grad=False, device=None):
    check_device(device)
    n = _int("eye", "n", n)
    m = n if m is _MISSING else _int("eye", "m", m)
    return _finish(_C._eye(n, m, _dtype(dtype, _default_float)), requires_grad, "eye")
