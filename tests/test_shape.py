"""Views and shape ops: values vs numpy, storage sharing, backward vs finite differences
and PyTorch, and the errors PyTorch raises."""
import numpy as np
import pytest

import tinygrad_cpp as tg
from helpers import check_grad, torch

DTYPES = [np.float32, np.float64, np.int64, np.bool_]


def arr(shape, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape) * 3
    return (a > 0) if dtype == np.bool_ else a.astype(dtype)


def noncontig(a):
    """A tensor with a's values whose memory is laid out in reverse dim order."""
    t = tg.from_numpy(np.ascontiguousarray(a.transpose()))
    t = t.permute(*reversed(range(a.ndim))) if a.ndim else t
    assert sum(n > 1 for n in a.shape) < 2 or not t.is_contiguous()
    return t


def both(a):
    """The contiguous and the non-contiguous tensor of a."""
    return [tg.tensor(a), noncontig(a)]


def same_storage(v, base):
    """v reads base's memory (the view's first element lies inside base's buffer)."""
    start = base.data_ptr() - base.storage_offset() * base.element_size()
    return start <= v.data_ptr() < start + max(base.numel(), 1) * base.element_size() * 4


# ---- view / reshape / flatten -----------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_view_matches_numpy_and_shares_storage(dtype):
    a = arr((2, 3, 4), dtype)
    t = tg.tensor(a)
    for shape in [(6, 4), (24,), (-1,), (2, -1), (4, 3, 2), (1, 24, 1)]:
        v = t.view(*shape)
        np.testing.assert_array_equal(v.numpy(), a.reshape(shape))
        assert v.data_ptr() == t.data_ptr()
        np.testing.assert_array_equal(t.view(shape).numpy(), a.reshape(shape))  # tuple form
    assert t.view(-1).shape == (24,)


def test_view_writes_through_to_base():
    t = tg.zeros(2, 3)
    v = t.view(6)
    v[4] = 7.0
    assert t[1, 1].item() == 7.0
    assert t.view(3, 2).view(-1)[4].item() == 7.0


def test_view_of_noncontiguous_raises_naming_shapes():
    t = tg.zeros(2, 3).t()
    with pytest.raises(RuntimeError, match=r"\[3, 2\].*\[6\].*reshape"):
        t.view(6)
    # views that keep the memory order stay possible
    assert t.view(3, 1, 2).shape == (3, 1, 2)
    with pytest.raises(RuntimeError, match="invalid for input of size 6"):
        tg.zeros(2, 3).view(4)
    with pytest.raises(RuntimeError, match="only one dimension can be inferred"):
        tg.zeros(2, 3).view(-1, -1)


def test_view_of_noncontiguous_with_compatible_geometry():
    a = np.arange(24.0).reshape(4, 6)
    t = tg.tensor(a)[:, 1:5]  # rows are strided but each row is contiguous
    np.testing.assert_array_equal(t.view(4, 2, 2).numpy(), a[:, 1:5].reshape(4, 2, 2))
    assert t.view(4, 2, 2).data_ptr() == t.data_ptr()


@pytest.mark.parametrize("dtype", DTYPES)
def test_reshape_views_when_possible_else_copies(dtype):
    a = arr((3, 4), dtype)
    for t in both(a):
        r = t.reshape(2, 6)
        np.testing.assert_array_equal(r.numpy(), a.reshape(2, 6))
        assert (r.data_ptr() == t.data_ptr()) == t.is_contiguous()
        np.testing.assert_array_equal(tg.reshape(t, (-1,)).numpy(), a.reshape(-1))


def test_reshape_node_names():
    x = tg.zeros(2, 3, requires_grad=True)
    assert x.reshape(6).grad_fn.name() == "ViewBackward0"
    assert x.t().reshape(6).grad_fn.name() == "UnsafeViewBackward0"
    assert x.view(3, 2).grad_fn.name() == "ViewBackward0"


