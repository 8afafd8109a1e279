"""Unary math and activations: forward vs numpy (float32/float64, non-contiguous, 0-d, empty,
integer inputs), backward vs finite differences and PyTorch, IEEE edge values, dtype rules."""
import math

import numpy as np
import pytest

import tinygrad_cpp as tg
from helpers import check_grad, torch

F = torch.nn.functional if torch is not None else None
RNG = np.random.default_rng(1)
ERF = np.vectorize(math.erf, otypes=[np.float64])


def np_gelu(x):
    return 0.5 * x * (1 + ERF(x / np.sqrt(2)))


def np_gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


def np_softplus(x, beta=1.0, threshold=20.0):
    return np.where(x * beta > threshold, x, np.logaddexp(0, x * beta) / beta)


# name -> (tg function, numpy reference, input domain)
POS, ANY = (0.1, 3.0), (-3.0, 3.0)
FLOAT_FNS = {
    "exp": (tg.exp, np.exp, ANY),
    "expm1": (tg.expm1, np.expm1, ANY),
    "erf": (tg.erf, ERF, ANY),
    "log": (tg.log, np.log, POS),
    "log1p": (tg.log1p, np.log1p, POS),
    "sqrt": (tg.sqrt, np.sqrt, POS),
    "rsqrt": (tg.rsqrt, lambda x: 1 / np.sqrt(x), POS),
    "reciprocal": (tg.reciprocal, lambda x: 1 / x, POS),
    "sin": (tg.sin, np.sin, ANY),
    "cos": (tg.cos, np.cos, ANY),
    "tanh": (tg.tanh, np.tanh, ANY),
    "sigmoid": (tg.sigmoid, lambda x: 1 / (1 + np.exp(-x)), ANY),
}
ACTIVATIONS = {  # float inputs only, as in PyTorch
    "gelu": (tg.gelu, np_gelu, ANY),
    "gelu_tanh": (lambda t: tg.gelu(t, approximate="tanh"), np_gelu_tanh, ANY),
    "silu": (tg.silu, lambda x: x / (1 + np.exp(-x)), ANY),
    "softplus": (tg.softplus, np_softplus, ANY),
    "softplus_beta": (lambda t: tg.softplus(t, beta=2.0, threshold=3.0),
                      lambda x: np_softplus(x, 2.0, 3.0), ANY),
    "leaky_relu": (tg.leaky_relu, lambda x: np.where(x > 0, x, 0.01 * x), ANY),
    "leaky_relu_02": (lambda t: tg.leaky_relu(t, 0.2), lambda x: np.where(x > 0, x, 0.2 * x), ANY),
    "elu": (tg.elu, lambda x: np.where(x > 0, x, np.expm1(x)), ANY),
    "elu_alpha": (lambda t: tg.elu(t, alpha=0.5), lambda x: np.where(x > 0, x, 0.5 * np.expm1(x)), ANY),
}
KEEP_DTYPE = {  # integer inputs keep their dtype
    "neg": (tg.neg, np.negative, ANY),
    "abs": (tg.abs, np.abs, ANY),
    "sign": (tg.sign, np.sign, ANY),
    "square": (tg.square, np.square, ANY),
    "relu": (tg.relu, lambda x: np.maximum(x, 0), ANY),
    "floor": (tg.floor, np.floor, ANY),
    "ceil": (tg.ceil, np.ceil, ANY),
    "round": (tg.round, np.round, ANY),
}
ALL = {**FLOAT_FNS, **ACTIVATIONS, **KEEP_DTYPE}


def inputs(dtype, domain):
    lo, hi = domain
    r = lambda *s: np.asarray(RNG.uniform(lo, hi, s), dtype=dtype)  # noqa: E731
    return [r(3, 4), r(2, 3, 5), r(), r(0), r(0, 3)]


