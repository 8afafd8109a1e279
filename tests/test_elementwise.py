"""Binary arithmetic, comparisons and PyTorch's type promotion: forward vs numpy (float32 and
float64, broadcasting, non-contiguous, 0-d, empty), backward vs finite differences and torch,
dtype tables vs torch, and the errors bad input raises."""
import itertools
import operator

import numpy as np
import pytest

import tinygrad_cpp as tg
from helpers import check_grad, torch

RNG = np.random.default_rng(0)

NP_OF = {tg.bool: np.bool_, tg.int64: np.int64, tg.float32: np.float32, tg.float64: np.float64}


def strided(a):
    """A tensor viewing `a` through non-contiguous strides (the transpose of a transposed copy)."""
    if a.ndim < 2:
        return tg.from_numpy(a.copy())
    t = tg.from_numpy(np.ascontiguousarray(a.T)).T
    assert not t.is_contiguous() or sum(s > 1 for s in a.shape) < 2
    return t


def cases(dtype):
    """(a, b) array pairs covering same shape, broadcasting both ways, 0-d and empty."""
    r = lambda *s: np.asarray(RNG.standard_normal(s) + 3, dtype=dtype)  # noqa: E731
    return [
        (r(3, 4), r(3, 4)),
        (r(3, 4), r(4)),
        (r(3, 1), r(1, 4)),
        (r(2, 1, 3), r(4, 1)),
        (r(), r(2, 3)),
        (r(2, 3), r()),
        (r(), r()),
        (r(0, 3), r(3)),
        (r(2, 0), r(1)),
    ]


ARITH = [
    ("add", operator.add, np.add),
    ("sub", operator.sub, np.subtract),
    ("mul", operator.mul, np.multiply),
    ("truediv", operator.truediv, np.divide),
    ("pow", operator.pow, np.power),
    ("floordiv", operator.floordiv, np.floor_divide),
    ("mod", operator.mod, np.mod),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,op,ref", ARITH, ids=[a[0] for a in ARITH])
def test_binary_operators_match_numpy(dtype, name, op, ref):
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=0)
    for a, b in cases(dtype):
        expect = ref(a, b)
        for ta, tb in [(tg.tensor(a), tg.tensor(b)), (strided(a), strided(b))]:
            out = op(ta, tb)
            assert out.numpy().dtype == np.asarray(expect).dtype
            assert out.shape == np.shape(expect)
            np.testing.assert_allclose(out.numpy(), expect, **tol)


@pytest.mark.parametrize("name,op,ref", ARITH, ids=[a[0] for a in ARITH])
def test_binary_operators_with_python_scalars(name, op, ref):
    a = RNG.uniform(1, 3, (2, 3)).astype(np.float32)
    t = tg.tensor(a)
    for s in (2, 2.5, 0.5):
        np.testing.assert_allclose(op(t, s).numpy(), ref(a, np.float32(s)), rtol=1e-6)
        np.testing.assert_allclose(op(s, t).numpy(), ref(np.float32(s), a), rtol=1e-6)
        assert op(t, s).dtype == tg.float32 and op(s, t).dtype == tg.float32


