"""Hook handles and the module backward-hook machinery, at torch.utils.hooks' path.

`RemovableHandle` removes a hook from the ordered dict it was put in (PyTorch's class).
Tensor and grad_fn hooks live in such dicts too: the C++ engine holds one callable dict per
tensor (or node) and calls it when the gradient is ready; the dict runs the user's hooks
in registration order. `BackwardHook` wires Module full backward (pre-)hooks through an
identity node on the module's inputs and outputs, as PyTorch does."""
import warnings
import weakref
from collections import OrderedDict

from .. import _C

__all__ = ["RemovableHandle", "BackwardHook"]


class RemovableHandle:
    """A handle which provides the capability to remove a hook."""

    id: int
    next_id: int = 0

    def __init__(self, hooks_dict, *, extra_dict=None):
        self.hooks_dict_ref = weakref.ref(hooks_dict)
        self.id = RemovableHandle.next_id
        RemovableHandle.next_id += 1
        self.extra_dict_ref = ()
        if isinstance(extra_dict, dict):
            self.extra_dict_ref = (weakref.ref(extra_dict),)
        elif isinstance(extra_dict, list):
            self.extra_dict_ref = tuple(weakref.ref(d) for d in extra_dict)

    def remove(self):
        hooks_dict = self.hooks_dict_ref()
        if hooks_dict is not None and self.id in hooks_dict:
            del hooks_dict[self.id]
        for ref in self.extra_dict_ref:
            extra_dict = ref()
            if extra_dict is not None and self.id in extra_dict:
                del extra_dict[self.id]

    def __getstate__(self):
        if self.extra_dict_ref is None:
            return (self.hooks_dict_ref(), self.id)
        return (self.hooks_dict_ref(), self.id, tuple(ref() for ref in self.extra_dict_ref))

    def __setstate__(self, state):
        if state[0] is None:
            # create a dead reference
            self.hooks_dict_ref = weakref.ref(OrderedDict())
        else:
            self.hooks_dict_ref = weakref.ref(state[0])
        self.id = state[1]
        RemovableHandle.next_id = max(RemovableHandle.next_id, self.id + 1)
        if len(state) < 3 or state[2] is None:
            self.extra_dict_ref = ()
        else:
            self.extra_dict_ref = tuple(weakref.ref(d) for d in state[2])

    def __enter__(self):
        return self

    def __exit__(self, type, value, tb):
        self.remove()


def _check_callable(hook, what="hook"):
    # PyTorch accepts anything and fails on the first backward ("'int' object is not
    # callable"); we refuse it at once with the same exception type.
    if not callable(hook):
        raise TypeError(f"{what} must be callable, got '{type(hook).__name__}' object")


def _hook_name(hook):
    return getattr(hook, "__name__", None) or type(hook).__name__


def _type_name(t):
    return {"float32": "FloatTensor", "float64": "DoubleTensor", "int64": "LongTensor",
            "bool": "BoolTensor"}.get(str(t.dtype).rsplit(".", 1)[-1], "Tensor")


class _GradHooks(OrderedDict):
    """A tensor's register_hook hooks; the engine calls the dict with the gradient."""

    def __call__(self, grad):
        changed = False
        for hook in tuple(self.values()):
            res = hook(grad)
            if res is None:
                continue
            if not isinstance(res, _C.Tensor):
                raise TypeError(f"expected Variable, but hook returned '{type(res).__name__}'")
            if grad is not None:
                if res.dtype != grad.dtype:
                    raise RuntimeError(f"hook '{_hook_name(hook)}' has changed the type of value (was "
                                       f"tinygrad_cpp.{_type_name(grad)} got tinygrad_cpp.{_type_name(res)})")
                if tuple(res.shape) != tuple(grad.shape):
                    raise RuntimeError(f"hook '{_hook_name(hook)}' has changed the size of value")
            grad, changed = res, True
        return grad if changed else None


class _PostAccumulateGradHooks(OrderedDict):
    def __call__(self, tensor):
        for hook in tuple(self.values()):
            res = hook(tensor)  # PyTorch 2.13 ignores a returned tensor, refuses anything else
            if res is not None and not isinstance(res, _C.Tensor):
                raise TypeError(f"expected Variable, but hook returned '{type(res).__name__}'")