def views(a):
    """The array as a contiguous tensor and as a non-contiguous view."""
    out = [tg.tensor(a)]
    if a.ndim >= 2:
        out.append(tg.from_numpy(np.ascontiguousarray(np.swapaxes(a, 0, 1))).transpose(0, 1))
        assert not out[-1].is_contiguous() or 0 in a.shape
        out.append(tg.from_numpy(np.repeat(a, 2, axis=-1)[..., ::2]))  # a strided numpy view
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(ALL))
def test_forward_matches_numpy(dtype, name):
    fn, ref, domain = ALL[name]
    tol = dict(rtol=2e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    for a in inputs(dtype, domain):
        expect = ref(a.astype(np.float64)).astype(dtype)
        for t in views(a):
            out = fn(t)
            assert out.shape == a.shape and out.numpy().dtype == dtype
            np.testing.assert_allclose(out.numpy(), expect, **tol)


@pytest.mark.parametrize("name", list(ALL))
def test_methods_and_functions_agree(name):
    if name in ("gelu_tanh", "softplus_beta", "leaky_relu_02", "elu_alpha"):
        return
    a = tg.tensor(RNG.uniform(0.1, 2.0, (2, 3)))
    np.testing.assert_array_equal(getattr(a, name)().numpy(), getattr(tg, name)(a).numpy())


@np.errstate(divide="ignore", invalid="ignore")
@pytest.mark.parametrize("name", list(FLOAT_FNS))
def test_integer_and_bool_inputs_compute_in_float32(name):
    fn, ref, _ = FLOAT_FNS[name]
    i = np.array([1, 2, 3], dtype=np.int64)
    out = fn(tg.tensor(i))
    assert out.dtype == tg.float32
    np.testing.assert_allclose(out.numpy(), ref(i.astype(np.float32)), rtol=1e-6)
    b = fn(tg.tensor([True, False]))
    assert b.dtype == tg.float32
    np.testing.assert_allclose(b.numpy(), ref(np.array([1.0, 0.0], np.float32)), rtol=1e-6)


@pytest.mark.parametrize("name", list(KEEP_DTYPE))
def test_integer_inputs_keep_dtype(name):
    fn, ref, _ = KEEP_DTYPE[name]
    i = np.array([-3, 0, 2, 7], dtype=np.int64)
    out = fn(tg.tensor(i))
    assert out.dtype == tg.int64
    np.testing.assert_array_equal(out.numpy(), ref(i))


def test_bool_rules_follow_pytorch():
    b = tg.tensor([True, False])
    assert tg.sign(b).dtype == tg.bool
    np.testing.assert_array_equal(tg.sign(b).numpy(), [True, False])
    assert tg.square(b).dtype == tg.int64
    for fn in (tg.neg, tg.abs, tg.relu, tg.floor, tg.ceil, tg.round):
        with pytest.raises(RuntimeError):
            fn(b)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activations_refuse_integer_inputs(name):
    with pytest.raises(RuntimeError, match="not implemented for 'int64'"):
        ACTIVATIONS[name][0](tg.tensor([1, 2]))


def test_round_halves_to_even_and_decimals():
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 1.2345, 1234.5678])
    np.testing.assert_array_equal(tg.round(tg.tensor(x)).numpy(), np.round(x))
    np.testing.assert_allclose(tg.tensor(x).round(decimals=2).numpy(), np.round(x, 2), rtol=1e-12)
    np.testing.assert_allclose(tg.round(tg.tensor(x), decimals=-2).numpy(), np.round(x, -2), rtol=1e-12)
    assert tg.tensor(x, requires_grad=True).round(decimals=1).grad_fn.name() == "RoundBackward1"


# ---- gradients ----------------------------------------------------------------------------

def away_from_kinks(shape, lo, hi):
    """Values in [lo, hi] at least 0.05 from integers and halves (kinks of abs, relu, floor...)."""
    x = RNG.uniform(lo, hi, shape)
    frac = np.abs(x * 2 - np.round(x * 2))
    return np.where(frac < 0.1, x + 0.13, x)


