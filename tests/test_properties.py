"""Property-based tests (hypothesis): random shapes (0-d, empty, size-1 dims, up to 5-d),
broadcasting pairs and strided views (permuted, stepped, offset, expanded) fed to every
elementwise op, every reduction and matmul, compared with numpy; and random graphs of
differentiable ops compared with PyTorch's gradients.

Runs are derandomized and use no example database, so CI sees the same cases every time.
"""
import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_cpp as tg
from helpers import torch


def _settings(n):
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


TG = {np.float32: tg.float32, np.float64: tg.float64}
TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-12)}
dtypes = st.sampled_from([np.float32, np.float64])
shapes = hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=4)


# ---- inputs: a numpy array and the same values as a tg tensor with a random layout ---------

@st.composite
def viewed(draw, shape, dtype, low=-3.0, high=3.0, positive=False):
    """(numpy array, tg tensor) with equal values and `shape`; the tensor is a view with a
    random layout: contiguous, permuted, stepped with an offset, or expanded, or two of
    these composed."""
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)

    def values(s):
        a = rng.uniform(low, high, size=s)
        if positive:
            a = np.abs(a) + 0.1
        return a.astype(dtype)

    def build(shape, depth):
        nd = len(shape)
        kind = draw(st.sampled_from(["contig", "permute", "step", "expand"] if nd else ["contig"]))
        if kind != "contig" and depth < 1 and draw(st.booleans()):
            inner = lambda s: build(s, depth + 1)  # noqa: E731
        else:
            inner = lambda s: (lambda a: (a, tg.tensor(a)))(values(s))  # noqa: E731
        if kind == "contig":
            return inner(shape)
        if kind == "permute":
            perm = draw(st.permutations(range(nd)))
            inv = list(np.argsort(perm))
            a, t = inner(tuple(shape[p] for p in perm))
            return np.transpose(a, inv), t.permute(*inv)
        if kind == "step":
            d = draw(st.integers(0, nd - 1))
            step = draw(st.integers(2, 3))
            off = draw(st.integers(0, step - 1))
            big = list(shape)
            big[d] = shape[d] * step + off
            a, t = inner(tuple(big))
            sl = (slice(None),) * d + (slice(off, off + shape[d] * step, step),)
            return a[sl], t[sl]
        mask = draw(st.lists(st.booleans(), min_size=nd, max_size=nd))
        small = tuple(1 if m else s for m, s in zip(mask, shape))
        lead = draw(st.integers(0, nd))  # missing leading dims are broadcast too
        a, t = inner(small[lead:])
        return np.broadcast_to(a, shape), t.expand(*shape)

    a, t = build(tuple(shape), 0)
    assert t.shape == tuple(shape)
    np.testing.assert_array_equal(t.numpy(), a)
    return a, t


def assert_close(got, want, dtype, **kw):
    tol = dict(TOL[dtype], **kw)
    g = got.numpy()
    want = np.asarray(want)
    assert g.shape == want.shape, (g.shape, want.shape)
    np.testing.assert_allclose(g.astype(np.float64), want.astype(np.float64), equal_nan=True, **tol)


# ---- elementwise ----------------------------------------------------------------------------

def _erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x)


UNARY = {
    "neg": (np.negative, {}), "abs": (np.abs, {}), "sign": (np.sign, {}),
    "square": (np.square, {}), "exp": (np.exp, {}), "expm1": (np.expm1, {}),
    "sin": (np.sin, {}), "cos": (np.cos, {}), "tanh": (np.tanh, {}),
    "floor": (np.floor, {}), "ceil": (np.ceil, {}),
    "sigmoid": (lambda x: 1 / (1 + np.exp(-x)), {}),
    "relu": (lambda x: np.maximum(x, 0), {}),
    "silu": (lambda x: x / (1 + np.exp(-x)), {}),
    "gelu": (lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2))), {}),
    "log": (np.log, {"positive": True}), "log1p": (np.log1p, {"positive": True}),
    "sqrt": (np.sqrt, {"positive": True}), "rsqrt": (lambda x: 1 / np.sqrt(x), {"positive": True}),
    "reciprocal": (lambda x: 1 / x, {"positive": True}),
}


