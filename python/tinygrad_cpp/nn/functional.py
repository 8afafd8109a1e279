"""nn.functional: activations, linear, dropout, batch norm and losses as functions. Activations
call the tensor ops; convolution, pooling, padding, resizing, batch norm and each loss are
one C++ op with its own backward node."""
import math
import operator
import warnings

from .. import _C


# inplace=True writes the result into `input` and returns it, recorded by autograd as
# PyTorch records it (the input's history is rebased onto the op's node).


def _tensor(fn, input):
    """PyTorch's TypeError for a non-Tensor input (not the AttributeError of `input.relu()`)."""
    if not isinstance(input, _C.Tensor):
        raise TypeError(f"{fn}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")


def relu(input, inplace=False):
    _tensor("relu", input)
    return input.relu_() if inplace else input.relu()


def relu_(input):
    _tensor("relu_", input)
    return input.relu_()


def sigmoid(input):
    _tensor("sigmoid", input)
    return input.sigmoid()


def tanh(input):
    _tensor("tanh", input)
    return input.tanh()


def gelu(input, approximate="none"):
    """GELU, the exact erf form by default, or its tanh approximation."""
    _tensor("gelu", input)
    return input.gelu(approximate=approximate)


def silu(input, inplace=False):
    return _C.silu_(input) if inplace else _C.silu(input)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    if inplace:
        return _C.leaky_relu_(input, negative_slope)
    return _C.leaky_relu(input, negative_slope)


def leaky_relu_(input, negative_slope=0.01):
    return _C.leaky_relu_(input, negative_slope)


