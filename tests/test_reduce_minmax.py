"""max / min (full and along a dim, with indices), amax / amin, argmax / argmin: values vs
numpy, ties and nan like PyTorch, gradients, errors."""
import numpy as np
import pytest

import tinygrad_cpp as tg
from helpers import check_grad, torch
from test_reduce import DTYPES, layouts

RNG = np.random.default_rng(1)
NP_OPS = {"max": (np.max, np.argmax), "min": (np.min, np.argmin)}


@pytest.mark.parametrize("dtype", DTYPES + [np.int64])
@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_forward(dtype, op):
    a = (RNG.standard_normal((3, 4, 5)) * 10).astype(dtype)
    np_val, np_arg = NP_OPS[op]
    for name, t in layouts(a).items():
        full = getattr(t, op)()
        assert full.shape == () and full.dtype == t.dtype
        assert full.item() == np_val(a), name
        for d in [0, 1, 2, -1, -3]:
            for keepdim in [False, True]:
                r = getattr(tg, op)(t, d, keepdim=keepdim)
                values, indices = r  # a tuple ...
                assert r.values is values and r.indices is indices  # ... with named fields
                assert type(r).__name__ == op
                np.testing.assert_array_equal(values.numpy(), np_val(a, d, keepdims=keepdim), err_msg=name)
                np.testing.assert_array_equal(indices.numpy(), np_arg(a, d, keepdims=keepdim), err_msg=name)
                assert indices.dtype == tg.int64 and values.dtype == t.dtype


@pytest.mark.parametrize("dtype", DTYPES + [np.int64])
@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_argmax_argmin(dtype, op):
    a = (RNG.standard_normal((4, 5, 6)) * 10).astype(dtype)
    ref = getattr(np, op)
    for name, t in layouts(a).items():
        flat = getattr(t, op)()  # index into the flattened (logical order) tensor
        assert flat.shape == () and flat.dtype == tg.int64 and flat.item() == ref(a), name
        assert getattr(t, op)(keepdim=True).shape == (1, 1, 1)
        for d in [0, 1, -1]:
            np.testing.assert_array_equal(getattr(tg, op)(t, d).numpy(), ref(a, d), err_msg=name)
            np.testing.assert_array_equal(getattr(t, op)(d, True).numpy(), ref(a, d, keepdims=True))
    with pytest.raises(RuntimeError, match="bool"):
        getattr(tg.tensor([True, False]), op)()
    with pytest.raises(TypeError):
        getattr(tg.tensor(a), op)((0, 1))


def test_wide_and_tall_layouts():
    # dims that are not last with more than one column block, and long rows
    for shape in [(7, 600), (600, 7), (2, 300, 5), (3, 40000)]:
        a = RNG.standard_normal(shape).astype(np.float32)
        t = tg.tensor(a)
        for d in range(len(shape)):
            r = t.max(d)
            np.testing.assert_array_equal(r.values.numpy(), a.max(d))
            np.testing.assert_array_equal(r.indices.numpy(), a.argmax(d))
            np.testing.assert_array_equal(t.argmin(d).numpy(), a.argmin(d))
            np.testing.assert_array_equal(t.amax(d).numpy(), a.max(d))


def test_ties_pick_the_first_index_like_torch():
    a = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 1.0, 2.0]])
    t = tg.tensor(a)
    np.testing.assert_array_equal(t.max(1).indices.numpy(), [1, 0])
    np.testing.assert_array_equal(t.min(1).indices.numpy(), [3, 2])
    np.testing.assert_array_equal(t.argmax(0).numpy(), [1, 0, 0, 1])
    assert t.argmax().item() == 1 and t.argmin().item() == 3
    c = np.array([[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]])
    np.testing.assert_array_equal(tg.tensor(c).max(0).indices.numpy(), [0, 0])
    if torch is not None:
        for d in [0, 1]:
            np.testing.assert_array_equal(t.max(d).indices.numpy(), torch.tensor(a).max(d).indices.numpy())
            np.testing.assert_array_equal(t.min(d).indices.numpy(), torch.tensor(a).min(d).indices.numpy())


