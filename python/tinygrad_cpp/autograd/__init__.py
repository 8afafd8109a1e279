"""tinygrad_cpp.autograd: grad, gradcheck, custom Functions (autograd.Function), anomaly mode
and autograd.functional. The graph walk itself runs in C++."""
import threading

import numpy as np

from .. import _C

# ---- final callbacks (torch.autograd.Variable._execution_engine.queue_callback) ---------------
# A callback queued during a backward pass (from a hook) runs once that pass has finished,
# after every gradient was accumulated, in the thread that called backward; callbacks run
# in the order queued, and one may queue more. A backward that raises drops them.
# DistributedDataParallel finishes its gradient all-reduce in one.

_final = threading.local()


class _ImperativeEngine:
    def queue_callback(self, callback):
        stack = getattr(_final, "stack", None)
        if not stack:
            raise RuntimeError("Final callbacks can only be installed during backward pass.")
        if not callable(callback):
            raise TypeError(f"callback must be callable, got '{type(callback).__name__}' object")
        stack[-1].append(callback)


class Variable:
    """Holds the engine, as torch.autograd.Variable does (`Variable._execution_engine`)."""
    _execution_engine = _ImperativeEngine()


def _run_engine(fn, *args):
    """fn(*args) (a backward pass), then the callbacks queued during it."""
    stack = _final.__dict__.setdefault("stack", [])
    queue = []
    stack.append(queue)
    try:
        out = fn(*args)
        i = 0
        while i < len(queue):
            queue[i]()
            i += 1
    finally:
        stack.pop()
    return out


def _as_list(x):
    if x is None:
        return None
    return list(x) if isinstance(x, (list, tuple)) else [x]


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """Gradients of `outputs` w.r.t. `inputs`, without touching any `.grad`. With
    create_graph=True the backward is recorded, so the gradients can be differentiated
    again (any order); retain_graph then defaults to True, as in PyTorch."""
    outputs, inputs = _as_list(outputs), _as_list(inputs)
    for what, ts in (("outputs", outputs), ("inputs", inputs)):
        if not ts or not all(isinstance(t, _C.Tensor) for t in ts):
            raise TypeError(f"grad(): {what} must be a Tensor or a non-empty sequence of Tensors, got {ts!r:.100}")
    grad_outputs = _as_list(grad_outputs) or [None] * len(outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"grad_outputs has {len(grad_outputs)} tensors but outputs has {len(outputs)}")
    gs = []
    for o, g in zip(outputs, grad_outputs):
        if g is None:
            if o.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs "
                                   f"(got a tensor of shape {tuple(o.shape)})")
            g = _C._full(list(o.shape), 1.0, o.dtype)
        gs.append(g)
    if retain_graph is None:
        retain_graph = create_graph
    return tuple(_run_engine(_C._grad, outputs, inputs, gs, bool(retain_graph), allow_unused, bool(create_graph)))


def _flat_outputs(fn, inputs):
    out = fn(*inputs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o for o in outs if isinstance(o, _C.Tensor)]


def gradcheck(func, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """Compares analytical gradients of `func` at `inputs` with central finite differences.

    Inputs that require grad must be float64. Returns True, or raises RuntimeError (or
    returns False with raise_exception=False) naming the first mismatch."""
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, _C.Tensor) and x.requires_grad]
    for i in diff:
        if inputs[i].dtype != _C.dtype.float64:
            raise RuntimeError(f"gradcheck expects float64 inputs, input {i} is {inputs[i].dtype!r}")
    outs = _flat_outputs(func, inputs)
    for k, out in enumerate(outs):
        if not out.dtype.is_floating_point or not out.requires_grad:
            continue
        n_out = out.numel()
        # analytical Jacobian, one output element at a time
        analytical = {i: np.zeros((inputs[i].numel(), n_out)) for i in diff}
        for j in range(n_out):
            go = np.zeros(n_out)
            go[j] = 1.0
            g_t = _C._tensor_from_numpy(go.reshape(out.shape), out.dtype)
            outs_j = _flat_outputs(func, inputs)
            gs = grad(outs_j[k], [inputs[i] for i in diff], g_t, allow_unused=True)
            for i, g in zip(diff, gs):
                if g is not None:
                    analytical[i][:, j] = g.numpy().reshape(-1)
        # numerical Jacobian by perturbing each input element in place
        for i in diff:
            x = inputs[i]
            arr = x.detach().numpy()
            flat = arr.reshape(-1) if arr.flags.c_contiguous else None
            if flat is None:
                raise RuntimeError("gradcheck needs contiguous inputs")
            numerical = np.zeros_like(analytical[i])
            with_grad = _C.is_grad_enabled()
            _C._set_grad_enabled(False)
            try:
                for e in range(flat.size):
                    orig = flat[e]
                    flat[e] = orig + eps
                    plus = _flat_outputs(func, inputs)[k].numpy().reshape(-1).astype(np.float64)
                    flat[e] = orig - eps
                    minus = _flat_outputs(func, inputs)[k].numpy().reshape(-1).astype(np.float64)
                    flat[e] = orig
                    numerical[e] = (plus - minus) / (2 * eps)
            finally:
                _C._set_grad_enabled(with_grad)
            if not np.allclose(analytical[i], numerical, atol=atol, rtol=rtol):
                err = np.abs(analytical[i] - numerical).max()
                msg = (f"Jacobian mismatch for output {k} with respect to input {i} "
                       f"(max abs error {err:.3g}),\nnumerical:{numerical}\nanalytical:{analytical[i]}")
                if raise_exception:
                    raise RuntimeError(msg)
                return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  gen_non_contig_grad_outputs=False, raise_exception=True):
    """Second derivatives of `func` at `inputs` against finite differences of its first
    derivatives: gradcheck of x -> d(sum(func(x) * v))/dx, computed with create_graph=True
    (v: `grad_outputs`, random when not given). Inputs that require grad must be float64."""
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, _C.Tensor) and x.requires_grad]
    outs = [o for o in _flat_outputs(func, inputs) if o.requires_grad]
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = [_C._tensor_from_numpy(rng.standard_normal(tuple(o.shape)), o.dtype) for o in outs]
    grad_outputs = _as_list(grad_outputs)

    def first_derivatives(*xs):
        was = _C.is_grad_enabled()
        with enable_grad():
            os = [o for o in _flat_outputs(func, xs) if o.requires_grad]
            gs = grad(os, [xs[i] for i in diff], grad_outputs, create_graph=True, allow_unused=True)
        gs = [g for g in gs if g is not None]
        return tuple(gs) if was else tuple(g.detach() for g in gs)

    return gradcheck(first_derivatives, inputs, eps=eps, atol=atol, rtol=rtol, raise_exception=raise_exception)


def _is_checkpoint_valid():
    """False while autograd.grad runs (reentrant checkpointing cannot work there)."""
    return _C._is_checkpoint_valid()


from ..grad_mode import no_grad, enable_grad, set_grad_enabled  # noqa: E402
from . import function, functional, anomaly_mode  # noqa: E402
from .function import Function, once_differentiable  # noqa: E402
from .anomaly_mode import (detect_anomaly, set_detect_anomaly, is_anomaly_enabled,  # noqa: E402
                           is_anomaly_check_nan_enabled)