def elu(input, alpha=1.0, inplace=False):
    """x for x > 0, alpha (e^x - 1) otherwise; in place: written back into `input`."""
    _tensor("elu", input)
    out = _C.elu(input, alpha)
    return input.copy_(out) if inplace else out


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + e^(beta x)) / beta, and x itself where beta x > threshold."""
    _tensor("softplus", input)
    return _C.softplus(input, beta, threshold)


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


def _per_dim(value, dims, fn, name):
    """An int or a sequence of ints as a list of `dims` ints (TypeError for anything else,
    as PyTorch's argument parser)."""
    items = list(value) if isinstance(value, (tuple, list)) else [value]
    out = []
    for v in items:
        try:
            if isinstance(v, bool):
                raise TypeError
            out.append(operator.index(v))
        except TypeError:
            raise TypeError(f"{fn}(): argument '{name}' must be tuple of ints, but found element of "
                            f"type {type(v).__name__}") from None
    return out


def _int_arg(fn, name, v, position=None):
    """An int option as PyTorch's parser takes it: ints and what has __index__ (numpy integers,
    one-element integer tensors); not bools, floats or anything else (TypeError)."""
    if not isinstance(v, bool):
        try:
            return operator.index(v)
        except (TypeError, RuntimeError):
            pass
    where = "" if position is None else f" (position {position})"
    raise TypeError(f"{fn}(): argument '{name}'{where} must be int, not {type(v).__name__}")


def _conv_padding(padding, weight, dims, stride, dilation, fn):
    """padding as (leading, trailing) lists; 'same' pads d*(k-1) in all, the odd one after."""
    if isinstance(padding, bytes):  # PyTorch's parser reads bytes as a str
        padding = padding.decode()
    if isinstance(padding, str):
        if padding == "valid":
            return [0] * dims, [0] * dims
        if padding != "same":
            raise RuntimeError(f"Invalid padding string: '{padding}'")
        if any(s != 1 for s in stride):
            raise RuntimeError("padding='same' is not supported for strided convolutions")
        if not isinstance(weight, _C.Tensor) or weight.dim() != dims + 2:
            return [0] * dims, [0] * dims  # the op reports the bad weight
        dilation = dilation * dims if len(dilation) == 1 else dilation
        total = [d * (k - 1) for d, k in zip(dilation, weight.shape[2:])]
        return [t // 2 for t in total], [t - t // 2 for t in total]
    pad = _per_dim(padding, dims, fn, "padding")
    return pad, pad


def _check_conv_tensors(fn, input, weight, bias):
    for name, t in (("input", input), ("weight", weight), ("bias", bias)):
        if not isinstance(t, _C.Tensor) and not (name == "bias" and t is None):
            raise TypeError(f"{fn}(): argument '{name}' must be a Tensor, not {type(t).__name__}")


def _conv(dims, input, weight, bias, stride, padding, dilation, groups):
    fn = f"conv{dims}d"
    _check_conv_tensors(fn, input, weight, bias)
    stride = _per_dim(stride, dims, fn, "stride")
    dilation = _per_dim(dilation, dims, fn, "dilation")
    groups = _int_arg(fn, "groups", groups)
    lead, trail = _conv_padding(padding, weight, dims, stride, dilation, fn)
    return _C._conv(input, weight, bias, dims, stride, lead, trail, dilation, groups)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-d convolution over [N, C, L] (or [C, L]); padding an int, a tuple or 'same'/'valid'."""
    return _conv(1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-d convolution over [N, C, H, W] (or [C, H, W]); padding an int, a tuple or 'same'/'valid'."""
    return _conv(2, input, weight, bias, stride, padding, dilation, groups)


def _conv_transpose(dims, input, weight, bias, stride, padding, output_padding, groups, dilation):
    fn = f"conv_transpose{dims}d"
    _check_conv_tensors(fn, input, weight, bias)
    args = [_per_dim(v, dims, fn, name) for v, name in
            ((stride, "stride"), (padding, "padding"), (output_padding, "output_padding"), (dilation, "dilation"))]
    groups = _int_arg(fn, "groups", groups)
    stride, padding, output_padding, dilation = args
    return _C._conv_transpose(input, weight, bias, dims, stride, padding, output_padding, groups, dilation)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return _conv_transpose(1, input, weight, bias, stride, padding, output_padding, groups, dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    return _conv_transpose(2, input, weight, bias, stride, padding, output_padding, groups, dilation)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zeroes elements with probability p and scales the rest by 1/(1-p) when training."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not isinstance(training, bool):
        raise TypeError(f"dropout(): argument 'train' (position 3) must be bool, not {type(training).__name__}")
    if not training or p == 0.0:
        return input
    return _C.dropout_(input, p, training) if inplace else _C.dropout(input, p, training)


def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _feature_dropout_warning(name, ndim, spatial):
    warnings.warn(f"{name}: Received a {ndim}-D input to {name}, which is deprecated and will result in "
                  "an error in a future release. To retain the behavior and silence this warning, please "
                  f"use dropout instead. Note that {name} exists to provide channel-wise dropout on inputs "
                  f"with {spatial} spatial dimensions, a channel dimension, and an optional batch "
                  f"dimension (i.e. {spatial + 1}D or {spatial + 2}D inputs).", stacklevel=3)


def _feature_dropout(input, p, training, inplace):
    """One draw per (n, c) channel; in place it is input.mul_(mask), recorded as PyTorch
    records it (MulBackward0), the mask drawn as the out-of-place op draws it."""
    if not inplace or not training or p == 0.0 or input.numel() == 0 or input.dim() < 2 or \
            not input.is_floating_point():
        return _C._feature_dropout(input, p, training)  # (raises PyTorch's errors for the last two)
    noise = tuple(input.shape[:2]) + (1,) * (input.dim() - 2)
    from .._creation import ones
    return input.mul_(_C._feature_dropout(ones(noise, dtype=input.dtype), p, training))


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zeroes whole channels of (N, C, L) (or unbatched (C, L)) with probability p and
    scales the rest by 1/(1-p) when training."""
    _check_p(p)
    ndim = input.dim()
    if ndim not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {ndim}D input. Note that "
                           "dropout1d exists to provide channel-wise dropout on inputs with 1 spatial "
                           "dimension, a channel dimension, and an optional batch dimension (i.e. 2D or "
                           "3D inputs).")
    if ndim == 3:
        return _feature_dropout(input, p, training, inplace)
    if inplace:  # through a batched view of the input, which PyTorch returns itself
        _feature_dropout(input.unsqueeze(0), p, training, inplace)
        return input
    return _feature_dropout(input.unsqueeze(0), p, training, inplace).squeeze(0)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zeroes whole channels of (N, C, H, W) with probability p and scales the rest by
    1/(1-p) when training. A 3D input is taken as (N, C, L), with PyTorch's warning."""
    _check_p(p)
    ndim = input.dim()
    if ndim not in (3, 4):
        _feature_dropout_warning("dropout2d", ndim, 2)
    if ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D "
                      "dropout behavior is desired - input is interpreted as shape (N, C, L), where C is "
                      "the channel dim. This behavior will change in a future release to interpret the "
                      "input as one without a batch dimension, i.e. shape (C, H, W). To maintain the 1D "
                      "channel-wise dropout behavior, please switch to using dropout1d instead.",
                      stacklevel=2)
    return _feature_dropout(input, p, training, inplace)


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zeroes whole channels of (N, C, D, H, W) (or unbatched (C, D, H, W)) with
    probability p and scales the rest by 1/(1-p) when training."""
    _check_p(p)
    ndim = input.dim()
    if ndim not in (4, 5):
        _feature_dropout_warning("dropout3d", ndim, 3)
    if ndim == 5:
        return _feature_dropout(input, p, training, inplace)
    if inplace:  # through a batched view of the input, which PyTorch returns itself
        _feature_dropout(input.unsqueeze(0), p, training, inplace)
        return input
    return _feature_dropout(input.unsqueeze(0), p, training, inplace).squeeze(0)


def _optional_tensor(fn, name, position, t):
    if t is not None and not isinstance(t, _C.Tensor):
        raise TypeError(f"{fn}(): argument '{name}' (position {position}) must be Tensor, not "
                        f"{type(t).__name__}")


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5):
    """Normalizes each channel (dim 1) of input (N, C, ...): with the batch's mean and biased
    variance when training, updating running_mean/running_var in place (momentum, unbiased
    variance) when they are given; else with running_mean/running_var."""
    if not isinstance(input, _C.Tensor):
        raise TypeError(f"batch_norm(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    for i, (name, t) in enumerate([("weight", weight), ("bias", bias), ("running_mean", running_mean),
                                   ("running_var", running_var)]):
        _optional_tensor("batch_norm", name, i + 2, t)
    # PyTorch's Python-level checks come before its parser's types: `if training:` (bool() of a
    # many-element tensor is a RuntimeError) and the eps comparisons (a str eps: TypeError).
    if training and eps <= 0.0:
        raise ValueError(f"batch_norm eps must be positive during training, but got {eps}")
    elif eps < 0.0:
        raise ValueError(f"batch_norm eps must be non-negative, but got {eps}")
    if not isinstance(training, bool):
        raise TypeError(f"batch_norm(): argument 'training' (position 6) must be bool, not "
                        f"{type(training).__name__}")
    momentum = _float_arg("batch_norm", "momentum", momentum)
    eps = _float_arg("batch_norm", "eps", eps)
    return _C._batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


# ---- sequence layers: embedding, one_hot, layer/group/RMS norm -------------------------

def _float0(fn, name, position, v):
    """A float argument as PyTorch's parser takes it: numbers and 0-d tensors (TypeError
    for strings, other tensors and other types)."""
    if isinstance(v, (str, bytes)) or not hasattr(type(v), "__float__") or (
            isinstance(v, _C.Tensor) and v.dim() != 0):
        raise TypeError(f"{fn}(): argument '{name}' (position {position}) must be float, not {type(v).__name__}")
    return float(v)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """The rows of weight (num_embeddings, embedding_dim) named by the int64 indices in input
    (any shape): shape input.shape + (embedding_dim,). Row padding_idx (negative counts from
    the end) receives no gradient; with max_norm the looked-up rows of weight whose norm
    exceeds it are first rescaled in place to that norm; scale_grad_by_freq divides each
    row's gradient by how often it occurs in input."""
    if not isinstance(weight, _C.Tensor):
        raise TypeError(f"embedding(): argument 'weight' (position 1) must be Tensor, not {type(weight).__name__}")
    if not isinstance(input, _C.Tensor):
        raise TypeError(f"embedding(): argument 'indices' (position 2) must be Tensor, not {type(input).__name__}")
    if padding_idx is not None:  # PyTorch's own checks, in its order (the type is checked last)
        if padding_idx > 0:
            assert padding_idx < weight.size(0), "Padding_idx must be within num_embeddings"
        elif padding_idx < 0:
            assert padding_idx >= -weight.size(0), "Padding_idx must be within num_embeddings"
            padding_idx = weight.size(0) + padding_idx
        padding_idx = _int_arg("embedding", "padding_idx", padding_idx, 3)
    else:
        padding_idx = -1
    for name, pos, v in (("scale_grad_by_freq", 4, scale_grad_by_freq), ("sparse", 5, sparse)):
        if not isinstance(v, bool):
            raise TypeError(f"embedding(): argument '{name}' (position {pos}) must be bool, not {type(v).__name__}")
    if max_norm is not None:
        max_norm = _float0("embedding_renorm_", "max_norm", 3, max_norm)
        norm_type = _float0("embedding_renorm_", "norm_type", 4, norm_type)
        _C._embedding_renorm_(weight.detach(), input.contiguous(), max_norm, norm_type)
    return _C._embedding(weight, input, padding_idx, scale_grad_by_freq, sparse)


def one_hot(tensor, num_classes=-1):
    """int64 tensor of shape tensor.shape + (num_classes,) with a 1 at each value of the
    int64 `tensor`; num_classes=-1 takes max(tensor) + 1."""
    if not isinstance(tensor, _C.Tensor):
        raise TypeError(f"one_hot(): argument 'input' (position 1) must be Tensor, not {type(tensor).__name__}")
    return _C._one_hot(tensor, _int_arg("one_hot", "num_classes", num_classes, 2))


def _norm_shape_eps(fn, normalized_shape, eps, eps_position=5):
    normalized_shape = _int_tuple(fn, "normalized_shape", 2, normalized_shape)
    return normalized_shape, _float0(fn, "eps", eps_position, eps)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalizes input over its trailing dims normalized_shape (mean and biased variance of
    each row), then times weight and plus bias (both of normalized_shape, optional)."""
    if not isinstance(input, _C.Tensor):
        raise TypeError(f"layer_norm(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    normalized_shape, eps = _norm_shape_eps("layer_norm", normalized_shape, eps)
    _optional_tensor("layer_norm", "weight", 3, weight)
    _optional_tensor("layer_norm", "bias", 4, bias)
    return _C._layer_norm(input, normalized_shape, weight, bias, eps)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalizes input (N, C, ...) over each of num_groups groups of C // num_groups
    channels (and all trailing dims), then times weight and plus bias per channel: one C++
    op with its fused backward (NativeGroupNormBackward0)."""
    if not isinstance(input, _C.Tensor):
        raise TypeError(f"group_norm(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if isinstance(num_groups, _C.Tensor) and num_groups.numel() != 1:
        # PyTorch's Python check takes bool() of the size it computes from num_groups
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    num_groups = _int_arg("group_norm", "num_groups", num_groups, 2)
    _optional_tensor("group_norm", "weight", 3, weight)
    _optional_tensor("group_norm", "bias", 4, bias)
    eps = _float0("group_norm", "eps", 5, eps)
    if input.dim() < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {input.dim()}")
    shape = tuple(input.shape)
    n, c = shape[0], shape[1]
    if num_groups > 0 and n * c // num_groups * math.prod(shape[2:]) == 1:  # PyTorch's _verify_batch_size
        raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                         f"{[n * c // num_groups, num_groups] + list(shape[2:])}")
    if num_groups <= 0 or c % num_groups != 0:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, but got input "
                           f"of shape {list(shape)} and num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (t.dim() != 1 or t.numel() != c):
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number of channels in "
                               f"input, but got {name} of shape {list(t.shape)} and input of shape {list(shape)}")
    return _C._group_norm(input, num_groups, weight, bias, eps)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """input / sqrt(mean(input^2 over the trailing dims normalized_shape) + eps) * weight;
    eps=None is the machine epsilon of input's dtype. Composed of tensor ops."""
    if not isinstance(input, _C.Tensor):
        raise TypeError(f"rms_norm(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    normalized_shape = _int_tuple("rms_norm", "normalized_shape", 2, normalized_shape)
    _optional_tensor("rms_norm", "weight", 3, weight)
    if eps is not None:
        eps = _float0("rms_norm", "eps", 4, eps)
    k = len(normalized_shape)
    shape = list(input.shape)
    if k == 0 or len(shape) < k or shape[len(shape) - k:] != normalized_shape:
        expect = ", ".join(str(s) for s in normalized_shape)
        raise RuntimeError(f"Given normalized_shape={normalized_shape}, expected input with shape [*{expect}], "
                           f"but got input of size{shape}")
    if weight is not None and list(weight.shape) != normalized_shape:
        raise RuntimeError(f"Expected weight to be of same shape as normalized_shape, but got weight of shape "
                           f"{list(weight.shape)} and normalized_shape = {normalized_shape}")
    if not input.is_floating_point():
        names = {_C.dtype.int64: "Long", _C.dtype.bool: "Bool"}
        raise NotImplementedError(f"\"rms_norm\" not implemented for '{names.get(input.dtype, input.dtype)}'")
    if eps is None:
        eps = 2.220446049250313e-16 if input.dtype == _C.dtype.float64 else 1.1920928955078125e-07
    dims = tuple(range(-k, 0))
    out = input * (input * input).mean(dims, keepdim=True).add(eps).rsqrt()
    return out * weight if weight is not None else out


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
    """A float option as PyTorch's parser takes it: numbers and 0-d tensors; not strings or
    tensors of other shapes (TypeError)."""
    if (isinstance(v, (str, bytes)) or not hasattr(type(v), "__float__")
            or (isinstance(v, _C.Tensor) and v.dim() != 0)):
        raise TypeError(f"{fn}(): argument '{name}' must be float, not {type(v).__name__}")
    return float(v)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """0.5 (x - y)^2 / beta where |x - y| < beta, else |x - y| - 0.5 beta; beta=0 is
    l1_loss. Target broadcasts against input (with a warning)."""
    _check_tensors("smooth_l1_loss", input=input, target=target)
    _warn_broadcast(input, target)
    if beta == 0.0:  # PyTorch's test before its parser (a RuntimeError for a tensor beta)
        beta = 0.0
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
    if not isinstance(log_target, bool):
        raise TypeError(f"kl_div(): argument 'log_target' must be bool, not {type(log_target).__name__}")
    return _C._kl_div(input, target, code, log_target)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """log_softmax over dim 1 and negative log-likelihood, fused in one stable kernel.

    input [N, C] (or [C], or [N, C, d1, ...]); target int64 class indices [N] (or 0-d,
    or [N, d1, ...]), or float class probabilities shaped like input."""
    _check_tensors("cross_entropy", input=input, target=target, weight=weight)
    return _C._cross_entropy(input, target, weight, _reduction(reduction, size_average, reduce),
                             _int_arg("cross_entropy_loss", "ignore_index", ignore_index),
                             _float_arg("cross_entropy_loss", "label_smoothing", label_smoothing))


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """Negative log-likelihood of log-probabilities `input` at int64 class `target`."""
    _check_tensors("nll_loss", input=input, target=target, weight=weight)
    return _C._nll_loss(input, target, weight, _reduction(reduction, size_average, reduce),
                        _int_arg("nll_loss_nd", "ignore_index", ignore_index))


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


# ---- pooling ---------------------------------------------------------------------------
# Each is one C++ op (the 1-d forms run the 2-d kernels with H = 1). stride=None means the
# kernel size; kernel_size/stride/padding/dilation are an int or a tuple.


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=False):
    """(values, indices) of 1-d max pooling over the last dim of [N, C, L] or [C, L]."""
    return _C.max_pool1d_with_indices(input, kernel_size, stride, padding, dilation, ceil_mode)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    if return_indices:
        return _C.max_pool1d_with_indices(input, kernel_size, stride, padding, dilation, ceil_mode)
    return _C.max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=False):
    """(values, indices) of max pooling over [N, C, H, W] or [C, H, W]; indices are flat
    positions h * W + w in each input plane. A NaN in a window wins."""
    return _C._max_pool2d_with_indices(input, kernel_size, stride, padding, dilation, ceil_mode)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    if return_indices:
        return _C._max_pool2d_with_indices(input, kernel_size, stride, padding, dilation, ceil_mode)
    return _C.max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    return _C.avg_pool1d(input, kernel_size, stride, padding, ceil_mode, count_include_pad)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Window means; the divisor counts the padding a window covers (count_include_pad),
    or is divisor_override when given."""
    return _C._avg_pool2d(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                          divisor_override)


def _list_with_default(out_size, defaults):
    """output_size with None entries replaced by the input's sizes (PyTorch's helper)."""
    if isinstance(out_size, int):
        return out_size
    if len(defaults) <= len(out_size):
        raise ValueError(f"Input dimension should be at least {len(out_size) + 1}")
    return [v if v is not None else d for v, d in zip(out_size, defaults[-len(out_size):])]


def _check_input(fn, input):
    if not isinstance(input, _C.Tensor):
        raise TypeError(f"{fn}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")


def adaptive_avg_pool1d(input, output_size):
    return _C.adaptive_avg_pool1d(input, output_size)


def adaptive_avg_pool2d(input, output_size):
    """Means over output_size windows tiling H x W; None keeps that input size."""
    _check_input("adaptive_avg_pool2d", input)
    return _C._adaptive_avg_pool2d(input, _list_with_default(output_size, input.size()))


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=False):
    return _C.adaptive_max_pool1d(input, output_size)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    out = _C.adaptive_max_pool1d(input, output_size)
    return out if return_indices else out[0]


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=False):
    _check_input("adaptive_max_pool2d", input)
    return _C._adaptive_max_pool2d(input, _list_with_default(output_size, input.size()))


def adaptive_max_pool2d(input, output_size, return_indices=False):
    out = adaptive_max_pool2d_with_indices(input, output_size)
    return out if return_indices else out[0]


# ---- padding ---------------------------------------------------------------------------

_PAD_MODES = {"constant": 0, "reflect": 1, "replicate": 2, "circular": 3}


def _int_tuple(fn, name, position, v):
    """A tuple of ints as PyTorch's parser takes it: a tuple or list of ints (or objects
    with __index__, like numpy integers); bools and floats are refused (TypeError)."""
    if not isinstance(v, (tuple, list)):
        raise TypeError(f"{fn}(): argument '{name}' (position {position}) must be tuple of ints, "
                        f"not {type(v).__name__}")
    out = []
    for i, e in enumerate(v):
        if isinstance(e, bool) or not hasattr(type(e), "__index__"):
            raise TypeError(f"{fn}(): argument '{name}' (position {position}) must be tuple of ints, "
                            f"but found element of type {type(e).__name__} at pos {i}")
        out.append(e.__index__())
    return out


def pad(input, pad, mode="constant", value=None):
    """Pads the last len(pad) // 2 dims: pad = (last_before, last_after, prev_before, ...);
    negative values crop. 'constant' fills with `value` (0 by default) and takes any rank;
    'reflect' (mirror without repeating the edge), 'replicate' (repeat the edge) and
    'circular' (wrap around) pad 1, 2 or 3 dims of a tensor with one or two more dims."""
    _check_tensors("pad", input=input)
    pad = _int_tuple("pad", "pad", 2, pad)
    if not isinstance(mode, str):
        raise TypeError(f"pad(): argument 'mode' (position 3) must be str, not {type(mode).__name__}")
    if mode not in _PAD_MODES:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value is not None:
        value = _float_arg("pad", "value", value)
    return _C._pad(input, pad, _PAD_MODES[mode], value)


# ---- resizing --------------------------------------------------------------------------

def _is_int(v):
    return not isinstance(v, bool) and hasattr(type(v), "__index__")


def _interp_int_list(name, v, fn):
    """PyTorch's parser for a tuple of ints: TypeError for anything else."""
    if not all(_is_int(e) for e in v):
        raise TypeError(f"{fn}() received an invalid combination of arguments: argument "
                        f"'{name}' must be tuple of ints, but got {[type(e).__name__ for e in v]}")
    return [e.__index__() for e in v]