def test_integer_arithmetic_is_exact():
    a = np.array([-7, -3, 0, 5, 9, 2**40], dtype=np.int64)
    b = np.array([2, -2, 3, 1, -4, 3], dtype=np.int64)
    ta, tb = tg.tensor(a), tg.tensor(b)
    for op in (operator.add, operator.sub, operator.mul, operator.floordiv, operator.mod):
        out = op(ta, tb)
        assert out.dtype == tg.int64
        np.testing.assert_array_equal(out.numpy(), op(a, b))
    np.testing.assert_array_equal((ta ** 2).numpy()[:5], a[:5] ** 2)
    assert (ta / tb).dtype == tg.float32  # true division promotes to the default float
    np.testing.assert_allclose((ta / tb).numpy(), (a / b).astype(np.float32))
    np.testing.assert_array_equal(tg.div(ta, tb, rounding_mode="trunc").numpy(), np.trunc(a / b).astype(np.int64))
    big = tg.tensor([-(2**63)])
    assert (big // -1).item() == -(2**63)  # wraps like PyTorch instead of trapping


@np.errstate(divide="ignore", invalid="ignore")
def test_float_floor_divide_and_remainder_follow_python():
    a = np.array([-7.5, 7.5, -7.5, 7.5, 0.0, 5.0])
    b = np.array([2.0, -2.0, -2.0, 2.0, -3.0, 0.0])
    ta, tb = tg.tensor(a), tg.tensor(b)
    np.testing.assert_array_equal((ta // tb).numpy(), np.floor_divide(a, b))
    np.testing.assert_array_equal((ta % tb).numpy()[:5], np.mod(a, b)[:5])
    np.testing.assert_array_equal(tg.div(ta, tb, rounding_mode="floor").numpy(), np.floor_divide(a, b))


def test_add_sub_alpha():
    a, b = RNG.standard_normal((2, 3)), RNG.standard_normal(3)
    ta, tb = tg.tensor(a), tg.tensor(b)
    np.testing.assert_allclose(tg.add(ta, tb, alpha=2.5).numpy(), a + 2.5 * b)
    np.testing.assert_allclose(ta.sub(tb, alpha=-0.5).numpy(), a + 0.5 * b)
    np.testing.assert_allclose(tg.sub(ta, 1, alpha=3).numpy(), a - 3)
    np.testing.assert_allclose(tg.rsub(ta, 1.0, alpha=2).numpy(), 1 - 2 * a)
    i = tg.tensor([1, 2, 3])
    np.testing.assert_array_equal(tg.add(i, i, alpha=3).numpy(), [4, 8, 12])
    with pytest.raises(RuntimeError, match="alpha must not be a floating point"):
        tg.add(i, i, alpha=2.5)
    with pytest.raises(RuntimeError, match="Boolean alpha"):
        tg.add(ta, tb, alpha=True)
    with pytest.raises(TypeError):
        tg.add(ta, tb, alpha="2")


def test_bool_arithmetic():
    a, b = tg.tensor([True, True, False, False]), tg.tensor([True, False, True, False])
    assert (a + b).dtype == tg.bool
    np.testing.assert_array_equal((a + b).numpy(), [True, True, True, False])
    np.testing.assert_array_equal((a * b).numpy(), [True, False, False, False])
    np.testing.assert_array_equal((a / b).numpy()[:3], [1.0, np.inf, 0.0])
    assert (a / b).dtype == tg.float32
    assert (a + 1).dtype == tg.int64 and (a * 1.5).dtype == tg.float32
    with pytest.raises(RuntimeError, match="Subtraction"):
        a - b
    with pytest.raises(RuntimeError, match="Subtraction"):
        1 - a
    with pytest.raises(RuntimeError, match="Subtraction"):
        tg.ones(2) - True
    with pytest.raises(RuntimeError, match="Negation"):
        -a


# ---- gradients ----------------------------------------------------------------------------

SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((), (2, 3)), ((2, 3), ())]


@pytest.mark.parametrize("sa,sb", SHAPES)
def test_arithmetic_gradients(sa, sb):
    a = RNG.uniform(0.5, 2.0, sa)
    b = RNG.uniform(0.5, 2.0, sb) * RNG.choice([-1, 1], sb)
    check_grad(lambda x, y: x + y, a, b)
    check_grad(lambda x, y: x - y, a, b)
    check_grad(lambda x, y: x * y, a, b)
    check_grad(lambda x, y: x / y, a, b)
    check_grad(lambda x, y: x ** y, a, b)  # a > 0: log(a) defined
    check_grad(lambda x, y: 2.0 - x * 3 + y / 4 - 1 / y, a, b)


def test_alpha_gradients():
    a, b = RNG.standard_normal((2, 3)), RNG.standard_normal(3)
    fns = [(lambda x, y: tg.add(x, y, alpha=2.5), lambda x, y: torch.add(x, y, alpha=2.5) if torch else None),
           (lambda x, y: tg.sub(x, y, alpha=-3), lambda x, y: torch.sub(x, y, alpha=-3) if torch else None),
           (lambda x, y: tg.rsub(x, y, alpha=2), lambda x, y: torch.rsub(x, y, alpha=2) if torch else None)]
    for f, tf in fns:
        check_grad(f, a, b, torch_fn=tf)


def test_scalar_operand_gradients():
    a = RNG.uniform(0.5, 2.0, (2, 3))
    check_grad(lambda x: 3 - x, a)
    check_grad(lambda x: 2 / x, a)
    check_grad(lambda x: x ** 3, a)
    check_grad(lambda x: x ** 0.5, a)
    check_grad(lambda x: x ** -2, a)
    check_grad(lambda x: 2.5 ** x, a)
    check_grad(lambda x: x % 0.7, a)


def test_node_names_match_pytorch():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = tg.tensor([3.0, 4.0], requires_grad=True)
    names = {
        "AddBackward0": x + y, "SubBackward0": x - 2, "RsubBackward1": 2 - x, "MulBackward0": x * 2,
        "DivBackward0": x / y, "PowBackward0": x ** 2, "PowBackward1": x ** y, "PowBackward2": 2 ** x,
        "DivBackward2": tg.div(x, y, rounding_mode="floor"), "RemainderBackward0": x % y,
    }
    for name, t in names.items():
        assert t.grad_fn.name() == name


def test_mixed_dtype_gradients_come_back_in_input_dtype():
    x = tg.tensor([1.0, 2.0], dtype=tg.float32, requires_grad=True)
    y = tg.tensor([[3.0], [4.0]], dtype=tg.float64, requires_grad=True)
    out = x * y
    assert out.dtype == tg.float64 and out.shape == (2, 2)
    out.sum().backward()
    assert x.grad.dtype == tg.float32 and y.grad.dtype == tg.float64
    np.testing.assert_allclose(x.grad.numpy(), [7.0, 7.0])
    np.testing.assert_allclose(y.grad.numpy(), [[3.0], [3.0]])


def test_integer_operand_needs_no_grad():
    x = tg.tensor([1.5, 2.5], requires_grad=True)
    n = tg.tensor([2, 3])
    (x * n + x ** n).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2 + 2 * 1.5, 3 + 3 * 2.5**2], rtol=1e-6)