GRAD_CASES = {
    "exp": (lambda x: x.exp(), None, ANY), "expm1": (lambda x: x.expm1(), None, ANY),
    "erf": (lambda x: x.erf(), None, ANY),
    "log": (lambda x: x.log(), None, POS), "log1p": (lambda x: x.log1p(), None, POS),
    "sqrt": (lambda x: x.sqrt(), None, POS), "rsqrt": (lambda x: x.rsqrt(), None, POS),
    "reciprocal": (lambda x: x.reciprocal(), None, POS),
    "sin": (lambda x: x.sin(), None, ANY), "cos": (lambda x: x.cos(), None, ANY),
    "tanh": (lambda x: x.tanh(), None, ANY), "sigmoid": (lambda x: x.sigmoid(), None, ANY),
    "neg": (lambda x: -x, None, ANY), "abs": (lambda x: x.abs(), None, ANY),
    "square": (lambda x: x.square(), None, ANY), "relu": (lambda x: x.relu(), None, ANY),
    "sign": (lambda x: x.sign(), None, ANY), "floor": (lambda x: x.floor(), None, ANY),
    "ceil": (lambda x: x.ceil(), None, ANY), "round": (lambda x: x.round(), None, ANY),
    "gelu": (tg.gelu, lambda x: F.gelu(x), ANY),
    "gelu_tanh": (lambda x: tg.gelu(x, approximate="tanh"), lambda x: F.gelu(x, approximate="tanh"), ANY),
    "silu": (tg.silu, lambda x: F.silu(x), ANY),
    "softplus": (tg.softplus, lambda x: F.softplus(x), ANY),
    "softplus_beta": (lambda x: tg.softplus(x, beta=2.0, threshold=3.0),
                      lambda x: F.softplus(x, beta=2.0, threshold=3.0), ANY),
    "leaky_relu": (lambda x: tg.leaky_relu(x, 0.2), lambda x: F.leaky_relu(x, 0.2), ANY),
    "elu": (lambda x: tg.elu(x, alpha=0.7), lambda x: F.elu(x, alpha=0.7), ANY),
}


@pytest.mark.parametrize("name", list(GRAD_CASES))
def test_backward_matches_finite_differences_and_torch(name):
    fn, tfn, (lo, hi) = GRAD_CASES[name]
    check_grad(fn, away_from_kinks((3, 4), lo, hi), torch_fn=tfn)
    check_grad(fn, away_from_kinks((), lo, hi), torch_fn=tfn)


def test_node_names_match_pytorch():
    x = tg.tensor([0.5, 1.5], requires_grad=True)
    names = {
        "ExpBackward0": x.exp(), "LogBackward0": x.log(), "SqrtBackward0": x.sqrt(),
        "RsqrtBackward0": x.rsqrt(), "AbsBackward0": x.abs(), "SignBackward0": x.sign(),
        "SinBackward0": x.sin(), "CosBackward0": x.cos(), "TanhBackward0": x.tanh(),
        "SigmoidBackward0": x.sigmoid(), "ReluBackward0": x.relu(), "GeluBackward0": tg.gelu(x),
        "Log1PBackward0": x.log1p(), "Expm1Backward0": x.expm1(), "ErfBackward0": x.erf(), "NegBackward0": -x,
        "PowBackward0": x.square(), "SiluBackward0": tg.silu(x), "SoftplusBackward0": tg.softplus(x),
        "LeakyReluBackward0": tg.leaky_relu(x), "EluBackward0": tg.elu(x),
        "ReciprocalBackward0": x.reciprocal(), "FloorBackward0": x.floor(), "CeilBackward0": x.ceil(),
        "RoundBackward0": x.round(),
    }
    for name, t in names.items():
        assert t.grad_fn.name() == name