@pytest.mark.parametrize("dtype", DTYPES)
def test_flatten(dtype):
    a = arr((2, 3, 4, 5), dtype)
    for t in both(a):
        np.testing.assert_array_equal(t.flatten().numpy(), a.reshape(-1))
        np.testing.assert_array_equal(tg.flatten(t, 1).numpy(), a.reshape(2, -1))
        np.testing.assert_array_equal(t.flatten(1, 2).numpy(), a.reshape(2, 12, 5))
        np.testing.assert_array_equal(t.flatten(-3, -2).numpy(), a.reshape(2, 12, 5))
        np.testing.assert_array_equal(tg.flatten(t, start_dim=2, end_dim=3).numpy(), a.reshape(2, 3, 20))
    t = tg.tensor(a)
    assert t.flatten(1, 1) is t  # PyTorch returns the input itself
    assert tg.tensor(3.0).flatten().shape == (1,)
    assert tg.zeros(0, 3).flatten().shape == (0,)
    with pytest.raises(RuntimeError, match="start_dim cannot come after end_dim"):
        t.flatten(2, 1)
    with pytest.raises(IndexError, match="Dimension out of range"):
        t.flatten(4)


def test_unflatten():
    a = np.arange(24.0).reshape(2, 12)
    t = tg.tensor(a)
    np.testing.assert_array_equal(t.unflatten(1, (3, 4)).numpy(), a.reshape(2, 3, 4))
    np.testing.assert_array_equal(tg.unflatten(t, -1, (2, -1)).numpy(), a.reshape(2, 2, 6))
    assert t.unflatten(1, (3, 4)).data_ptr() == t.data_ptr()
    with pytest.raises(RuntimeError, match=r"sizes \[5, 2\] don't multiply up to the size of dim 1 \(12\)"):
        t.unflatten(1, (5, 2))


# ---- squeeze / unsqueeze ----------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_squeeze(dtype):
    a = arr((1, 3, 1, 2), dtype)
    for t in both(a):
        np.testing.assert_array_equal(t.squeeze().numpy(), a.squeeze())
        np.testing.assert_array_equal(t.squeeze(0).numpy(), a.squeeze(0))
        np.testing.assert_array_equal(tg.squeeze(t, -2).numpy(), a.squeeze(-2))
        assert t.squeeze(1).shape == (1, 3, 1, 2)  # not size 1: no-op, as in PyTorch
        np.testing.assert_array_equal(t.squeeze((0, 2)).numpy(), a.squeeze((0, 2)))
        assert t.squeeze([0, 1]).shape == (3, 1, 2)
        assert t.squeeze().data_ptr() == t.data_ptr()
    s = tg.tensor(5.0)
    assert s.squeeze().shape == () and s.squeeze(0).shape == () and s.squeeze(-1).shape == ()
    with pytest.raises(IndexError, match="Dimension out of range"):
        tg.zeros(1, 2).squeeze(2)


def test_squeeze_node_names_and_grads():
    x = tg.zeros(1, 3, 1, requires_grad=True)
    assert x.squeeze().grad_fn.name() == "SqueezeBackward0"
    assert x.squeeze(0).grad_fn.name() == "SqueezeBackward1"
    assert x.squeeze((0, 2)).grad_fn.name() == "SqueezeBackward2"
    a = arr((1, 3, 1))
    check_grad(lambda x: x.squeeze() * 2.0, a)
    check_grad(lambda x: x.squeeze(2), a)
    check_grad(lambda x: x.squeeze((0, 2)), a)


@pytest.mark.parametrize("dtype", DTYPES)
def test_unsqueeze(dtype):
    a = arr((2, 3), dtype)
    for t in both(a):
        for d in range(-3, 3):
            u = t.unsqueeze(d)
            np.testing.assert_array_equal(u.numpy(), np.expand_dims(a, d))
            assert u.data_ptr() == t.data_ptr()
        np.testing.assert_array_equal(tg.unsqueeze(t, 1).numpy(), a[:, None])
    assert tg.tensor(1.0).unsqueeze(0).shape == (1,)
    assert tg.tensor(1.0).unsqueeze(-1).shape == (1,)
    assert tg.zeros(2, 3).unsqueeze(1).is_contiguous()
    with pytest.raises(IndexError, match=r"range of \[-3, 2\], but got 3"):
        tg.zeros(2, 3).unsqueeze(3)
    x = tg.zeros(2, requires_grad=True)
    assert x.unsqueeze(0).grad_fn.name() == "UnsqueezeBackward0"
    check_grad(lambda x: x.unsqueeze(1) * x.unsqueeze(0), arr((3,)))


