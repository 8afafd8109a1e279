"""Higher-level autograd functions, at torch.autograd.functional's path: `vjp`, `jvp`,
`jacobian`, `hessian`, `hvp` and `vhp`, with PyTorch's signatures and output structure.
The Jacobian takes one vector-Jacobian product per output element (meant for small
problems); `jvp` and `hvp` use the double-backward trick (a backward is linear in its
grad_outputs, so differentiating it with respect to them gives forward-mode products),
as PyTorch does. create_graph=True keeps the results differentiable (double backward)."""
from .. import _C
from ..grad_mode import enable_grad, set_grad_enabled

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


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


def _grad_preprocess(inputs, create_graph, need_graph):
    """New tensors for the inputs: with create_graph, differentiable views of those that
    require grad (the result stays connected to the caller's graph); otherwise detached
    copies that require grad when `need_graph` (float dtypes only)."""
    res = []
    for x in inputs:
        if create_graph and x.requires_grad:
            res.append(x.view_as(x))
        else:
            d = x.detach()
            if need_graph and d.dtype.is_floating_point:
                d.requires_grad_(True)
            res.append(d)
    return tuple(res)


def _grad_postprocess(inputs, create_graph):
    if isinstance(inputs[0], tuple):
        return tuple(_grad_postprocess(x, create_graph) for x in inputs)
    if create_graph:
        return inputs
    return tuple(x.detach() for x in inputs)


def _zeros_like(t):
    return _C._full(list(t.shape), 0.0, t.dtype)


def _validate_v(v, other, is_other_tuple):
    if len(other) != len(v):
        if is_other_tuple:
            raise RuntimeError(f"v is a tuple of invalid length: should be {len(other)} but got {len(v)}.")
        raise RuntimeError("The given v should contain a single Tensor.")
    for i, (el_v, el_other) in enumerate(zip(v, other)):
        if tuple(el_v.shape) != tuple(el_other.shape):
            prepend = f"Entry {i} in " if len(other) > 1 else ""
            raise RuntimeError(f"{prepend}v has invalid size: should be {tuple(el_other.shape)} but got "
                               f"{tuple(el_v.shape)}.")


def _check_requires_grad(inputs, input_type, strict):
    if not strict:
        return
    for i, x in enumerate(inputs):
        if x is None:
            raise RuntimeError(f"The output of the user-provided function is independent of input {i}. This is "
                               "not allowed in strict mode.")
        if not x.requires_grad:
            if input_type == "hessian":
                raise RuntimeError(f"The hessian of the user-provided function with respect to input {i} is "
                                   "independent of the input. This is not allowed in strict mode. You should "
                                   "ensure that your function is thrice differentiable and that the hessian "
                                   "depends on the inputs.")
            if input_type == "jacobian":
                raise RuntimeError("While computing the hessian, found that the jacobian of the user-provided "
                                   f"function with respect to input {i} is independent of the input. This is not "
                                   "allowed in strict mode. You should ensure that your function is twice "
                                   "differentiable and that the jacobian depends on the inputs (this would be "
                                   "violated by a linear function for example).")
            if input_type == "grad_inputs":
                raise RuntimeError(f"The gradient with respect to input {i} is independent of the inputs of the "
                                   "user-provided function. This is not allowed in strict mode.")
            raise RuntimeError(f"Output {i} of the user-provided function does not require gradients. The "
                               "outputs must be computed in a differentiable manner from the input when "
                               "running in strict mode.")


