"""Layer normalization (F.layer_norm, nn.LayerNorm) and the GroupNorm / RMSNorm built on
it: forward against numpy in float32 and float64, backward against finite differences
(gradcheck, float64) and PyTorch's (input, weight and bias gradients), a result that does
not depend on the thread count, the modules against PyTorch's (weights copied, state_dict
keys, a torch state_dict loading, repr), a hypothesis property test over shapes, and the
error cases with PyTorch's exception types and messages."""
import numpy as np
import pytest

import tinygrad_cpp as tg
import tinygrad_cpp.nn as nn
import tinygrad_cpp.nn.functional as F
from helpers import torch

rng = np.random.default_rng(17)
TOL = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-11, atol=1e-11)}


def np_layer_norm(x, k, w=None, b=None, eps=1e-5):
    x = x.astype(np.float64)
    axes = tuple(range(x.ndim - k, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    y = (x - mean) / np.sqrt(var + eps)
    if w is not None:
        y = y * w
    if b is not None:
        y = y + b
    return y


def tgt(a, requires_grad=False):
    return None if a is None else tg.tensor(a, requires_grad=requires_grad)


# ---- forward ---------------------------------------------------------------------------

CASES = [((5, 4), 1), ((2, 3, 4), 1), ((2, 3, 4), 2), ((2, 3, 4), 3), ((7,), 1), ((2, 1, 3, 5), 2), ((3, 1), 1)]


@pytest.mark.parametrize("shape,k", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("affine", ["both", "weight", "none"])
def test_forward_matches_numpy(shape, k, dtype, affine):
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    ns = shape[len(shape) - k:]
    w = rng.standard_normal(ns).astype(dtype) if affine != "none" else None
    b = rng.standard_normal(ns).astype(dtype) if affine == "both" else None
    y = F.layer_norm(tg.tensor(x), ns, tgt(w), tgt(b), eps=1e-3)
    assert y.dtype == tg.tensor(x).dtype and y.shape == shape
    np.testing.assert_allclose(y.numpy(), np_layer_norm(x, k, w, b, 1e-3), **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_mean_keeps_precision(dtype):
    """Statistics in double: a row with a large mean and a small spread normalizes right."""
    x = (1e4 + rng.standard_normal((4, 64))).astype(dtype)
    y = F.layer_norm(tg.tensor(x), (64,))
    np.testing.assert_allclose(y.numpy(), np_layer_norm(x, 1), rtol=1e-4, atol=1e-4)


def test_strided_input_and_params():
    x = rng.standard_normal((6, 5))
    w, b = rng.standard_normal(12), rng.standard_normal(12)
    tx = tg.tensor(x).t()  # (5, 6), not contiguous
    y = F.layer_norm(tx, [6], tg.tensor(w)[::2], tg.tensor(b)[1::2])
    np.testing.assert_allclose(y.numpy(), np_layer_norm(x.T, 1, w[::2], b[1::2]), rtol=1e-12, atol=1e-12)


def test_empty_inputs():
    assert F.layer_norm(tg.randn(0, 3), (3,)).shape == (0, 3)
    assert F.layer_norm(tg.randn(2, 0), (0,)).shape == (2, 0)
    x = tg.randn(0, 3, requires_grad=True)
    w = tg.ones(3, requires_grad=True)
    F.layer_norm(x, (3,), w).sum().backward()
    assert x.grad.shape == (0, 3) and w.grad.tolist() == [0.0, 0.0, 0.0]


# ---- backward ----------------------------------------------------------------------------

@pytest.mark.parametrize("shape,k", [((3, 4), 1), ((2, 3, 2), 2), ((5,), 1)])
@pytest.mark.parametrize("affine", ["both", "weight", "bias", "none"])
def test_gradcheck(shape, k, affine):
    ns = shape[len(shape) - k:]
    x = tg.tensor(rng.standard_normal(shape), requires_grad=True)
    w = tg.tensor(rng.standard_normal(ns), requires_grad=True) if affine in ("both", "weight") else None
    b = tg.tensor(rng.standard_normal(ns), requires_grad=True) if affine in ("both", "bias") else None
    inputs = [t for t in (x, w, b) if t is not None]

    def fn(*args):
        it = iter(args)
        xx = next(it)
        ww = next(it) if w is not None else None
        bb = next(it) if b is not None else None
        return F.layer_norm(xx, ns, ww, bb, eps=1e-3)

    assert tg.autograd.gradcheck(fn, inputs)


@pytest.mark.parametrize("shape,k", [((4, 6), 1), ((2, 3, 5), 2), ((3, 2, 2, 3), 3)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_backward_matches_torch(shape, k, dtype):
    pytest.importorskip("torch")
    ns = shape[len(shape) - k:]
    x = (rng.standard_normal(shape) * 2 - 1).astype(dtype)
    w, b = rng.standard_normal(ns).astype(dtype), rng.standard_normal(ns).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    ours = [tg.tensor(a, requires_grad=True) for a in (x, w, b)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = F.layer_norm(ours[0], ns, ours[1], ours[2])
    ty = torch.nn.functional.layer_norm(theirs[0], ns, theirs[1], theirs[2])
    assert y.grad_fn.name() == type(ty.grad_fn).__name__ == "NativeLayerNormBackward0"
    y.backward(tg.tensor(g))
    ty.backward(torch.tensor(g))
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), **tol)
    for a, t in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), **tol)


@pytest.mark.parametrize("n", [128, 37, 3])  # 37, 3: vector loops with a scalar tail, or none
@pytest.mark.parametrize("affine", [True, False])
def test_float32_rows_on_every_instruction_set(vec_isa, n, affine):
    """float32 runs its per-element work in SIMD lanes of each build (statistics and the
    column sums in double): forward and all three gradients against the float64 path,
    rows with a mean of 1e4 among them (x - mean must not lose the spread)."""
    x = rng.standard_normal((9, n)) * 2 + 1
    x[::3] += 1e4
    w, b, g = rng.standard_normal(n), rng.standard_normal(n), rng.standard_normal((9, n))
    x, w, b, g = (a.astype(np.float32).astype(np.float64) for a in (x, w, b, g))  # one input for both
    res = {}
    for dt in (np.float32, np.float64):
        ts = [tg.tensor(a.astype(dt), requires_grad=True) for a in (x, w, b)]
        y = F.layer_norm(ts[0], (n,), ts[1] if affine else None, ts[2] if affine else None)
        y.backward(tg.tensor(g.astype(dt)))
        res[dt] = [y.detach().numpy()] + [t.grad.numpy() for t in ts[:(3 if affine else 1)]]
    for ours, ref in zip(res[np.float32], res[np.float64]):
        np.testing.assert_allclose(ours, ref, rtol=2e-4, atol=2e-4 * max(1.0, np.abs(ref).max()) / 10)


def test_only_needed_gradients_and_input_only():
    x = tg.randn(3, 4, requires_grad=True)
    w = tg.full((4,), 2.0)  # no grad wanted
    b = tg.randn(4, requires_grad=True)
    F.layer_norm(x, (4,), w, b).sum().backward()
    assert w.grad is None and b.grad.tolist() == [3.0] * 4
    # a normalized row sums to zero, so the gradient of its sum is zero
    np.testing.assert_allclose(x.grad.numpy(), 0, atol=1e-5)
    x2 = tg.randn(3, 4)
    w2 = tg.randn(4, requires_grad=True)
    y = F.layer_norm(x2, (4,), w2)
    y.backward(tg.ones(3, 4))
    np.testing.assert_allclose(w2.grad.numpy(), F.layer_norm(x2, (4,)).numpy().sum(0), rtol=1e-5, atol=1e-5)


def test_input_modified_in_place_after_forward_raises_on_backward():
    x = tg.randn(2, 3)
    w = tg.randn(3, requires_grad=True)
    y = F.layer_norm(x, (3,), w)
    x.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_result_does_not_depend_on_thread_count():
    """Big enough to run in parallel; the partial sums of the parameter gradients are
    cut into blocks fixed by the shape."""
    x = tg.tensor(rng.standard_normal((3000, 96)).astype(np.float32), requires_grad=True)
    w = tg.tensor(rng.standard_normal(96).astype(np.float32), requires_grad=True)
    b = tg.tensor(rng.standard_normal(96).astype(np.float32), requires_grad=True)
    g = tg.tensor(rng.standard_normal((3000, 96)).astype(np.float32))
    outs = []
    prev = tg.get_num_threads()
    try:
        for n in (1, 2, 3):
            tg.set_num_threads(n)
            x.grad = w.grad = b.grad = None
            y = F.layer_norm(x, (96,), w, b)
            y.backward(g)
            outs.append([t.detach().numpy().copy() for t in (y, x.grad, w.grad, b.grad)])
    finally:
        tg.set_num_threads(prev)
    for other in outs[1:]:
        for a, c in zip(outs[0], other):
            np.testing.assert_array_equal(a, c)
    xn = x.detach().numpy()
    np.testing.assert_allclose(outs[0][0], np_layer_norm(xn, 1, w.detach().numpy(), b.detach().numpy()),
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(outs[0][2], (g.numpy() * np_layer_norm(xn, 1)).sum(0), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(outs[0][3], g.numpy().astype(np.float64).sum(0), rtol=1e-4, atol=1e-3)


# ---- modules -------------------------------------------------------------------------------

@pytest.mark.parametrize("args,kw", [((4,), {}), ((4,), {"bias": False}), (((3, 4),), {"elementwise_affine": False}),
                                     (([3, 4],), {"eps": 1e-3})])
def test_layer_norm_module_matches_torch(args, kw):
    pytest.importorskip("torch")
    m, t = nn.LayerNorm(*args, **kw), torch.nn.LayerNorm(*args, **kw)
    assert repr(m) == repr(t)
    assert m.normalized_shape == t.normalized_shape
    assert list(m.state_dict().keys()) == list(t.state_dict().keys())
    with torch.no_grad():
        for name, p in t.named_parameters():
            p.copy_(torch.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32)))
    m.load_state_dict({k: tg.tensor(v.numpy()) for k, v in t.state_dict().items()})
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    g = rng.standard_normal((2, 3, 4)).astype(np.float32)
    tx, ttx = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = m(tx), t(ttx)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-5)
    y.backward(tg.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(tx.grad.numpy(), ttx.grad.numpy(), rtol=1e-4, atol=1e-5)
    for (name, p), (tname, tp) in zip(m.named_parameters(), t.named_parameters()):
        assert name == tname
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_layer_norm_module_defaults_and_dtype():
    m = nn.LayerNorm(5, dtype=tg.float64)
    assert m.weight.dtype == tg.float64 and m.weight.tolist() == [1.0] * 5 and m.bias.tolist() == [0.0] * 5
    assert m.normalized_shape == (5,) and m.eps == 1e-5
    from tinygrad_cpp.nn.modules.normalization import GroupNorm, LayerNorm, RMSNorm
    assert LayerNorm is nn.LayerNorm and GroupNorm is nn.GroupNorm and RMSNorm is nn.RMSNorm
    for name in ("LayerNorm", "GroupNorm", "RMSNorm"):
        assert name in nn.__all__


@pytest.mark.parametrize("shape,groups", [((2, 6, 5), 3), ((3, 4, 2, 3), 2), ((2, 4), 4), ((2, 6), 1)])
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm_matches_torch(shape, groups, affine):
    pytest.importorskip("torch")
    m, t = nn.GroupNorm(groups, shape[1], affine=affine), torch.nn.GroupNorm(groups, shape[1], affine=affine)
    assert repr(m) == repr(t)
    assert list(m.state_dict().keys()) == list(t.state_dict().keys())
    if affine:
        with torch.no_grad():
            t.weight.normal_()
            t.bias.normal_()
        m.load_state_dict({k: tg.tensor(v.numpy()) for k, v in t.state_dict().items()})
    x = rng.standard_normal(shape)
    g = rng.standard_normal(shape)
    tx, ttx = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = m.double()(tx), t.double()(ttx)
    assert y.grad_fn.name() == type(ty.grad_fn).__name__ == "NativeGroupNormBackward0"
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    y.backward(tg.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(tx.grad.numpy(), ttx.grad.numpy(), rtol=1e-9, atol=1e-9)
    if affine:
        np.testing.assert_allclose(m.weight.grad.numpy(), t.weight.grad.numpy(), rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(m.bias.grad.numpy(), t.bias.grad.numpy(), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_group_norm_matches_numpy_and_empty_inputs(dtype):
    x = (rng.standard_normal((3, 6, 2, 5)) * 4 + 3).astype(dtype)
    w, b = rng.standard_normal(6).astype(dtype), rng.standard_normal(6).astype(dtype)
    y = F.group_norm(tg.tensor(x), 3, tg.tensor(w), tg.tensor(b), eps=1e-3)
    g = x.astype(np.float64).reshape(3, 3, -1)
    ref = ((g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, keepdims=True) + 1e-3)).reshape(x.shape)
    ref = ref * w.reshape(1, 6, 1, 1) + b.reshape(1, 6, 1, 1)
    np.testing.assert_allclose(y.numpy(), ref, **TOL[dtype])
    for shape in [(0, 4, 3), (2, 4, 0)]:
        xe = tg.randn(*shape, requires_grad=True)
        we = tg.ones(4, requires_grad=True)
        out = F.group_norm(xe, 2, we)
        assert out.shape == shape
        out.sum().backward()
        assert xe.grad.shape == shape and we.grad.tolist() == [0.0] * 4


def test_group_norm_thread_independent_and_strided():
    x = tg.tensor(rng.standard_normal((8, 32, 24, 24)).astype(np.float32), requires_grad=True)
    w = tg.tensor(rng.standard_normal(32).astype(np.float32), requires_grad=True)
    b = tg.tensor(rng.standard_normal(32).astype(np.float32), requires_grad=True)
    g = tg.tensor(rng.standard_normal((8, 32, 24, 24)).astype(np.float32))
    outs = []
    prev = tg.get_num_threads()
    try:
        for n in (1, 3):
            tg.set_num_threads(n)
            x.grad = w.grad = b.grad = None
            y = F.group_norm(x, 8, w, b)
            y.backward(g)
            outs.append([t.detach().numpy().copy() for t in (y, x.grad, w.grad, b.grad)])
    finally:
        tg.set_num_threads(prev)
    for a, c in zip(*outs):
        np.testing.assert_array_equal(a, c)
    xs = tg.tensor(rng.standard_normal((5, 4, 6))).transpose(0, 2)  # (6, 4, 5), not contiguous
    np.testing.assert_allclose(F.group_norm(xs, 2).numpy(), F.group_norm(xs.contiguous(), 2).numpy(), rtol=1e-12)


def test_group_norm_gradcheck():
    x = tg.tensor(rng.standard_normal((2, 4, 3)), requires_grad=True)
    w = tg.tensor(rng.standard_normal(4), requires_grad=True)
    b = tg.tensor(rng.standard_normal(4), requires_grad=True)
    assert tg.autograd.gradcheck(lambda x, w, b: F.group_norm(x, 2, w, b, eps=1e-3), (x, w, b))


@pytest.mark.parametrize("args,kw", [((4,), {}), (((3, 4),), {"eps": 1e-3}), ((4,), {"elementwise_affine": False})])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rms_norm_matches_torch(args, kw, dtype):
    pytest.importorskip("torch")
    m, t = nn.RMSNorm(*args, **kw), torch.nn.RMSNorm(*args, **kw)
    assert repr(m) == repr(t)
    assert list(m.state_dict().keys()) == list(t.state_dict().keys())
    if t.weight is not None:
        with torch.no_grad():
            t.weight.normal_()
        m.load_state_dict({k: tg.tensor(v.numpy()) for k, v in t.state_dict().items()})
    x = rng.standard_normal((2, 3, 4)).astype(dtype)
    tx, ttx = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    if dtype == np.float64:
        m, t = m.double(), t.double()
    y, ty = m(tx), t(ttx)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), **tol)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(tx.grad.numpy(), ttx.grad.numpy(), **tol)


# ---- errors --------------------------------------------------------------------------------

def _both(fn_tg, fn_torch):
    with pytest.raises(Exception) as e_t:
        fn_torch()
    with pytest.raises(Exception) as e_g:
        fn_tg()
    assert type(e_g.value) is type(e_t.value), (e_g.value, e_t.value)
    return str(e_g.value), str(e_t.value)


class _TG:
    layer_norm = staticmethod(F.layer_norm)
    group_norm = staticmethod(F.group_norm)
    rms_norm = staticmethod(F.rms_norm)
    tensor = staticmethod(tg.tensor)
    randn = staticmethod(tg.randn)


class _TH:
    pass


LN_ERRORS = [
    ("trailing mismatch", lambda m, x: m.layer_norm(x, (3,))),
    ("too many dims", lambda m, x: m.layer_norm(x, (2, 3, 4, 5))),
    ("int shape", lambda m, x: m.layer_norm(x, 4)),
    ("empty shape", lambda m, x: m.layer_norm(x, ())),
    ("weight shape", lambda m, x: m.layer_norm(x, (4,), m.randn(3))),
    ("bias shape", lambda m, x: m.layer_norm(x, (4,), None, m.randn(3))),
    ("weight dtype", lambda m, x: m.layer_norm(x, (4,), m.randn(4).double())),
    ("input double weight float", lambda m, x: m.layer_norm(x.double(), (4,), m.randn(4))),
    ("int input", lambda m, x: m.layer_norm(x.long(), (4,))),
    ("float in shape", lambda m, x: m.layer_norm(x, (4.0,))),
    ("bool in shape", lambda m, x: m.layer_norm(x, (True,))),
    ("str eps", lambda m, x: m.layer_norm(x, (4,), eps="a")),
    ("negative shape", lambda m, x: m.layer_norm(x, (-4,))),
    ("zero shape", lambda m, x: m.layer_norm(x, (0,))),
    ("list weight", lambda m, x: m.layer_norm(x, (4,), [1.0] * 4)),
    ("list input", lambda m, x: m.layer_norm([1.0], (1,))),
    ("group_norm indivisible", lambda m, x: m.group_norm(x, 2)),
    ("group_norm weight", lambda m, x: m.group_norm(x, 3, m.randn(4))),
    ("group_norm 1-d", lambda m, x: m.group_norm(x[0, 0], 1)),
    ("group_norm int input", lambda m, x: m.group_norm(x.long(), 1)),
    ("group_norm weight dtype", lambda m, x: m.group_norm(x, 1, m.randn(3).double())),
    ("group_norm input double", lambda m, x: m.group_norm(x.double(), 1, None, m.randn(3))),
    ("group_norm one value per group", lambda m, x: m.group_norm(x[:1, :, 0], 3)),
    ("group_norm one value, indivisible", lambda m, x: m.group_norm(x[:1, :2, 0], 3)),
    ("group_norm verify before divisibility", lambda m, x: m.group_norm(m.randn(1, 4), 3)),
    ("rms_norm mismatch", lambda m, x: m.rms_norm(x, (3,))),
    ("rms_norm weight", lambda m, x: m.rms_norm(x, (4,), m.randn(3))),
    ("rms_norm 2-d mismatch", lambda m, x: m.rms_norm(x, (2, 4))),
    ("rms_norm int input", lambda m, x: m.rms_norm(x.long(), (4,))),
]


@pytest.mark.parametrize("name,call", LN_ERRORS, ids=[e[0] for e in LN_ERRORS])
def test_errors_match_torch(name, call):
    pytest.importorskip("torch")
    th = _TH()
    th.layer_norm, th.group_norm = torch.nn.functional.layer_norm, torch.nn.functional.group_norm
    th.rms_norm, th.tensor, th.randn = torch.nn.functional.rms_norm, torch.tensor, torch.randn
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    tx = tg.tensor(x, requires_grad=True)
    ours, theirs = _both(lambda: call(_TG, tx), lambda: call(th, torch.tensor(x)))
    assert ours == theirs
    np.testing.assert_array_equal(tx.detach().numpy(), x)
    F.layer_norm(tx, (4,)).sum().backward()  # still usable
    assert tx.grad is not None


def test_module_errors():
    pytest.importorskip("torch")
    ours, theirs = _both(lambda: nn.GroupNorm(4, 6), lambda: torch.nn.GroupNorm(4, 6))
    assert ours == theirs
    _both(lambda: nn.LayerNorm(4.0), lambda: torch.nn.LayerNorm(4.0))


# ---- property test -------------------------------------------------------------------------

try:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
except ImportError:  # only the property test needs it
    given = None


def _property(fn):
    if given is None:
        return pytest.mark.skip(reason="hypothesis is not installed")(lambda: None)
    return settings(max_examples=80, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])(given(
        shape=st.lists(st.integers(1, 6), min_size=1, max_size=4), data=st.data(),
        dtype=st.sampled_from([np.float32, np.float64]), affine=st.booleans(),
        eps=st.sampled_from([1e-5, 1e-3, 0.1]), seed=st.integers(0, 2 ** 31))(fn))


@_property
def test_property_against_numpy_and_torch(shape, data, dtype, affine, eps, seed):
    r = np.random.default_rng(seed)
    k = data.draw(st.integers(1, len(shape)))
    ns = tuple(shape[len(shape) - k:])
    x = (r.standard_normal(shape) * r.uniform(0.1, 5) + r.uniform(-5, 5)).astype(dtype)
    w = r.standard_normal(ns).astype(dtype) if affine else None
    b = r.standard_normal(ns).astype(dtype) if affine else None
    g = r.standard_normal(shape).astype(dtype)
    tx = tg.tensor(x, requires_grad=True)
    tw, tb = tgt(w, True), tgt(b, True)
    y = F.layer_norm(tx, ns, tw, tb, eps)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(y.detach().numpy(), np_layer_norm(x, k, w, b, eps), **tol)
    y.backward(tg.tensor(g))
    if torch is None:
        return
    ttx = torch.tensor(x, requires_grad=True)
    ttw = None if w is None else torch.tensor(w, requires_grad=True)
    ttb = None if b is None else torch.tensor(b, requires_grad=True)
    torch.nn.functional.layer_norm(ttx, ns, ttw, ttb, eps).backward(torch.tensor(g))
    gtol = dict(rtol=1e-3, atol=1e-3) if dtype == np.float32 else dict(rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(tx.grad.numpy(), ttx.grad.numpy(), **gtol)
    if affine:
        np.testing.assert_allclose(tw.grad.numpy(), ttw.grad.numpy(), **gtol)
        np.testing.assert_allclose(tb.grad.numpy(), ttb.grad.numpy(), **gtol)
