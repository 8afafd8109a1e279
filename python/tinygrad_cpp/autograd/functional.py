"""Higher-level autograd functions, at torch.autograd.functional's path: `vjp` and
`jacobian` (one vector-Jacobian product per output element: meant for small problems).
hessian, jvp, hvp and vhp need double backward, which tinygrad_cpp does not have yet."""
from .. import _C

__all__ = ["vjp", "jacobian"]


def _as_tuple(inp, arg_name=None, fn_name=None):
    if isinstance(inp, tuple):
        is_tuple = True
    elif isinstance(inp, list):
        inp, is_tuple = tuple(inp), True
    else:
        inp, is_tuple = (inp,), False
    if arg_name is not None:
        for i, el in enumerate(inp):
            if not isinstance(el, _C.Tensor):
                if is_tuple:
                    raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a "
                                    f"tuple of Tensors but the value at index {i} has type {type(el)}.")
                raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a tuple "
                                f"of Tensors but the given {arg_name} has type {type(el)}.")
    return is_tuple, inp


def _tuple_postprocess(res, to_unpack):
    # to_unpack: a bool, or a pair of bools (outputs are tuple, inputs are tuple)
    if isinstance(to_unpack, tuple):
        if not to_unpack[1]:
            res = tuple(el[0] for el in res)
        if not to_unpack[0]:
            res = res[0]
    elif not to_unpack:
        res = res[0]
    return res


def _prepare_inputs(inputs):
    out = []
    for x in inputs:
        d = x.detach()
        if d.dtype.is_floating_point:
            d.requires_grad_(True)
        out.append(d)
    return tuple(out)


def _no_create_graph(create_graph, fn_name):
    if create_graph:
        raise NotImplementedError(f"{fn_name}(create_graph=True) needs double backward "
                                  "(backward through a backward), which tinygrad_cpp does not support")


def _grads(outputs, inputs, grad_outputs, strict, fn_name, what):
    """d(sum of outputs * grad_outputs)/d inputs, zeros for inputs they do not depend on."""
    outs, gos = [], []
    for o, g in zip(outputs, grad_outputs):
        if o is not None and o.requires_grad:
            outs.append(o)
            gos.append(g)
    diff_inputs = [x for x in inputs if x.requires_grad]
    if outs and diff_inputs:
        gs = iter(_C._grad(outs, diff_inputs, gos, True, True))
    else:
        gs = iter([None] * len(diff_inputs))
    res = []
    for i, x in enumerate(inputs):
        g = next(gs) if x.requires_grad else None
        if g is None:
            if strict:
                raise RuntimeError(f"The {what} for the user-provided function is independent of input "
                                   f"{i}. This is not allowed in strict mode.")
            g = _C._full(list(x.shape), 0.0, x.dtype)
        res.append(g.detach())
    return tuple(res)


def _check_outputs(outputs, fn_name):
    is_tuple, outputs = _as_tuple(outputs)
    for i, o in enumerate(outputs):
        if not isinstance(o, _C.Tensor):
            if is_tuple:
                raise TypeError(f"The outputs of the user-provided function given to {fn_name} must be "
                                f"either a Tensor or a tuple of Tensors but the value at index {i} has "
                                f"type {type(o)}.")
            raise TypeError(f"The outputs of the user-provided function given to {fn_name} must be either "
                            f"a Tensor or a tuple of Tensors but the given outputs of the user-provided "
                            f"function has type {type(o)}.")
    return is_tuple, outputs


def _with_grad(fn, *args):
    prev = _C.is_grad_enabled()
    _C._set_grad_enabled(True)
    try:
        return fn(*args)
    finally:
        _C._set_grad_enabled(prev)


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(*inputs), the vector-Jacobian product v^T J) as PyTorch's: a Tensor or a tuple
    of Tensors each, mirroring how `func` returned its outputs and how `inputs` were given."""
    _no_create_graph(create_graph, "vjp")
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
    inputs = _prepare_inputs(inputs)
    is_outputs_tuple, outputs = _check_outputs(_with_grad(func, *inputs), "vjp")
    if v is not None:
        _, v = _as_tuple(v, "v", "vjp")
        if len(v) != len(outputs):
            raise RuntimeError(f"v is a tuple of invalid length: should be {len(outputs)} but got {len(v)}.")
        for i, (o, vi) in enumerate(zip(outputs, v)):
            if tuple(o.shape) != tuple(vi.shape):
                raise RuntimeError(f"Entry {i} in v has invalid size: should be {tuple(o.shape)} but got "
                                   f"{tuple(vi.shape)}.")
    else:
        if len(outputs) != 1 or outputs[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the user-provided function returns a "
                               "single Tensor with a single element.")
        v = (_C._full(list(outputs[0].shape), 1.0, outputs[0].dtype),)
    res = _with_grad(_grads, outputs, inputs, v, strict, "vjp", "output")
    outs = tuple(o.detach() for o in outputs)
    return _tuple_postprocess(outs, is_outputs_tuple), _tuple_postprocess(res, is_inputs_tuple)


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """The Jacobian of `func` at `inputs`: for one input and one output a Tensor of shape
    output.shape + input.shape; a tuple over inputs (or outputs), or a tuple of tuples
    [output][input], where those were given as tuples. Computed with one backward pass per
    output element (`vectorize` is accepted and changes nothing)."""
    if strategy not in ("forward-mode", "reverse-mode"):
        raise ValueError('Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your '
                         'function has many more outputs than inputs, use "reverse-mode". Otherwise '
                         'use "forward-mode".')
    if strategy == "forward-mode":
        if create_graph:
            raise NotImplementedError("torch.autograd.functional.jacobian: `strategy=\"forward-mode\"` "
                                      "does not support `create_graph=True`")
        raise NotImplementedError("jacobian(strategy='forward-mode') needs forward-mode AD, which "
                                  "tinygrad_cpp does not support; use the default 'reverse-mode'")
    _no_create_graph(create_graph, "jacobian")
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
    inputs = _prepare_inputs(inputs)
    is_outputs_tuple, outputs = _check_outputs(_with_grad(func, *inputs), "jacobian")
    import numpy as np

    jac = []
    for i, out in enumerate(outputs):
        n = out.numel()
        rows = [[] for _ in inputs]
        for j in range(n):
            onehot = np.zeros(n)
            onehot[j] = 1.0
            go = _C._tensor_from_numpy(onehot.reshape(tuple(out.shape)), out.dtype)
            gs = _with_grad(_grads, (out,), inputs, (go,), False, "jacobian", "output")
            for k, g in enumerate(gs):
                if strict and (not out.requires_grad or not _depends(out, inputs[k], go)):
                    raise RuntimeError(f"Output {i} of the user-provided function is independent of "
                                       f"input {k}. This is not allowed in strict mode.")
                rows[k].append(g)
        per_input = []
        for k, x in enumerate(inputs):
            if rows[k]:
                block = _C.stack(rows[k], 0)
            else:
                block = _C._full([0] + list(x.shape), 0.0, x.dtype)
            per_input.append(block.reshape(tuple(out.shape) + tuple(x.shape)))
        jac.append(tuple(per_input))
    return _tuple_postprocess(tuple(jac), (is_outputs_tuple, is_inputs_tuple))


def _depends(out, x, go):
    if not x.requires_grad:
        return False
    g = _C._grad([out], [x], [go], True, True)[0]
    return g is not None