def _interp_float_list(name, v, fn):
    if not all(not isinstance(e, (str, bytes)) and not isinstance(e, _C.Tensor) and hasattr(type(e), "__float__")
               for e in v):
        raise TypeError(f"{fn}() received an invalid combination of arguments: argument "
                        f"'{name}' must be tuple of floats, but got {[type(e).__name__ for e in v]}")
    return [float(e) for e in v]


_INTERP_MODES = "nearest | linear | bilinear | bicubic | trilinear | area | nearest-exact"


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resizes the spatial dims of input [N, C, d1, ...] to `size` or by `scale_factor`
    (an output size of floor(d * scale)). Modes: 'nearest' (floor(o / scale), PyTorch's
    legacy rule), 'nearest-exact' (pixel centres) on 3-D to 5-D input, 'linear' on 3-D and
    'bilinear' on 4-D input, with `align_corners` (corner pixel centres line up) for the
    linear modes. A given scale_factor is the one the source positions use, unless
    recompute_scale_factor, which recomputes it from the output size."""
    _check_tensors("interpolate", input=input)
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating modes: "
                             "linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    dim = input.dim() - 2
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    fn = {"nearest": "upsample_nearest", "nearest-exact": "_upsample_nearest_exact",
          "linear": "upsample_linear", "bilinear": "upsample_bilinear"}.get(mode, "interpolate")
    fn = f"{fn}{max(dim, 1)}d"
    output_size = scale_factors = None
    if size is not None:
        if isinstance(size, (list, tuple)):
            if len(size) != dim:
                raise ValueError(
                    "Input and output must have the same number of spatial dimensions, but got input "
                    f"with spatial dimensions of {list(input.shape[2:])} and output size of {size}. "
                    "Please provide input tensor in (N, C, d1, d2, ...,dK) format and output size in "
                    "(o1, o2, ...,oK) format.")
            if not all(_is_int(x) for x in size):
                raise TypeError("expected size to be one of int or Tuple[int] or Tuple[int, int] or "
                                f"Tuple[int, int, int], but got size with types {[type(x) for x in size]}")
            output_size = list(size)
        else:
            output_size = [size] * max(dim, 0)
        output_size = _interp_int_list("output_size", output_size, fn)
    elif scale_factor is not None:
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != dim:
                raise ValueError(
                    "Input and scale_factor must have the same number of spatial dimensions, but got "
                    f"input with spatial dimensions of {list(input.shape[2:])} and scale_factor of "
                    f"shape {scale_factor}. Please provide input tensor in (N, C, d1, d2, ...,dK) "
                    "format and scale_factor in (s1, s2, ...,sK) format.")
            scale_factors = list(scale_factor)
        else:
            scale_factors = [scale_factor] * max(dim, 0)
        scale_factors = _interp_float_list("scale_factors", scale_factors, fn)
    else:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor is not None and recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if recompute_scale_factor is not None and recompute_scale_factor:
        # the output size from the scale, then the source positions from the sizes alone
        try:
            output_size = [math.floor(float(input.shape[i + 2]) * scale_factors[i]) for i in range(dim)]
        except (OverflowError, ValueError):
            raise RuntimeError(f"{fn}: scale factors {scale_factors} give an output size that cannot be "
                               "converted to type int64_t without overflow") from None
        scale_factors = None
    if antialias and not (mode in ("bilinear", "bicubic") and input.dim() == 4):
        raise ValueError("Anti-alias option is restricted to bilinear and bicubic modes and requires "
                         "a 4-D tensor as input")
    if antialias:
        raise NotImplementedError("interpolate(): antialias=True is not supported yet")
    if not isinstance(align_corners, (bool, type(None))):
        raise TypeError(f"{fn}(): argument 'align_corners' must be bool, not {type(align_corners).__name__}")
    if mode in ("nearest", "nearest-exact") and input.dim() in (3, 4, 5):
        return _C._upsample_nearest(input, output_size, scale_factors, mode == "nearest-exact")
    if (mode == "linear" and input.dim() == 3) or (mode == "bilinear" and input.dim() == 4):
        return _C._upsample_linear(input, output_size, align_corners, scale_factors)
    needs = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}
    if mode in needs and input.dim() in (3, 4, 5) and input.dim() != needs[mode]:
        raise NotImplementedError(f"Got {input.dim()}D input, but {mode} mode needs {needs[mode]}D input")
    if mode in ("bicubic", "trilinear", "area") and input.dim() in (3, 4, 5):
        raise NotImplementedError(f"interpolate(): mode '{mode}' is not supported yet (supported: "
                                  "nearest, nearest-exact, linear, bilinear)")
    raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.dim()}D) "
                              f"for the modes: {_INTERP_MODES} (got {mode})")


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated alias of interpolate (warns, as PyTorch's)."""
    warnings.warn("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use `nn.functional.interpolate` "
                  "instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use `nn.functional.interpolate` "
                  "instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# ---- attention -------------------------------------------------------------------------

def _sdpa_float(name, v, optional=False):
    """A float argument of scaled_dot_product_attention as PyTorch's parser takes it."""
    if v is None and optional:
        return None
    if (isinstance(v, (str, bytes, complex)) or v is None or not hasattr(type(v), "__float__")
            or (isinstance(v, _C.Tensor) and v.dim() != 0)):
        raise TypeError(f"scaled_dot_product_attention(): argument '{name}' must be float, not {type(v).__name__}")
    return float(v)


def _torch_sdpa_fused(query, key, value, attn_mask, dropout_p, enable_gqa):
    """Whether PyTorch's CPU dispatch takes its fused (flash) kernel for these arguments.
    That kernel applies an attn_mask and is_causal together; PyTorch's other (math) path
    refuses the combination, and so do we, wherever PyTorch would."""
    if query.numel() == 0 or key.numel() == 0 or value.numel() == 0:
        return True  # PyTorch's path for empty inputs does not complain either
    if not (query.dim() == key.dim() == value.dim() == 4) or dropout_p > 0.0:
        return False
    if query.size(-1) != value.size(-1) or any(t.stride(-1) != 1 for t in (query, key, value)):
        return False
    if not query.size(0) == key.size(0) == value.size(0):
        return False
    hq, hk, hv = query.size(1), key.size(1), value.size(1)
    if not (hq == hk == hv or (enable_gqa and hq % hk == 0 and hq % hv == 0)):
        return False
    if attn_mask is not None:
        if attn_mask.dim() not in (2, 4):
            return False
        if attn_mask.requires_grad and _C.is_grad_enabled():
            return False
    return True


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, *,
                                 scale=None, enable_gqa=False):
    """softmax(query @ key^T * scale + mask) @ value over the last two dims, PyTorch's
    semantics: query (..., L, E), key (..., S, E), value (..., S, Ev) with broadcasting
    batch dims (and key/value heads dividing the query heads with enable_gqa); attn_mask
    bool (True takes part) or float (added), broadcastable to (..., L, S); is_causal masks
    keys after each query (top-left aligned); scale defaults to 1/sqrt(E); dropout_p drops
    attention weights (always, as PyTorch's function does; pass 0.0 in evaluation). A row
    whose keys are all masked gives 0.

    One fused C++ kernel (flash-attention style: key tiles, online softmax, the causal mask
    applied by index) that never forms the L x S weights; its backward recomputes them tile
    by tile from the output and each row's log-sum-exp."""
    for pos, (name, t) in enumerate((("query", query), ("key", key), ("value", value))):
        if not isinstance(t, _C.Tensor):
            raise TypeError(f"scaled_dot_product_attention(): argument '{name}' (position {pos + 1}) must be "
                            f"Tensor, not {type(t).__name__}")
    if attn_mask is not None and not isinstance(attn_mask, _C.Tensor):
        raise TypeError(f"scaled_dot_product_attention(): argument 'attn_mask' must be Tensor, not "
                        f"{type(attn_mask).__name__}")
    dropout_p = _sdpa_float("dropout_p", dropout_p)
    for name, flag in (("is_causal", is_causal), ("enable_gqa", enable_gqa)):
        if not isinstance(flag, bool):
            raise TypeError(f"scaled_dot_product_attention(): argument '{name}' must be bool, not "
                            f"{type(flag).__name__}")
    scale = _sdpa_float("scale", scale, optional=True)
    if (is_causal and attn_mask is not None and query.dim() >= 2 and key.dim() >= 2 and value.dim() >= 2
            and not _torch_sdpa_fused(query, key, value, attn_mask, dropout_p, enable_gqa)):
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True")
    return _C._scaled_dot_product_attention(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa)


