"""In-place ops (the ones optimizers use): values vs numpy, identity and version bumps,
non-contiguous and aliased operands, casting rules, and the autograd safety checks."""
import operator

import numpy as np
import pytest

import tinygrad_cpp as tg
from helpers import torch

RNG = np.random.default_rng(3)


def transposed(a):
    """A non-contiguous tensor sharing memory with the returned numpy array (its transpose)."""
    base = np.ascontiguousarray(a.T)
    return tg.from_numpy(base).transpose(0, 1), base


BINARY = [
    ("add_", lambda t, o: t.add_(o), np.add),
    ("sub_", lambda t, o: t.sub_(o), np.subtract),
    ("mul_", lambda t, o: t.mul_(o), np.multiply),
    ("div_", lambda t, o: t.div_(o), np.divide),
    ("pow_", lambda t, o: t.pow_(o), np.power),
    ("iadd", operator.iadd, np.add),
    ("isub", operator.isub, np.subtract),
    ("imul", operator.imul, np.multiply),
    ("itruediv", operator.itruediv, np.divide),
    ("ipow", operator.ipow, np.power),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,op,ref", BINARY, ids=[b[0] for b in BINARY])
def test_binary_inplace_values_identity_and_version(dtype, name, op, ref):
    a = np.asarray(RNG.uniform(0.5, 2.0, (3, 4)), dtype)
    for other in (np.asarray(RNG.uniform(0.5, 2.0, (3, 4)), dtype), np.asarray(RNG.uniform(0.5, 2.0, (4,)), dtype),
                  np.asarray(1.5, dtype)):
        expect = ref(a, other)
        t = tg.tensor(a)
        v = t._version
        r = op(t, tg.tensor(other))
        assert r is t and t._version > v
        np.testing.assert_allclose(t.numpy(), expect, rtol=1e-6)
        # non-contiguous self: written through to the shared memory
        t, base = transposed(a)
        assert not t.is_contiguous()
        assert op(t, tg.tensor(other)) is t
        np.testing.assert_allclose(t.numpy(), expect, rtol=1e-6)
        np.testing.assert_allclose(base.T, expect, rtol=1e-6)
        # Python number operand
        t = tg.tensor(a)
        op(t, 2)
        np.testing.assert_allclose(t.numpy(), ref(a, dtype(2)), rtol=1e-6)


def test_add_sub_alpha_inplace():
    a, b = RNG.standard_normal((2, 3)), RNG.standard_normal(3)
    t = tg.tensor(a)
    assert t.add_(tg.tensor(b), alpha=-0.5) is t
    np.testing.assert_allclose(t.numpy(), a - 0.5 * b)
    t.sub_(tg.tensor(b), alpha=2)
    np.testing.assert_allclose(t.numpy(), a - 2.5 * b)
    i = tg.tensor([1, 2])
    i.sub_(1, alpha=2)
    assert i.tolist() == [-1, 0]
    with pytest.raises(RuntimeError, match="alpha"):
        i.add_(1, alpha=0.5)


def test_alpha_may_be_a_one_element_tensor():
    # PyTorch takes a 0-d tensor's value (L-BFGS passes its step sizes so); a float tensor
    # must not be read through __index__ as an integer
    a, b = RNG.standard_normal(3), RNG.standard_normal(3)
    t = tg.tensor(a)
    t.add_(tg.tensor(b), alpha=tg.tensor(0.25, dtype=tg.float64))
    np.testing.assert_allclose(t.numpy(), a + 0.25 * b)
    np.testing.assert_allclose(tg.sub(tg.tensor(a), tg.tensor(b), alpha=tg.tensor([-1.5])).numpy(), a + 1.5 * b)
    i = tg.tensor([1, 2])
    assert i.add(tg.tensor([1, 1]), alpha=tg.tensor(3)).tolist() == [4, 5]
    with pytest.raises(RuntimeError, match="alpha"):
        i.add_(1, alpha=tg.tensor(0.5))  # a float alpha for an int64 tensor, as with 0.5
    with pytest.raises(TypeError, match=r"alpha.*Number.*\[2\]"):  # PyTorch's type
        t.add_(tg.tensor(b), alpha=tg.ones(2))
    np.testing.assert_allclose(t.numpy(), a + 0.25 * b)  # unchanged by the failed calls
    if torch is not None:
        tt = torch.tensor(a)
        tt.add_(torch.tensor(b), alpha=torch.tensor(0.25, dtype=torch.float64))
        np.testing.assert_allclose(t.numpy(), tt.numpy())


def test_inplace_on_non_contiguous_self_with_aliasing_operand():
    a = RNG.standard_normal((4, 4))
    t = tg.tensor(a)
    t.add_(t.transpose(0, 1))  # reads elements it also writes: must see the old values
    np.testing.assert_allclose(t.numpy(), a + a.T)
    t = tg.tensor(a)
    t.mul_(t)
    np.testing.assert_allclose(t.numpy(), a * a)
    t = tg.tensor(a)
    t.copy_(t.transpose(0, 1))
    np.testing.assert_allclose(t.numpy(), a.T)


def test_float32_self_with_float64_operand_rounds_once():
    a = np.array([1.0, 2.0], np.float32)
    b = np.array([1e-8, 0.1], np.float64)
    t = tg.tensor(a)
    t.add_(tg.tensor(b))
    assert t.dtype == tg.float32
    np.testing.assert_array_equal(t.numpy(), (a.astype(np.float64) + b).astype(np.float32))
    if torch is not None:
        tt = torch.tensor(a)
        tt.add_(torch.tensor(b))
        np.testing.assert_array_equal(t.numpy(), tt.numpy())


def test_result_type_must_cast_to_self():
    i = tg.tensor([1, 2, 3])
    for op in (lambda: i.add_(2.5), lambda: i.mul_(tg.ones(3)), lambda: i.div_(2), lambda: i.clamp_(0.5),
               lambda: i.exp_(), lambda: i.sqrt_(), lambda: i.sigmoid_()):
        with pytest.raises(RuntimeError, match="can't be cast to the desired output type int64"):
            op()
    assert i.tolist() == [1, 2, 3]  # nothing was written
    b = tg.tensor([True, False])
    with pytest.raises(RuntimeError, match="can't be cast"):
        b.add_(1)
    i.mul_(True)
    i.add_(tg.tensor([True, False, True]))
    assert i.tolist() == [2, 2, 4]
    f = tg.ones(2)
    f.add_(tg.tensor([1, 2]))
    assert f.tolist() == [2.0, 3.0]


def test_broadcast_must_fit_self():
    t = tg.ones(3)
    with pytest.raises(RuntimeError, match=r"output with shape \[3\] doesn't match the broadcast shape \[2, 3\]"):
        t.add_(tg.ones(2, 3))
    with pytest.raises(RuntimeError, match=r"\[3\].*\[4\]"):
        t.mul_(tg.ones(4))
    with pytest.raises(RuntimeError, match=r"\[2, 3\].*\[3\]"):
        t.copy_(tg.ones(2, 3))
    assert t.tolist() == [1.0, 1.0, 1.0]


def test_inplace_on_leaf_refused_others_recorded():
    # (tests/test_inplace_autograd.py covers the recorded gradients against PyTorch)
    w = tg.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w.add_(1)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        w += 1
    with pytest.raises(RuntimeError, match="leaf Variable"):
        w.zero_()
    y = w * 2
    assert y.mul_(2) is y and y.grad_fn.name() == "MulBackward0"
    buf = tg.zeros(3)
    buf.add_(w)  # the operand's gradient flows: buf now has history
    assert buf.requires_grad and buf.grad_fn.name() == "AddBackward0"
    buf = tg.zeros(3)
    with tg.no_grad():
        w.add_(1)
        w.mul_(2)
        w.clamp_(max=3.0)
        buf.add_(w)
    np.testing.assert_array_equal(w.detach().numpy(), [3.0, 3.0, 3.0])
    assert w.requires_grad and w.is_leaf and w.grad_fn is None
    np.testing.assert_array_equal(buf.numpy(), [3.0, 3.0, 3.0])


def test_modified_saved_tensor_is_detected_in_backward():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    x = tg.tensor([3.0, 4.0])
    y = (w * x).sum()
    x.mul_(2)  # x was saved by MulBackward0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()
    z = w.exp()
    with tg.no_grad():
        z.add_(1)  # the saved output changed
    with pytest.raises(RuntimeError, match="inplace"):
        z.sum().backward()


def test_expanded_self_is_refused():
    t = tg.ones(3).expand(2, 3)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        t.add_(1)
    with pytest.raises(RuntimeError, match="more than one element"):
        t.fill_(0)


def test_copy_broadcasts_and_casts():
    t = tg.zeros(2, 3)
    assert t.copy_(tg.tensor([1, 2, 3])) is t
    np.testing.assert_array_equal(t.numpy(), [[1, 2, 3], [1, 2, 3]])
    i = tg.zeros(3, dtype=tg.int64)
    i.copy_(tg.tensor([1.7, -2.2, 3.9]))
    assert i.tolist() == [1, -2, 3]
    v = i._version
    i.copy_(5)
    assert i.tolist() == [5, 5, 5] and i._version > v
    t2, base = transposed(np.zeros((3, 2)))
    t2.copy_(tg.tensor(np.arange(6.0).reshape(3, 2)))
    np.testing.assert_array_equal(base.T, np.arange(6.0).reshape(3, 2))


def test_fill_and_zero():
    t, base = transposed(RNG.standard_normal((3, 2)))
    v = t._version
    assert t.fill_(2.5) is t and t._version > v
    np.testing.assert_array_equal(base, np.full((2, 3), 2.5))
    assert t.zero_() is t
    np.testing.assert_array_equal(base, np.zeros((2, 3)))
    i = tg.tensor([1, 2, 3])
    i.fill_(2.7)
    assert i.tolist() == [2, 2, 2]
    i.fill_(tg.tensor(7))
    assert i.tolist() == [7, 7, 7]
    big = 2**62 + 1
    i.fill_(big)
    assert i.tolist() == [big] * 3  # exact, not through a double
    with pytest.raises(RuntimeError, match="overflow"):
        i.fill_(float("inf"))
    with pytest.raises(RuntimeError, match="overflow"):
        i.fill_(1e300)
    with pytest.raises(RuntimeError, match="0-dimension"):
        i.fill_(tg.tensor([1, 2, 3]))
    b = tg.tensor([True, False])
    b.fill_(0)
    assert b.tolist() == [False, False]
    e = tg.zeros(0, 3)
    assert e.fill_(1.0) is e and e.zero_() is e
    x = tg.tensor([1.0, 2.0, 3.0])
    x.fill_(x.sum())
    assert x.tolist() == [6.0, 6.0, 6.0]


def test_clamp_inplace():
    a = RNG.standard_normal((3, 4))
    t, base = transposed(a)
    assert t.clamp_(-0.5, 0.5) is t
    np.testing.assert_array_equal(base.T, np.clip(a, -0.5, 0.5))
    t = tg.tensor(a)
    t.clamp_(min=tg.zeros(4))
    np.testing.assert_array_equal(t.numpy(), np.maximum(a, 0))
    t.clip_(max=0.25)
    np.testing.assert_array_equal(t.numpy(), np.clip(a, 0, 0.25))
    i = tg.tensor([1, 5, 9])
    i.clamp_(2, 6)
    assert i.tolist() == [2, 5, 6]
    with pytest.raises(RuntimeError, match="broadcast shape"):
        tg.ones(3).clamp_(min=tg.zeros(2, 3))


UNARY = [("neg_", np.negative), ("abs_", np.abs), ("exp_", np.exp), ("log_", np.log), ("sqrt_", np.sqrt),
         ("rsqrt_", lambda x: 1 / np.sqrt(x)), ("reciprocal_", lambda x: 1 / x), ("floor_", np.floor),
         ("ceil_", np.ceil), ("round_", np.round), ("sigmoid_", lambda x: 1 / (1 + np.exp(-x))),
         ("tanh_", np.tanh), ("relu_", lambda x: np.maximum(x, 0))]


@pytest.mark.parametrize("name,ref", UNARY, ids=[u[0] for u in UNARY])
def test_unary_inplace(name, ref):
    a = RNG.uniform(0.1, 3.0, (3, 4)) * (1 if name in ("log_", "sqrt_", "rsqrt_") else RNG.choice([-1, 1], (3, 4)))
    for dtype in (np.float32, np.float64):
        x = a.astype(dtype)
        t, base = transposed(x)
        v = t._version
        assert getattr(t, name)() is t and t._version > v
        np.testing.assert_allclose(base.T, ref(x), rtol=1e-6)
    if name in ("neg_", "abs_", "floor_", "ceil_", "round_", "relu_"):
        i = tg.tensor([-2, 0, 3])
        getattr(i, name)()
        assert i.dtype == tg.int64
        np.testing.assert_array_equal(i.numpy(), ref(np.array([-2, 0, 3])))


def test_optimizer_style_update():
    # SGD with momentum, as an optimizer writes it
    p = tg.tensor(RNG.standard_normal(5), requires_grad=True)
    ref = p.detach().numpy().copy()
    buf = tg.zeros(5, dtype=tg.float64)
    mom = np.zeros(5)
    for _ in range(3):
        (p * p).sum().backward()
        g = 2 * ref
        with tg.no_grad():
            buf.mul_(0.9).add_(p.grad)
            p.add_(buf, alpha=-0.1)
        p.grad.zero_()
        mom = 0.9 * mom + g
        ref = ref - 0.1 * mom
    np.testing.assert_allclose(p.detach().numpy(), ref, rtol=1e-12)