@_settings(200)
@given(data=st.data(), name=st.sampled_from(sorted(UNARY)), dtype=dtypes, shape=shapes)
def test_unary_ops_match_numpy(data, name, dtype, shape):
    ref, kw = UNARY[name]
    a, t = data.draw(viewed(shape, dtype, **kw))
    out = getattr(t, name)() if data.draw(st.booleans()) else getattr(tg, name)(t)
    assert out.dtype == TG[dtype] and out.shape == a.shape
    with np.errstate(all="ignore"):
        assert_close(out, ref(a.astype(np.float64)), dtype)


BINARY = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
    "maximum": np.maximum, "minimum": np.minimum,
}
COMPARE = {"eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal,
           "gt": np.greater, "ge": np.greater_equal}


@_settings(200)
@given(data=st.data(), name=st.sampled_from(sorted(BINARY) + sorted(COMPARE) + ["pow"]),
       dtype=dtypes, shapes2=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=5, max_side=4))
def test_binary_ops_broadcast_like_numpy(data, name, dtype, shapes2):
    (sa, sb), result = shapes2
    a, ta = data.draw(viewed(sa, dtype, positive=name == "pow"))
    b, tb = data.draw(viewed(sb, dtype, low=-2.0, high=2.0))
    if name in COMPARE:
        if data.draw(st.booleans()):  # make some entries equal
            b = np.broadcast_to(a, result) if a.shape == result else b
            tb = ta.expand(*result) if a.shape == result else tb
        out = getattr(tg, name)(ta, tb)
        assert out.dtype == tg.bool
        np.testing.assert_array_equal(out.numpy(), COMPARE[name](a, b))
        return
    how = data.draw(st.sampled_from(["fn", "method", "operator"]))
    ops = {"add": "__add__", "sub": "__sub__", "mul": "__mul__", "div": "__truediv__", "pow": "__pow__"}
    if how == "operator" and name in ops:
        out = getattr(ta, ops[name])(tb)
    elif how == "method":
        out = getattr(ta, name)(tb)
    else:
        out = getattr(tg, name)(ta, tb)
    assert out.dtype == TG[dtype] and out.shape == tuple(result)
    ref = np.power if name == "pow" else BINARY[name]
    with np.errstate(all="ignore"):
        want = ref(a.astype(np.float64), b.astype(np.float64))
    assert_close(out, want, dtype, **({"rtol": 1e-4} if name == "pow" and dtype == np.float32 else {}))


@_settings(100)
@given(data=st.data(), dtype=dtypes, scalar=st.sampled_from([0.5, -2.0, 3, 0]),
       name=st.sampled_from(["add", "sub", "mul", "div", "pow", "maximum", "lt", "rsub", "rdiv"]),
       shape=shapes)
def test_ops_with_python_scalars_keep_the_tensor_dtype(data, dtype, scalar, name, shape):
    a, t = data.draw(viewed(shape, dtype, positive=True))
    a64, s = a.astype(np.float64), float(scalar)
    table = {
        "add": (lambda: t + scalar, a64 + s), "sub": (lambda: t - scalar, a64 - s),
        "mul": (lambda: t * scalar, a64 * s), "div": (lambda: t / scalar, a64 / s if s else None),
        "pow": (lambda: t ** scalar, a64 ** s), "maximum": (lambda: tg.maximum(t, tg.tensor(s, dtype=TG[dtype])), np.maximum(a64, s)),
        "lt": (lambda: t < scalar, a64 < s), "rsub": (lambda: scalar - t, s - a64),
        "rdiv": (lambda: scalar / t, s / a64),
    }
    fn, want = table[name]
    with np.errstate(all="ignore"):
        if want is None:
            want = a64 / s
        out = fn()
    if name == "lt":
        assert out.dtype == tg.bool
        np.testing.assert_array_equal(out.numpy(), want)
    else:
        assert out.dtype == TG[dtype]
        assert_close(out, want, dtype, **({"rtol": 1e-4} if name == "pow" and dtype == np.float32 else {}))