# ---- type promotion -----------------------------------------------------------------------

def operands():
    """Tensors of every dtype as 1-d and 0-d, and Python scalars, with small positive values."""
    ops = []
    for dt in (tg.bool, tg.int64, tg.float32, tg.float64):
        v = [True, True] if dt == tg.bool else [2, 3]
        ops.append((f"{dt!r}[2]", tg.tensor(v, dtype=dt), v, dt))
        ops.append((f"{dt!r}[]", tg.tensor(v[0], dtype=dt), v[0], dt))
    ops += [("True", True, True, None), ("2", 2, 2, None), ("2.5", 2.5, 2.5, None)]
    return ops


def test_promotion_table_spot_checks():
    i, f32, f64 = tg.tensor([1, 2]), tg.ones(2), tg.ones(2, dtype=tg.float64)
    b = tg.tensor([True, False])
    assert (i + 2.5).dtype == tg.float32                       # int tensor + float scalar
    assert (f32 + tg.tensor(2.0, dtype=tg.float64)).dtype == tg.float32  # 0-d loses to dimensioned
    assert (i + tg.tensor(2.0, dtype=tg.float64)).dtype == tg.float64   # ... unless higher category
    assert (f32 + f64).dtype == tg.float64
    assert (b + b).dtype == tg.bool and (b + True).dtype == tg.bool
    assert (b + 1).dtype == tg.int64 and (i * True).dtype == tg.int64
    assert (2 ** i).dtype == tg.int64 and (2.5 ** i).dtype == tg.float32
    assert (f64 * 2.5).dtype == tg.float64
    assert tg.where(b, 1.0, 0.0).dtype == tg.float32 and tg.where(b, 1, 0).dtype == tg.int64


@pytest.mark.skipif(torch is None, reason="needs torch")
@pytest.mark.parametrize("opname", ["add", "sub", "mul", "truediv", "pow", "maximum", "eq", "lt",
                                    "floordiv", "mod"])
def test_promotion_matches_torch(opname):
    tdt = {tg.bool: torch.bool, tg.int64: torch.int64, tg.float32: torch.float32, tg.float64: torch.float64}
    fn = {"maximum": (tg.maximum, torch.maximum)}.get(opname)
    for (na, a, va, da), (nb, b, vb, db) in itertools.product(operands(), repeat=2):
        if da is None and db is None:
            continue
        ta = torch.tensor(va, dtype=tdt[da]) if da is not None else va
        tb = torch.tensor(vb, dtype=tdt[db]) if db is not None else vb
        if fn is not None:
            if da is None:
                continue
            ours, theirs = (lambda: fn[0](a, b)), (lambda: fn[1](ta, tb))  # a number: TypeError in both
        else:
            op = getattr(operator, opname)
            ours, theirs = (lambda: op(a, b)), (lambda: op(ta, tb))
        try:
            expect = theirs()
        except (RuntimeError, TypeError):
            with pytest.raises((RuntimeError, TypeError)):
                ours()
            continue
        got = ours()
        assert tdt[got.dtype] == expect.dtype, f"{na} {opname} {nb}"
        assert got.shape == tuple(expect.shape)
        np.testing.assert_allclose(got.numpy().astype(np.float64), expect.numpy().astype(np.float64),
                                   rtol=1e-6, err_msg=f"{na} {opname} {nb}")


# ---- comparisons --------------------------------------------------------------------------

CMP = [("eq", operator.eq), ("ne", operator.ne), ("lt", operator.lt), ("le", operator.le),
       ("gt", operator.gt), ("ge", operator.ge)]


