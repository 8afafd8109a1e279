"""Tensor methods that are pure presentation or Python protocol glue (repr, iteration,
numpy protocol, backward's argument handling). The arithmetic lives in C++."""
import numpy as np

from . import _C, _device, autograd

Tensor = _C.Tensor


def _float_formatter(arr):
    """PyTorch's element format: integers as `1.`, else 4 decimals, or scientific when the
    magnitudes span too much; all elements padded to one width."""
    finite = arr[np.isfinite(arr)]
    nonzero = np.abs(finite[finite != 0])
    sci = nonzero.size and (nonzero.max() / nonzero.min() > 1000.0 or nonzero.max() > 1e8)
    if finite.size and np.all(finite == np.round(finite)):
        fmt = (lambda v: f"{v:.4e}") if sci else (lambda v: f"{v:.0f}.")
    elif sci or (nonzero.size and nonzero.min() < 1e-4):
        fmt = lambda v: f"{v:.4e}"  # noqa: E731
    else:
        fmt = lambda v: f"{v:.4f}"  # noqa: E731

    def one(v):
        if np.isnan(v):
            return "nan"
        if np.isinf(v):
            return "inf" if v > 0 else "-inf"
        return fmt(v)

    width = max((len(fmt(v)) for v in finite.reshape(-1)[:2000]), default=0)
    return lambda v: one(v).rjust(width)


def _host_array(t):
    """The values as a numpy array: shared memory, or float32 for bfloat16 (numpy has none)."""
    t = t.detach()
    return (t.float() if t.dtype == _C.dtype.bfloat16 else t).numpy()


def _repr(self):
    arr = _host_array(self)
    opts = dict(separator=", ", prefix="tensor(", threshold=1000, edgeitems=3)
    if self.dtype.is_floating_point and arr.size:
        body = np.array2string(arr, formatter={"float_kind": _float_formatter(arr.astype(np.float64))}, **opts)
    elif self.dtype == _C.dtype.bool:
        body = np.array2string(arr, formatter={"bool": lambda v: str(bool(v)).rjust(5 if arr.any() and not arr.all() else 4)}, **opts)
    else:
        body = np.array2string(arr, **opts)
    extras = []
    default = _C.dtype.float32 if self.dtype.is_floating_point else _C.dtype.int64
    if arr.size == 0 and arr.ndim != 1:
        extras.append(f"size={tuple(arr.shape)}")
    if self.dtype != default and self.dtype != _C.dtype.bool:
        extras.append(f"dtype={self.dtype!r}")
    if self.grad_fn is not None:
        extras.append(f"grad_fn=<{self.grad_fn.name()}>")
    elif self.requires_grad:
        extras.append("requires_grad=True")
    return "tensor(" + ", ".join([body] + extras) + ")"


def _array(self, dtype=None, copy=None):
    arr = self.numpy()
    return arr if dtype is None else arr.astype(dtype, copy=False)


def _len(self):
    if self.ndim == 0:
        raise TypeError("len() of a 0-d tensor")
    return self.shape[0]


def _iter(self):
    if self.ndim == 0:
        raise TypeError("iteration over a 0-d tensor")
    return (self[i] for i in range(self.shape[0]))


def _backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    if inputs is not None:
        raise NotImplementedError("backward(inputs=...) is not supported; use autograd.grad")
    if gradient is not None and not isinstance(gradient, (Tensor, list, tuple)):
        # PyTorch takes a tensor (or a sequence of them), never a number
        raise TypeError(f"backward(): argument 'gradient' must be Tensor, not {type(gradient).__name__}")
    if retain_graph is None:  # PyTorch: the graph is kept when the backward is recorded
        retain_graph = create_graph
    autograd._run_engine(self._backward, gradient, bool(retain_graph), bool(create_graph))


def _tolist(self):
    return _host_array(self).tolist()


def _deepcopy(self, memo):
    if id(self) in memo:
        return memo[id(self)]
    out = self.detach().clone()
    out.requires_grad_(self.requires_grad)
    if self.grad is not None:
        out.grad = self.grad.detach().clone()
    memo[id(self)] = out
    return out


def _rebuild(array, requires_grad, dtype=None):
    t = _C.from_numpy(array)
    if dtype is not None:
        t = t.to(getattr(_C.dtype, dtype))
    return t.requires_grad_(True) if requires_grad else t


def _reduce(self):
    # Pickles through a contiguous numpy copy of the data; history is not kept. bfloat16
    # goes as float32 (exact) and is converted back.
    arr = np.ascontiguousarray(_host_array(self)).copy()
    if self.dtype == _C.dtype.bfloat16:
        return (_rebuild, (arr, self.requires_grad, "bfloat16"))
    return (_rebuild, (arr, self.requires_grad))


def install():
    Tensor.__module__ = "tinygrad_cpp"
    Tensor.__repr__ = _repr
    Tensor.__str__ = _repr
    Tensor.__array__ = _array
    Tensor.__array_priority__ = 1000  # numpy defers `ndarray op tensor` to us
    Tensor.__len__ = _len
    Tensor.__iter__ = _iter
    Tensor.backward = _backward
    Tensor.tolist = _tolist
    Tensor.__deepcopy__ = _deepcopy
    Tensor.__reduce__ = _reduce
    Tensor.__bool__ = _bool
    Tensor.__float__ = lambda self: float(_scalar(self))
    Tensor.__int__ = lambda self: int(_scalar(self))
    Tensor.__index__ = _index
    Tensor.T = property(lambda self: self.permute(*reversed(range(self.ndim))))
    Tensor.__dlpack__ = _dlpack
    Tensor.__dlpack_device__ = lambda self: (1, 0)  # kDLCPU
    _device.install(Tensor)


def _dlpack(self, stream=None, **kw):
    if self.dtype == _C.dtype.bfloat16:  # numpy has no bfloat16: our own capsule
        return _C._to_dlpack(self.detach())
    try:
        return self.detach().numpy().__dlpack__(**kw)
    except BufferError as e:  # read-only memory (numpy's DLPack cannot flag it): an error the API names
        raise RuntimeError(f"__dlpack__: cannot export this tensor ({e})") from None
def _bool(self):
    # PyTorch's types: RuntimeError here, ValueError for float()/int() (see _scalar)
    if self.numel() != 1:
        raise RuntimeError("Boolean value of Tensor with " + ("no values" if self.numel() == 0 else
                                                              "more than one value") + " is ambiguous")
    return bool(self.item())


def _scalar(self):
    if self.numel() != 1:
        raise ValueError("only one element tensors can be converted to Python scalars")
    return self.item()


def _index(self):
    if self.dtype.is_floating_point or self.numel() != 1:
        raise TypeError("only integer tensors of a single element can be converted to an index")
    return int(self.item())