def _autograd_grad(outputs, inputs, grad_outputs=None, create_graph=False):
    """autograd.grad over the outputs that require grad (None for inputs they do not reach,
    or that do not require grad themselves)."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    outs, gos = [], []
    for o, g in zip(outputs, grad_outputs):
        if o is not None and o.requires_grad:
            outs.append(o)
            gos.append(g if g is not None else _C._full(list(o.shape), 1.0, o.dtype))
    diff = [x for x in inputs if x.requires_grad]
    if not outs or not diff:
        return (None,) * len(inputs)
    gs = iter(_C._grad(outs, diff, gos, True, True, create_graph))
    return tuple(next(gs) if x.requires_grad else None for x in inputs)


def _fill_in_zeros(grads, refs, strict, create_graph, stage):
    res = []
    for i, g in enumerate(grads):
        if g is None:
            if strict:
                if stage == "back":
                    raise RuntimeError(f"The output of the user-provided function is independent of input {i}. "
                                       "This is not allowed in strict mode.")
                if stage == "back_trick":
                    raise RuntimeError(f"The gradient with respect to the input is independent of entry {i} in "
                                       "the grad_outputs when using the double backward trick to compute forward "
                                       "mode gradients. This is not allowed in strict mode.")
                if stage == "double_back":
                    raise RuntimeError(f"The jacobian of the user-provided function is independent of input {i}. "
                                       "This is not allowed in strict mode.")
                raise RuntimeError(f"The hessian of the user-provided function is independent of entry {i} in the "
                                   "grad_jacobian. This is not allowed in strict mode as this prevents from using "
                                   "the double backward trick to replace forward mode AD.")
            g = _zeros_like(refs[i])
        elif strict and create_graph and not g.requires_grad:
            if "double" not in stage:
                raise RuntimeError(f"The jacobian of the user-provided function is independent of input {i}. "
                                   "This is not allowed in strict mode when create_graph=True.")
            raise RuntimeError(f"The hessian of the user-provided function is independent of input {i}. This is "
                               "not allowed in strict mode when create_graph=True.")
        res.append(g)
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


def _prepare_v(v, others, is_others_tuple, create_graph, what):
    if v is not None:
        _, v = _as_tuple(v, "v", what)
        v = _grad_preprocess(v, create_graph=create_graph, need_graph=False)
        _validate_v(v, others, is_others_tuple)
        return v
    if len(others) != 1 or others[0].numel() != 1:
        raise RuntimeError("The vector v can only be None if the input to the user-provided function is a "
                           "single Tensor with a single element.")
    return None


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(*inputs), the vector-Jacobian product v^T J) as PyTorch's: a Tensor or a tuple
    of Tensors each, mirroring how `func` returned its outputs and how `inputs` were given."""
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
        is_outputs_tuple, outputs = _check_outputs(func(*inputs), "vjp")
        _check_requires_grad(outputs, "outputs", strict=strict)
        if v is not None:
            _, v = _as_tuple(v, "v", "vjp")
            v = _grad_preprocess(v, create_graph=create_graph, need_graph=False)
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
    with set_grad_enabled(create_graph or _C.is_grad_enabled()):
        grad_res = _autograd_grad(outputs, inputs, v, create_graph=create_graph)
        res = _fill_in_zeros(grad_res, inputs, strict, create_graph, "back")
    outputs = _grad_postprocess(outputs, create_graph)
    res = _grad_postprocess(res, create_graph)
    return _tuple_postprocess(outputs, is_outputs_tuple), _tuple_postprocess(res, is_inputs_tuple)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(*inputs), the Jacobian-vector product J v) as PyTorch's, by the double-backward
    trick: the backward is linear in its grad_outputs, and its gradient with respect to
    them, taken along v, is J v."""
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
        v = _prepare_v(v, inputs, is_inputs_tuple, create_graph, "jvp")
        is_outputs_tuple, outputs = _check_outputs(func(*inputs), "jvp")
        _check_requires_grad(outputs, "outputs", strict=strict)
        # the backward is linear in grad_outputs: their value does not matter (zeros)
        grad_outputs = tuple(_zeros_like(o).requires_grad_(True) for o in outputs)
        grad_inputs = _autograd_grad(outputs, inputs, grad_outputs, create_graph=True)
        _check_requires_grad(grad_inputs, "grad_inputs", strict=strict)
    with set_grad_enabled(create_graph or _C.is_grad_enabled()):
        grad_res = _autograd_grad(grad_inputs, grad_outputs, v, create_graph=create_graph)
        res = _fill_in_zeros(grad_res, outputs, strict, create_graph, "back_trick")
    outputs = _grad_postprocess(outputs, create_graph)
    res = _grad_postprocess(res, create_graph)
    return _tuple_postprocess(outputs, is_outputs_tuple), _tuple_postprocess(res, is_outputs_tuple)


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """The Jacobian of `func` at `inputs`: for one input and one output a Tensor of shape
    output.shape + input.shape; a tuple over inputs (or outputs), or a tuple of tuples
    `[output][input]`, where those were given as tuples. Computed with one backward pass per
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
    import numpy as np

    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
        is_outputs_tuple, outputs = _check_outputs(func(*inputs), "jacobian")
        _check_requires_grad(outputs, "outputs", strict=strict)
        jac = []
        for i, out in enumerate(outputs):
            n = out.numel()
            rows = [[] for _ in inputs]
            for j in range(n):
                onehot = np.zeros(n)
                onehot[j] = 1.0
                go = _C._tensor_from_numpy(onehot.reshape(tuple(out.shape)), out.dtype)
                gs = _autograd_grad((out,), inputs, (go,), create_graph=create_graph)
                for k, g in enumerate(gs):
                    if g is not None:
                        if strict and create_graph and not g.requires_grad:
                            raise RuntimeError(f"The jacobian of the user-provided function is independent of "
                                               f"input {i}. This is not allowed in strict mode when "
                                               "create_graph=True.")
                    else:
                        if strict:
                            raise RuntimeError(f"Output {i} of the user-provided function is independent of "
                                               f"input {k}. This is not allowed in strict mode.")
                        g = _zeros_like(inputs[k])
                    rows[k].append(g)
            per_input = []
            for k, x in enumerate(inputs):
                if rows[k]:
                    block = _C.stack(rows[k], 0)
                else:
                    block = _C._full([0] + list(x.shape), 0.0, x.dtype)
                per_input.append(block.reshape(tuple(out.shape) + tuple(x.shape)))
            jac.append(tuple(per_input))
        jac = _grad_postprocess(tuple(jac), create_graph) if jac else ()
    return _tuple_postprocess(jac, (is_outputs_tuple, is_inputs_tuple))


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False, outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a function with a single-element output: for one input a Tensor of
    shape input.shape + input.shape, for a tuple of inputs a tuple of tuples `[i][j]`."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode".')

    def ensure_single_output_function(*inp):
        out = func(*inp)
        is_out_tuple, t_out = _as_tuple(out, "outputs of the user-provided function", "hessian")
        _check_requires_grad(t_out, "outputs", strict=strict)
        if is_out_tuple or not isinstance(out, _C.Tensor):
            raise RuntimeError("The function given to hessian should return a single Tensor")
        if out.numel() != 1:
            raise RuntimeError("The Tensor returned by the function given to hessian should contain a single "
                               "element")
        return out.squeeze()

    def jac_func(*inp):
        jac = jacobian(ensure_single_output_function, inp, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict=strict)
        return jac

    res = jacobian(jac_func, inputs, create_graph=create_graph, strict=strict, vectorize=vectorize,
                   strategy=outer_jacobian_strategy)
    return _tuple_postprocess(res, (is_inputs_tuple, is_inputs_tuple))