def _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads):
    """Whether the input is batched; AssertionError for inconsistent ranks (PyTorch's)."""
    if query.dim() == 3:
        if key.dim() != 3 or value.dim() != 3:
            raise AssertionError("For batched (3-D) `query`, expected `key` and `value` to be 3-D"
                                 f" but found {key.dim()}-D and {value.dim()}-D tensors respectively")
        if key_padding_mask is not None and key_padding_mask.dim() != 2:
            raise AssertionError("For batched (3-D) `query`, expected `key_padding_mask` to be `None` or 2-D"
                                 f" but found {key_padding_mask.dim()}-D tensor instead")
        if attn_mask is not None and attn_mask.dim() not in (2, 3):
            raise AssertionError("For batched (3-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D"
                                 f" but found {attn_mask.dim()}-D tensor instead")
        return True
    if query.dim() == 2:
        if key.dim() != 2 or value.dim() != 2:
            raise AssertionError("For unbatched (2-D) `query`, expected `key` and `value` to be 2-D"
                                 f" but found {key.dim()}-D and {value.dim()}-D tensors respectively")
        if key_padding_mask is not None and key_padding_mask.dim() != 1:
            raise AssertionError("For unbatched (2-D) `query`, expected `key_padding_mask` to be `None` or 1-D"
                                 f" but found {key_padding_mask.dim()}-D tensor instead")
        if attn_mask is not None:
            if attn_mask.dim() not in (2, 3):
                raise AssertionError("For unbatched (2-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D"
                                     f" but found {attn_mask.dim()}-D tensor instead")
            if attn_mask.dim() == 3:
                expected = (num_heads, query.shape[0], key.shape[0])
                if tuple(attn_mask.shape) != expected:
                    raise AssertionError(f"Expected `attn_mask` shape to be {expected} but got "
                                         f"{_torch_size(attn_mask.shape)}")
        return False
    raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received {query.dim()}-D query "
                         "tensor")