@pytest.mark.parametrize("name,op", CMP, ids=[c[0] for c in CMP])
def test_comparisons(name, op):
    a = RNG.integers(0, 3, (3, 4)).astype(np.float32)
    b = RNG.integers(0, 3, (4,)).astype(np.float64)
    for ta, tb in [(tg.tensor(a), tg.tensor(b)), (strided(a), tg.tensor(b))]:
        for out in (op(ta, tb), getattr(ta, name)(tb), getattr(tg, name)(ta, tb)):
            assert out.dtype == tg.bool and out.requires_grad is False
            np.testing.assert_array_equal(out.numpy(), op(a, b))
    np.testing.assert_array_equal(op(tg.tensor(a), 1).numpy(), op(a, 1))
    np.testing.assert_array_equal(op(1.5, tg.tensor(a)).numpy(), op(1.5, a))
    i = tg.tensor([1, 2, 3])
    np.testing.assert_array_equal(op(i, 2.5).numpy(), op(np.array([1, 2, 3]), 2.5))
    assert op(tg.ones(0, 2), tg.ones(2)).shape == (0, 2)
    assert op(tg.tensor(1.0), 1).shape == ()


def test_comparison_with_nan_and_requires_grad():
    x = tg.tensor([np.nan, 1.0], requires_grad=True)
    np.testing.assert_array_equal((x == x).numpy(), [False, True])
    np.testing.assert_array_equal((x != x).numpy(), [True, False])
    assert (x > 0).grad_fn is None


def test_equality_with_unknown_types_falls_back_to_python():
    t = tg.ones(2)
    assert (t == None) is False  # noqa: E711
    assert (t != "a") is True
    assert t.__eq__(object()) is NotImplemented
    assert hash(t) == hash(t)  # defining __eq__ must not make tensors unhashable
    assert t in {t: 1}


# ---- operators with unknown operands and errors ---------------------------------------------

def test_unknown_operand_types_raise_type_error():
    t = tg.ones(2)
    for op in (operator.add, operator.sub, operator.mul, operator.truediv, operator.pow, operator.lt):
        with pytest.raises(TypeError):
            op(t, "a")
        with pytest.raises(TypeError):
            op("a", t)
    assert t.__add__([1]) is NotImplemented
    with pytest.raises(TypeError):
        tg.add(t, "a")
    with pytest.raises(TypeError):
        tg.mul(t, None)


def test_broadcast_mismatch_names_both_shapes():
    for op in (operator.add, operator.mul, operator.truediv, operator.pow, operator.eq, tg.maximum):
        with pytest.raises(RuntimeError, match=r"\[2, 3\].*\[4\]"):
            op(tg.ones(2, 3), tg.ones(4))
    with pytest.raises(RuntimeError, match=r"\[5, 1, 3\].*\[2, 4\]"):
        tg.ones(5, 1, 3) + tg.ones(2, 4)