def test_nan_propagates_like_torch():
    nan = float("nan")
    a = np.array([[1.0, nan, 3.0, nan], [2.0, 2.0, 1.0, 0.0]])
    t = tg.tensor(a)
    assert np.isnan(t.max().item()) and np.isnan(t.min().item())
    r = t.max(1)
    assert np.isnan(r.values.numpy()[0]) and r.values.numpy()[1] == 2.0
    np.testing.assert_array_equal(r.indices.numpy(), [1, 0])
    np.testing.assert_array_equal(t.min(1).indices.numpy(), [1, 3])
    assert t.argmax().item() == 1 and t.argmin().item() == 1
    np.testing.assert_array_equal(t.argmax(0).numpy(), [1, 0, 0, 0])
    am = t.amax(1).numpy()
    assert np.isnan(am[0]) and am[1] == 2.0
    am0 = tg.tensor(a.T.copy()).amin(0).numpy()  # rows layout
    assert np.isnan(am0[0]) and am0[1] == 0.0


def test_bool_max_min():
    a = np.array([[True, False, True], [False, False, True]])
    t = tg.tensor(a)
    assert t.max().item() is True and t.min().item() is False
    r = t.max(0)
    np.testing.assert_array_equal(r.values.numpy(), [True, False, True])
    np.testing.assert_array_equal(r.indices.numpy(), [0, 0, 0])
    np.testing.assert_array_equal(t.amin(1).numpy(), [False, False])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [(), 0, -1, (0, 2), (2, 1)])
@pytest.mark.parametrize("op", ["amax", "amin"])
def test_amax_amin_forward(dtype, dim, op):
    a = RNG.standard_normal((3, 4, 5)).astype(dtype)
    ref = np.max if op == "amax" else np.min
    nd = dim if dim != () else None
    for name, t in layouts(a).items():
        for keepdim in [False, True]:
            np.testing.assert_array_equal(getattr(t, op)(dim, keepdim).numpy(), ref(a, nd, keepdims=keepdim),
                                          err_msg=name)


def test_max_along_dim_of_0d_and_errors():
    t = tg.tensor(3.0)
    v, i = t.max(0)
    assert v.item() == 3.0 and i.item() == 0 and v.shape == () and i.shape == ()
    assert t.min(-1, keepdim=True).values.shape == ()
    assert t.argmax().item() == 0 and t.argmax(0).item() == 0 and t.argmax(keepdim=True).shape == ()
    with pytest.raises(IndexError, match=r"\[-1, 0\], but got 1"):
        t.max(1)
    m = tg.ones(2, 3)
    for fn in [lambda: m.max(2), lambda: m.min(-3), lambda: m.argmax(2), lambda: m.argmin(-3)]:
        with pytest.raises(IndexError, match=r"\[-2, 1\]"):
            fn()
    with pytest.raises(RuntimeError, match="appears multiple times"):
        m.amax((1, -1))


def test_empty_inputs_raise_like_torch():
    e = tg.zeros(0, 3)
    for op in ["max", "min"]:
        with pytest.raises(RuntimeError, match=op + r"\(\): Expected reduction dim to be specified"):
            getattr(e, op)()
        with pytest.raises(IndexError, match=op + r"\(\): Expected reduction dim 0 to have non-zero size"):
            getattr(e, op)(0)
        r = getattr(e, op)(1)
        assert r.values.shape == (0,) and r.indices.shape == (0,)
    for op in ["argmax", "argmin"]:
        with pytest.raises(IndexError, match="Expected reduction dim to be specified"):
            getattr(e, op)()
        with pytest.raises(IndexError, match="dim 0 to have non-zero size"):
            getattr(e, op)(0)
        assert getattr(e, op)(1).shape == (0,)
    for op in ["amax", "amin"]:
        with pytest.raises(RuntimeError, match="Expected reduction dim to be specified"):
            getattr(e, op)()
        with pytest.raises(IndexError, match="dim 0 to have non-zero size"):
            getattr(e, op)(0)
        assert getattr(e, op)(1).shape == (0,)


