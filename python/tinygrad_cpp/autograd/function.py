"""Custom autograd Functions, at torch.autograd.function's path.

    class Exp(Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, grad):
            y, = ctx.saved_tensors
            return grad * y

    y = Exp.apply(x)          # y.grad_fn is an ExpBackward (the ctx itself)

forward runs under no_grad; its outputs get a C++ node (PyFunctionNode, see
csrc/python/bind_function.cpp) that calls `backward` with the GIL during the C++ backward
pass. The newer style, `forward(*args)` plus `setup_context(ctx, inputs, output)`, works too.
"""
import functools
import inspect
import itertools
import warnings
from collections import OrderedDict

from .. import _C

__all__ = ["FunctionCtx", "BackwardCFunction", "Function", "once_differentiable", "InplaceFunction"]

_counter = itertools.count()


class FunctionCtx:
    """The `ctx` of forward/backward: saved tensors, marks, and any attributes you set."""

    def save_for_backward(self, *tensors):
        """Saves tensors (or None) for backward; read them back with `ctx.saved_tensors`,
        which raises if one of them was modified in place in between."""
        for t in tensors:
            if t is not None and not isinstance(t, _C.Tensor):
                raise TypeError("save_for_backward can only save variables, but argument "
                                f"{tensors.index(t)} is of type {type(t).__name__}")
        self.to_save = tensors

    def save_for_forward(self, *tensors):
        self.saved_for_forward = tensors

    def mark_dirty(self, *args):
        """Marks tensors modified in place by forward (they must be returned as outputs)."""
        self.dirty_tensors = args

    def mark_shared_storage(self, *pairs):
        raise RuntimeError("mark_shared_storage is deprecated. Tensors with shared storages are "
                           "automatically tracked. Note that calls to `set_()` are not tracked")

    def mark_non_differentiable(self, *args):
        """Marks outputs that get no gradient (e.g. indices); their grad in backward is zeros."""
        self.non_differentiable = args

    def set_materialize_grads(self, value):
        """False: backward receives None (instead of zeros) for outputs that got no gradient."""
        self.materialize_grads = value


class _HookMixin:
    @staticmethod
    def _register_hook(backward_hooks, hook):
        if backward_hooks is None:
            backward_hooks = OrderedDict()
        from ..utils.hooks import RemovableHandle

        handle = RemovableHandle(backward_hooks)
        backward_hooks[handle.id] = hook
        return backward_hooks, handle


class BackwardCFunction(FunctionCtx, _HookMixin):
    """The class of a Function's ctx and grad_fn (`MyFnBackward` subclasses it)."""

    materialize_grads = True
    _cdata = None  # its C++ node, held weakly (the node holds this object)

    def name(self):
        return type(self).__name__

    def __repr__(self):
        return f"<{type(self).__module__}.{type(self).__name__} object at {hex(id(self))}>"

    def _node(self, what):
        node = self._cdata.node() if self._cdata is not None else None
        if node is None:
            raise RuntimeError(f"Attribute '{what}' is invalid for this instance of _C._FunctionBase. "
                               "Accessing this attribute directly on an instance of autograd.Function "
                               "is a legacy access pattern that is no longer supported.")
        return node

    @property
    def next_functions(self):
        if self._cdata is None:
            self._node("next_functions")
        return self._cdata.next_functions()

    @property
    def saved_tensors(self):
        if self._cdata is not None:
            return self._cdata.saved_tensors()
        return tuple(getattr(self, "to_save", ()))  # nothing recorded (no input needs grad)

    @property
    def metadata(self):
        if "_metadata" not in self.__dict__:
            self._metadata = {}
        return self._metadata

    def register_hook(self, fn):
        return self._node("register_hook").register_hook(fn)

    def register_prehook(self, fn):
        return self._node("register_prehook").register_prehook(fn)

    def _get_user_fn(self):
        backward_fn = self._forward_cls.backward
        vjp_fn = self._forward_cls.vjp
        if backward_fn is not Function.backward and vjp_fn is not Function.vjp:
            raise RuntimeError("Implementing both 'backward' and 'vjp' for a custom Function is not "
                               "allowed. You should only implement one of them.")
        return vjp_fn if vjp_fn is not Function.vjp else backward_fn

    def apply(self, *args):
        return self._get_user_fn()(self, *args)

    def _call_backward(self, grads):
        """Called by the C++ node: runs backward, checks what it returned and gives back one
        entry per tensor input (None or a Tensor)."""
        result = self.apply(*grads)
        if not isinstance(result, tuple):
            result = (result,)
        name = self.name()
        is_tensor = self._is_tensor_input
        expected, got = len(is_tensor), len(result)
        if got > expected and all(r is None for r in result[expected:]):
            result = result[:expected]
        elif got != expected:
            raise RuntimeError(f"function {name} returned an incorrect number of gradients "
                               f"(expected {expected}, got {got})")
        out = []
        for i, (g, tensor_input) in enumerate(zip(result, is_tensor)):
            if not tensor_input:
                if g is not None:
                    raise RuntimeError(f"function {name} returned a gradient different than None at "
                                       f"position {i + 1}, but the corresponding forward input was not "
                                       "a Variable")
                continue
            if g is not None and not isinstance(g, _C.Tensor):
                raise RuntimeError(f"expected Variable or None (got {type(g).__name__})")
            out.append(g)
        return tuple(out)


