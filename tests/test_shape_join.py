"""cat, stack, split, chunk, unbind: values vs numpy, views, backward, errors."""
import numpy as np
import pytest

import tinygrad_cpp as tg
from helpers import check_grad, torch
from test_shape import DTYPES, arr, both, noncontig


@pytest.mark.parametrize("dtype", DTYPES)
def test_cat_matches_numpy(dtype):
    a, b, c = arr((2, 3), dtype, 1), arr((2, 4), dtype, 2), arr((2, 1), dtype, 3)
    for ta, tb in zip(both(a), both(b)):
        np.testing.assert_array_equal(tg.cat([ta, tb, tg.tensor(c)], 1).numpy(), np.concatenate([a, b, c], 1))
        np.testing.assert_array_equal(tg.cat((ta, ta), dim=-1).numpy(), np.concatenate([a, a], 1))
        np.testing.assert_array_equal(tg.cat([ta, ta]).numpy(), np.concatenate([a, a], 0))
        np.testing.assert_array_equal(tg.concat([ta.t(), tb.t()]).numpy(), np.concatenate([a.T, b.T]))
        np.testing.assert_array_equal(tg.concatenate([ta], 0).numpy(), a)
    assert tg.cat([tg.tensor(a)]).dtype == tg.tensor(a).dtype


def test_cat_promotes_and_skips_legacy_empty():
    f32, f64, i64 = tg.ones(2, 2), tg.ones(2, 2, dtype=tg.float64), tg.ones(2, 2, dtype=tg.int64)
    assert tg.cat([f32, f64]).dtype == tg.float64
    assert tg.cat([i64, f32]).dtype == tg.float32
    r = tg.cat([tg.zeros(0), tg.tensor([[1.0, 2.0]]), tg.zeros(0)])
    np.testing.assert_array_equal(r.numpy(), [[1.0, 2.0]])
    assert tg.cat([tg.zeros(0), tg.zeros(0)]).shape == (0,)
    assert tg.cat([tg.zeros(2, 0), tg.zeros(2, 3)], 1).shape == (2, 3)


def test_cat_errors_name_shapes():
    with pytest.raises(ValueError, match="non-empty list"):
        tg.cat([])
    with pytest.raises(RuntimeError, match=r"Expected size 3 but got size 4 for tensor number 1.*\[2, 3\].*\[2, 4\]"):
        tg.cat([tg.zeros(2, 3), tg.zeros(2, 4)])
    with pytest.raises(RuntimeError, match=r"same number of dimensions: got 2 and 1"):
        tg.cat([tg.zeros(2, 3), tg.zeros(3)])
    with pytest.raises(IndexError, match="Dimension out of range"):
        tg.cat([tg.zeros(2, 3)], 2)
    with pytest.raises(RuntimeError, match="zero-dimensional"):
        tg.cat([tg.tensor(1.0)])


