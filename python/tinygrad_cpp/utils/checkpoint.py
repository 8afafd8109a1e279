"""Activation checkpointing, at torch.utils.checkpoint's path.

`checkpoint(fn, *args)` runs `fn` without recording its graph (nothing inside is saved for
backward but the inputs); backward runs `fn` again with grad on (with the RNG state of the
first run, so dropout draws the same masks) and backpropagates through that recomputation.
Memory for activations drops from all layers to one segment's worth, for one extra forward.

Both variants are one custom Function (PyTorch's reentrant design: the recomputed graph is
backpropagated from inside the Function's backward). What users see follows PyTorch's for
each flag:

- use_reentrant=True: keyword arguments raise ValueError, a warning when no input requires
  grad (then nothing gets gradients), and RuntimeError under autograd.grad (PyTorch's text).
- use_reentrant=False: keyword arguments are passed to `fn`; parameters used by `fn` get
  their gradients even when no input requires grad (the outputs then require grad even if
  they do not depend on any parameter: PyTorch's would not); under autograd.grad the
  gradients w.r.t. the checkpoint's inputs (and what they depend on) are computed, but not
  w.r.t. tensors `fn` uses without taking them as arguments (PyTorch's can), which get
  none (parameters' .grad is left alone). Keyword-only options of PyTorch's non-reentrant
  variant (context_fn, determinism_check, debug, early_stop) are accepted as their
  defaults only.
"""
import functools
import warnings

from .. import _C
from ..autograd.function import Function
from ..random import get_rng_state, set_rng_state

__all__ = ["checkpoint", "checkpoint_sequential", "detach_variable", "check_backward_validity"]


def detach_variable(inputs):
    if isinstance(inputs, tuple):
        out = []
        for inp in inputs:
            if not isinstance(inp, _C.Tensor):
                out.append(inp)
                continue
            x = inp.detach()
            x.requires_grad = inp.requires_grad
            out.append(x)
        return tuple(out)
    raise RuntimeError(f"Only tuple of tensors is supported. Got Unsupported input type: {type(inputs).__name__}")


def check_backward_validity(inputs):
    if not any(inp.requires_grad for inp in inputs if isinstance(inp, _C.Tensor)):
        warnings.warn("None of the inputs have requires_grad=True. Gradients will be None", stacklevel=2)


class CheckpointFunction(Function):
    @staticmethod
    def forward(ctx, run_function, preserve_rng_state, reentrant, *args):
        if reentrant:
            check_backward_validity(args)
        ctx.run_function = run_function
        ctx.preserve_rng_state = preserve_rng_state
        ctx.reentrant = reentrant
        if preserve_rng_state:
            ctx.fwd_cpu_state = get_rng_state()
        ctx.inputs = []
        ctx.tensor_indices = []
        tensor_inputs = []
        for i, arg in enumerate(args):
            if isinstance(arg, _C.Tensor):
                tensor_inputs.append(arg)
                ctx.tensor_indices.append(i)
                ctx.inputs.append(None)
            else:
                ctx.inputs.append(arg)
        ctx.save_for_backward(*tensor_inputs)
        return run_function(*args)  # (Function.apply runs forward under no_grad)

    @staticmethod
    def backward(ctx, *grads):
        valid = _C._is_checkpoint_valid()
        if not valid and ctx.reentrant:
            raise RuntimeError(
                "When use_reentrant=True, torch.utils.checkpoint is incompatible"
                " with .grad() or passing an `inputs` parameter to .backward()."
                " To resolve this error, you can either set use_reentrant=False,"
                " or call .backward() without passing the `inputs` argument.")
        inputs = list(ctx.inputs)
        tensors = ctx.saved_tensors
        for i, idx in enumerate(ctx.tensor_indices):
            inputs[idx] = tensors[i]
        state = get_rng_state() if ctx.preserve_rng_state else None
        try:
            if ctx.preserve_rng_state:
                set_rng_state(ctx.fwd_cpu_state)
            detached = detach_variable(tuple(inputs))
            prev = _C.is_grad_enabled()
            _C._set_grad_enabled(True)
            try:
                outputs = ctx.run_function(*detached)
            finally:
                _C._set_grad_enabled(prev)
        finally:
            if state is not None:
                set_rng_state(state)
        if isinstance(outputs, _C.Tensor):
            outputs = (outputs,)
        outs, gs = [], []
        for o, g in zip(outputs, grads):
            if isinstance(o, _C.Tensor) and o.requires_grad and g is not None:
                outs.append(o)
                gs.append(g)
        if not outs:
            raise RuntimeError("none of output has requires_grad=True, this checkpoint() is not necessary")
        if valid:
            # .backward(): the recomputed graph accumulates into the parameters' .grad itself
            _C._run_backward(outs, gs, False)
            in_grads = tuple(x.grad if isinstance(x, _C.Tensor) else None for x in detached)
        else:
            # autograd.grad (non-reentrant flag): gradients w.r.t. the inputs only
            wrt = [x for x in detached if isinstance(x, _C.Tensor) and x.requires_grad]
            res = iter(_C._grad(outs, wrt, gs, False, True) if wrt else [])
            in_grads = tuple(next(res) if isinstance(x, _C.Tensor) and x.requires_grad else None
                             for x in detached)
        return (None, None, None) + in_grads