def test_division_by_zero_follows_ieee_and_integer_rules():
    x = tg.tensor([1.0, -1.0, 0.0])
    np.testing.assert_array_equal((x / 0).numpy(), [np.inf, -np.inf, np.nan])
    np.testing.assert_array_equal((tg.tensor([1, -1]) / 0).numpy(), [np.inf, -np.inf])
    np.testing.assert_array_equal((x // 0.0).numpy()[:2], [np.inf, -np.inf])
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        tg.tensor([1, 2]) // tg.tensor([1, 0])
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        tg.tensor([1, 2]) % 0
    with pytest.raises(RuntimeError, match="rounding_mode"):
        tg.div(x, x, rounding_mode="round")


def test_large_tensors_match_small_path():
    # big enough to take the parallel path and drop the GIL
    a = RNG.standard_normal((300, 257)).astype(np.float32)
    b = RNG.standard_normal(257).astype(np.float32)
    np.testing.assert_allclose((tg.tensor(a) * tg.tensor(b) + 1).numpy(), a * b + 1, rtol=1e-6)
    np.testing.assert_allclose((strided(a) - 2.0).numpy(), a - 2.0)


def test_rounding_division_gradients_are_zero():
    a, b = RNG.uniform(0.6, 3.0, (2, 3)), RNG.uniform(0.6, 2.0, (3,))
    check_grad(lambda x, y: tg.div(x, y, rounding_mode="floor"), a, b,
               torch_fn=(lambda x, y: torch.div(x, y, rounding_mode="floor")) if torch else None)
    check_grad(lambda x, y: tg.div(x, y, rounding_mode="trunc"), a, b,
               torch_fn=(lambda x, y: torch.div(x, y, rounding_mode="trunc")) if torch else None)
    check_grad(lambda x, y: x % y, a, b)


NAMES = ["add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide", "floor_divide",
         "remainder", "pow", "eq", "ne", "lt", "le", "gt", "ge", "maximum", "minimum", "where", "clamp",
         "clip", "clamp_min", "clamp_max", "neg", "negative", "abs", "sign", "square", "exp", "expm1", "log",
         "log1p", "sqrt", "rsqrt", "reciprocal", "sin", "cos", "floor", "ceil", "round", "sigmoid", "tanh",
         "relu", "gelu", "silu", "softplus", "leaky_relu", "elu"]
INPLACE = ["add_", "sub_", "mul_", "div_", "pow_", "copy_", "zero_", "fill_", "clamp_", "clip_", "neg_",
           "abs_", "exp_", "log_", "sqrt_", "rsqrt_", "reciprocal_", "floor_", "ceil_", "round_",
           "sigmoid_", "tanh_", "relu_"]


def test_ops_exist_as_methods_and_functions():
    for name in NAMES:
        assert callable(getattr(tg, name)), name
        assert callable(getattr(tg.Tensor, name)), name
    for name in INPLACE:
        assert callable(getattr(tg.Tensor, name)), name
    x, y = tg.tensor([1.0, -2.0]), tg.tensor([3.0, 0.5])
    np.testing.assert_array_equal(tg.subtract(x, y).numpy(), [-2.0, -2.5])
    np.testing.assert_array_equal(tg.multiply(x, y).numpy(), [3.0, -1.0])
    np.testing.assert_array_equal(tg.divide(x, y).numpy(), tg.true_divide(x, y).numpy())
    np.testing.assert_array_equal(tg.floor_divide(x, y).numpy(), [0.0, -4.0])
    np.testing.assert_array_equal(tg.negative(x).numpy(), [-1.0, 2.0])
    np.testing.assert_array_equal(abs(x).numpy(), [1.0, 2.0])
    assert +x is x


# ---- logical and bitwise ------------------------------------------------------------------

def test_logical_ops():
    a = np.array([0.0, 1.5, np.nan, -2.0])
    b = np.array([0, 0, 3, 1])
    ta, tb = tg.tensor(a), tg.tensor(b)
    for name, ref in [("logical_and", np.logical_and), ("logical_or", np.logical_or), ("logical_xor", np.logical_xor)]:
        out = getattr(tg, name)(ta, tb)
        assert out.dtype == tg.bool
        np.testing.assert_array_equal(out.numpy(), ref(a, b))
        np.testing.assert_array_equal(getattr(ta, name)(tg.tensor(1)).numpy(), ref(a, 1))
        with pytest.raises(TypeError, match="must be Tensor, not int"):  # as in PyTorch
            getattr(ta, name)(1)
    np.testing.assert_array_equal(tg.logical_not(ta).numpy(), np.logical_not(a))
    np.testing.assert_array_equal(ta.logical_not().numpy(), np.logical_not(a))


def test_bitwise_ops_and_operators():
    m = np.array([True, False, True, False])
    n = np.array([True, True, False, False])
    tm, tn = tg.tensor(m), tg.tensor(n)
    np.testing.assert_array_equal((~tm).numpy(), ~m)
    np.testing.assert_array_equal((tm & tn).numpy(), m & n)
    np.testing.assert_array_equal((tm | tn).numpy(), m | n)
    np.testing.assert_array_equal((tm ^ tn).numpy(), m ^ n)
    np.testing.assert_array_equal((True & tm).numpy(), m)
    assert (tm & tn).dtype == tg.bool
    i = np.array([5, -3, 12], dtype=np.int64)
    ti = tg.tensor(i)
    np.testing.assert_array_equal((~ti).numpy(), ~i)
    np.testing.assert_array_equal((ti & 6).numpy(), i & 6)
    np.testing.assert_array_equal((3 | ti).numpy(), 3 | i)
    np.testing.assert_array_equal(tg.bitwise_xor(ti, tg.tensor([1, 1, 1])).numpy(), i ^ 1)
    assert (tm & 1).dtype == tg.int64
    for bad in (lambda: ~tg.ones(2), lambda: tg.ones(2) & tm, lambda: ti | 1.5):
        with pytest.raises(RuntimeError, match="not implemented for 'float32'"):
            bad()
    x = tg.tensor([1.0, -1.0, 2.0])
    np.testing.assert_array_equal(tg.where((x > 0) & ~(x > 1.5), x, 0.0).numpy(), [1.0, 0.0, 0.0])
