"""t[key] and t[key] = v: basic indexing gives views, advanced indexing (integer tensors,
lists, bool masks) gives copies with a gradient; values vs numpy, backward vs finite
differences and PyTorch, and PyTorch's errors."""
import numpy as np
import pytest

import tinygrad_cpp as tg
from helpers import check_grad, torch
from test_shape import DTYPES, arr, both, noncontig


def tg_key(key):
    """The key with numpy arrays turned into tensors."""
    conv = lambda k: tg.tensor(k) if isinstance(k, np.ndarray) else k
    return tuple(conv(k) for k in key) if isinstance(key, tuple) else conv(key)


def torch_key(key):
    conv = lambda k: torch.tensor(k) if isinstance(k, np.ndarray) else k
    return tuple(conv(k) for k in key) if isinstance(key, tuple) else conv(key)


BASIC_KEYS = [
    0, -1, 2, (1, 2), (-1, -3), slice(None), slice(1, None), slice(None, -1), slice(None, None, 2),
    slice(1, 4, 3), slice(-10, 10), slice(3, 1), slice(10, 20), (slice(None), 1), (Ellipsis, 0),
    (0, Ellipsis), (Ellipsis, 1, slice(None, None, 2)), None, (None, 0), (slice(None), None, 1),
    (Ellipsis, None), (1, None, Ellipsis, None), (), Ellipsis, (slice(1, 3), slice(None, None, 3), 0),
    (True,), (False, 1),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("key", BASIC_KEYS, ids=repr)
def test_basic_indexing_is_a_view_matching_numpy(dtype, key):
    a = arr((4, 3, 5), dtype)
    for t in both(a):
        r = t[key]
        np.testing.assert_array_equal(r.numpy(), a[key])
        assert r.dtype == t.dtype
        if r.numel():  # a view: its first element lies in t's buffer at the numpy offset
            first = a[key].reshape(-1)[0] if a[key].size else None
            assert r.reshape(-1)[0].item() == first
            assert same_buffer(r, t)


def same_buffer(v, base):
    start = base.data_ptr() - base.storage_offset() * base.element_size()
    end = start + base.numel() * base.element_size()
    return start <= v.data_ptr() < end


def test_basic_indexing_offsets_strides_and_write_through():
    t = tg.zeros(4, 5)
    v = t[1:, 1::2]
    assert v.shape == (3, 2) and v.stride() == (5, 2) and v.storage_offset() == 6
    assert v.data_ptr() == t.data_ptr() + 6 * 4
    v[2, 1] = 3.0
    assert t[3, 3].item() == 3.0
    row = t[2]
    row.add_(1.0)
    np.testing.assert_array_equal(t.numpy()[2], np.ones(5))
    assert t[1][2].storage_offset() == 7


def test_zero_dim_and_empty_indexing():
    s = tg.tensor(4.0)
    assert s[None].shape == (1,) and s[...].shape == () and s[()].item() == 4.0
    with pytest.raises(IndexError, match="invalid index of a 0-dim tensor"):
        s[0]
    e = tg.zeros(0, 3)
    assert e[:, 1].shape == (0,) and e[..., None].shape == (0, 3, 1)
    assert e[tg.tensor(np.zeros(0, np.int64))].shape == (0, 3)
    with pytest.raises(IndexError, match="index 0 is out of bounds for dimension 0 with size 0"):
        e[0]


def test_basic_index_errors():
    t = tg.zeros(3, 4)
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 0 with size 3"):
        t[5]
    with pytest.raises(IndexError, match="index -4 is out of bounds for dimension 0 with size 3"):
        t[-4]
    with pytest.raises(IndexError, match="index 4 is out of bounds for dimension 1 with size 4"):
        t[0, 4]
    with pytest.raises(ValueError, match="step must be greater than zero"):
        t[::-1]
    with pytest.raises(ValueError):
        t[::0]
    with pytest.raises(IndexError, match="too many indices for tensor of dimension 2"):
        t[0, 0, 0]
    with pytest.raises(IndexError, match="single ellipsis"):
        t[..., ...]
    with pytest.raises(IndexError, match=r"valid indices \(got float\)"):
        t[1.5]
    with pytest.raises(IndexError, match="must be long, int, byte or bool"):
        t[tg.tensor([0.0])]
    with pytest.raises(IndexError, match="must be long, int, byte or bool"):
        t[[0.5]]


def test_index_with_numpy_and_tensor_scalars():
    a = np.arange(12.0).reshape(3, 4)
    t = tg.tensor(a)
    np.testing.assert_array_equal(t[np.int64(2)].numpy(), a[2])
    np.testing.assert_array_equal(t[tg.tensor(1)].numpy(), a[1])  # 0-d int tensor: an int
    assert t[tg.tensor(1)].data_ptr() == t.data_ptr() + 4 * 8
    np.testing.assert_array_equal(t[1:tg.tensor(3)].numpy(), a[1:3])
    assert t[tg.tensor(True)].shape == (1, 3, 4) and t[tg.tensor(False)].shape == (0, 3, 4)
    assert t[np.bool_(True)].shape == (1, 3, 4)
    assert t[10**30:].shape == (0, 4) and t[-10**30:].shape == (3, 4)


def test_basic_index_node_names_and_grads():
    x = tg.zeros(3, 4, requires_grad=True)
    assert x[1].grad_fn.name() == "SelectBackward0"
    assert x[1:].grad_fn.name() == "SliceBackward0"
    assert x[None].grad_fn.name() == "UnsqueezeBackward0"
    assert x[...].grad_fn.name() == "AliasBackward0"
    assert x[[0]].grad_fn.name() == "IndexBackward0"
    a = arr((4, 3, 5))
    check_grad(lambda x: x[1], a)
    check_grad(lambda x: x[1:, ::2, -1] * 2.0, a)
    check_grad(lambda x: x[..., 1:4:2, None], a)
    check_grad(lambda x: x[2, None, 1:] * x[0, None, :-1], a)
    check_grad(lambda x: x[...], a)


# ---- advanced indexing -------------------------------------------------------------------

ADVANCED_KEYS = [
    [0, 2, 2],
    np.array([3, -1, 0]),
    np.array([[0, 1], [3, 3]]),
    (slice(None), [2, 0]),
    (slice(None), np.array([[1], [2]]), np.array([0, 4])),  # two index tensors broadcast
    (np.array([0, 1, 2]), np.array([1, 2, 0])),             # x[arange(n), labels]
    (np.array([0, 3]), slice(None), np.array([4, 0])),      # separated: index dims go first
    (slice(1, None), [0, 2]),
    (Ellipsis, [4, 4, 1]),
    (None, [1, 0]),
    ([1], slice(None), slice(None, None, 2)),
    (slice(None), slice(None), np.array([], dtype=np.int64)),
    np.array([[True], [False], [True], [True]])[:, 0],          # bool mask over dim 0
    (slice(None), np.array([True, False, True])),
    (np.array([2, 0]), np.array([True, False, True])),          # int tensor + mask
    (slice(None), 1, [0, 0, 3]),
    [],
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("key", ADVANCED_KEYS, ids=lambda k: repr(k).replace("\n", ""))
def test_advanced_indexing_matches_numpy(dtype, key):
    a = arr((4, 3, 5), dtype)
    for t in both(a):
        r = t[tg_key(key)]
        np.testing.assert_array_equal(r.numpy(), a[key])
        assert r.dtype == t.dtype
        if r.numel():
            assert not same_buffer(r, t)  # a copy


def test_full_mask_and_mask_of_leading_dims():
    a = arr((4, 3, 5))
    m = a > 0.5
    for t in both(a):
        np.testing.assert_array_equal(t[tg.tensor(m)].numpy(), a[m])
        np.testing.assert_array_equal(t[tg.tensor(m[:, :, 0])].numpy(), a[m[:, :, 0]])
        np.testing.assert_array_equal(t[1][tg.tensor(m[1])].numpy(), a[1][m[1]])
        np.testing.assert_array_equal(t[:, tg.tensor(m[0])].numpy(), a[:, m[0]])
    with pytest.raises(IndexError, match=r"shape of the mask \[3, 3\] at index 0 does not match the shape "
                                         r"of the indexed tensor \[4, 3, 5\] at index 0"):
        tg.tensor(a)[tg.tensor(np.ones((3, 3), bool))]


def test_int_then_advanced_follows_pytorch_not_numpy():
    # PyTorch applies the int first (a select), so the index dims stay in place
    a = arr((4, 3, 5))
    t = tg.tensor(a)
    np.testing.assert_array_equal(t[0, :, [1, 2]].numpy(), a[0][:, [1, 2]])
    np.testing.assert_array_equal(t[:, 1, [0, 0, 3]].numpy(), a[:, 1][:, [0, 0, 3]])
    if torch is not None:
        tt = torch.tensor(a)
        for key in [(0, slice(None), [1, 2]), ([0, 1], slice(None), [1, 2]), (slice(None), [[0], [2]], [1, 4])]:
            np.testing.assert_array_equal(t[key].numpy(), tt[key].numpy())


def test_noncontiguous_index_tensors():
    a = arr((6, 4))
    idx = tg.tensor(np.array([[5, 0], [1, 1], [2, 3]])).t()  # strided index tensor
    np.testing.assert_array_equal(tg.tensor(a)[idx].numpy(), a[np.array([[5, 1, 2], [0, 1, 3]])])
    np.testing.assert_array_equal(noncontig(a)[idx[0, :2]].numpy(), a[[5, 1]])


def test_advanced_index_errors():
    t = tg.zeros(3, 4)
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 0 with size 3"):
        t[tg.tensor([0, 5])]
    with pytest.raises(IndexError, match="index -5 is out of bounds for dimension 1 with size 4"):
        t[:, [1, -5]]
    with pytest.raises(IndexError, match="index 3 is out of bounds for dimension 0 with size 3"):
        t[[3, 0], [0, 1]]
    with pytest.raises(IndexError, match=r"could not be broadcast together with shapes \[2\], \[3\]"):
        t[[0, 1], [0, 1, 2]]
    with pytest.raises(IndexError, match="too many indices"):
        t[[0], [0], [0]]
    with pytest.raises(IndexError, match="too many indices"):
        t[tg.tensor(np.ones((3, 4, 1), bool))]
    # huge index values are rejected, not used
    with pytest.raises(IndexError, match="out of bounds"):
        t[tg.tensor([2**62])]


def test_advanced_index_grads_accumulate_repeats():
    a = arr((4, 3))
    check_grad(lambda x: x[[0, 2, 2, 0, 2]], a)
    check_grad(lambda x: x[:, [1, 1, 0]] * 2.0, a)
    check_grad(lambda x: x[[3, 3], [1, 1]], a)
    check_grad(lambda x: x[1:, [2, 2]], a)
    check_grad(lambda x: x[[[0, 0], [3, 0]]], a, torch_fn=lambda x: x[torch.tensor([[0, 0], [3, 0]])])
    mask = a > 0
    check_grad(lambda x: x[tg.tensor(mask)] if isinstance(x, tg.Tensor) else x[torch.tensor(mask)], a)
    b = arr((2, 3, 4))
    check_grad(lambda x: x[[1, 0, 1], :, [3, 3, 0]], b)
    check_grad(lambda x: x[:, [2, 0]][..., [1, 1]], b)


def test_nll_style_gather_backward():
    logits = arr((5, 4))
    labels = np.array([3, 0, 3, 1, 3])
    n = np.arange(5)

    def nll(x):
        if isinstance(x, tg.Tensor):
            return -x[tg.tensor(n), tg.tensor(labels)].sum()
        return -x[torch.tensor(n), torch.tensor(labels)].sum()

    check_grad(lambda x: nll(x).view(1) if isinstance(x, tg.Tensor) else nll(x).reshape(1), logits)
    x = tg.tensor(logits, requires_grad=True)
    nll(x).backward()
    expected = np.zeros((5, 4))
    expected[n, labels] = -1.0
    np.testing.assert_array_equal(x.grad.numpy(), expected)


def test_many_repeats_accumulate_exactly_in_parallel_path():
    # 200k rows of 1 element all hitting 3 places: the scatter must not race
    n = 200_000
    idx = np.tile(np.array([0, 1, 2]), n // 3 + 1)[:n]
    x = tg.zeros(3, requires_grad=True)
    x[tg.tensor(idx)].backward(tg.ones(n))
    np.testing.assert_array_equal(x.grad.numpy(), np.bincount(idx, minlength=3).astype(np.float32))
    x = tg.zeros(3, 50_000, requires_grad=True)
    x[[0, 2, 0, 0]].backward(tg.ones(4, 50_000))
    np.testing.assert_array_equal(x.grad.numpy()[:, 7], [3.0, 0.0, 1.0])


def test_big_gather_matches_numpy():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((500, 300)).astype(np.float32)
    idx = rng.integers(-500, 500, size=2000)
    t = noncontig(a)
    np.testing.assert_array_equal(t[tg.tensor(idx)].numpy(), a[idx])
    np.testing.assert_array_equal(t[:, tg.tensor(idx % 300)].numpy(), a[:, idx % 300])
    m = a > 0
    np.testing.assert_array_equal(t[tg.tensor(m)].numpy(), a[m])


# ---- __setitem__ -------------------------------------------------------------------------

DUP_KEY = (1, [0, 0, 1])
SET_CASES = [
    (1, 7.0),
    ((slice(None), 2), np.array([1.0, 2.0, 3.0, 4.0])),
    ((slice(1, None, 2), slice(None, None, 3)), np.array([[5.0, 6.0]])),  # broadcast over rows
    ((Ellipsis, 0), -1.0),
    ((None, 2), np.arange(5.0)[None, None]),  # leading size-1 dims are dropped
    ([0, 2], np.array([[1.0], [2.0]])),
    ((slice(None), [4, 0]), 9.0),
    (([1, 3], [0, 4]), np.array([10.0, 20.0])),
    (np.array([True, False, True, False]), np.arange(5.0)),
    ((np.array([0, 2]), np.array([True, False, False, False, True])), np.array([1.5, 2.5])),
    (DUP_KEY, np.array([3.0, 4.0, 5.0])),  # repeated index: some value wins
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("key,value", SET_CASES, ids=lambda c: repr(c).replace("\n", "")[:40])
def test_setitem_matches_numpy(dtype, key, value):
    a = arr((4, 5), dtype)
    expected = a.copy()
    expected[key] = np.asarray(value).astype(dtype) if isinstance(value, np.ndarray) else dtype(value)
    for t in both(a):
        v0 = t._version
        t[tg_key(key)] = tg.tensor(value).to(t.dtype) if isinstance(value, np.ndarray) else value
        got = t.numpy()
        if key is DUP_KEY:  # duplicates: any of the written values is valid
            assert got[1, 0] in (3, 4) and got[1, 1] == 5
            got = got.copy()
            got[1, 0] = expected[1, 0]
        np.testing.assert_array_equal(got, expected)
        assert t._version > v0


def test_setitem_casts_value_and_writes_through_views():
    t = tg.zeros(3, 4, dtype=tg.int64)
    t[0] = 2.7  # cast as PyTorch does
    t[1] = tg.tensor([1.9, 2.0, 3.0, 4.0], dtype=tg.float64)
    assert t[0].tolist() == [2, 2, 2, 2] and t[1].tolist() == [1, 2, 3, 4]
    base = tg.zeros(4, 4)
    v = base[1:3]
    v[:, [0, 3]] = 1.0
    v[0, 1:3] = tg.tensor([5.0, 6.0])
    np.testing.assert_array_equal(base.numpy()[1], [1.0, 5.0, 6.0, 1.0])
    np.testing.assert_array_equal(base.numpy()[2], [1.0, 0.0, 0.0, 1.0])
    b = tg.zeros(3, dtype=tg.bool)
    b[[0, 2]] = True
    assert b.tolist() == [True, False, True]


def test_setitem_with_overlapping_source():
    a = np.arange(6.0)
    t = tg.tensor(a)
    t[1:] = t[:-1]
    np.testing.assert_array_equal(t.numpy(), [0.0, 0.0, 1.0, 2.0, 3.0, 4.0])
    t = tg.tensor(a)
    t[[1, 2, 3]] = t[0:3]
    np.testing.assert_array_equal(t.numpy(), [0.0, 0.0, 1.0, 2.0, 4.0, 5.0])


def test_setitem_errors():
    t = tg.zeros(3, 4)
    with pytest.raises(RuntimeError):
        t[0] = tg.ones(3)
    with pytest.raises(RuntimeError, match=r"value tensor of shape \[3\] cannot be broadcast to indexing result of shape \[2, 4\]"):
        t[[0, 1]] = tg.ones(3)
    with pytest.raises(IndexError, match="index 3 is out of bounds"):
        t[[3]] = 1.0
    with pytest.raises(IndexError, match="index 9 is out of bounds"):
        t[9] = 1.0
    with pytest.raises(TypeError):
        t[0] = "a"
    np.testing.assert_array_equal(t.numpy(), np.zeros((3, 4)))  # nothing was written


def test_setitem_respects_autograd():
    x = tg.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="view of a leaf Variable that requires grad"):
        x[0] = 1.0
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x[[0]] = 1.0
    y = x * 2.0
    y[[0]] = 1.0  # recorded (tests/test_inplace_autograd.py checks the gradients)
    assert y.grad_fn.name() == "IndexPutBackward0"
    with tg.no_grad():
        x[1] = 5.0
        x[[2]] = 6.0
    np.testing.assert_array_equal(x.detach().numpy(), [0.0, 5.0, 6.0])
    # writing a tensor that requires grad into one that does not gives it history
    buf = tg.zeros(3)
    buf[0] = x[0]
    assert buf.requires_grad and buf.grad_fn.name() == "CopySlices"
    # a saved tensor that is overwritten is detected at backward time
    w = tg.ones(3, requires_grad=True)
    a = tg.ones(3)
    out = (w * a).sum()
    a[0] = 2.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.backward()