class _NodePreHooks(OrderedDict):
    def __call__(self, grad_outputs):
        changed = False
        for hook in tuple(self.values()):
            res = hook(grad_outputs)
            if res is None:
                continue
            if not isinstance(res, (tuple, list)) or len(res) != len(grad_outputs):
                raise RuntimeError(f"hook '{_hook_name(hook)}' has returned an incorrect number of values "
                                   f"(got {len(res) if isinstance(res, (tuple, list)) else 1}, "
                                   f"but expected {len(grad_outputs)})")
            grad_outputs, changed = tuple(res), True
        return grad_outputs if changed else None


class _NodePostHooks(OrderedDict):
    def __call__(self, grad_inputs, grad_outputs):
        changed = False
        for hook in tuple(self.values()):
            res = hook(grad_inputs, grad_outputs)
            if res is None:
                continue
            if not isinstance(res, (tuple, list)) or len(res) != len(grad_inputs):
                raise RuntimeError(f"hook '{_hook_name(hook)}' has returned an incorrect number of values "
                                   f"(got {len(res) if isinstance(res, (tuple, list)) else 1}, "
                                   f"but expected {len(grad_inputs)})")
            grad_inputs, changed = tuple(res), True
        return grad_inputs if changed else None


# ---- Tensor and Node methods (installed by tinygrad_cpp/_tensor.py) -------------------------

def register_hook(self, hook):
    """Registers a backward hook: hook(grad) -> Tensor or None, called each time the gradient
    w.r.t. this tensor is computed; a returned tensor is used instead of the gradient."""
    _check_callable(hook)
    if not self.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    hooks = self._backward_hooks
    if hooks is None:
        hooks = _GradHooks()
    self._set_backward_hooks(hooks)  # (also attaches it to a new grad_fn after an in-place op)
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


def register_post_accumulate_grad_hook(self, hook):
    """Registers hook(tensor), called during backward right after the gradient of this leaf
    was accumulated into its .grad."""
    _check_callable(hook)
    if not self.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if self.grad_fn is not None:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
    return _add(self._post_accumulate_grad_hooks, _PostAccumulateGradHooks,
                self._set_post_accumulate_grad_hooks, hook)


def _add(hooks, make, attach, fn):
    """Registers fn in `hooks` (made by make() and attached first when None); its handle."""
    if hooks is None:
        hooks = make()
        attach(hooks)
    handle = RemovableHandle(hooks)
    hooks[handle.id] = fn
    return handle


def _node_register_prehook(self, fn):
    """fn(grad_outputs) -> new grad_outputs or None, before this node's backward runs."""
    _check_callable(fn)
    return _add(self._pre_hooks, _NodePreHooks, self._set_pre_hooks, fn)


def _node_register_hook(self, fn):
    """fn(grad_inputs, grad_outputs) -> new grad_inputs or None, after this node's backward."""
    _check_callable(fn)
    return _add(self._post_hooks, _NodePostHooks, self._set_post_hooks, fn)


def install(Tensor):
    Tensor.register_hook = register_hook
    Tensor.register_post_accumulate_grad_hook = register_post_accumulate_grad_hook
    _C.Node.register_prehook = _node_register_prehook
    _C.Node.register_hook = _node_register_hook


# ---- Module full backward hooks --------------------------------------------------------------

