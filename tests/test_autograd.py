"""Autograd semantics: leaves, accumulation, retain_graph, no_grad, detach, grad, gradcheck."""
import gc
import threading
import weakref

import numpy as np
import pytest

import tinygrad_cpp as tg
from helpers import torch


def test_leaves_and_grad_fn():
    x = tg.ones(2, requires_grad=True)
    y = x * 2
    assert x.is_leaf and not y.is_leaf and y.requires_grad
    assert y.grad_fn.name() == "MulBackward0"
    assert y.grad_fn.next_functions[0][0].name() == "AccumulateGrad"
    z = tg.ones(2) * 2
    assert z.is_leaf and z.grad_fn is None and not z.requires_grad


def test_gradients_accumulate_across_backward_calls():
    x = tg.tensor([1.0, -2.0], requires_grad=True)
    for _ in range(3):
        (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * 2 * np.array([1.0, -2.0]))


def test_grad_is_stable_object_and_accumulates_in_place():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    g = x.grad
    assert x.grad is g
    (x * 3).sum().backward()
    np.testing.assert_allclose(g.numpy(), [6.0, 6.0])


def test_shared_subexpression_and_diamond_graph():
    x = tg.tensor([0.5, 1.5], dtype=tg.float64, requires_grad=True)
    a = x * x
    b = a.exp()
    c = a * b + a  # a used twice: grads must sum before a's node runs
    c.sum().backward()
    xv = np.array([0.5, 1.5])
    expected = (2 * xv) * (np.exp(xv**2) + xv**2 * np.exp(xv**2) + 1)
    np.testing.assert_allclose(x.grad.numpy(), expected)


def test_same_leaf_twice_in_one_op():
    x = tg.tensor([3.0], requires_grad=True)
    (x * x).backward(tg.ones(1))
    np.testing.assert_allclose(x.grad.numpy(), [6.0])
    y = tg.tensor([1.0, 2.0], requires_grad=True)
    (y + y).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), [2.0, 2.0])


def test_grads_of_add_inputs_do_not_alias():
    a = tg.ones(3, requires_grad=True)
    b = tg.ones(3, requires_grad=True)
    (a + b).sum().backward()
    with tg.no_grad():
        a.grad.add_(tg.ones(3))
    np.testing.assert_allclose(b.grad.numpy(), [1, 1, 1])


def test_retain_graph_and_freed_graph_error():
    x = tg.tensor([2.0], requires_grad=True)
    y = (x * x).exp()
    y.backward(tg.ones(1), retain_graph=True)
    y.backward(tg.ones(1))
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward(tg.ones(1))


def test_backward_errors():
    with pytest.raises(RuntimeError, match="does not require grad"):
        tg.ones(2).sum().backward()
    x = tg.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="only for scalar outputs"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        (x * 2).backward(tg.ones(3))


def test_non_scalar_backward_with_gradient():
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).backward(tg.tensor([1.0, 0.0, 2.0]))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 0.0, 12.0])


def test_no_grad_context_and_decorator():
    x = tg.ones(2, requires_grad=True)
    with tg.no_grad():
        y = x * 2
        assert not tg.is_grad_enabled()
        with tg.enable_grad():
            z = x * 2
    assert tg.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad

    @tg.no_grad()
    def f(t):
        return t * 2
    assert not f(x).requires_grad
    with tg.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert tg.is_grad_enabled()


def test_grad_mode_is_thread_local():
    seen = {}

    def worker():
        seen["enabled"] = tg.is_grad_enabled()
    with tg.no_grad():
        t = threading.Thread(target=worker)
        t.start()
        t.join()
    assert seen["enabled"] is True