def _torch_size(shape):
    return str(tuple(shape))


def _canonical_mask(mask, mask_name, other_type, other_name, target_type, check_other=True):
    """A bool mask as a float one (-inf where True); float masks as they are."""
    if mask is None:
        return None
    _is_floating_point_arg(mask)
    if mask.dtype != _C.dtype.bool and not mask.is_floating_point():
        raise AssertionError(f"only bool and floating types of {mask_name} are supported")
    if check_other and other_type is not None and mask.dtype != other_type:
        warnings.warn(f"Support for mismatched {mask_name} and {other_name} is deprecated. Use same type for "
                      "both instead.", stacklevel=3)
    if mask.dtype == _C.dtype.bool:
        from .._creation import zeros
        mask = zeros(tuple(mask.shape), dtype=target_type).masked_fill_(mask, float("-inf"))
    return mask


def _is_floating_point_arg(mask):
    """PyTorch's `torch.is_floating_point(mask)` on a non-tensor: TypeError."""
    if not isinstance(mask, _C.Tensor):
        raise TypeError(f"is_floating_point(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(mask).__name__}")


def _none_or_dtype(input):
    if input is None:
        return None
    if isinstance(input, _C.Tensor):
        return input.dtype
    raise RuntimeError("input to _none_or_dtype() must be None or torch.Tensor")


