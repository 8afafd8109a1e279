"""Activation checkpointing, at torch.utils.checkpoint's path.

`checkpoint(fn, *args)` runs `fn` without recording its graph (nothing inside is saved for
backward but the inputs); backward runs `fn` again with grad on (with the RNG state of the
first run, so dropout draws the same masks) and backpropagates through that recomputation.
Memory for activations drops from all layers to one segment's worth, for one extra forward.

- use_reentrant=True (PyTorch's reentrant variant, a custom Function): the forward runs
  under no_grad; backward recomputes it and backpropagates through the recomputation from
  inside the Function's backward (a nested .backward(), which accumulates into the
  parameters' .grad). Keyword arguments raise ValueError, a warning when no input requires
  grad (then nothing gets gradients), and RuntimeError under autograd.grad (PyTorch's text).
- use_reentrant=False: the forward runs with grad on, so it sees which parameters and
  input histories the segment uses; its graph is then replaced by one node
  (`CheckpointBackward`) whose edges are exactly those, and dropped with everything it
  saved. Backward recomputes the segment and runs its graph up to those edges only, handing
  the gradients to the outer backward pass: keyword arguments, inputs that need no grad,
  autograd.grad w.r.t. parameters used inside, hooks on them, all behave as without
  checkpointing. (PyTorch's outputs keep the grad_fn of their last op; ours show
  CheckpointBackward. A segment's activations exist during its forward, then are freed.
  Under .backward() a parameter used inside the segment gets its gradient added to .grad
  during the recomputation; one also used outside gets two additions, and its tensor hooks
  run once per part, where PyTorch sums first and runs them once.)
  PyTorch's context_fn, determinism_check and debug options are not supported.
"""
import warnings

from .. import _C
from ..autograd.function import BackwardCFunction, Function
from ..grad_mode import enable_grad
from ..random import get_rng_state, set_rng_state

__all__ = ["checkpoint", "checkpoint_sequential", "detach_variable", "check_backward_validity"]


def _differentiable(outputs, grads):
    """The recomputed outputs that require grad, each with its incoming gradient."""
    if not isinstance(outputs, (tuple, list)):
        outputs = (outputs,)
    pairs = [(o, g) for o, g in zip(outputs, grads)
             if isinstance(o, _C.Tensor) and o.requires_grad and g is not None]
    return [o for o, _ in pairs], [g for _, g in pairs]


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
    def forward(ctx, run_function, preserve_rng_state, *args):
        check_backward_validity(args)
        ctx.run_function = run_function
        ctx.preserve_rng_state = preserve_rng_state
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
        if not _C._is_checkpoint_valid():
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
            with enable_grad():
                outputs = ctx.run_function(*detached)
        finally:
            if state is not None:
                set_rng_state(state)
        outs, gs = _differentiable(outputs, grads)
        if not outs:
            raise RuntimeError("none of output has requires_grad=True, this checkpoint() is not necessary")
        # the recomputed graph accumulates into the parameters' .grad itself
        _C._run_backward(outs, gs, False)
        return (None, None) + tuple(x.grad if isinstance(x, _C.Tensor) else None for x in detached)


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
        return CheckpointFunction.apply(function, preserve, *args)
    if context_fn is not _noop_context_fn or debug is not False or determinism_check != "default":
        raise NotImplementedError("checkpoint(): context_fn, debug and determinism_check are not "
                                  "supported by tinygrad_cpp")
    return _checkpoint_without_reentrant(function, preserve, args, kwargs)


class CheckpointBackward(BackwardCFunction):
    """The node standing for a non-reentrant checkpointed segment (see the module docstring)."""

    materialize_grads = False
    _forward_cls = None

    def _call_backward(self, grads):
        inputs = list(self.inputs)
        for t, i in zip(self.saved_tensors, self.tensor_indices):
            inputs[i] = t
        state = get_rng_state() if self.preserve_rng_state else None
        try:
            if state is not None:
                set_rng_state(self.fwd_cpu_state)
            with enable_grad():
                outputs = self.run_function(*inputs, **self.kwargs)
        finally:
            if state is not None:
                set_rng_state(state)
        outs, gs = _differentiable(outputs, grads)
        if not outs:
            return (None,) * len(self.next_functions)
        # under .backward() the segment's parameters accumulate their .grad right here (as
        # without checkpointing, one at a time); under autograd.grad all is handed back
        return tuple(_C._grad_at_edges(self._cdata, outs, gs, _C._is_checkpoint_valid()))


def _checkpoint_without_reentrant(function, preserve, args, kwargs):
    if not _C.is_grad_enabled():
        return function(*args, **kwargs)
    ctx = CheckpointBackward()
    ctx.preserve_rng_state = preserve
    if preserve:
        ctx.fwd_cpu_state = get_rng_state()
    start = _C._next_node_seq()
    out = function(*args, **kwargs)  # records the segment's graph, dropped below
    is_tuple = isinstance(out, tuple)
    outputs = out if is_tuple else (out,)
    ctx.inputs, ctx.tensor_indices, tensors = [], [], []
    for i, a in enumerate(args):
        if isinstance(a, _C.Tensor):
            ctx.inputs.append(None)
            ctx.tensor_indices.append(i)
            tensors.append(a)
        else:
            ctx.inputs.append(a)
    wrapped, handle = _C._checkpoint_record(ctx, ctx.name(), outputs, start, tensors)
    if handle is None:
        return out
    ctx._cdata = handle
    ctx.run_function, ctx.kwargs = function, kwargs
    del out, outputs
    return wrapped if is_tuple else wrapped[0]


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