# ---- backward ----------------------------------------------------------------------------

@pytest.mark.parametrize("op", ["max", "min"])
@pytest.mark.parametrize("dim,keepdim", [(0, False), (1, True), (-1, False)])
def test_max_min_dim_backward(op, dim, keepdim):
    a = RNG.standard_normal((3, 4, 5))  # distinct values: finite differences are valid
    check_grad(lambda x: getattr(x, op)(dim, keepdim=keepdim).values, a)
    check_grad(lambda x: getattr(x.permute(2, 0, 1), op)(dim, keepdim=keepdim)[0], a)


@pytest.mark.parametrize("op", ["max", "min", "amax", "amin"])
def test_full_max_min_backward(op):
    a = RNG.standard_normal((3, 4))
    check_grad(lambda x: getattr(x, op)(), a)


@pytest.mark.parametrize("op", ["amax", "amin"])
@pytest.mark.parametrize("dim,keepdim", [(0, False), ((0, 2), True), (-1, False)])
def test_amax_amin_backward(op, dim, keepdim):
    a = RNG.standard_normal((3, 4, 5))
    check_grad(lambda x: getattr(x, op)(dim, keepdim), a)
    check_grad(lambda x: getattr(x.permute(1, 2, 0), op)(dim, keepdim), a)


def test_ties_share_the_gradient_like_torch():
    a = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 1.0, 2.0]])
    cases = {
        "max_full": (lambda x: x.max(), [[0, .5, .5, 0], [0, 0, 0, 0]]),
        "max_dim": (lambda x: x.max(1).values.sum(), [[0, 1, 0, 0], [1, 0, 0, 0]]),
        "amax_dim": (lambda x: x.amax(1).sum(), [[0, .5, .5, 0], [1 / 3, 1 / 3, 0, 1 / 3]]),
        "amax_full": (lambda x: x.amax(), [[0, .5, .5, 0], [0, 0, 0, 0]]),
        "min_full": (lambda x: x.min(), [[0, 0, 0, 1], [0, 0, 0, 0]]),
    }
    for name, (fn, expected) in cases.items():
        x = tg.tensor(a, requires_grad=True)
        fn(x).backward()
        np.testing.assert_allclose(x.grad.numpy(), expected, err_msg=name)
        if torch is not None:
            tx = torch.tensor(a, requires_grad=True)
            fn(tx).backward()
            np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), err_msg=name)


def test_full_max_backward_with_nan_goes_to_the_nans():
    nan = float("nan")
    x = tg.tensor([1.0, nan, 3.0, nan], requires_grad=True)
    x.max().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0, 0.5, 0, 0.5])


def test_grad_fn_names_and_indices_carry_no_grad():
    x = tg.tensor(RNG.standard_normal((3, 4)), requires_grad=True)
    assert x.max().grad_fn.name() == "MaxBackward1"
    assert x.min().grad_fn.name() == "MinBackward1"
    r = x.max(0)
    assert r.values.grad_fn.name() == "MaxBackward0" and x.min(1).values.grad_fn.name() == "MinBackward0"
    assert not r.indices.requires_grad and r.indices.grad_fn is None
    assert x.amax(0).grad_fn.name() == "AmaxBackward0" and x.amin().grad_fn.name() == "AminBackward0"
    assert not x.argmax().requires_grad


def test_return_types_module():
    r = tg.max(tg.tensor([[1.0, 5.0]]), dim=1, keepdim=True)
    assert isinstance(r, tg.return_types.max) and isinstance(r, tuple)
    assert r.values.shape == (1, 1) and r[1].item() == 1
    assert "values=" in repr(r) and "indices=" in repr(r)
