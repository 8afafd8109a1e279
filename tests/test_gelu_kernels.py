"""The float32 GELU kernels (kernels/vmath.h: Phi through erfc, one exponential of -x^2/2)
beyond tests/test_elementwise_unary.py's range: the lower tail down to where GELU leaves
the normal floats, the gradient everywhere against float64, and every SIMD build giving
the same answers to within its rounding."""
import math

import numpy as np
import pytest

import tinygrad_cpp as tg

ERFC = np.vectorize(math.erfc, otypes=[np.float64])


def ref_gelu(x):
    return x * 0.5 * ERFC(-x / math.sqrt(2))


def ref_gelu_grad(x):
    return 0.5 * ERFC(-x / math.sqrt(2)) + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def ulp_error(got, ref64):
    spacing = np.spacing(np.abs(ref64.astype(np.float32))).astype(np.float64)
    return np.abs(got.astype(np.float64) - ref64) / np.maximum(spacing, np.finfo(np.float32).smallest_subnormal)


def test_gelu_lower_tail_is_relatively_accurate(vec_isa):
    """Phi(x) = erfc(-x/sqrt 2)/2 keeps its relative accuracy where 1 + erf(x/sqrt 2) would
    cancel: within a dozen ulp down to x = -13 (GELU ~ -8e-38, still normal)."""
    x = np.linspace(-13.0, -5.0, 200001).astype(np.float32)
    got = tg.nn.functional.gelu(tg.tensor(x)).numpy()
    err = ulp_error(got, ref_gelu(x.astype(np.float64)))
    assert err.max() <= 12, (x[err.argmax()], err.max())


def test_gelu_underflows_gracefully(vec_isa):
    x = np.array([-13.5, -14.0, -14.9, -15.0, -15.1, -20.0, -1e4, -3e38], np.float32)
    got = tg.nn.functional.gelu(tg.tensor(x)).numpy()
    want = ref_gelu(x.astype(np.float64))
    assert np.all(got <= 0) and np.all(np.abs(got - want) <= 2e-39)
    assert np.all(got[3:] == 0)


def test_gelu_grad_matches_float64(vec_isa):
    x = np.linspace(-16.0, 16.0, 320001).astype(np.float32)
    t = tg.tensor(x, requires_grad=True)
    tg.nn.functional.gelu(t).backward(tg.ones(len(x)))
    want = ref_gelu_grad(x.astype(np.float64))
    err = np.abs(t.grad.numpy().astype(np.float64) - want) / np.maximum(np.abs(want), 1.0)
    assert err.max() < 4e-7, (x[err.argmax()], err.max())


def test_gelu_builds_agree():
    """The portable, AVX2 and AVX-512 builds: one formula, the FMA and scaling steps aside."""
    best = tg._C._vec_isa()
    x = np.random.default_rng(0).standard_normal(100003).astype(np.float32) * 4
    outs = {}
    try:
        for isa in ("portable", "avx2", "avx512"):
            try:
                tg._C._set_vec_isa(isa)
            except Exception:
                continue
            outs[isa] = tg.nn.functional.gelu(tg.tensor(x)).numpy()
    finally:
        tg._C._set_vec_isa(best)
    ref = ref_gelu(x.astype(np.float64))
    for isa, y in outs.items():
        assert ulp_error(y, ref).max() <= 8, isa
    vals = list(outs.values())
    for y in vals[1:]:
        np.testing.assert_allclose(y, vals[0], rtol=1e-6, atol=1e-37)


@pytest.mark.parametrize("special", [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e30, -1e30])
def test_gelu_special_values_as_float64(special, vec_isa):
    y32 = tg.nn.functional.gelu(tg.tensor([special], dtype=tg.float32)).numpy()
    y64 = tg.nn.functional.gelu(tg.tensor([special], dtype=tg.float64)).numpy()
    np.testing.assert_array_equal(y32, y64.astype(np.float32))
