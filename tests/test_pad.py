"""F.pad (constant, reflect, replicate, circular; negative pads crop) and the padding
modules: values vs np.pad, gradients vs float64 finite differences, vs PyTorch (when
importable) and vs a numpy scatter-add through the same padding of an index array; random
shapes and pads with hypothesis; node names; errors of PyTorch's types."""
import numpy as np
import pytest

import tinygrad_cpp as tg
import tinygrad_cpp.nn as nn
import tinygrad_cpp.nn.functional as F
from helpers import check_grad, torch

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

NP_MODE = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}
TG = {np.float32: tg.float32, np.float64: tg.float64}
rng = np.random.default_rng(11)


def np_pad(a, pad, mode="constant", value=0):
    """PyTorch's F.pad in numpy: np.pad by the positive parts, the negative parts cropped
    (circular crops first: PyTorch wraps around the cropped input)."""
    k = len(pad) // 2
    if k == 0:
        return a.copy()
    pairs = [(0, 0)] * (a.ndim - k) + [(pad[2 * i], pad[2 * i + 1]) for i in reversed(range(k))]
    pos = [(max(b, 0), max(e, 0)) for b, e in pairs]

    def crop(x, shift):
        return x[tuple(slice(max(-b, 0), x.shape[d] - max(-e, 0) - (shift[d] if shift else 0))
                       for d, (b, e) in enumerate(pairs))]

    if mode == "circular":
        core = crop(a, None)
        return np.pad(core, pos, "wrap") if core.size or not any(map(sum, pos)) else np.pad(core, pos)
    kw = {"constant_values": value} if mode == "constant" else {}
    return crop(np.pad(a, pos, NP_MODE[mode], **kw), None)


def np_pad_backward(shape, pad, mode, g):
    """The adjoint of np_pad: pads an array of flat indices (-1 as the fill) the same way
    and scatter-adds g through it."""
    idx = np_pad(np.arange(int(np.prod(shape))).reshape(shape), pad, mode, value=-1)
    out = np.zeros(int(np.prod(shape)), dtype=g.dtype)
    keep = idx >= 0
    np.add.at(out, idx[keep], g[keep])
    return out.reshape(shape)


# ---- values ------------------------------------------------------------------------------

CASES = [  # (shape, pad, mode)
    ((2, 3, 5), (1, 2), "constant"),
    ((2, 3, 5), (-1, 2), "constant"),
    ((2, 3, 4, 5), (1, 0, -2, 3), "constant"),
    ((4,), (3, -4), "constant"),
    ((2, 1, 2, 3, 2), (1, 1, 0, 2, 1, 0, 2, 1), "constant"),
    ((2, 3, 5), (2, 4), "reflect"),
    ((3, 5), (4, 1), "reflect"),
    ((2, 3, 5), (-1, 2), "reflect"),
    ((1, 2, 4, 5), (1, 3, 2, 0), "reflect"),
    ((2, 4, 5), (-2, 3, 3, -1), "reflect"),
    ((1, 2, 3, 4, 5), (1, 2, 2, 1, 2, 0), "reflect"),
    ((2, 3, 5), (3, 7), "replicate"),
    ((2, 3, 5), (3, -1), "replicate"),
    ((1, 2, 4, 5), (2, 1, 0, 6), "replicate"),
    ((2, 3, 4, 5), (1, 1, 1, 1, 1, 1), "replicate"),
    ((2, 3, 5), (5, 2), "circular"),
    ((3, 5), (2, -2), "circular"),
    ((2, 3, 5), (-2, 2), "circular"),
    ((1, 2, 4, 5), (1, 3, 4, 2), "circular"),
    ((2, 3, 4, 5), (1, 2, 0, 3, 2, 1), "circular"),
]
IDS = [f"{m}-{s}-{p}" for s, p, m in CASES]


