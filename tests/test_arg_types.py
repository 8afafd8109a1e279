"""Argument types as strict as PyTorch's argument parser, across the public API.

Each spec below is one call with arguments that work; the table substitutes each argument in
turn with values of wrong types (a str, None, a float where an int goes, a dict, a list of
str, a bool, nan/inf, a tensor where a number goes, ...) and runs the same call on PyTorch
and on tinygrad_cpp. The outcome must agree: the same exception type (nearest builtin
exception class, so torch's own subclasses count as their base), or success on both. Never
a crash, never success where PyTorch raises, never a refusal where PyTorch accepts.
"""
import math
import os
import tempfile
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import tinygrad_cpp as tg  # noqa: E402

NAN, INF = float("nan"), float("inf")


class T:
    """A value built per library (tensors, modules, optimizers): f(m) with m torch or tg."""

    def __init__(self, f):
        self.f = f


def build(v, m):
    return v.f(m) if isinstance(v, T) else v


# Wrong-type values tried for every argument. Tensor-valued ones are built per library.
BAD = [
    ("str", "a"),
    ("None", None),
    ("float", 1.5),
    ("bool", True),
    ("dict", {"a": 1}),
    ("strlist", ["a"]),
    ("nan", NAN),
    ("inf", INF),
    ("tensor", T(lambda m: m.ones(2))),
    ("object", object()),
]


class A:
    """One argument: the value that works and extra wrong values specific to its kind."""

    def __init__(self, default, *extra, only=None):
        self.default, self.extra, self.only = default, list(extra), only

    def bad(self):
        vals = BAD if self.only is None else [b for b in BAD if b[0] in self.only]
        return vals + self.extra


def INT(v, **kw):  # an int argument: also a bool (refused) and a float-valued tensor
    return A(v, ("np.int64", np.int64(1)), ("int_tensor0d", T(lambda m: m.tensor(1))), **kw)


def BOOL(v, **kw):  # a bool argument: an int or numpy bool is refused by PyTorch
    return A(v, ("int", 1), ("np.bool", np.bool_(True)), ("int0", 0), **kw)


def FLOAT(v, **kw):  # a float argument: ints, numpy floats and 0-d tensors are numbers
    return A(v, ("int", 2), ("np.float64", np.float64(0.5)), **kw)


def TENSOR(f, **kw):  # a tensor argument
    return A(T(f), ("int", 2), ("list", [1.0, 2.0]), ("ndarray", np.ones(2, dtype=np.float32)), **kw)


def SHAPE(v, **kw):  # a size/int-list argument
    return A(v, ("floatlist", [1.5, 2]), ("boollist", [True]), ("nonelist", [None]), **kw)


def DTYPE(v=None, **kw):
    return A(v, ("int", 1), ("np.dtype", np.float32), ("pytype", float), **kw)


def STR(v, **kw):
    return A(v, ("int", 1), ("bytes", b"mean"), ("badstr", "bogus"), **kw)


X = lambda m: m.ones(2, 3)  # noqa: E731
X4 = lambda m: m.ones(1, 1, 4, 4)  # noqa: E731
X3 = lambda m: m.ones(1, 1, 4)  # noqa: E731
V = lambda m: m.ones(3)  # noqa: E731
LABELS = lambda m: m.tensor([0, 1])  # noqa: E731
PROBS = lambda m: m.full((2, 3), 0.5)  # noqa: E731
PARAMS = lambda m: [m.ones(2, requires_grad=True)]  # noqa: E731
OPT = lambda m: m.optim.SGD([m.ones(2, requires_grad=True)], lr=0.1)  # noqa: E731

SPECS = []


def spec(name, fn, *args):
    SPECS.append((name, fn, args))


def F(m):
    return m.nn.functional


# ---- the mismatches the first audit found (torch's exception vs ours then) -------------------
LISTED = {
    "relu str (TypeError vs AttributeError)": lambda m: m.nn.functional.relu("a"),
    "maximum float (TypeError vs success)": lambda m: m.maximum(m.ones(2), 1.0),
    "ones requires_grad=1 (TypeError vs success)": lambda m: m.ones(2, requires_grad=1),
    "tensor requires_grad='yes' (TypeError vs success)": lambda m: m.tensor([1.0], requires_grad="yes"),
    "tensor inf to int64 (RuntimeError vs success)": lambda m: m.tensor([float("inf")], dtype=m.int64),
    "tensor nan to int64 (RuntimeError vs success)": lambda m: m.tensor([float("nan")], dtype=m.int64),
    "arange str (TypeError vs ValueError)": lambda m: m.arange("a"),
    "cat of a tensor (TypeError vs RuntimeError)": lambda m: m.cat(m.ones(2)),
    "tensor of a dict (RuntimeError vs TypeError)": lambda m: m.tensor({"a": 1}),
}


@pytest.mark.parametrize("name", list(LISTED))
def test_listed_mismatches(name):
    want = outcome(lambda m: LISTED[name](m), torch, [])
    assert want != "ok"
    assert outcome(lambda m: LISTED[name](m), tg, []) == want


def test_messages_name_function_argument_and_type():
    with pytest.raises(TypeError, match=r"maximum\(\): argument 'other' \(position 2\) must be Tensor, not float"):
        tg.maximum(tg.ones(2), 1.0)
    with pytest.raises(TypeError, match=r"relu\(\): argument 'input' \(position 1\) must be Tensor, not str"):
        tg.nn.functional.relu("a")
    with pytest.raises(TypeError, match=r"ones\(\): argument 'requires_grad' must be bool, not int"):
        tg.ones(2, requires_grad=1)
    with pytest.raises(TypeError, match=r"arange\(\): argument 'end' \(position 1\) must be Number, not str"):
        tg.arange("a")
    with pytest.raises(TypeError, match=r"cat\(\): argument 'tensors' \(position 1\) must be tuple of Tensors, not Tensor"):
        tg.cat(tg.ones(2))
    with pytest.raises(TypeError, match=r"expected Tensor as element 1 in argument 0, but got NoneType"):
        tg.stack([tg.ones(2), None])
    with pytest.raises(RuntimeError, match="Could not infer dtype of dict"):
        tg.tensor({"a": 1})


# ---- helpers ------------------------------------------------------------------------------

def outcome(fn, m, args):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn(m, *[build(a, m) for a in args])
        return "ok"
    except Exception as e:  # noqa: BLE001  (the exception type is the result)
        for cls in type(e).__mro__:  # torch's own classes count as their builtin base
            if cls.__module__ == "builtins":
                return cls.__name__
        return type(e).__name__


def substitutions(args):
    for i, a in enumerate(args):
        for label, bad in a.bad():
            yield f"arg{i}={label}", [*[b.default for b in args[:i]], bad, *[b.default for b in args[i + 1:]]]