@_settings(120)
@given(data=st.data(), dtype=dtypes,
       shapes3=hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=4, max_side=3))
def test_where_clamp_follow_numpy(data, dtype, shapes3):
    (sc, sa, sb), result = shapes3
    c, _ = data.draw(viewed(sc, np.float64))
    cond = c > 0
    tcond = tg.tensor(cond)
    if data.draw(st.booleans()) and cond.ndim >= 2:
        tcond = tg.tensor(np.ascontiguousarray(cond.T)).T
    a, ta = data.draw(viewed(sa, dtype))
    b, tb = data.draw(viewed(sb, dtype))
    out = tg.where(tcond, ta, tb)
    assert out.shape == tuple(result)
    np.testing.assert_array_equal(out.numpy(), np.where(cond, a, b))
    # clamp with tensor bounds (lo > hi gives hi, as in PyTorch and np.minimum(np.maximum))
    out = tg.clamp(ta, min=tb, max=tg.tensor(np.float64(0.5)).to(TG[dtype]))
    np.testing.assert_array_equal(out.numpy(), np.minimum(np.maximum(a, b), dtype(0.5)))
    lo, hi = data.draw(st.sampled_from([(-1.0, 1.0), (0.5, -0.5), (None, 0.0), (0.0, None)]))
    out = ta.clamp(lo, hi)
    want = a
    if lo is not None:
        want = np.maximum(want, dtype(lo))
    if hi is not None:
        want = np.minimum(want, dtype(hi))
    np.testing.assert_array_equal(out.numpy(), want)


# ---- reductions -----------------------------------------------------------------------------

@st.composite
def dims_for(draw, ndim, allow_none=True, allow_tuple=True):
    n = max(ndim, 1)
    choices = ["int"] + (["none"] if allow_none else []) + (["tuple"] if allow_tuple and ndim else [])
    kind = draw(st.sampled_from(choices))
    if kind == "none":
        return None
    if kind == "int":
        return draw(st.integers(-n, n - 1))
    ds = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    return tuple(d - ndim if draw(st.booleans()) else d for d in ds)


def _axes(dim, ndim):
    if dim is None:
        return tuple(range(ndim))
    ds = dim if isinstance(dim, tuple) else (dim,)
    return tuple(sorted({d % max(ndim, 1) for d in ds})) if ndim else ()


def _np_reduce(fn, a, axes, keepdim):
    if a.ndim == 0:
        return fn(a.reshape(1), axis=0, keepdims=False).reshape(())
    return fn(a, axis=axes, keepdims=keepdim)


def _ref_logsumexp(a, axis, keepdims):
    m = np.max(a, axis=axis, keepdims=True) if a.size else np.zeros([1] * a.ndim)
    m = np.where(np.isfinite(m), m, 0)
    out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


@_settings(250)
@given(data=st.data(), dtype=dtypes, shape=shapes,
       name=st.sampled_from(["sum", "mean", "var", "std", "logsumexp", "amax", "amin"]),
       keepdim=st.booleans())