@pytest.mark.parametrize("shape,pad,mode", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_numpy(shape, pad, mode, dtype):
    a = rng.standard_normal(shape).astype(dtype)
    out = F.pad(tg.tensor(a), pad, mode=mode)
    assert out.dtype is TG[dtype]
    np.testing.assert_array_equal(out.numpy(), np_pad(a, pad, mode))


def test_hand_computed_values():
    x = tg.tensor([[[0.0, 1.0, 2.0, 3.0, 4.0]]])
    assert F.pad(x, (2, 1), value=9.0).tolist() == [[[9, 9, 0, 1, 2, 3, 4, 9]]]
    assert F.pad(x, (2, 2), mode="reflect").tolist() == [[[2, 1, 0, 1, 2, 3, 4, 3, 2]]]
    assert F.pad(x, (-1, 2), mode="reflect").tolist() == [[[1, 2, 3, 4, 3, 2]]]
    assert F.pad(x, (3, -1), mode="replicate").tolist() == [[[0, 0, 0, 0, 1, 2, 3]]]
    assert F.pad(x, (2, 1), mode="circular").tolist() == [[[3, 4, 0, 1, 2, 3, 4, 0]]]
    # PyTorch's circular pad wraps around the cropped input
    assert F.pad(x, (2, -2), mode="circular").tolist() == [[[1, 2, 0, 1, 2]]]
    assert F.pad(x, (-2, 2), mode="circular").tolist() == [[[2, 3, 4, 2, 3]]]


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_int64_input(mode):
    a = np.arange(24).reshape(2, 3, 4)
    out = F.pad(tg.tensor(a), (1, 2), mode=mode)
    assert out.dtype is tg.int64
    np.testing.assert_array_equal(out.numpy(), np_pad(a, (1, 2), mode))


def test_constant_value_is_converted_to_the_dtype():
    assert F.pad(tg.arange(3), (1, 1), value=-3).tolist() == [-3, 0, 1, 2, -3]
    assert F.pad(tg.arange(3), (1, 1), value=1.5).tolist() == [1, 0, 1, 2, 1]  # truncated
    b = F.pad(tg.tensor([True, False]), (1, 0), value=2.0)
    assert b.dtype is tg.bool and b.tolist() == [True, True, False]
    assert F.pad(tg.tensor([1.0]), (1, 0), value=True).tolist() == [1.0, 1.0]
    assert F.pad(tg.tensor([1.0]), (0, 1), value=tg.tensor(2.5)).tolist() == [1.0, 2.5]
    assert F.pad(tg.tensor([1.0], dtype=tg.float64), (1, 0), value=1e300).tolist() == [1e300, 1.0]
    assert F.pad(tg.tensor([[True]]), (1, 0), mode="circular").tolist() == [[True, True]]


def test_empty_pad_zero_sizes_and_0d():
    x = tg.tensor(rng.standard_normal((2, 3)))
    y = F.pad(x, ())
    np.testing.assert_array_equal(y.numpy(), x.numpy())
    y.numpy()[0, 0] = 7.0  # a copy, as PyTorch's
    assert x.numpy()[0, 0] != 7.0
    assert F.pad(tg.tensor(2.0), ()).tolist() == 2.0
    assert F.pad(x, (-2, -1)).shape == (2, 0)
    assert F.pad(tg.zeros(2, 0), (1, 2), value=4.0).tolist() == [[4.0, 4.0, 4.0]] * 2
    assert F.pad(tg.zeros(0, 2, 3), (1, 1), mode="reflect").shape == (0, 2, 5)
    assert F.pad(tg.zeros(0, 2, 3, 3), (1, 1, 2, 2), mode="replicate").shape == (0, 2, 7, 5)
    assert F.pad(tg.zeros(1, 2, 5), (-2, -3), mode="circular").shape == (1, 2, 0)


def test_non_contiguous_input():
    a = rng.standard_normal((3, 4, 5))
    x = tg.tensor(a).transpose(0, 2)
    for mode in ["constant", "reflect", "replicate", "circular"]:
        np.testing.assert_array_equal(F.pad(x, (1, 2, 2, 1), mode=mode).numpy(),
                                      np_pad(a.transpose(2, 1, 0), (1, 2, 2, 1), mode))


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_large_input_runs_in_parallel_and_matches(mode):
    # big enough that both the forward (over rows) and the backward (over planes) split
    a = rng.standard_normal((4, 8, 40, 48)).astype(np.float32)
    x = tg.tensor(a, requires_grad=True)
    out = F.pad(x, (3, 2, 1, 4), mode=mode)
    np.testing.assert_array_equal(out.detach().numpy(), np_pad(a, (3, 2, 1, 4), mode))
    g = rng.standard_normal(out.shape).astype(np.float32)
    out.backward(tg.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), np_pad_backward(a.shape, (3, 2, 1, 4), mode, g),
                               rtol=1e-6, atol=1e-6)