class BackwardHook:
    """Calls a module's full backward hooks with the gradients w.r.t. its inputs and outputs:
    one identity node on the output tensors catches grad_output (and runs the backward
    pre-hooks, which may replace it), one on the input tensors catches grad_input."""

    def __init__(self, module, user_hooks, user_pre_hooks):
        self.user_hooks = user_hooks
        self.user_pre_hooks = user_pre_hooks
        self.module = module
        self.grad_outputs = None
        self.n_outputs = -1
        self.output_tensors_index = None
        self.n_inputs = -1
        self.input_tensors_index = None

    def _pack_with_none(self, indices, values, size):
        res = [None] * size
        for idx, val in zip(indices, values):
            res[idx] = val
        return tuple(res)

    def _unpack_none(self, indices, values):
        return tuple(values[idx] for idx in indices)

    def _set_user_hook(self, grad_fn):
        def hook(grad_input, _):
            if self.grad_outputs is None:
                # the gradient reached the inputs without passing through the outputs
                return None
            res = self._pack_with_none(self.input_tensors_index, grad_input, self.n_inputs)
            for user_hook in self.user_hooks:
                out = user_hook(self.module, res, self.grad_outputs)
                if out is None:
                    continue
                if len(out) != len(res):
                    raise RuntimeError("Backward hook returned an invalid number of grad_input, "
                                       f"got {len(out)}, but expected {len(res)}")
                res = out
            self.grad_outputs = None
            return self._unpack_none(self.input_tensors_index, res)

        _node_register_hook(grad_fn, hook)

    def _apply_on_tensors(self, fn, args):
        tensors_idx, tensors = [], []
        requires_grad = False
        for i, arg in enumerate(args):
            if isinstance(arg, _C.Tensor):
                tensors_idx.append(i)
                tensors.append(arg)
                requires_grad |= arg.requires_grad
        if not (requires_grad and _C.is_grad_enabled()):
            return args, None
        new_tensors = _C._backward_hook_identity(tensors)
        if len(new_tensors) == 0:
            raise RuntimeError("Cannot set Module backward hook for a Module with no input Tensors.")
        grad_fns = [t.grad_fn for t in new_tensors
                    if t.grad_fn is not None and t.grad_fn.name() == "BackwardHookFunctionBackward"]
        if len(grad_fns) == 0:
            raise RuntimeError("Error while setting up backward hooks.")
        fn(grad_fns[0])
        arg_list = list(args)
        for idx, val in zip(tensors_idx, new_tensors):
            arg_list[idx] = val
        out = tuple(arg_list) if type(args) is tuple else type(args)(*arg_list)
        return out, tensors_idx

    def setup_input_hook(self, args):
        res, input_idx = self._apply_on_tensors(self._set_user_hook, args)
        self.n_inputs = len(args)
        self.input_tensors_index = input_idx
        return res

    def setup_output_hook(self, args):
        def fn(grad_fn):
            def hook(_, grad_output):
                self.grad_outputs = self._pack_with_none(self.output_tensors_index, grad_output,
                                                         self.n_outputs)
                if self.user_pre_hooks:
                    expected_len = len(self.grad_outputs)
                    for user_pre_hook in self.user_pre_hooks:
                        hook_grad_outputs = user_pre_hook(self.module, self.grad_outputs)
                        if hook_grad_outputs is None:
                            continue
                        actual_len = len(hook_grad_outputs)
                        if actual_len != expected_len:
                            raise RuntimeError("Backward pre hook returned an invalid number of grad_output, "
                                               f"got {actual_len}, but expected {expected_len}")
                        self.grad_outputs = hook_grad_outputs
                local_grad_outputs = self.grad_outputs
                # no input requires grad: the user hooks are called from here
                if self.input_tensors_index is None:
                    warnings.warn("Full backward hook is firing when gradients are computed with respect to "
                                  "module outputs since no inputs require gradients. See the documentation "
                                  "of Module.register_full_backward_hook for more details.", stacklevel=2)
                    grad_inputs = self._pack_with_none([], [], self.n_inputs)
                    for user_hook in self.user_hooks:
                        res = user_hook(self.module, grad_inputs, self.grad_outputs)
                        if res is not None and not (isinstance(res, tuple) and all(el is None for el in res)):
                            raise RuntimeError("Backward hook for Modules where no input requires "
                                               "gradient should always return None or None for all gradients.")
                    self.grad_outputs = None
                if local_grad_outputs is not None:
                    return tuple(local_grad_outputs[i] for i in self.output_tensors_index)
                return None

            _node_register_hook(grad_fn, hook)

        is_tuple = True
        if not isinstance(args, tuple):
            args = (args,)
            is_tuple = False
        res, output_idx = self._apply_on_tensors(fn, args)
        self.n_outputs = len(args)
        self.output_tensors_index = output_idx
        if not is_tuple:
            res = res[0]
        return res