@pytest.mark.skipif(torch is None, reason="needs torch")
def test_gradients_at_kinks_follow_pytorch():
    pts = [0.0, 1.0, -1.0, 0.5, 2.0]
    cases = [
        (lambda x: x.abs(), lambda x: x.abs()), (lambda x: x.relu(), lambda x: x.relu()),
        (lambda x: tg.leaky_relu(x), lambda x: F.leaky_relu(x)), (lambda x: tg.elu(x), lambda x: F.elu(x)),
        (lambda x: x.sqrt(), lambda x: x.sqrt()), (lambda x: x.sign(), lambda x: x.sign()),
        (lambda x: x.floor(), lambda x: x.floor()), (lambda x: x.round(), lambda x: x.round()),
        (lambda x: x ** 0.5, lambda x: x ** 0.5), (lambda x: x ** 0, lambda x: x ** 0),
        (lambda x: x ** 2, lambda x: x ** 2), (lambda x: x.log(), lambda x: x.log()),
    ]
    for f, tf in cases:
        x = tg.tensor(pts, dtype=tg.float64, requires_grad=True)
        tx = torch.tensor(pts, dtype=torch.float64, requires_grad=True)
        f(x).sum().backward()
        tf(tx).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


# ---- IEEE edge values ---------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_ieee_results_without_exceptions(dtype):
    def v(fn, *xs):
        return fn(tg.tensor(list(xs), dtype=dtype)).numpy().tolist()

    assert v(tg.log, 0.0, -1.0)[0] == -np.inf and np.isnan(v(tg.log, -1.0)[0])
    assert v(tg.sqrt, -0.0, 4.0) == [0.0, 2.0] and np.isnan(v(tg.sqrt, -1.0)[0])
    assert v(tg.rsqrt, 0.0) == [np.inf]
    assert v(tg.reciprocal, 0.0, -0.0) == [np.inf, -np.inf]
    assert v(tg.exp, 1e4, -1e4) == [np.inf, 0.0]
    assert v(tg.sigmoid, 1e4, -1e4, 100.0, -100.0) == [1.0, 0.0, 1.0, pytest.approx(0.0, abs=1e-40)]
    assert v(tg.tanh, 1e4, -1e4) == [1.0, -1.0]
    assert v(tg.softplus, 1e4, -1e4) == [1e4, 0.0]
    assert v(lambda t: tg.softplus(t, threshold=1e6), 1e4, -1e4) == [1e4, 0.0]  # no overflow
    assert v(tg.silu, 1e4, -1e4) == [1e4, 0.0]
    assert v(tg.gelu, 1e4, -1e4) == [1e4, 0.0]
    assert v(lambda t: tg.gelu(t, approximate="tanh"), 1e4, -1e4) == [1e4, 0.0]
    assert v(tg.elu, -1e4) == [-1.0]
    assert v(tg.log1p, -1.0) == [-np.inf]
    nan = v(tg.relu, np.nan)
    assert np.isnan(nan[0])
    assert v(tg.sign, np.nan, -0.0, -2.0) == [0.0, 0.0, -1.0]
    assert v(tg.abs, -0.0) == [0.0] and math.copysign(1, v(tg.abs, -0.0)[0]) == 1


@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_saturated_gradients_are_finite(dtype):
    for fn in (tg.sigmoid, tg.tanh, tg.silu, tg.softplus, tg.gelu, tg.elu,
               lambda t: tg.gelu(t, approximate="tanh"), lambda t: tg.softplus(t, threshold=1e6)):
        x = tg.tensor([1e4, -1e4, 50.0, -50.0], dtype=dtype, requires_grad=True)
        fn(x).sum().backward()
        g = x.grad.numpy()
        assert np.all(np.isfinite(g)), g
        np.testing.assert_allclose(g[[0, 1]], [1.0 if fn not in (tg.sigmoid, tg.tanh) else 0.0, 0.0], atol=1e-30)


def test_bad_arguments():
    with pytest.raises(RuntimeError, match="approximate"):
        tg.gelu(tg.ones(2), approximate="fast")
    with pytest.raises(TypeError):
        tg.exp([1.0, 2.0])


