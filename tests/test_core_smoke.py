"""The skeleton's end-to-end path: build a graph, run backward, compare with oracles."""
import numpy as np
import pytest

import tinygrad_cpp as tg
from helpers import check_grad, torch


def test_arithmetic_forward_matches_numpy():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal(4)
    ta, tb = tg.tensor(a), tg.tensor(b)
    np.testing.assert_allclose((ta + tb).numpy(), a + b)
    np.testing.assert_allclose((ta - tb).numpy(), a - b)
    np.testing.assert_allclose((ta * tb).numpy(), a * b)
    np.testing.assert_allclose((ta / tb).numpy(), a / b)
    np.testing.assert_allclose((-ta).numpy(), -a)
    np.testing.assert_allclose(ta.exp().numpy(), np.exp(a))
    np.testing.assert_allclose(ta.relu().numpy(), np.maximum(a, 0))
    np.testing.assert_allclose((ta @ tb).numpy(), a @ b)
    np.testing.assert_allclose(ta.sum(1).numpy(), a.sum(1))


def test_chain_backward_against_finite_differences_and_torch():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    check_grad(lambda x, y: ((x @ y).exp() * 2.0 - x.sum(1, keepdim=True)).relu() / 3.0, a, b)


def test_scalar_promotion_keeps_float32():
    t = tg.ones(3)
    assert (t * 2.5).dtype == tg.float32
    assert (tg.ones(3, dtype=tg.int64) * 2.5).dtype == tg.float32
    assert (tg.ones(3, dtype=tg.int64) + 2).dtype == tg.int64
    assert (t + tg.ones(3, dtype=tg.float64)).dtype == tg.float64


def test_backward_accumulates_and_frees_graph():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 8.0])
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_shape_mismatch_raises_runtime_error_naming_shapes():
    with pytest.raises(RuntimeError, match=r"\[2, 3\].*\[4\]"):
        tg.ones(2, 3) + tg.ones(4)
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        tg.ones(2, 3) @ tg.ones(4, 2)
