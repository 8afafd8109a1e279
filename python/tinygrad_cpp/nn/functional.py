"""nn.functional: activations, linear, dropout and losses as functions. Activations call
the tensor ops; each loss is one fused C++ op with its own backward node."""
import warnings

from .. import _C

__all__ = ["relu", "relu_", "leaky_relu_", "sigmoid", "tanh", "gelu", "silu", "leaky_relu", "softmax", "log_softmax",
           "linear", "dropout", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "kl_div",
           "cross_entropy", "nll_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits"]

# inplace=True writes the result into `input` and returns it, recorded by autograd as
# PyTorch records it (the input's history is rebased onto the op's node).


def relu(input, inplace=False):
    return input.relu_() if inplace else input.relu()


def relu_(input):
    return input.relu_()


def sigmoid(input):
    return input.sigmoid()


def tanh(input):
    return input.tanh()


def gelu(input, approximate="none"):
    """GELU, the exact erf form by default, or its tanh approximation."""
    return input.gelu(approximate=approximate)


def silu(input, inplace=False):
    return _C.silu_(input) if inplace else _C.silu(input)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    if inplace:
        return _C.leaky_relu_(input, negative_slope)
    return _C.leaky_relu(input, negative_slope)


def leaky_relu_(input, negative_slope=0.01):
    return _C.leaky_relu_(input, negative_slope)


def _softmax_dim(name, ndim, stacklevel):
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to "
                  "include dim=X as an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _softmax_dim("softmax", input.dim(), _stacklevel)
    if dtype is not None:
        input = input.to(dtype)
    return input.softmax(dim)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _softmax_dim("log_softmax", input.dim(), _stacklevel)
    if dtype is not None:
        input = input.to(dtype)
    return input.log_softmax(dim)


def linear(input, weight, bias=None):
    """y = input @ weight.T + bias, one fused op (matmul with the bias added in place)."""
    return _C._linear(input, weight, bias)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zeroes elements with probability p and scales the rest by 1/(1-p) when training."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    return _C.dropout_(input, p, training) if inplace else _C.dropout(input, p, training)


# ---- losses ----------------------------------------------------------------------------

_REDUCTIONS = {"none": 0, "mean": 1, "sum": 2}


def _reduction_code(reduction):
    if reduction == "elementwise_mean":
        warnings.warn("reduction='elementwise_mean' is deprecated, please use reduction='mean' instead.",
                      stacklevel=3)
        reduction = "mean"
    if not isinstance(reduction, str) or reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return _REDUCTIONS[reduction]