def test_reductions_over_dims_match_numpy(data, dtype, shape, name, keepdim):
    a, t = data.draw(viewed(shape, dtype))
    dim = data.draw(dims_for(len(shape), allow_none=name not in ("logsumexp",)))
    axes = _axes(dim, a.ndim)
    a64 = a.astype(np.float64)
    empty_reduce = any(a.shape[d] == 0 for d in axes) if a.ndim else False
    kwargs = {"keepdim": keepdim}
    if name in ("amax", "amin") and empty_reduce:
        with pytest.raises((RuntimeError, IndexError)):
            getattr(t, name)(dim, **kwargs)
        return
    if name in ("var", "std"):
        correction = data.draw(st.sampled_from([0, 1, 2]))
        kwargs["correction"] = correction
        n = int(np.prod([a.shape[d] for d in axes])) if a.ndim else 1
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # mean of nothing
            mean = _np_reduce(np.mean, a64, axes, True)
            ss = _np_reduce(np.sum, (a64 - mean) ** 2, axes, keepdim)
            want = ss / np.float64(max(0, n - correction))  # PyTorch: nan for 0/0, else inf
            if name == "std":
                want = np.sqrt(want)
    elif name == "logsumexp":
        with np.errstate(all="ignore"):
            want = _ref_logsumexp(a64, axes, keepdim) if a.ndim else a64
    else:
        fn = {"sum": np.sum, "mean": np.mean, "amax": np.max, "amin": np.min}[name]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # mean of nothing
            want = _np_reduce(fn, a64, axes, keepdim)
    if name in ("sum", "mean") and dim is None and not keepdim and data.draw(st.booleans()):
        out = getattr(t, name)()
    else:
        out = getattr(t, name)(dim, **kwargs)
    assert out.dtype == TG[dtype]
    assert_close(out, want, dtype, **({"rtol": 1e-4, "atol": 1e-5} if dtype == np.float32 else {}))


@_settings(200)
@given(data=st.data(), dtype=dtypes, shape=shapes,
       name=st.sampled_from(["max", "min", "argmax", "argmin"]), keepdim=st.booleans())
def test_max_min_arg_reductions_match_numpy(data, dtype, shape, name, keepdim):
    a, t = data.draw(viewed(shape, dtype))
    use_dim = data.draw(st.booleans())
    nd = max(a.ndim, 1)
    dim = data.draw(st.integers(-nd, nd - 1)) if use_dim else None
    npfn = {"max": np.max, "min": np.min, "argmax": np.argmax, "argmin": np.argmin}[name]
    if a.size == 0 and (dim is None or a.ndim == 0 or a.shape[dim] == 0):
        with pytest.raises((RuntimeError, IndexError)):
            getattr(t, name)(dim, keepdim=keepdim) if use_dim else getattr(t, name)()
        return
    a1 = a.reshape(1) if a.ndim == 0 else a
    ax = 0 if a.ndim == 0 else dim
    if not use_dim:
        out = getattr(t, name)()
        want = npfn(a1)
        assert out.shape == ()
        if name.startswith("arg"):
            assert out.dtype == tg.int64 and out.item() == want
        else:
            np.testing.assert_array_equal(out.numpy(), want)
        return
    if name in ("max", "min"):
        values, indices = getattr(t, name)(dim, keepdim=keepdim)
        want_v = npfn(a1, axis=ax, keepdims=keepdim and a.ndim > 0)
        want_i = (np.argmax if name == "max" else np.argmin)(a1, axis=ax)
        if keepdim and a.ndim > 0:
            want_i = np.expand_dims(want_i, ax)
        if a.ndim == 0:
            want_v, want_i = want_v.reshape(()), want_i.reshape(())
        np.testing.assert_array_equal(values.numpy(), want_v)
        assert indices.dtype == tg.int64
        np.testing.assert_array_equal(indices.numpy(), want_i)
    else:
        out = getattr(t, name)(dim, keepdim=keepdim)
        want = npfn(a1, axis=ax)
        if keepdim and a.ndim > 0:
            want = np.expand_dims(want, ax)
        if a.ndim == 0:
            want = want.reshape(())
        assert out.dtype == tg.int64
        np.testing.assert_array_equal(out.numpy(), want)