def test_detach_shares_storage_and_cuts_history():
    x = tg.ones(3, requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None
    d.numpy()[0] = 5
    assert y.detach().numpy()[0] == 5


def test_requires_grad_flags():
    x = tg.ones(2)
    x.requires_grad_()
    assert x.requires_grad
    y = x * 2
    with pytest.raises(RuntimeError, match="leaf variables"):
        y.requires_grad = False
    x.requires_grad = False
    assert not (x * 2).requires_grad


def test_inplace_on_leaf_requiring_grad_is_refused():
    x = tg.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        x.add_(1.0)
    with tg.no_grad():
        x.add_(1.0)
    np.testing.assert_allclose(x.detach().numpy(), [2.0, 2.0])


def test_modified_saved_tensor_is_detected():
    x = tg.ones(2, requires_grad=True)
    w = tg.ones(2)
    y = (x * w).sum()
    w.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_autograd_grad_leaves_grad_untouched():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    w = tg.tensor([3.0, 4.0], requires_grad=True)
    y = (x * w).sum()
    gx, gw = tg.autograd.grad(y, [x, w])
    np.testing.assert_allclose(gx.numpy(), [3.0, 4.0])
    np.testing.assert_allclose(gw.numpy(), [1.0, 2.0])
    assert x.grad is None and w.grad is None


def test_autograd_grad_of_intermediate_and_unused():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    h = x * x
    y = (h * 3).sum()
    (gh,) = tg.autograd.grad(y, h, retain_graph=True)
    np.testing.assert_allclose(gh.numpy(), [3.0, 3.0])
    z = tg.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="not have been used"):
        tg.autograd.grad(y, [x, z], retain_graph=True)
    gx, gz = tg.autograd.grad(y, [x, z], allow_unused=True)
    assert gz is None
    np.testing.assert_allclose(gx.numpy(), [6.0, 12.0])


def test_gradcheck_passes_and_catches_wrong_gradients():
    x = tg.tensor(np.random.default_rng(0).standard_normal((3, 2)), requires_grad=True)
    assert tg.autograd.gradcheck(lambda t: (t * t).exp().sum(1), (x,))
    assert tg.autograd.gradcheck(lambda t: t.relu() / 3.0, (x,))
    with pytest.raises(RuntimeError, match="float64"):
        tg.autograd.gradcheck(lambda t: t * 2, (tg.ones(2, requires_grad=True),))
    # a function whose backward is wrong: detach part of it
    assert not tg.autograd.gradcheck(lambda t: t * t.detach(), (x,), raise_exception=False)


def test_graph_is_freed_after_backward():
    x = tg.ones(100, requires_grad=True)
    h = x * 2
    y = (h.exp() * h).sum()
    ref = weakref.ref(h)
    node = weakref.ref(h.grad_fn)
    del h
    y.backward()
    del y
    gc.collect()
    assert ref() is None and node() is None


def test_mixed_dtype_gradients_keep_input_dtype():
    a = tg.ones(2, requires_grad=True)
    b = tg.ones(2, dtype=tg.float64, requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.dtype is tg.float32 and b.grad.dtype is tg.float64


def test_to_dtype_is_differentiable():
    a = tg.tensor([1.0, 2.0], requires_grad=True)
    b = a.double() * 3
    assert b.dtype is tg.float64
    b.sum().backward()
    assert a.grad.dtype is tg.float32
    np.testing.assert_allclose(a.grad.numpy(), [3.0, 3.0])


@pytest.mark.skipif(torch is None, reason="torch not installed")
def test_backward_matches_torch_on_a_small_network():
    rng = np.random.default_rng(3)
    xs, w1, w2 = rng.standard_normal((5, 4)), rng.standard_normal((4, 6)), rng.standard_normal((6, 3))
    tgs = [tg.tensor(a, requires_grad=True) for a in (xs, w1, w2)]
    ths = [torch.tensor(a, requires_grad=True) for a in (xs, w1, w2)]
    for lib, (x, a, b) in ((tg, tgs), (torch, ths)):
        ((x @ a).relu() @ b).exp().sum().backward()
    for t, th in zip(tgs, ths):
        np.testing.assert_allclose(t.grad.numpy(), th.grad.numpy(), rtol=1e-10)