def _second_order_setup(func, inputs, v, create_graph, strict, what):
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", what)
    inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
    v = _prepare_v(v, inputs, is_inputs_tuple, create_graph, what)
    outputs = func(*inputs)
    is_outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function", what)
    _check_requires_grad(outputs, "outputs", strict=strict)
    if is_outputs_tuple or not isinstance(outputs[0], _C.Tensor):
        raise RuntimeError(f"The function given to {what} should return a single Tensor")
    if outputs[0].numel() != 1:
        raise RuntimeError(f"The Tensor returned by the function given to {what} should contain a single element")
    jac = _autograd_grad(outputs, inputs, create_graph=True)
    _check_requires_grad(jac, "jacobian", strict=strict)
    return is_inputs_tuple, inputs, v, is_outputs_tuple, outputs, jac


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(*inputs), v^T H), H the Hessian of the single-element output of func."""
    with enable_grad():
        is_inputs_tuple, inputs, v, is_outputs_tuple, outputs, jac = _second_order_setup(
            func, inputs, v, create_graph, strict, "vhp")
    with set_grad_enabled(create_graph or _C.is_grad_enabled()):
        grad_res = _autograd_grad(jac, inputs, v, create_graph=create_graph)
        res = _fill_in_zeros(grad_res, inputs, strict, create_graph, "double_back")
    outputs = _grad_postprocess(outputs, create_graph)
    res = _grad_postprocess(res, create_graph)
    return _tuple_postprocess(outputs, is_outputs_tuple), _tuple_postprocess(res, is_inputs_tuple)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(*inputs), H v), H the Hessian of the single-element output of func, by the
    double-backward trick as PyTorch computes it."""
    with enable_grad():
        is_inputs_tuple, inputs, v, is_outputs_tuple, outputs, jac = _second_order_setup(
            func, inputs, v, create_graph, strict, "hvp")
        grad_jac = tuple(_zeros_like(x).requires_grad_(True) for x in inputs)
        double_back = _autograd_grad(jac, inputs, grad_jac, create_graph=True)
        _check_requires_grad(jac, "hessian", strict=strict)
    with set_grad_enabled(create_graph or _C.is_grad_enabled()):
        grad_res = _autograd_grad(double_back, grad_jac, v, create_graph=create_graph)
        res = _fill_in_zeros(grad_res, inputs, strict, create_graph, "double_back_trick")
    outputs = _grad_postprocess(outputs, create_graph)
    res = _grad_postprocess(res, create_graph)
    return _tuple_postprocess(outputs, is_outputs_tuple), _tuple_postprocess(res, is_inputs_tuple)