@_settings(150)
@given(data=st.data(), dtype=dtypes, shape=shapes, log=st.booleans())
def test_softmax_and_log_softmax_match_numpy(data, dtype, shape, log):
    a, t = data.draw(viewed(shape, dtype, low=-20, high=20))
    nd = max(a.ndim, 1)
    dim = data.draw(st.integers(-nd, nd - 1))
    a64 = a.astype(np.float64)
    if a.ndim == 0:
        want = np.float64(0.0) if log else np.float64(1.0)
    else:
        with np.errstate(all="ignore"):
            lse = _ref_logsumexp(a64, dim, True) if a.size else np.zeros_like(a64)
            want = a64 - lse if log else np.exp(a64 - lse)
    out = t.log_softmax(dim) if log else tg.softmax(t, dim)
    assert out.dtype == TG[dtype] and out.shape == a.shape
    assert_close(out, want, dtype, **({"rtol": 1e-5, "atol": 1e-5} if dtype == np.float32 else {}))


# ---- matmul ---------------------------------------------------------------------------------

@st.composite
def matmul_shapes(draw):
    n, k, m = (draw(st.integers(0, 5)) for _ in range(3))
    da, db = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    batch_a, batch_b = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=3)).input_shapes
    sa = (k,) if da == 1 else tuple(batch_a[len(batch_a) - (da - 2):] if da > 2 else ()) + (n, k)
    sb = (k,) if db == 1 else tuple(batch_b[len(batch_b) - (db - 2):] if db > 2 else ()) + (k, m)
    return sa, sb


@_settings(200)
@given(data=st.data(), dtype=dtypes, shapes2=matmul_shapes())
def test_matmul_matches_numpy(data, dtype, shapes2):
    sa, sb = shapes2
    try:
        np.broadcast_shapes(sa[:-2], sb[:-2])
    except ValueError:
        assume(False)
    a, ta = data.draw(viewed(sa, dtype))
    b, tb = data.draw(viewed(sb, dtype))
    out = ta @ tb if data.draw(st.booleans()) else tg.matmul(ta, tb)
    want = np.matmul(a.astype(np.float64), b.astype(np.float64))
    assert out.dtype == TG[dtype]
    assert_close(out, want, dtype, **({"rtol": 1e-4, "atol": 1e-5} if dtype == np.float32 else {}))


@_settings(40)
@given(data=st.data(), dtype=dtypes)
def test_matmul_rejects_mismatched_inner_dims(data, dtype):
    k1 = data.draw(st.integers(1, 4))
    k2 = data.draw(st.integers(1, 4).filter(lambda k: k != k1))
    a, ta = data.draw(viewed((2, k1), dtype))
    b, tb = data.draw(viewed((k2, 3), dtype))
    with pytest.raises(RuntimeError):
        ta @ tb
    np.testing.assert_array_equal(ta.numpy(), a)  # inputs untouched


# ---- random graphs vs PyTorch ---------------------------------------------------------------

def _unary_graph_ops():
    return [
        ("exp", lambda M, a: (a * 0.3).exp()),
        ("log", lambda M, a: (a.abs() + 0.5).log()),
        ("sqrt", lambda M, a: (a * a + 0.25).sqrt()),
        ("tanh", lambda M, a: a.tanh()),
        ("sigmoid", lambda M, a: a.sigmoid()),
        ("relu", lambda M, a: a.relu()),
        ("sin", lambda M, a: a.sin()),
        ("neg_square", lambda M, a: -(a * a)),
        ("pow", lambda M, a: (a.abs() + 0.5) ** 1.5),
        ("rsqrt", lambda M, a: (a * a + 1.0).rsqrt()),
        ("clamp", lambda M, a: a.clamp(-0.7, 0.9)),
        ("scale_shift", lambda M, a: a * 1.7 - 0.3),
        ("transpose", lambda M, a: a.transpose(0, -1) if a.ndim >= 2 else a),
        ("unsqueeze", lambda M, a: a.unsqueeze(0)),
        ("slice", lambda M, a: a[..., ::2] if a.ndim else a),
        ("sum_keep", lambda M, a: a.sum(-1, keepdim=True) if a.ndim else a),
        ("mean_keep", lambda M, a: a.mean(0, keepdim=True) if a.ndim else a),
        ("max_keep", lambda M, a: a.max(-1, keepdim=True)[0] if a.ndim and a.shape[-1] else a),
        ("amax", lambda M, a: a.amax(-1, keepdim=True) if a.ndim and a.shape[-1] else a),
        ("logsumexp", lambda M, a: a.logsumexp(-1, keepdim=True) if a.ndim else a),
        ("softmax", lambda M, a: a.softmax(-1) if a.ndim else a),
        ("log_softmax", lambda M, a: a.log_softmax(0) if a.ndim else a),
        ("var", lambda M, a: a.var(-1, keepdim=True) if a.ndim and a.shape[-1] > 1 else a),
        ("reshape", lambda M, a: a.reshape(-1)),
        ("flatten", lambda M, a: a.flatten()),
        ("contiguous_T", lambda M, a: a.T.contiguous().T if a.ndim == 2 else a),
        ("index", lambda M, a: a[M.tensor([0, 0])] if a.ndim and a.shape[0] else a),
        ("where", lambda M, a: M.where(a > 0, a, a * 0.1)),
    ]


