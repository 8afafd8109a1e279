"""Gradient clipping, as torch.nn.utils.clip_grad: clip_grad_norm_ (the total p-norm of all
gradients, as if concatenated, scaled down to max_norm), clip_grad_value_ (clamped into
[-clip_value, clip_value]) and their parts get_total_norm / clip_grads_with_norm_. All run
without recording autograd history."""
import functools
import math
import types
import warnings

from ... import _C
from ..._creation import tensor
from ...grad_mode import no_grad

__all__ = ["clip_grad_norm", "clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm"]


def _no_grad(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with no_grad():
            return fn(*args, **kwargs)
    return wrapper


def _tensor_list(tensors):
    if isinstance(tensors, _C.Tensor):
        return [tensors]
    return list(tensors)


def _vector_norm(t, p):
    """torch.linalg.vector_norm(t, p) of the whole tensor, in t's dtype."""
    a = t.abs()
    if p == math.inf:
        return a.max()
    if p == -math.inf:
        return a.min()
    if p == 0:
        return (a != 0).sum().to(t.dtype)
    if p == 1:
        return a.sum()
    if p == 2:
        return (t * t).sum().sqrt()
    return a.pow(p).sum().pow(1.0 / p)


@_no_grad
def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The norm_type-norm of all the tensors together (as one vector), a 0-d tensor;
    RuntimeError with error_if_nonfinite when it is nan or infinite."""
    tensors = _tensor_list(tensors)
    norm_type = float(norm_type)
    if len(tensors) == 0:
        return tensor(0.0)
    norms = [_vector_norm(t, norm_type) for t in tensors]
    dtype = norms[0].dtype
    for n in norms[1:]:
        if n.dtype == _C.dtype.float64:
            dtype = n.dtype
    total_norm = _vector_norm(_C.stack([n.to(dtype) for n in norms]), norm_type)
    if error_if_nonfinite and not math.isfinite(float(total_norm)):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from "
            "`parameters` is non-finite, so it cannot be clipped. To disable "
            "this error and scale the gradients by the non-finite norm anyway, "
            "set `error_if_nonfinite=False`")
    return total_norm


@_no_grad
def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Multiplies every gradient in place by min(max_norm / (total_norm + 1e-6), 1)."""
    parameters = _tensor_list(parameters)
    grads = [p.grad for p in parameters if p.grad is not None]
    max_norm = float(max_norm)
    if len(grads) == 0:
        return
    clip_coef = max_norm / (total_norm + 1e-6)
    clip_coef_clamped = clip_coef.clamp(max=1.0)
    for g in grads:
        g.mul_(clip_coef_clamped.to(g.dtype))


@_no_grad
def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scales the gradients of parameters in place so that their total norm_type-norm (as
    one vector; 'inf' for the largest absolute value) is at most max_norm; returns the
    total norm before clipping."""
    if isinstance(parameters, _C.Tensor):
        parameters = [parameters]
    else:
        is_generator = isinstance(parameters, types.GeneratorType)
        parameters = list(parameters)
        if is_generator and len(parameters) == 0:
            warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.", stacklevel=3)
    for p in parameters:  # a clear TypeError, not an AttributeError, for a non-tensor
        if not isinstance(p, _C.Tensor):
            raise TypeError(f"clip_grad_norm_(): parameters must be Tensors, got {type(p).__name__}")
    grads = [p.grad for p in parameters if p.grad is not None]
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total_norm, foreach)
    return total_norm


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Deprecated alias of clip_grad_norm_ (warns, as PyTorch's)."""
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`torch.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


@_no_grad
def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamps every gradient in place into [-clip_value, clip_value]."""
    parameters = _tensor_list(parameters)
    clip_value = float(clip_value)
    for p in parameters:
        if p.grad is not None:
            p.grad.clamp_(min=-clip_value, max=clip_value)