class FunctionMeta(type):
    """Creates `<Name>Backward`, the class of the Function's ctx / grad_fn."""

    def __init__(cls, name, bases, attrs):
        backward_fn = type(name + "Backward", (BackwardCFunction,), {"_forward_cls": cls})
        backward_fn.__module__ = __name__
        backward_fn._autograd_function_id = next(_counter)
        cls._backward_cls = backward_fn
        super().__init__(name, bases, attrs)


def _is_setup_context_defined(fn):
    return fn != Function.setup_context


class Function(FunctionCtx, _HookMixin, metaclass=FunctionMeta):
    """Base class of custom autograd operations; see the module docstring."""

    def __init__(self, *args, **kwargs):
        warnings.warn(
            f"{self.__class__} should not be instantiated. Methods on autograd functions "
            "are all static, so you should invoke them on the class itself. "
            "Instantiating an autograd function will raise an "
            "error in a future version of PyTorch.",
            DeprecationWarning,
            stacklevel=2,
        )

    def __call__(self, *args, **kwargs):
        raise RuntimeError(
            "Legacy autograd function with non-static forward method is deprecated. "
            "Please use new-style autograd function with static forward method. "
            "(Example: https://pytorch.org/docs/stable/autograd.html#torch.autograd.Function)")

    @staticmethod
    def forward(*args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for your custom "
                                  "autograd.Function to use it with backward mode AD.")

    vjp = backward

    @staticmethod
    def jvp(ctx, *grad_inputs):
        raise NotImplementedError("You must implement the jvp function for custom autograd.Function "
                                  "to use it with forward mode AD.")

    @classmethod
    def apply(cls, *args, **kwargs):
        setup = _is_setup_context_defined(cls.setup_context)
        if setup:
            bound = inspect.signature(cls.forward).bind(*args, **kwargs)
            bound.apply_defaults()
            args, kwargs = bound.args, bound.kwargs
        ctx = cls._backward_cls()
        ctx._is_tensor_input = tuple(isinstance(a, _C.Tensor) for a in args)
        grad_on = _C.is_grad_enabled()
        ctx.needs_input_grad = tuple(grad_on and isinstance(a, _C.Tensor) and a.requires_grad for a in args)
        prev = _C.is_grad_enabled()
        _C._set_grad_enabled(False)
        try:
            if setup:
                output = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, output)
            else:
                output = cls.forward(ctx, *args, **kwargs)
        finally:
            _C._set_grad_enabled(prev)
        is_tuple = isinstance(output, tuple)
        outputs = output if is_tuple else (output,)
        dirty = list(getattr(ctx, "dirty_tensors", ()))
        for d in dirty:
            if not isinstance(d, _C.Tensor):
                raise RuntimeError(f"mark_dirty can only accept variables, but argument "
                                   f"{dirty.index(d)} is of type {type(d).__name__}")
            if not any(d is o for o in outputs):
                raise RuntimeError("Some elements marked as dirty during the forward method were not "
                                   "returned as output. The inputs that are modified inplace must all "
                                   "be outputs of the Function.")
        non_diff = list(getattr(ctx, "non_differentiable", ()))
        for i, t in enumerate(non_diff):
            if not isinstance(t, _C.Tensor):
                raise RuntimeError("mark_non_differentiable only accepts variable arguments, but got "
                                   f"{type(t).__name__}")
        to_save = getattr(ctx, "to_save", None)
        wrapped, handle = _C._function_record(ctx, ctx.name(), tuple(args), outputs, dirty, non_diff,
                                              None if to_save is None else list(to_save))
        if handle is not None:
            ctx._cdata = handle
            ctx.__dict__.pop("to_save", None)  # held by the node from here on (version-checked)
        return wrapped if is_tuple else wrapped[0]

    @staticmethod
    def vmap(info, in_dims, *args):
        raise NotImplementedError("vmap is not supported by tinygrad_cpp")


class InplaceFunction(Function):
    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace


class _DelayedError(Function):
    """Stands for a backward marked @once_differentiable in a create_graph backward: its
    results pass through, and differentiating them again raises (PyTorch's DelayedError)."""

    @staticmethod
    def forward(ctx, *grads):
        return tuple(None if g is None else g.clone() for g in grads)

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError("trying to differentiate twice a function that was marked with @once_differentiable")


def once_differentiable(fn):
    """Marks a backward as not differentiable twice: `fn` runs under no_grad, and when the
    backward runs with create_graph its results get a node that raises if they are ever
    differentiated (PyTorch's behaviour)."""

    @functools.wraps(fn)
    def wrapper(ctx, *args):
        prev = _C.is_grad_enabled()
        _C._set_grad_enabled(False)
        try:
            outputs = fn(ctx, *args)
        finally:
            _C._set_grad_enabled(prev)
        if not prev:
            return outputs
        if not any(isinstance(a, _C.Tensor) and a.requires_grad for a in args):
            return outputs
        if not isinstance(outputs, tuple):
            outputs = (outputs,)

        def fake_requires_grad(v):
            if isinstance(v, _C.Tensor):
                v = v.detach()
                v.requires_grad_(True)
            return v
        return _DelayedError.apply(*[fake_requires_grad(v) for v in outputs])

    return wrapper