def _in_projection_packed(q, k, v, w, b=None):
    E = q.size(-1)
    if k is v:
        if q is k:  # self-attention: one product
            proj = linear(q, w, b)
            proj = proj.unflatten(-1, (3, E)).unsqueeze(0).transpose(0, -2).squeeze(-2).contiguous()
            return proj[0], proj[1], proj[2]
        w_q, w_kv = w.split([E, E * 2])
        b_q, b_kv = (None, None) if b is None else b.split([E, E * 2])
        q_proj = linear(q, w_q, b_q)
        kv_proj = linear(k, w_kv, b_kv)
        kv_proj = kv_proj.unflatten(-1, (2, E)).unsqueeze(0).transpose(0, -2).squeeze(-2).contiguous()
        return q_proj, kv_proj[0], kv_proj[1]
    w_q, w_k, w_v = w.chunk(3)
    b_q, b_k, b_v = (None, None, None) if b is None else b.chunk(3)
    return linear(q, w_q, b_q), linear(k, w_k, b_k), linear(v, w_v, b_v)


def _in_projection(q, k, v, w_q, w_k, w_v, b_q=None, b_k=None, b_v=None):
    Eq, Ek, Ev = q.size(-1), k.size(-1), v.size(-1)
    for name, w, shape in (("query", w_q, (Eq, Eq)), ("key", w_k, (Eq, Ek)), ("value", w_v, (Eq, Ev))):
        if tuple(w.shape) != shape:
            raise AssertionError(f"expecting {name} weights shape of {shape}, but got {_torch_size(w.shape)}")
    for name, bias in (("query", b_q), ("key", b_k), ("value", b_v)):
        if bias is not None and tuple(bias.shape) != (Eq,):
            raise AssertionError(f"expecting {name} bias shape of {(Eq,)}, but got {_torch_size(bias.shape)}")
    return linear(q, w_q, b_q), linear(k, w_k, b_k), linear(v, w_v, b_v)


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias,
                                 bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias,
                                 training=True, key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None, k_proj_weight=None,
                                 v_proj_weight=None, static_k=None, static_v=None, average_attn_weights=True,
                                 is_causal=False):
    """PyTorch's multi-head attention forward, step for step: inputs (L, N, E) (or unbatched
    (L, E)); returns (attn_output, attn_weights averaged over heads or per head, or None when
    need_weights is False). Without weights the heads run on the fused
    scaled_dot_product_attention; with them the weights are formed explicitly."""
    from .._creation import zeros
    is_batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not is_batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask", _none_or_dtype(attn_mask),
                                       "attn_mask", query.dtype)
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer module "
                           "method `generate_square_subsequent_mask` to create this mask.")
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None  # the hint alone: the fused kernel masks by index
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", query.dtype, check_other=False)
        if key_padding_mask is not None:
            is_causal = False
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if use_separate_proj_weight:
        if tuple(key.shape[:2]) != tuple(value.shape[:2]):
            raise AssertionError(f"key's sequence and batch dims {_torch_size(key.shape[:2])} do not match value's "
                                 f"{_torch_size(value.shape[:2])}")
    elif tuple(key.shape) != tuple(value.shape):
        raise AssertionError(f"key shape {_torch_size(key.shape)} does not match value shape "
                             f"{_torch_size(value.shape)}")

    if not use_separate_proj_weight:
        if in_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
        q, k, v = _in_projection_packed(query, key, value, in_proj_weight, in_proj_bias)
    else:
        for name, w in (("q", q_proj_weight), ("k", k_proj_weight), ("v", v_proj_weight)):
            if w is None:
                raise AssertionError(f"use_separate_proj_weight is True but {name}_proj_weight is None")
        b_q, b_k, b_v = (None, None, None) if in_proj_bias is None else in_proj_bias.chunk(3)
        q, k, v = _in_projection(query, key, value, q_proj_weight, k_proj_weight, v_proj_weight, b_q, b_k, b_v)

    if attn_mask is not None:
        if attn_mask.dim() == 2:
            if tuple(attn_mask.shape) != (tgt_len, src_len):
                raise RuntimeError(f"The shape of the 2D attn_mask is {_torch_size(attn_mask.shape)}, but should be "
                                   f"{(tgt_len, src_len)}.")
            attn_mask = attn_mask.unsqueeze(0)
        elif attn_mask.dim() == 3:
            if tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
                raise RuntimeError(f"The shape of the 3D attn_mask is {_torch_size(attn_mask.shape)}, but should be "
                                   f"{(bsz * num_heads, tgt_len, src_len)}.")
        else:
            raise RuntimeError(f"attn_mask's dimension {attn_mask.dim()} is not supported")

    if bias_k is not None and bias_v is not None:
        if static_k is not None:
            raise AssertionError("bias cannot be added to static key.")
        if static_v is not None:
            raise AssertionError("bias cannot be added to static value.")
        k = _C.cat([k, bias_k.expand(1, bsz, bias_k.size(-1))])
        v = _C.cat([v, bias_v.expand(1, bsz, bias_v.size(-1))])
        if attn_mask is not None:
            attn_mask = pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = pad(key_padding_mask, (0, 1))
    elif bias_k is not None:
        raise AssertionError("bias_k is set but bias_v is None")
    elif bias_v is not None:
        raise AssertionError("bias_v is set but bias_k is None")

    q = q.view(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    if static_k is None:
        k = k.view(k.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    else:
        if static_k.size(0) != bsz * num_heads:
            raise AssertionError(f"expecting static_k.size(0) of {bsz * num_heads}, but got {static_k.size(0)}")
        if static_k.size(2) != head_dim:
            raise AssertionError(f"expecting static_k.size(2) of {head_dim}, but got {static_k.size(2)}")
        k = static_k
    if static_v is None:
        v = v.view(v.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    else:
        if static_v.size(0) != bsz * num_heads:
            raise AssertionError(f"expecting static_v.size(0) of {bsz * num_heads}, but got {static_v.size(0)}")
        if static_v.size(2) != head_dim:
            raise AssertionError(f"expecting static_v.size(2) of {head_dim}, but got {static_v.size(2)}")
        v = static_v

    if add_zero_attn:
        zero_attn_shape = (bsz * num_heads, 1, head_dim)
        k = _C.cat([k, zeros(zero_attn_shape, dtype=k.dtype)], 1)
        v = _C.cat([v, zeros(zero_attn_shape, dtype=v.dtype)], 1)
        if attn_mask is not None:
            attn_mask = pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = pad(key_padding_mask, (0, 1))
    src_len = k.size(1)

    if key_padding_mask is not None:
        if key_padding_mask.shape[0] != bsz:
            raise AssertionError(f"Expected key_padded_mask.shape[0] to be {bsz}, but got "
                                 f"{key_padding_mask.shape[0]}")
        if key_padding_mask.shape[1] != src_len:
            raise AssertionError(f"Expected key_padded_mask.shape[1] to be {src_len}, but got "
                                 f"{key_padding_mask.shape[1]}")
        key_padding_mask = (key_padding_mask.view(bsz, 1, 1, src_len).expand(-1, num_heads, -1, -1)
                            .reshape(bsz * num_heads, 1, src_len))
        attn_mask = key_padding_mask if attn_mask is None else attn_mask + key_padding_mask

    if not training:
        dropout_p = 0.0

    if need_weights:
        E = q.shape[-1]
        q_scaled = q * math.sqrt(1.0 / float(E))
        if is_causal and attn_mask is None:
            raise AssertionError("FIXME: is_causal not implemented for need_weights")
        scores = q_scaled @ k.transpose(-2, -1)
        if attn_mask is not None:
            scores = attn_mask + scores
        attn_output_weights = softmax(scores, dim=-1)
        if dropout_p > 0.0:
            attn_output_weights = dropout(attn_output_weights, p=dropout_p)
        attn_output = attn_output_weights @ v
        attn_output = attn_output.transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
        attn_output = linear(attn_output, out_proj_weight, out_proj_bias)
        attn_output = attn_output.view(tgt_len, bsz, attn_output.size(1))
        attn_output_weights = attn_output_weights.view(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            attn_output_weights = attn_output_weights.mean(dim=1)
        if not is_batched:
            attn_output = attn_output.squeeze(1)
            attn_output_weights = attn_output_weights.squeeze(0)
        return attn_output, attn_output_weights

    if attn_mask is not None:
        if attn_mask.size(0) == 1 and attn_mask.dim() == 3:
            attn_mask = attn_mask.unsqueeze(0)
        else:
            attn_mask = attn_mask.view(bsz, num_heads, -1, src_len)
    q = q.view(bsz, num_heads, tgt_len, head_dim)
    k = k.view(bsz, num_heads, src_len, head_dim)
    v = v.view(bsz, num_heads, src_len, head_dim)
    attn_output = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)
    del q, k, v
    attn_output = attn_output.permute(2, 0, 1, 3).reshape(bsz * tgt_len, embed_dim)
    attn_output = linear(attn_output, out_proj_weight, out_proj_bias)
    attn_output = attn_output.view(tgt_len, bsz, attn_output.size(1))
    if not is_batched:
        attn_output = attn_output.squeeze(1)
    return attn_output, None


# The public functions defined above (not the helpers, not the imported modules).
__all__ = [name for name, value in list(globals().items())
           if not name.startswith("_") and callable(value) and getattr(value, "__module__", None) == __name__]