# ---- gradients ---------------------------------------------------------------------------

GRAD_CASES = [c for c in CASES if np.prod(c[0]) <= 60]


@pytest.mark.parametrize("shape,pad,mode", GRAD_CASES, ids=[f"{m}-{s}-{p}" for s, p, m in GRAD_CASES])
def test_gradients(shape, pad, mode):
    a = rng.standard_normal(shape)
    tf = None if torch is None else (lambda t: torch.nn.functional.pad(t, pad, mode=mode))
    check_grad(lambda t: F.pad(t, pad, mode=mode), a, torch_fn=tf)


@pytest.mark.parametrize("shape,pad,mode", CASES, ids=IDS)
def test_gradients_match_scatter_reference(shape, pad, mode):
    a = rng.standard_normal(shape)
    x = tg.tensor(a, requires_grad=True)
    out = F.pad(x, pad, mode=mode)
    g = rng.standard_normal(out.shape)
    out.backward(tg.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), np_pad_backward(shape, pad, mode, g), rtol=1e-12, atol=1e-12)


def test_gradient_of_an_expanded_upstream_and_accumulation():
    x = tg.tensor(rng.standard_normal((1, 2, 3)), requires_grad=True)
    F.pad(x, (2, 2), mode="reflect").sum().backward()
    F.pad(x, (2, 2), mode="reflect").sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np_pad_backward((1, 2, 3), (2, 2), "reflect",
                                                                   np.ones((1, 2, 7))))


def test_node_names():
    x1 = tg.zeros(1, 2, 4, requires_grad=True)
    x2 = tg.zeros(1, 2, 4, 4, requires_grad=True)
    x3 = tg.zeros(1, 1, 4, 4, 4, requires_grad=True)
    assert F.pad(x1, (1, 1)).grad_fn.name() == "ConstantPadNdBackward0"
    assert F.pad(x1, (1, 1), mode="reflect").grad_fn.name() == "ReflectionPad1DBackward0"
    assert F.pad(x2, (1, 1, 1, 1), mode="reflect").grad_fn.name() == "ReflectionPad2DBackward0"
    assert F.pad(x3, (1,) * 6, mode="reflect").grad_fn.name() == "ReflectionPad3DBackward0"
    assert F.pad(x1, (1, 1), mode="replicate").grad_fn.name() == "ReplicationPad1DBackward0"
    assert F.pad(x2, (1, 1, 1, 1), mode="replicate").grad_fn.name() == "ReplicationPad2DBackward0"
    assert F.pad(x2, (1, 1, 1, 1), mode="circular").grad_fn.name() == "CircularPad2DBackward0"
    assert F.pad(x1.detach(), (1, 1)).grad_fn is None
    with tg.no_grad():
        assert F.pad(x1, (1, 1)).grad_fn is None


# ---- random shapes and pads --------------------------------------------------------------

@st.composite
def pad_case(draw):
    mode = draw(st.sampled_from(["constant", "reflect", "replicate", "circular"]))
    if mode == "constant":
        ndim = draw(st.integers(0, 4))
        k = draw(st.integers(0, ndim))
    else:
        k = draw(st.integers(1, 3))
        ndim = k + draw(st.integers(1, 2))
    lo = 0 if mode == "constant" else 1
    shape = [draw(st.integers(0 if d < ndim - k - 1 or mode == "constant" else lo, 4)) for d in range(ndim)]
    pad = []
    for i in range(k):
        n = shape[ndim - 1 - i]
        if mode == "reflect":
            b, e = draw(st.integers(-(n - 1), n - 1)), draw(st.integers(-(n - 1), n - 1))
        elif mode == "replicate":
            b, e = draw(st.integers(-(n - 1), 5)), draw(st.integers(-(n - 1), 5))
        elif mode == "circular":
            b = draw(st.integers(-n, n))
            m = n + min(b, 0)
            e = draw(st.integers(-m, m))
            if b > m + min(e, 0):
                b = m + min(e, 0)
        else:
            b, e = draw(st.integers(-n, 3)), draw(st.integers(-n, 3))
            if n + b + e < 0:
                b, e = -n, 0
        if mode in ("reflect", "replicate") and n + b + e < 1:
            b, e = 0, 0
        pad += [b, e]
    return shape, pad, mode, draw(st.sampled_from([np.float32, np.float64]))