def _dummy():
    # an input that requires grad, so the outputs of a non-reentrant checkpoint get a node
    # even when none of the real inputs requires grad (the parameters inside still need it)
    t = _C._full([0], 0.0, _C.dtype.float32)
    t.requires_grad_(True)
    return t


def _noop_context_fn():
    return None


def checkpoint(function, *args, use_reentrant=None, context_fn=_noop_context_fn, determinism_check="default",
               debug=False, early_stop=True, **kwargs):
    """Checkpoints `function(*args, **kwargs)`: see the module docstring."""
    if use_reentrant is None:
        warnings.warn(
            "torch.utils.checkpoint: the use_reentrant parameter should be "
            "passed explicitly. Starting in PyTorch 2.9, calling checkpoint "
            "without use_reentrant will raise an exception. use_reentrant=False is "
            "recommended, but if you need to preserve the current default "
            "behavior, you can pass use_reentrant=True. Refer to docs for more "
            "details on the differences between the two variants.",
            stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs and use_reentrant:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))
    if use_reentrant:
        if context_fn is not _noop_context_fn or debug is not False:
            raise ValueError("Passing `context_fn` or `debug` is only supported when use_reentrant=False.")
        return CheckpointFunction.apply(function, preserve, True, *args)
    if context_fn is not _noop_context_fn or debug is not False or determinism_check != "default":
        raise NotImplementedError("checkpoint(): context_fn, debug and determinism_check are not "
                                  "supported by tinygrad_cpp")
    fn = functools.partial(function, **kwargs) if kwargs else function
    n = len(args)

    def run(*a):  # the dummy input last, left out of the call
        return fn(*a[:n])

    return CheckpointFunction.apply(run, preserve, False, *args, _dummy())


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Runs `functions` (a Sequential or a list of modules/functions) in order, checkpointing
    all but the last of `segments` chunks."""
    if use_reentrant is None:
        warnings.warn(
            "torch.utils.checkpoint.checkpoint_sequential: the use_reentrant "
            "parameter should be passed explicitly. "
            "In version 2.9 we will raise an exception if use_reentrant "
            "is not passed. use_reentrant=False is "
            "recommended, but if you need to preserve the current default "
            "behavior, you can pass use_reentrant=True. Refer to docs for more "
            "details on the differences between the two variants.", stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))

    def run_function(start, end, functions):
        def forward(input):
            for j in range(start, end + 1):
                input = functions[j](input)
            return input
        return forward

    from ..nn import Sequential

    if isinstance(functions, Sequential):
        functions = list(functions.children())
    segment_size = len(functions) // segments
    end = -1
    for start in range(0, segment_size * (segments - 1), segment_size):
        end = start + segment_size - 1
        input = checkpoint(run_function(start, end, functions), input, use_reentrant=use_reentrant,
                           preserve_rng_state=preserve)
    return run_function(end + 1, len(functions) - 1, functions)(input)