def test_cat_grad():
    a, b = arr((2, 3), seed=1), arr((2, 2), seed=2)
    check_grad(lambda x, y: tg.cat([x, y * 2.0, x], 1), a, b,
               torch_fn=lambda x, y: torch.cat([x, y * 2.0, x], 1))
    check_grad(lambda x, y: tg.cat([x.t(), y.t()]), a, b, torch_fn=lambda x, y: torch.cat([x.t(), y.t()]))
    x = tg.zeros(2, requires_grad=True)
    y = tg.cat([x, tg.ones(3, dtype=tg.int64)])
    assert y.grad_fn.name() == "CatBackward0"
    y.backward(tg.tensor([1.0, 2.0, 3.0, 4.0, 5.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 2.0])
    # mixed float dtypes: each input gets its gradient in its own dtype
    x32 = tg.zeros(2, requires_grad=True)
    x64 = tg.zeros(1, dtype=tg.float64, requires_grad=True)
    tg.cat([x32, x64]).backward(tg.tensor([1.0, 2.0, 3.0], dtype=tg.float64))
    assert x32.grad.dtype == tg.float32 and x64.grad.dtype == tg.float64
    np.testing.assert_array_equal(x64.grad.numpy(), [3.0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_stack_matches_numpy(dtype):
    a, b = arr((2, 3), dtype, 1), arr((2, 3), dtype, 2)
    for ta, tb in zip(both(a), both(b)):
        for d in range(-3, 3):
            np.testing.assert_array_equal(tg.stack([ta, tb], d).numpy(), np.stack([a, b], d))
    assert tg.stack([tg.tensor(1.0), tg.tensor(2.0)]).shape == (2,)
    assert tg.stack([tg.zeros(0, 2)] * 3, 1).shape == (0, 3, 2)


def test_stack_errors_and_grad():
    with pytest.raises(RuntimeError, match=r"equal size, but got \[2, 3\] at entry 0 and \[2, 4\] at entry 1"):
        tg.stack([tg.zeros(2, 3), tg.zeros(2, 4)])
    with pytest.raises(RuntimeError, match="non-empty"):
        tg.stack([])
    with pytest.raises(IndexError):
        tg.stack([tg.zeros(2)], 2)
    a, b = arr((2, 3), seed=1), arr((2, 3), seed=2)
    check_grad(lambda x, y: tg.stack([x, y, x], 1), a, b, torch_fn=lambda x, y: torch.stack([x, y, x], 1))
    assert tg.stack([tg.zeros(2, requires_grad=True)]).grad_fn.name() == "StackBackward0"


@pytest.mark.parametrize("dtype", DTYPES)
def test_split_chunk_unbind_are_views(dtype):
    a = arr((5, 4), dtype)
    for t in both(a):
        parts = t.split(2)
        assert isinstance(parts, tuple) and [p.shape for p in parts] == [(2, 4), (2, 4), (1, 4)]
        for p, e in zip(parts, np.split(a, [2, 4])):
            np.testing.assert_array_equal(p.numpy(), e)
        parts = tg.split(t, [1, 3], dim=1)
        for p, e in zip(parts, np.split(a, [1], axis=1)):
            np.testing.assert_array_equal(p.numpy(), e)
        assert parts[1].data_ptr() == t.data_ptr() + t.stride(1) * t.element_size()
        chunks = t.chunk(3, 1)
        assert [c.shape for c in chunks] == [(5, 2), (5, 2)]
        np.testing.assert_array_equal(tg.chunk(t, 2)[1].numpy(), a[3:])
        rows = t.unbind()
        assert len(rows) == 5
        for i, r in enumerate(tg.unbind(t, 1)):
            np.testing.assert_array_equal(r.numpy(), a[:, i])
            assert r.data_ptr() == t.data_ptr() + i * t.stride(1) * t.element_size()


def test_split_write_through():
    t = tg.zeros(4)
    a, b = t.split(2)
    b[0] = 5.0
    np.testing.assert_array_equal(t.numpy(), [0.0, 0.0, 5.0, 0.0])


def test_split_chunk_edge_cases_match_torch():
    x = tg.tensor(np.arange(5))
    assert [p.tolist() for p in x.chunk(3)] == [[0, 1], [2, 3], [4]]
    assert [p.tolist() for p in tg.tensor(np.arange(6)).chunk(4)] == [[0, 1], [2, 3], [4, 5]]
    assert len(tg.zeros(0).split(2)) == 1 and len(tg.zeros(0).chunk(2)) == 2
    assert tg.split(tg.zeros(3, 0), 0, dim=1)[0].shape == (3, 0)
    with pytest.raises(RuntimeError, match="sum exactly to 5"):
        x.split([2, 2])
    with pytest.raises(RuntimeError, match="greater than 0"):
        x.chunk(0)
    with pytest.raises(RuntimeError, match="split_size can only be 0"):
        x.split(0)
    with pytest.raises(IndexError, match="no dimensions"):
        tg.tensor(1.0).unbind()
    assert tg.zeros(0, 3).unbind() == ()


def test_split_chunk_unbind_grads():
    a = arr((5, 4))
    x = tg.zeros(5, 4, requires_grad=True)
    assert x.split(2)[0].grad_fn.name() == "SplitBackward0"
    assert x.split([1, 4])[0].grad_fn.name() == "SplitWithSizesBackward0"
    assert x.unbind()[0].grad_fn.name() == "UnbindBackward0"
    # only some pieces used: the others contribute zeros
    check_grad(lambda x: x.split(2)[0] * x.split(2)[1], a)
    check_grad(lambda x: tg.cat([x.split([1, 3], 1)[1], x.split([1, 3], 1)[0]], 1), a,
               torch_fn=lambda x: torch.cat([x.split([1, 3], 1)[1], x.split([1, 3], 1)[0]], 1))
    check_grad(lambda x: x.chunk(2, 1)[1] * 2.0, a)
    check_grad(lambda x: x.unbind(1)[2] * x.unbind(1)[0], a)
    check_grad(lambda x: tg.stack(x.unbind(0)[::-1], 0), a,
               torch_fn=lambda x: torch.stack(x.unbind(0)[::-1], 0))


def test_big_cat_parallel_path():
    a = np.random.default_rng(0).standard_normal((300, 400)).astype(np.float32)
    ta = noncontig(a)
    r = tg.cat([ta, tg.tensor(a), ta], 1)
    np.testing.assert_array_equal(r.numpy(), np.concatenate([a, a, a], 1))
    np.testing.assert_array_equal(tg.stack([ta, ta], 2).numpy(), np.stack([a, a], 2))