@hypothesis.settings(max_examples=150, deadline=None, derandomize=True, database=None)
@hypothesis.given(pad_case())
def test_random_pads_match_numpy_forward_and_backward(case):
    shape, pad, mode, dtype = case
    a = np.random.default_rng(len(shape)).standard_normal(shape).astype(dtype)
    x = tg.tensor(a, requires_grad=True)
    out = F.pad(x, pad, mode=mode)
    expected = np_pad(a, pad, mode)
    np.testing.assert_array_equal(out.detach().numpy(), expected)
    g = np.random.default_rng(1).standard_normal(out.shape).astype(dtype)
    out.backward(tg.tensor(g))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(x.grad.numpy(), np_pad_backward(shape, pad, mode, g), rtol=tol, atol=tol)
    if torch is not None:
        tx = torch.tensor(a, requires_grad=True)
        tout = torch.nn.functional.pad(tx, pad, mode=mode)
        np.testing.assert_array_equal(out.detach().numpy(), tout.detach().numpy())
        tout.backward(torch.tensor(g))
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=tol, atol=tol)


# ---- errors ------------------------------------------------------------------------------

ERRORS = [  # (shape, args, kwargs, dtype, PyTorch's exception)
    ((1, 2, 5), ((1,),), {}, "f", RuntimeError),
    ((1, 2, 5), ((1,) * 8,), {}, "f", RuntimeError),
    ((1, 2, 5), ((1.0, 1),), {}, "f", TypeError),
    ((1, 2, 5), ((True, 1),), {}, "f", TypeError),
    ((1, 2, 5), (None,), {}, "f", TypeError),
    ((1, 2, 5), ("ab",), {}, "f", TypeError),
    ((1, 2, 5), ((-3, -3),), {}, "f", RuntimeError),
    ((1, 2, 5), ((1, 1),), {"mode": "foo"}, "f", NotImplementedError),
    ((1, 2, 5), ((1, 1),), {"mode": None}, "f", TypeError),
    ((1, 2, 5), ((1, 1),), {"value": "a"}, "f", TypeError),
    ((1, 2, 5), ((1, 1),), {"mode": "reflect", "value": 1.0}, "f", RuntimeError),
    ((1, 2, 5), ((5, 1),), {"mode": "reflect"}, "f", RuntimeError),
    ((1, 2, 5), ((-3, -3),), {"mode": "reflect"}, "f", RuntimeError),
    ((1, 2, 5), ((-2, -3),), {"mode": "replicate"}, "f", RuntimeError),
    ((1, 2, 5), ((6, 2),), {"mode": "circular"}, "f", RuntimeError),
    ((1, 2, 5), ((-6, 0),), {"mode": "circular"}, "f", RuntimeError),
    ((1, 1, 0), ((1, 1),), {"mode": "circular"}, "f", RuntimeError),
    ((5,), ((1, 1),), {"mode": "reflect"}, "f", NotImplementedError),
    ((2, 5), ((1, 1, 1, 1),), {"mode": "replicate"}, "f", NotImplementedError),
    ((1, 2, 3, 4), ((1, 1),), {"mode": "reflect"}, "f", NotImplementedError),
    ((1, 1, 1, 3, 3, 3), ((1,) * 6,), {"mode": "replicate"}, "f", NotImplementedError),
    ((1, 2, 0), ((1, 1),), {"mode": "reflect"}, "f", RuntimeError),
    ((1, 0, 5), ((1, 1),), {"mode": "replicate"}, "f", RuntimeError),
    ((1, 1, 0, 3), ((1, 1, 1, 1),), {"mode": "reflect"}, "f", RuntimeError),
    ((1, 1, 5), ((1, 1),), {"mode": "reflect"}, "b", NotImplementedError),
    ((1, 1, 5), ((1, 1),), {"mode": "replicate"}, "b", NotImplementedError),
    ((3,), ((1, 1),), {"value": float("nan")}, "i", RuntimeError),
    ((3,), ((1, 1),), {"value": 1e30}, "i", RuntimeError),
]
DT = {"f": (tg.float32, "float32"), "i": (tg.int64, "int64"), "b": (tg.bool, "bool")}