def _binary_graph_ops():
    return [
        ("add", lambda M, a, b: a + b),
        ("sub", lambda M, a, b: a - b),
        ("mul", lambda M, a, b: a * b),
        ("div", lambda M, a, b: a / (b * b + 0.5)),
        ("maximum", lambda M, a, b: M.maximum(a, b)),
        ("minimum", lambda M, a, b: M.minimum(a, b)),
        ("pow", lambda M, a, b: (a.abs() + 0.5) ** b.tanh()),
        ("where", lambda M, a, b: M.where(a > b, a, b * 2)),
    ]


@st.composite
def graph_programs(draw):
    n_inputs = draw(st.integers(1, 3))
    shp = draw(hnp.mutually_broadcastable_shapes(num_shapes=n_inputs, max_dims=3, min_side=1, max_side=3))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    n_steps = draw(st.integers(1, 7))
    steps = [(draw(st.booleans()), draw(st.integers(0, 10 ** 6)), draw(st.integers(0, 10 ** 6)),
              draw(st.integers(0, 10 ** 6))) for _ in range(n_steps)]
    return shp.input_shapes, seed, steps


def _run_program(M, inputs, steps):
    """Applies the program with module M (tinygrad_cpp or torch); returns (scalar, live)."""
    un, bi = _unary_graph_ops(), _binary_graph_ops()
    live = list(inputs)
    for binary, i, j, k in steps:
        a = live[i % len(live)]
        if binary:
            b = live[j % len(live)]
            try:
                np.broadcast_shapes(tuple(a.shape), tuple(b.shape))
                ok = True
            except ValueError:
                ok = False
            if ok:
                live.append(bi[k % len(bi)][1](M, a, b))
                continue
        live.append(un[k % len(un)][1](M, a))
    total = None
    for n, t in enumerate(live[len(inputs):] or live):
        term = (t * (1.0 + 0.5 * n)).sum()
        total = term if total is None else total + term
    return total, live


def _program_text(steps):
    un, bi = _unary_graph_ops(), _binary_graph_ops()
    return [(bi if b else un)[k % len(bi if b else un)][0] for b, _, _, k in steps]


@pytest.mark.skipif(torch is None, reason="torch not installed")
@_settings(150)
@given(program=graph_programs())
def test_random_graphs_match_torch_gradients(program):
    shapes_in, seed, steps = program
    rng = np.random.default_rng(seed)
    arrays = [rng.uniform(-2, 2, size=s) for s in shapes_in]
    xs = [tg.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, live = _run_program(tg, xs, steps)
    tout, tlive = _run_program(torch, ts, steps)
    note = f"program {_program_text(steps)} on shapes {shapes_in}"
    for a, b in zip(live, tlive):
        assert tuple(a.shape) == tuple(b.shape), note
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=note)
    out.backward()
    tout.backward()
    for x, t in zip(xs, ts):
        if t.grad is None:
            assert x.grad is None or not np.any(x.grad.numpy()), note
            continue
        assert x.grad is not None, note
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-10, err_msg=note)