# ---- permute / transpose / t / movedim --------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_permute_transpose(dtype):
    a = arr((2, 3, 4), dtype)
    for t in both(a):
        np.testing.assert_array_equal(t.permute(2, 0, 1).numpy(), a.transpose(2, 0, 1))
        np.testing.assert_array_equal(t.permute((1, 2, 0)).numpy(), a.transpose(1, 2, 0))
        np.testing.assert_array_equal(tg.permute(t, (-1, 0, 1)).numpy(), a.transpose(2, 0, 1))
        np.testing.assert_array_equal(t.transpose(0, 2).numpy(), a.swapaxes(0, 2))
        np.testing.assert_array_equal(tg.transpose(t, -1, 1).numpy(), a.swapaxes(-1, 1))
        np.testing.assert_array_equal(t.swapaxes(0, 1).numpy(), a.swapaxes(0, 1))
        np.testing.assert_array_equal(t.swapdims(0, 1).numpy(), a.swapaxes(0, 1))
        np.testing.assert_array_equal(t.T.numpy(), a.T)
        np.testing.assert_array_equal(t.movedim(0, 2).numpy(), np.moveaxis(a, 0, 2))
        np.testing.assert_array_equal(tg.movedim(t, (0, 1), (2, 0)).numpy(), np.moveaxis(a, (0, 1), (2, 0)))
        assert t.permute(2, 0, 1).data_ptr() == t.data_ptr()
    with pytest.raises(RuntimeError, match="duplicate dims"):
        tg.zeros(2, 3).permute(0, 0)
    with pytest.raises(RuntimeError, match="number of dims don't match"):
        tg.zeros(2, 3).permute(0, 1, 2)
    with pytest.raises(IndexError, match="Dimension out of range"):
        tg.zeros(2, 3).transpose(0, 2)
    with pytest.raises(RuntimeError, match="repeated dim"):
        tg.zeros(2, 3).movedim((0, 0), (0, 1))


def test_t_only_up_to_2d():
    a = arr((2, 3))
    for t in both(a):
        np.testing.assert_array_equal(t.t().numpy(), a.T)
        np.testing.assert_array_equal(tg.t(t).numpy(), a.T)
    np.testing.assert_array_equal(tg.tensor([1.0, 2.0]).t().numpy(), [1.0, 2.0])
    assert tg.tensor(1.0).t().shape == ()
    with pytest.raises(RuntimeError, match=r"t\(\) expects a tensor with <= 2 dimensions, but self is 3D"):
        tg.zeros(2, 3, 4).t()
    x = tg.zeros(2, 3, requires_grad=True)
    assert x.t().grad_fn.name() == "TBackward0"
    assert x.transpose(0, 1).grad_fn.name() == "TransposeBackward0"
    assert x.permute(1, 0).grad_fn.name() == "PermuteBackward0"


def test_permute_transpose_grads():
    a = arr((2, 3, 4))
    check_grad(lambda x: x.permute(2, 0, 1) * 3.0, a)
    check_grad(lambda x: x.transpose(0, 2), a)
    check_grad(lambda x: x[0].t() @ x[1], a)
    check_grad(lambda x: x.movedim(0, 2), a, torch_fn=lambda x: torch.movedim(x, 0, 2))


# ---- expand -----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_expand(dtype):
    a = arr((3, 1), dtype)
    for t in both(a):
        np.testing.assert_array_equal(t.expand(3, 4).numpy(), np.broadcast_to(a, (3, 4)))
        np.testing.assert_array_equal(t.expand(2, -1, 4).numpy(), np.broadcast_to(a, (2, 3, 4)))
        np.testing.assert_array_equal(t.expand((2, 3, 4)).numpy(), np.broadcast_to(a, (2, 3, 4)))
        np.testing.assert_array_equal(t.expand_as(tg.zeros(5, 3, 2)).numpy(), np.broadcast_to(a, (5, 3, 2)))
        e = t.expand(3, 4)
        assert e.data_ptr() == t.data_ptr() and e.stride(1) == 0
    with pytest.raises(RuntimeError, match=r"expanded size of the tensor \(4\) must match the existing size \(3\)"):
        tg.zeros(3, 1).expand(4, 4)
    with pytest.raises(RuntimeError, match="leading, non-existing dimension"):
        tg.zeros(3).expand(-1, 3)
    with pytest.raises(RuntimeError, match="number of sizes provided"):
        tg.zeros(2, 3).expand(3)