@pytest.mark.parametrize("shape,args,kw,dt,exc", ERRORS, ids=[f"{s}-{a}-{k}" for s, a, k, _, _ in ERRORS])
def test_errors(shape, args, kw, dt, exc):
    x = tg.zeros(*shape, dtype=DT[dt][0])
    with pytest.raises(exc) as info:
        F.pad(x, *args, **kw)
    assert type(info.value) is exc
    if torch is not None:
        with pytest.raises(Exception) as tinfo:
            torch.nn.functional.pad(torch.zeros(shape, dtype=getattr(torch, DT[dt][1])), *args, **kw)
        assert type(tinfo.value) is exc


def test_circular_pad_beyond_the_cropped_input_raises():
    # PyTorch's copy would read its own output here (it raises on some inputs, not on all)
    x = tg.arange(5.0).view(1, 1, 5)
    with pytest.raises(RuntimeError, match="more than once"):
        F.pad(x, (3, -3), mode="circular")
    with pytest.raises(RuntimeError, match="more than once"):
        F.pad(x, (-3, 3), mode="circular")
    if torch is not None:
        with pytest.raises(RuntimeError):
            torch.nn.functional.pad(torch.arange(5.0).view(1, 1, 5), (3, -3), mode="circular")


def test_error_messages_name_the_shape():
    with pytest.raises(RuntimeError, match=r"\[1, 2, 5\]"):
        F.pad(tg.zeros(1, 2, 5), (5, 1), mode="reflect")
    with pytest.raises(NotImplementedError, match="4D input"):
        F.pad(tg.zeros(1, 2, 3, 4), (1, 1), mode="reflect")
    with pytest.raises(TypeError, match="Tensor"):
        F.pad([1.0, 2.0], (1, 1))


# ---- modules -----------------------------------------------------------------------------

MODULES = [
    ("ZeroPad1d", (2,), "constant", {}), ("ZeroPad2d", ((1, 0, 2, 1),), "constant", {}),
    ("ZeroPad3d", (1,), "constant", {}),
    ("ConstantPad1d", ((1, 2), 3.5), "constant", {"value": 3.5}),
    ("ConstantPad2d", (1, -1.0), "constant", {"value": -1.0}),
    ("ConstantPad3d", ((1, 0, 0, 1, 1, 0), 2.0), "constant", {"value": 2.0}),
    ("ReflectionPad1d", (2,), "reflect", {}), ("ReflectionPad2d", ((1, 2, 0, 1),), "reflect", {}),
    ("ReflectionPad3d", (1,), "reflect", {}),
    ("ReplicationPad1d", ((3, 1),), "replicate", {}), ("ReplicationPad2d", (2,), "replicate", {}),
    ("ReplicationPad3d", ((1, 0, 2, 0, 0, 1),), "replicate", {}),
    ("CircularPad1d", (2,), "circular", {}), ("CircularPad2d", ((1, 2, 2, 1),), "circular", {}),
    ("CircularPad3d", (1,), "circular", {}),
]


@pytest.mark.parametrize("name,args,mode,kw", MODULES, ids=[m[0] for m in MODULES])
def test_modules(name, args, mode, kw):
    dims = int(name[-2])
    a = rng.standard_normal((2, 3, 4, 4, 4)[: dims + 2])
    m = getattr(nn, name)(*args)
    assert m is not None and isinstance(m, getattr(nn.modules.padding, name))
    pad = args[0] if isinstance(args[0], tuple) else (args[0],) * (2 * dims)
    assert m.padding == pad
    np.testing.assert_array_equal(m(tg.tensor(a)).numpy(), np_pad(a, pad, mode, **kw))
    if torch is not None:
        assert repr(m) == repr(getattr(torch.nn, name)(*args))


def test_module_reprs():
    assert repr(nn.ZeroPad2d(1)) == "ZeroPad2d((1, 1, 1, 1))"
    assert repr(nn.ConstantPad1d((1, 2), 3.5)) == "ConstantPad1d(padding=(1, 2), value=3.5)"
    assert repr(nn.ReflectionPad2d(2)) == "ReflectionPad2d((2, 2, 2, 2))"
    assert repr(nn.CircularPad1d([1, 2])) == "CircularPad1d((1, 2))"


def test_circular_module_checks_rank():
    with pytest.raises(ValueError, match="expected 2D or 3D input"):
        nn.CircularPad1d(1)(tg.zeros(3))