# ---- float32 SIMD kernels -----------------------------------------------------------------

def ulp_error(got, ref64):
    """Error of float32 results in units of the float32 spacing at the reference value."""
    ref32 = ref64.astype(np.float32)
    spacing = np.spacing(np.abs(ref32)).astype(np.float64)
    return np.abs(got.astype(np.float64) - ref64) / np.maximum(spacing, np.finfo(np.float32).smallest_subnormal)


@pytest.mark.parametrize("name,ref,lo,hi,max_ulp", [
    ("exp", np.exp, -103.0, 88.5, 2),
    ("log", np.log, 1e-38, 3e38, 2),
    ("sigmoid", lambda x: 1 / (1 + np.exp(-x)), -80.0, 80.0, 4),
    ("tanh", np.tanh, -12.0, 12.0, 4),
    ("silu", lambda x: x / (1 + np.exp(-x)), -80.0, 80.0, 4),
    ("gelu", np_gelu, -5.0, 12.0, 8),
])
def test_float32_kernels_are_accurate_over_wide_ranges(name, ref, lo, hi, max_ulp, vec_isa):
    if name == "log":
        x = np.geomspace(lo, hi, 100003).astype(np.float32)
    else:
        x = np.linspace(lo, hi, 100003).astype(np.float32)
    got = getattr(tg, name)(tg.tensor(x)).numpy()
    err = ulp_error(got, ref(x.astype(np.float64)))
    assert err.max() <= max_ulp, (x[err.argmax()], got[err.argmax()], err.max())
    # a strided view goes through the same formula
    wide = np.repeat(x[:3001], 2)
    np.testing.assert_array_equal(getattr(tg, name)(tg.from_numpy(wide[::2])).numpy(), got[:3001])


def test_float32_kernel_special_values(vec_isa):
    x = tg.tensor([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-45, -1e-45], dtype=tg.float32)
    e = tg.exp(x).numpy()
    assert np.isnan(e[0]) and e[1] == np.inf and e[2] == 0 and e[3] == 1 and e[4] == 1
    lg = tg.log(x).numpy()
    assert np.isnan(lg[0]) and lg[1] == np.inf and np.isnan(lg[2]) and lg[3] == -np.inf and lg[4] == -np.inf
    np.testing.assert_allclose(lg[5], np.log(np.float64(np.float32(1e-45))), rtol=1e-6)  # subnormal input
    assert np.isnan(lg[6])
    # the float32 kernels agree with the float64 (libm) path on nan and +-inf
    special = [np.nan, np.inf, -np.inf, 0.0, 1e30, -1e30]
    for fn in (tg.exp, tg.sigmoid, tg.tanh, tg.silu, tg.gelu, lambda t: tg.gelu(t, approximate="tanh")):
        y32 = fn(tg.tensor(special, dtype=tg.float32)).numpy()
        y64 = fn(tg.tensor(special, dtype=tg.float64)).numpy()
        np.testing.assert_array_equal(y32, y64.astype(np.float32))
    assert tg.exp(tg.tensor([-100.0])).item() == pytest.approx(np.exp(-100.0), rel=1e-6)  # subnormal result
    assert tg.tanh(tg.tensor([1e-30])).item() == pytest.approx(1e-30, rel=1e-6)


def test_float32_gradient_kernels_match_float64(vec_isa):
    x = np.linspace(-6, 6, 1001)
    for fn in (tg.gelu, tg.silu, lambda t: tg.gelu(t, approximate="tanh")):
        grads = []
        for dt in (tg.float32, tg.float64):
            t = tg.tensor(x, dtype=dt, requires_grad=True)
            fn(t).sum().backward()
            grads.append(t.grad.numpy().astype(np.float64))
        np.testing.assert_allclose(grads[0], grads[1], rtol=1e-5, atol=1e-6)