def test_expand_grad_sums_over_broadcast_dims():
    x = tg.zeros(3, 1, requires_grad=True)
    assert x.expand(3, 4).grad_fn.name() == "ExpandBackward0"
    check_grad(lambda x: x.expand(2, 3, 4), arr((3, 1)))
    check_grad(lambda x: x.expand_as(x.unsqueeze(0).expand(5, 1, 4)), arr((1, 4)),
               torch_fn=lambda x: x.expand(5, 1, 4))


# ---- narrow / select --------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_narrow_select(dtype):
    a = arr((4, 5), dtype)
    for t in both(a):
        np.testing.assert_array_equal(t.narrow(1, 1, 3).numpy(), a[:, 1:4])
        np.testing.assert_array_equal(tg.narrow(t, 0, -2, 2).numpy(), a[-2:])
        np.testing.assert_array_equal(t.select(1, -1).numpy(), a[:, -1])
        np.testing.assert_array_equal(tg.select(t, 0, 2).numpy(), a[2])
        assert t.narrow(0, 3, 1).shape == (1, 5)
        assert t.narrow(1, 5, 0).shape == (4, 0)
    t = tg.tensor(a)
    assert t.narrow(0, 1, 2).storage_offset() == 5
    with pytest.raises(RuntimeError, match=r"start \(3\) \+ length \(3\) exceeds dimension size \(5\)"):
        t.narrow(1, 3, 3)
    with pytest.raises(IndexError, match="start out of range"):
        t.narrow(1, 6, 0)
    with pytest.raises(IndexError, match="index 4 is out of bounds for dimension 0 with size 4"):
        t.select(0, 4)
    x = tg.zeros(4, 5, requires_grad=True)
    assert x.narrow(0, 1, 2).grad_fn.name() == "SliceBackward0"
    assert x.select(0, 1).grad_fn.name() == "SelectBackward0"
    check_grad(lambda x: x.narrow(1, 1, 3) * 2.0, arr((4, 5)))
    check_grad(lambda x: x.select(1, -2), arr((4, 5)))


# ---- 0-d and empty tensors ---------------------------------------------------------------

def test_zero_dim_and_empty():
    s = tg.tensor(2.5)
    assert s.view(1).shape == (1,) and s.view(()).shape == () and s.reshape(1, 1).shape == (1, 1)
    assert s.unsqueeze(0).squeeze(0).shape == ()
    assert s.permute().shape == () and s.expand(2, 3).shape == (2, 3)
    np.testing.assert_array_equal(s.expand(2, 2).numpy(), np.full((2, 2), 2.5, np.float32))
    e = tg.zeros(0, 3)
    assert e.view(3, 0).shape == (3, 0) and e.reshape(-1, 3).shape == (0, 3)
    assert e.t().shape == (3, 0) and e.unsqueeze(0).shape == (1, 0, 3)
    assert e.expand(2, 0, 3).shape == (2, 0, 3)
    with pytest.raises(RuntimeError):
        e.view(-1, 0)  # -1 is ambiguous with a zero-sized dim
    x = tg.tensor(3.0, requires_grad=True)
    y = x.view(1, 1).expand(2, 3)
    y.backward(tg.ones(2, 3))
    assert x.grad.item() == 6.0


def test_chained_view_grads():
    a = arr((2, 3, 4))
    check_grad(lambda x: x.view(6, 4).t().reshape(2, 12).unsqueeze(0).flatten(1), a)
    check_grad(lambda x: x.transpose(1, 2).reshape(8, 3) * x.view(8, 3), a)
    check_grad(lambda x: x.unflatten(2, (2, 2)).sum(3), a,
               torch_fn=lambda x: x.unflatten(2, (2, 2)).sum(3))


def test_view_as_and_reshape_as():
    a = tg.arange(6)
    v = a.view_as(tg.zeros(2, 3))
    assert v.shape == (2, 3) and v.tolist() == [[0, 1, 2], [3, 4, 5]]
    r = tg.arange(6).reshape(2, 3).T.reshape_as(tg.zeros(6))  # not viewable: a copy
    assert r.tolist() == [0, 3, 1, 4, 2, 5]
    with pytest.raises(RuntimeError):
        a.view_as(tg.zeros(4))