def _legacy_reduction(size_average, reduce):
    """The reduction named by the deprecated size_average/reduce flags."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def _reduction(reduction, size_average, reduce):
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce)
    return _reduction_code(reduction)


def _check_tensors(fn, **tensors):
    for name, t in tensors.items():
        optional = name in ("weight", "pos_weight")
        if not (optional and t is None) and not isinstance(t, _C.Tensor):
            raise TypeError(f"{fn}(): argument '{name}' must be a Tensor, not {type(t).__name__}")


def _warn_broadcast(input, target):
    if tuple(input.shape) != tuple(target.shape):
        warnings.warn(f"Using a target size ({tuple(target.shape)}) that is different to the input "
                      f"size ({tuple(input.shape)}). This will likely lead to incorrect results due "
                      "to broadcasting. Please ensure they have the same size.", stacklevel=3)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Mean squared error; target broadcasts against input (with a warning, as in PyTorch)."""
    _check_tensors("mse_loss", input=input, target=target)
    _warn_broadcast(input, target)
    return _C._mse_loss(input, target, _reduction(reduction, size_average, reduce))


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Mean absolute error; target broadcasts against input (with a warning)."""
    _check_tensors("l1_loss", input=input, target=target)
    _warn_broadcast(input, target)
    return _C._l1_loss(input, target, _reduction(reduction, size_average, reduce))


def _float_arg(fn, name, v):
    """A float option: numbers (and one-element tensors), not strings (TypeError)."""
    if isinstance(v, (str, bytes)) or not hasattr(type(v), "__float__"):
        raise TypeError(f"{fn}(): argument '{name}' must be float, not {type(v).__name__}")
    return float(v)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """0.5 (x - y)^2 / beta where |x - y| < beta, else |x - y| - 0.5 beta; beta=0 is
    l1_loss. Target broadcasts against input (with a warning)."""
    _check_tensors("smooth_l1_loss", input=input, target=target)
    _warn_broadcast(input, target)
    return _C._smooth_l1_loss(input, target, _reduction(reduction, size_average, reduce),
                              _float_arg("smooth_l1_loss", "beta", beta))


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """0.5 (x - y)^2 where |x - y| < delta, else delta (|x - y| - 0.5 delta): smooth_l1_loss
    times delta. `weight` (the input's shape) scales each element's loss before the
    reduction; that path is composed of tensor ops, as in PyTorch."""
    _check_tensors("huber_loss", input=input, target=target, weight=weight)
    _warn_broadcast(input, target)
    delta = _float_arg("huber_loss", "delta", delta)
    if weight is None:
        return _C._huber_loss(input, target, _reduction_code(reduction), delta)
    if tuple(weight.shape) != tuple(input.shape):
        raise ValueError("Weights and input must have the same size.")
    code = _reduction_code(reduction)
    weighted = _C._huber_loss(input, target, 0, delta) * weight
    return weighted if code == 0 else weighted.sum() if code == 2 else weighted.mean()


_KL_MEAN_WARNING = ("reduction: 'mean' divides the total loss by both the batch size and the support "
                    "size.'batchmean' divides only by the batch size, and aligns with the KL div math "
                    "definition.'mean' will be changed to behave the same as 'batchmean' in the next "
                    "major release.")


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """KL divergence: target * (log(target) - input) for log-probabilities `input` (0 where
    target == 0), or exp(target) * (target - input) with log_target. reduction 'batchmean'
    divides the sum by input.size(0), the KL divergence's mathematical definition; 'mean'
    divides by the number of elements and warns, as PyTorch does."""
    _check_tensors("kl_div", input=input, target=target)
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce)
    if reduction == "batchmean":
        code = 3
    else:
        if reduction == "mean":
            warnings.warn(_KL_MEAN_WARNING, stacklevel=2)
        code = _reduction_code(reduction)
    return _C._kl_div(input, target, code, bool(log_target))


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """log_softmax over dim 1 and negative log-likelihood, fused in one stable kernel.

    input [N, C] (or [C], or [N, C, d1, ...]); target int64 class indices [N] (or 0-d,
    or [N, d1, ...]), or float class probabilities shaped like input."""
    _check_tensors("cross_entropy", input=input, target=target, weight=weight)
    return _C._cross_entropy(input, target, weight, _reduction(reduction, size_average, reduce),
                             int(ignore_index), float(label_smoothing))


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """Negative log-likelihood of log-probabilities `input` at int64 class `target`."""
    _check_tensors("nll_loss", input=input, target=target, weight=weight)
    return _C._nll_loss(input, target, weight, _reduction(reduction, size_average, reduce),
                        int(ignore_index))


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """BCE of probabilities in [0, 1]; logs are clamped to >= -100 as in PyTorch."""
    _check_tensors("binary_cross_entropy", input=input, target=target, weight=weight)
    return _C._binary_cross_entropy(input, target, weight, _reduction(reduction, size_average, reduce))


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """BCE of sigmoid(input), computed stably from the logits."""
    _check_tensors("binary_cross_entropy_with_logits", input=input, target=target, weight=weight,
                   pos_weight=pos_weight)
    return _C._binary_cross_entropy_with_logits(input, target, weight, pos_weight,
                                                _reduction(reduction, size_average, reduce))
