"""The storage dtypes (uint8 int8 int16 int32 float16 bfloat16): creation, conversion,
numpy / DLPack / safetensors, promotion, arithmetic and autograd, against numpy and torch."""
import itertools
import pickle

import numpy as np
import pytest

import tinygrad_cpp as tg

NEW = ["uint8", "int8", "int16", "int32", "float16", "bfloat16"]
ALL = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64"]
INTS = ["uint8", "int8", "int16", "int32", "int64"]
FLOATS = ["float16", "bfloat16", "float32", "float64"]
NUMPY = {"bool": np.bool_, "uint8": np.uint8, "int8": np.int8, "int16": np.int16, "int32": np.int32,
         "int64": np.int64, "float16": np.float16, "float32": np.float32, "float64": np.float64}


def D(name):
    return getattr(tg, name)


def torch_or_skip():
    return pytest.importorskip("torch")


def T(torch, name):
    return getattr(torch, name)


def to_torch(torch, t):
    if t.dtype == tg.bfloat16:
        return torch.from_numpy(t.float().numpy().copy()).to(torch.bfloat16)
    return torch.from_numpy(t.numpy().copy())


def values(t):
    """A tensor's values as a float64 (or int64) numpy array, whatever its dtype."""
    t = t.detach()
    if t.dtype in (tg.bfloat16, tg.float16):
        return t.float().numpy().astype(np.float64)
    return t.numpy()


# ---------------------------------------------------------------------------- the dtypes

def test_dtype_objects_and_aliases():
    for name in NEW:
        d = D(name)
        assert repr(d) == f"tinygrad_cpp.{name}"
        assert getattr(tg.dtype, name) is d
        assert pickle.loads(pickle.dumps(d)) is d
    assert tg.half is tg.float16 and tg.short is tg.int16 and tg.int is tg.int32
    assert tg.long is tg.int64 and tg.double is tg.float64 and tg.float is tg.float32
    assert [D(n).itemsize for n in NEW] == [1, 1, 2, 4, 2, 2]
    assert [D(n).is_floating_point for n in NEW] == [False, False, False, False, True, True]
    assert len({hash(D(n)) for n in ALL}) == len(ALL)


def test_finfo_iinfo_match_torch():
    torch = torch_or_skip()
    for name in FLOATS:
        a, b = tg.finfo(D(name)), torch.finfo(T(torch, name))
        for k in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution"):
            assert getattr(a, k) == pytest.approx(getattr(b, k), rel=1e-12), (name, k)
    for name in INTS:
        a, b = tg.iinfo(D(name)), torch.iinfo(T(torch, name))
        assert (a.bits, a.min, a.max) == (b.bits, b.min, b.max)
    with pytest.raises(TypeError):
        tg.finfo(tg.int32)
    with pytest.raises(TypeError):
        tg.iinfo(tg.float16)


# ---------------------------------------------------------------------------- creation

@pytest.mark.parametrize("name", NEW)
def test_factories(name):
    d = D(name)
    for t in (tg.zeros(2, 3, dtype=d), tg.ones(2, 3, dtype=d), tg.full((2, 3), 7, dtype=d),
              tg.empty(2, 3, dtype=d), tg.arange(0, 6, dtype=d), tg.tensor([[1, 2], [3, 4]], dtype=d),
              tg.zeros_like(tg.zeros(2), dtype=d)):
        assert t.dtype is d
        assert t.element_size() == d.itemsize == t.itemsize
        assert t.is_floating_point() == d.is_floating_point
    assert values(tg.full((2,), 7, dtype=d)).tolist() == [7, 7]
    assert values(tg.arange(0, 6, dtype=d)).tolist() == list(range(6))
    assert values(tg.eye(2, dtype=d)).tolist() == [[1, 0], [0, 1]]
    assert tg.tensor([1, 2], dtype=d).tolist() == [1, 2]
    assert tg.tensor(3, dtype=d).item() == 3
    assert type(tg.tensor(3, dtype=d).item()) is (float if d.is_floating_point else int)


def test_methods_convert():
    x = tg.tensor([1.5, -2.0, 300.0])
    assert x.half().dtype is tg.float16 and x.bfloat16().dtype is tg.bfloat16
    assert x.int().dtype is tg.int32 and x.short().dtype is tg.int16
    assert x.char().dtype is tg.int8 and x.byte().dtype is tg.uint8
    assert x.int().tolist() == [1, -2, 300]
    h = x.half()
    assert h.half() is h and h.float().tolist() == [1.5, -2.0, 300.0]


def test_conversion_wraps_like_torch():
    torch = torch_or_skip()
    src = [0.0, 1.7, -1.7, 127.5, 128.0, 255.9, 256.0, 300.0, -129.0, 40000.0, -40000.0, 70000.0]
    for name in ["uint8", "int8", "int16", "int32"]:
        # in-range values convert as torch; out-of-range float -> int is undefined in C++ and
        # torch, so it is compared through int64 (the way both wrap on x86)
        ours = tg.tensor(src, dtype=tg.float64).long().to(D(name)).tolist()
        theirs = torch.tensor(src, dtype=torch.float64).long().to(T(torch, name)).tolist()
        assert ours == theirs, name
        ins = [v for v in src if tg.iinfo(D(name)).min <= v <= tg.iinfo(D(name)).max]
        assert tg.tensor(ins).to(D(name)).tolist() == torch.tensor(ins).to(T(torch, name)).tolist()
    # integer -> narrower integer wraps
    big = [2 ** 40 + 3, -(2 ** 33) - 1, 255, 256, -1]
    for name in ["uint8", "int8", "int16", "int32"]:
        assert (tg.tensor(big).to(D(name)).tolist() == torch.tensor(big).to(T(torch, name)).tolist())


def special_floats(np_dtype=np.float32):
    rng = np.random.default_rng(0)
    vals = np.concatenate([
        rng.standard_normal(2000) * 10.0 ** rng.integers(-9, 6, 2000),
        [0.0, -0.0, np.inf, -np.inf, np.nan, 65504.0, 65519.99, 65520.0, 1e5, -1e5,
         6.1e-5, 5.96e-8, 2.98e-8, 2.99e-8, 1e-9, 3e38, -3e38, 1.0 + 2 ** -11, 1.0 + 3 * 2 ** -11,
         1.0 + 2 ** -8, 1.0 + 3 * 2 ** -8, 3.3895e38, 3.4e38]])
    # every float16 value exactly, and the midpoints between neighbours (ties to even)
    h = np.arange(0, 0x7c01, dtype=np.uint16).view(np.float16).astype(np.float32)
    mid = (h[:-1].astype(np.float64) + h[1:]) / 2
    with np.errstate(over="ignore"):
        return np.concatenate([vals, h, -h, mid, -mid]).astype(np_dtype)


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_float16_conversion_matches_numpy():
    a = special_floats(np.float32)
    ours = tg.from_numpy(a).half().numpy()
    want = a.astype(np.float16)
    np.testing.assert_array_equal(ours.view(np.uint16)[~np.isnan(want)], want.view(np.uint16)[~np.isnan(want)])
    assert np.isnan(ours[np.isnan(want)]).all()
    # float64 -> float16 rounds through float32, as torch does (numpy rounds once: they
    # differ on the rare value whose float32 rounding lands on a float16 tie)
    torch = pytest.importorskip("torch")
    d = special_floats(np.float64)
    ours = tg.from_numpy(d).half().numpy()
    want = torch.from_numpy(d).half().numpy()
    np.testing.assert_array_equal(ours.view(np.uint16)[~np.isnan(want)], want.view(np.uint16)[~np.isnan(want)])
    small = d.astype(np.float32).astype(np.float16)
    np.testing.assert_array_equal(ours.view(np.uint16)[~np.isnan(small)], small.view(np.uint16)[~np.isnan(small)])
    # float16 -> float32 / float64 exact for every bit pattern, NaNs included
    bits = np.arange(0, 65536, dtype=np.uint16).view(np.float16)
    t = tg.from_numpy(bits)
    np.testing.assert_array_equal(t.float().numpy(), bits.astype(np.float32))
    np.testing.assert_array_equal(t.double().numpy(), bits.astype(np.float64))
    # non-contiguous and broadcast sources go through the general loop
    a = special_floats()[:4000].reshape(40, 100)
    np.testing.assert_array_equal(tg.from_numpy(a).T.half().numpy(), a.T.astype(np.float16))


def test_bfloat16_conversion_matches_torch():
    torch = torch_or_skip()
    a = special_floats()
    ours = tg.from_numpy(a).bfloat16().float().numpy()
    want = torch.from_numpy(a).to(torch.bfloat16).float().numpy()
    nan = np.isnan(want)
    np.testing.assert_array_equal(ours[~nan], want[~nan])
    assert np.isnan(ours[nan]).all()
    # bfloat16 -> float exact for every bit pattern
    bits = torch.arange(-32768, 32768, dtype=torch.int32).to(torch.int16).view(torch.bfloat16)
    ours = tg.from_dlpack(bits).float().numpy()
    want = bits.float().numpy()
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(want))
    np.testing.assert_array_equal(ours[~np.isnan(want)], want[~np.isnan(want)])
    # float64 -> bfloat16 goes through float32, as torch
    d = special_floats(np.float64)
    np.testing.assert_array_equal(
        np.nan_to_num(tg.from_numpy(d).bfloat16().double().numpy(), nan=7.0),
        np.nan_to_num(torch.from_numpy(d).to(torch.bfloat16).double().numpy(), nan=7.0))


@pytest.mark.parametrize("src,dst", list(itertools.product(ALL, ALL)))
def test_every_pair_converts_like_torch(src, dst):
    torch = torch_or_skip()
    vals = [0, 1, 2, 5, 100, 127]
    if src not in ("bool", "uint8"):
        vals += [-1, -3, -100]
    if src == "bool":
        vals = [0, 1, 1, 0]
    a = tg.tensor(vals, dtype=D(src))
    b = torch.tensor(vals, dtype=T(torch, src))
    if src in FLOATS:
        a, b = a * 0.75, b * 0.75
        assert a.dtype is D(src)
    ours, theirs = a.to(D(dst)), b.to(T(torch, dst))
    assert ours.dtype is D(dst)
    assert ours.tolist() == theirs.tolist()


def test_repr_like_torch():
    torch = torch_or_skip()
    for name in NEW:
        data = [[1, 2, 3], [4, 5, 6]]
        ours = repr(tg.tensor(data, dtype=D(name)))
        theirs = repr(torch.tensor(data, dtype=T(torch, name))).replace("torch.", "tinygrad_cpp.")
        assert ours == theirs
    assert repr(tg.tensor([0.5, 1.25], dtype=tg.float16)) == "tensor([0.5000, 1.2500], dtype=tinygrad_cpp.float16)"
    assert repr(tg.tensor([0.5, 1.25], dtype=tg.bfloat16)) == "tensor([0.5000, 1.2500], dtype=tinygrad_cpp.bfloat16)"


# ---------------------------------------------------------------------------- numpy, dlpack

@pytest.mark.parametrize("name", ["uint8", "int8", "int16", "int32", "float16"])
def test_numpy_shares_memory(name):
    a = np.arange(12).astype(NUMPY[name]).reshape(3, 4)
    t = tg.from_numpy(a)
    assert t.dtype is D(name) and t.shape == (3, 4)
    a[0, 0] = 9
    assert t[0, 0].item() == 9
    back = t.numpy()
    assert back.dtype == NUMPY[name] and np.shares_memory(back, a)
    assert tg.tensor(a).dtype is D(name)  # tensor() keeps numpy's dtype (a copy)
    assert not np.shares_memory(tg.tensor(a).numpy(), a)
    np.testing.assert_array_equal(np.asarray(t[:, 1:3]), a[:, 1:3])


def test_bfloat16_numpy_raises_like_torch():
    t = tg.ones(2, dtype=tg.bfloat16)
    with pytest.raises(TypeError, match="Got unsupported ScalarType BFloat16"):
        t.numpy()
    assert t.tolist() == [1.0, 1.0] and t[0].item() == 1.0
    with pytest.raises(TypeError):
        tg.from_numpy(np.zeros(2, dtype=np.uint16))


@pytest.mark.parametrize("name", NEW)
def test_dlpack_with_torch(name):
    torch = torch_or_skip()
    src = torch.arange(10).to(T(torch, name)).reshape(2, 5)
    t = tg.from_dlpack(src)
    assert t.dtype is D(name) and t.shape == (2, 5)
    src[0, 0] = 7  # shared memory
    assert t[0, 0].item() == 7
    back = torch.from_dlpack(t)
    assert back.dtype == T(torch, name)
    assert back.tolist() == src.tolist()
    t[1, 1] = 3
    assert back[1, 1].item() == 3 and src[1, 1].item() == 3
    # strided export
    v = t[:, ::2]
    assert torch.from_dlpack(v).tolist() == src[:, ::2].tolist()


def test_pickle_and_deepcopy():
    import copy
    for name in NEW:
        t = tg.tensor([1, 2, 3], dtype=D(name))
        for u in (pickle.loads(pickle.dumps(t)), copy.deepcopy(t)):
            assert u.dtype is D(name) and u.tolist() == [1, 2, 3]


# ---------------------------------------------------------------------------- safetensors

def test_safetensors_round_trip(tmp_path):
    torch = torch_or_skip()
    st = pytest.importorskip("safetensors.torch")
    ours = {name: tg.tensor([[1, 2, 3], [4, 5, 120]], dtype=D(name)) for name in NEW}
    ours["h"] = tg.tensor([1.5, -0.1, 65504.0, float("inf")]).half()
    ours["b"] = tg.tensor([1.5, -0.1, 3e38, float("-inf")]).bfloat16()
    path = tmp_path / "ours.safetensors"
    tg.save(ours, path)
    theirs = st.load_file(str(path))
    for k, v in ours.items():
        assert theirs[k].dtype == getattr(torch, repr(v.dtype).split(".")[1])
        assert theirs[k].tolist() == v.tolist(), k
    # and back: files written by safetensors load with the right dtypes and values
    path2 = tmp_path / "theirs.safetensors"
    st.save_file({k: v.contiguous() for k, v in theirs.items()}, str(path2))
    back = tg.load(path2)
    for k, v in ours.items():
        assert back[k].dtype is v.dtype and back[k].tolist() == v.tolist(), k


# ---------------------------------------------------------------------------- promotion

def sample(name, shape=(3,)):
    """Small values every dtype holds exactly (positive for uint8, nonzero)."""
    base = [1, 2, 3, 5, 7, 11][: int(np.prod(shape))]
    return np.array(base).reshape(shape)


def pair_tensors(torch, a, b, sa=(3,), sb=(3,)):
    x, y = sample(a, sa), sample(b, sb)
    if b != "bool":
        y = y + 1
    return (tg.tensor(x.tolist(), dtype=D(a)), tg.tensor(y.tolist(), dtype=D(b)),
            torch.tensor(x.tolist(), dtype=T(torch, a)), torch.tensor(y.tolist(), dtype=T(torch, b)))


def test_promote_types_every_pair():
    torch = torch_or_skip()
    for a, b in itertools.product(ALL, ALL):
        want = torch.promote_types(T(torch, a), T(torch, b))
        got = tg.promote_types(D(a), D(b))
        assert repr(got).split(".")[1] == str(want).split(".")[1], (a, b)


@pytest.mark.parametrize("shapes", [((3,), (3,)), ((3,), ()), ((), (3,)), ((), ())])
def test_result_type_every_pair_and_rank(shapes):
    torch = torch_or_skip()
    sa, sb = shapes
    for a, b in itertools.product(ALL, ALL):
        x, y, tx, ty = pair_tensors(torch, a, b, sa, sb)
        want = torch.result_type(tx, ty)
        assert repr(tg.result_type(x, y)).split(".")[1] == str(want).split(".")[1], (a, b, shapes)
        if a == "bool" and b == "bool":
            continue
        assert (x + y).dtype is tg.result_type(x, y)


@pytest.mark.parametrize("scalar", [True, 3, -2, 2.5])
def test_result_type_with_python_scalars(scalar):
    torch = torch_or_skip()
    for a in ALL:
        x = tg.ones(3, dtype=D(a))
        want = torch.result_type(torch.ones(3, dtype=T(torch, a)), scalar)
        assert repr(tg.result_type(x, scalar)).split(".")[1] == str(want).split(".")[1], (a, scalar)


def test_promotion_examples_from_the_issue():
    assert (tg.ones(2, dtype=tg.uint8) + tg.ones(2, dtype=tg.int8)).dtype is tg.int16
    assert (tg.ones(2, dtype=tg.float16) + tg.ones(2, dtype=tg.bfloat16)).dtype is tg.float32
    assert (tg.ones(2, dtype=tg.int8) + 5).dtype is tg.int8
    assert (tg.ones(2, dtype=tg.int8) * 2.5).dtype is tg.float32
    assert (tg.ones(2, dtype=tg.float16) * 2.5).dtype is tg.float16
    assert (tg.ones(2, dtype=tg.int32) / 2).dtype is tg.float32
    assert (tg.ones(2, dtype=tg.uint8) / tg.ones(2, dtype=tg.uint8)).dtype is tg.float32
    assert (tg.ones(2, dtype=tg.int32) + tg.ones(2, dtype=tg.int64)).dtype is tg.int64
    assert (tg.ones(2, dtype=tg.float16) + tg.ones(2, dtype=tg.float32)).dtype is tg.float32
    assert (tg.ones(2, dtype=tg.int32) + tg.ones((), dtype=tg.float16)).dtype is tg.float16
    assert (tg.ones(2, dtype=tg.float16) + tg.ones((), dtype=tg.float64)).dtype is tg.float16


# ---------------------------------------------------------------------------- arithmetic

BINARY = {
    "add": lambda m, x, y: x + y,
    "sub": lambda m, x, y: x - y,
    "mul": lambda m, x, y: x * y,
    "div": lambda m, x, y: x / y,
    "floordiv": lambda m, x, y: x // y,
    "rem": lambda m, x, y: x % y,
    "eq": lambda m, x, y: x == y,
    "lt": lambda m, x, y: x < y,
    "ge": lambda m, x, y: x >= y,
    "maximum": lambda m, x, y: m.maximum(x, y),
    "minimum": lambda m, x, y: m.minimum(x, y),
    "pow": lambda m, x, y: x ** y,
}


def same(ours, theirs, exact=True):
    assert repr(ours.dtype).split(".")[1] == str(theirs.dtype).split(".")[1]
    o = values(ours).astype(np.float64)
    t = theirs.double().numpy() if theirs.dtype != __import__("torch").bool else theirs.numpy()
    if exact:
        np.testing.assert_array_equal(o, t)
    else:
        np.testing.assert_allclose(o, t, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("op", list(BINARY))
def test_binary_ops_every_pair_like_torch(op):
    torch = torch_or_skip()
    f = BINARY[op]
    for a, b in itertools.product(ALL, ALL):
        x, y, tx, ty = pair_tensors(torch, a, b)
        try:
            want = f(torch, tx, ty)
        except RuntimeError:
            with pytest.raises(RuntimeError):
                f(tg, x, y)
            continue
        got = f(tg, x, y)
        # float32/64 results computed from exact inputs: equal up to the rounding of pow/div
        same(got, want, exact=op not in ("pow", "div"))


@pytest.mark.parametrize("name", ["float16", "bfloat16"])
def test_half_arithmetic_rounds_like_torch(name):
    torch = torch_or_skip()
    rng = np.random.default_rng(1)
    a = (rng.standard_normal(500) * 3).astype(np.float32)
    b = (rng.standard_normal(500) * 3).astype(np.float32)
    x, y = tg.from_numpy(a).to(D(name)), tg.from_numpy(b).to(D(name))
    tx, ty = torch.from_numpy(a).to(T(torch, name)), torch.from_numpy(b).to(T(torch, name))
    for f in (lambda m, p, q: p + q, lambda m, p, q: p * q, lambda m, p, q: p / q, lambda m, p, q: p - q,
              lambda m, p, q: p * 0.1, lambda m, p, q: p + 1, lambda m, p, q: 2.5 - q,
              lambda m, p, q: m.exp(p), lambda m, p, q: m.tanh(p), lambda m, p, q: m.sigmoid(q),
              lambda m, p, q: m.relu(p), lambda m, p, q: p.abs().sqrt(), lambda m, p, q: -p,
              lambda m, p, q: m.where(p > q, p, q), lambda m, p, q: p.clamp(-1, 1)):
        same(f(tg, x, y), f(torch, tx, ty))
    # torch computes 2.5 / q as reciprocal(q) * 2.5 (rounding twice): within an ulp
    np.testing.assert_allclose(values(2.5 / y), (2.5 / ty).double().numpy(), rtol=1e-2)
    # sums accumulate in float32 and round once, as torch
    for f in (lambda p: p.sum(), lambda p: p.mean(), lambda p: p.reshape(20, 25).sum(1),
              lambda p: p.reshape(20, 25).mean(0), lambda p: p.max(), lambda p: p.reshape(20, 25).amax(1)):
        got, want = f(x), f(tx)
        assert repr(got.dtype).split(".")[1] == str(want.dtype).split(".")[1]
        np.testing.assert_allclose(values(got), want.double().numpy(), rtol=2e-3)


def test_integer_wraparound_like_torch():
    torch = torch_or_skip()
    assert (tg.tensor([200], dtype=tg.uint8) + tg.tensor([100], dtype=tg.uint8)).tolist() == [44]
    for name in ["uint8", "int8", "int16", "int32"]:
        info = tg.iinfo(D(name))
        vals = [info.min, info.min + 1, -1 if info.min < 0 else 0, 0, 1, info.max - 1, info.max]
        x, tx = tg.tensor(vals, dtype=D(name)), torch.tensor(vals, dtype=T(torch, name))
        for f in (lambda p: p + p, lambda p: p * 3, lambda p: p - 7, lambda p: p + 100, lambda p: -p,
                  lambda p: p * p, lambda p: p.abs(), lambda p: p == 300, lambda p: p // 3):
            same(f(x), f(tx))
        y = x.clone()
        y += 100
        ty = tx.clone()
        ty += 100
        same(y, ty)
        y.mul_(3)
        ty.mul_(3)
        same(y, ty)


def test_reductions_of_small_ints_like_torch():
    torch = torch_or_skip()
    for name in ["uint8", "int8", "int16", "int32"]:
        data = [[100, 120, 3], [127, 1, 2]]
        x, tx = tg.tensor(data, dtype=D(name)), torch.tensor(data, dtype=T(torch, name))
        for f in (lambda p: p.sum(), lambda p: p.sum(1), lambda p: p.prod(), lambda p: p.max(),
                  lambda p: p.max(0)[0], lambda p: p.argmax(), lambda p: p.cumsum(1), lambda p: p.min(1)[1]):
            same(f(x), f(tx))
        with pytest.raises(RuntimeError):
            x.mean()
        with pytest.raises(RuntimeError):
            tx.mean()


def test_matmul_like_torch():
    torch = torch_or_skip()
    rng = np.random.default_rng(2)
    a = rng.standard_normal((5, 7)).astype(np.float32)
    b = rng.standard_normal((7, 3)).astype(np.float32)
    for name in ["float16", "bfloat16"]:
        x, y = tg.from_numpy(a).to(D(name)), tg.from_numpy(b).to(D(name))
        tx, ty = torch.from_numpy(a).to(T(torch, name)), torch.from_numpy(b).to(T(torch, name))
        got, want = x @ y, tx @ ty
        assert got.dtype is D(name)
        np.testing.assert_allclose(values(got), want.double().numpy(), rtol=1e-2, atol=1e-2)
        # exactly the float32 product rounded once
        np.testing.assert_array_equal(values(got), values((x.float() @ y.float()).to(D(name))))
    ai, bi = rng.integers(-50, 50, (4, 6)), rng.integers(-50, 50, (6, 2))
    x, y = tg.tensor(ai.tolist(), dtype=tg.int32), tg.tensor(bi.tolist(), dtype=tg.int32)
    same(x @ y, torch.tensor(ai, dtype=torch.int32) @ torch.tensor(bi, dtype=torch.int32))
    with pytest.raises(RuntimeError):
        tg.ones(2, 2, dtype=tg.float16) @ tg.ones(2, 2)


# ---------------------------------------------------------------------------- shape ops and indexing

@pytest.mark.parametrize("name", NEW)
def test_views_indexing_and_joins(name):
    torch = torch_or_skip()
    data = np.arange(24).reshape(2, 3, 4) % 100
    x, tx = tg.tensor(data.tolist(), dtype=D(name)), torch.tensor(data.tolist(), dtype=T(torch, name))
    idx = [2, 0, 1]
    mask = (data % 3 == 0).tolist()
    for f in (lambda m, p: p.view(6, 4), lambda m, p: p.reshape(4, 6), lambda m, p: p.permute(2, 0, 1).contiguous(),
              lambda m, p: p[:, 1:, ::2], lambda m, p: p[1], lambda m, p: p[..., None, 2],
              lambda m, p: p.transpose(0, 2).flatten(), lambda m, p: p.index_select(1, m.tensor(idx)),
              lambda m, p: p[:, m.tensor(idx)], lambda m, p: p[m.tensor(mask)],
              lambda m, p: m.cat([p, p], 1), lambda m, p: m.stack([p, p]), lambda m, p: p.expand(3, 2, 3, 4).clone(),
              lambda m, p: p.masked_fill(m.tensor(mask), 9), lambda m, p: m.where(m.tensor(mask), p, p.flip(0)),
              lambda m, p: p.gather(2, m.tensor([[[0, 3]] * 3] * 2)), lambda m, p: p.squeeze().unsqueeze(1),
              lambda m, p: p.split(2, 2)[1], lambda m, p: p.chunk(3, 1)[2], lambda m, p: p.roll(1, 2),
              lambda m, p: p.repeat(1, 2, 1), lambda m, p: p.tril(), lambda m, p: p.t() if p.ndim == 2 else p[0].t(),
              lambda m, p: m.nn.functional.pad(p, (1, 1)), lambda m, p: p.sort(2)[0], lambda m, p: p.topk(2)[0],
              lambda m, p: p.nonzero()):
        same(f(tg, x), f(torch, tx))
    y, ty = x.clone(), tx.clone()
    y[0, 1] = 7
    ty[0, 1] = 7
    y[tg.tensor(mask)] = 3
    ty[torch.tensor(mask)] = 3
    y[:, :, 1] = y[:, :, 2]
    ty[:, :, 1] = ty[:, :, 2]
    same(y, ty)
    z, tz = tg.zeros(2, 3, dtype=D(name)), torch.zeros(2, 3, dtype=T(torch, name))
    z.copy_(x[:, :, 0])
    tz.copy_(tx[:, :, 0])
    same(z, tz)
    z.fill_(5)
    tz.fill_(5)
    same(z, tz)
    z.zero_()
    assert values(z).sum() == 0


# ---------------------------------------------------------------------------- autograd

@pytest.mark.parametrize("name", ["float16", "bfloat16"])
def test_half_autograd_like_torch(name):
    torch = torch_or_skip()
    rng = np.random.default_rng(3)
    a = rng.standard_normal((4, 5)).astype(np.float32)
    w = rng.standard_normal((5, 3)).astype(np.float32)
    cases = [
        lambda m, p, q: (p * p).sum(),
        lambda m, p, q: (p @ q).tanh().sum(),
        lambda m, p, q: (p.exp() / 3 + p.sigmoid()).mean(),
        lambda m, p, q: m.nn.functional.relu(p).sum(1).max(),
        lambda m, p, q: m.nn.functional.linear(p, q.t()).sum(),
        lambda m, p, q: (p[:, 1:3] ** 2).sum() + p.amax(0).sum(),
        lambda m, p, q: m.softmax(p, 1)[:, 0].sum(),
    ]
    for f in cases:
        x = tg.from_numpy(a).to(D(name)).requires_grad_()
        y = tg.from_numpy(w).to(D(name)).requires_grad_()
        tx = torch.from_numpy(a).to(T(torch, name)).requires_grad_()
        ty = torch.from_numpy(w).to(T(torch, name)).requires_grad_()
        out, tout = f(tg, x, y), f(torch, tx, ty)
        assert out.dtype is D(name)
        out.backward()
        tout.backward()
        for g, tg_ in ((x.grad, tx.grad), (y.grad, ty.grad)):
            if tg_ is None:
                assert g is None or values(g).sum() == 0
                continue
            assert g.dtype is D(name)
            np.testing.assert_allclose(values(g), tg_.double().numpy(), rtol=3e-2, atol=3e-2)


def test_half_autograd_matches_float32_rounded():
    rng = np.random.default_rng(4)
    a = rng.standard_normal(64).astype(np.float16)
    x = tg.from_numpy(a).requires_grad_()
    (x.tanh() * 2).sum().backward()
    x32 = tg.from_numpy(a.astype(np.float32)).requires_grad_()
    (x32.tanh() * 2).sum().backward()
    np.testing.assert_allclose(x.grad.float().numpy(), x32.grad.numpy(), rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("name", ["uint8", "int8", "int16", "int32"])
def test_integer_tensors_cannot_require_grad(name):
    torch = torch_or_skip()
    with pytest.raises(RuntimeError, match="only Tensors of floating point"):
        tg.ones(2, dtype=D(name)).requires_grad_()
    with pytest.raises(RuntimeError):
        torch.ones(2, dtype=T(torch, name)).requires_grad_()
    with pytest.raises(RuntimeError):
        tg.ones(2, dtype=D(name), requires_grad=True)
    # a float tensor converted to an integer one leaves the graph
    x = tg.ones(2, requires_grad=True)
    assert not x.to(D(name)).requires_grad


# ---------------------------------------------------------------------------- errors

def test_errors_like_torch():
    torch = torch_or_skip()
    checks = [
        lambda m: m.randn(2, dtype=m.int32),
        lambda m: m.rand(2, dtype=m.uint8),
        lambda m: m.ones(2, dtype=m.int8).mean(),
        lambda m: m.ones(2, dtype=m.int32).var(),
        lambda m: m.ones(2, dtype=m.float16) & m.ones(2, dtype=m.float16),
        lambda m: m.full((2,), 300, dtype=m.uint8),
        lambda m: m.full((2,), 256, dtype=m.uint8),
        lambda m: m.full((2,), -256, dtype=m.uint8),
        lambda m: m.tensor([1, 128], dtype=m.int8),
        lambda m: m.tensor([1.5, 300.0], dtype=m.uint8),
        lambda m: m.tensor([-256], dtype=m.uint8),
        lambda m: m.ones(2, dtype=m.int32).add_(m.ones(2, dtype=m.float16)),
        lambda m: m.ones(2, dtype=m.float16) @ m.ones(2, dtype=m.float32),
    ]
    for c in checks:
        with pytest.raises(Exception) as theirs:
            c(torch)
        with pytest.raises(type(theirs.value)):
            c(tg)
    # and what torch allows works
    assert tg.randn(3, dtype=tg.float16).dtype is tg.float16
    assert tg.rand(3, dtype=tg.bfloat16).dtype is tg.bfloat16
    assert tg.full((2,), 255, dtype=tg.uint8).tolist() == [255, 255]
    assert tg.tensor([-1, -255], dtype=tg.uint8).tolist() == torch.tensor([-1, -255], dtype=torch.uint8).tolist()
    assert tg.full((1,), -1, dtype=tg.uint8).tolist() == [255]
    assert tg.full((1,), 1e5, dtype=tg.float16).tolist() == [float("inf")]


@pytest.mark.parametrize("name", ["float16", "bfloat16"])
def test_half_layers_like_torch(name):
    """A model converted with .half() runs its layers (computed in float32, rounded)."""
    torch = torch_or_skip()
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    seq = rng.integers(0, 10, (2, 5))

    def run(m):
        m.manual_seed(0)
        conv = m.nn.Conv2d(3, 4, 3, padding=1)
        ln = m.nn.LayerNorm(8)
        emb = m.nn.Embedding(10, 8)
        for mod, src in ((conv, tconv), (ln, tln), (emb, temb)):
            for (k, p), (_, q) in zip(mod.named_parameters(), src.named_parameters()):
                with m.no_grad():
                    p.copy_(m.tensor(q.detach().numpy()))
        conv, ln, emb = conv.to(getattr(m, name)), ln.to(getattr(m, name)), emb.to(getattr(m, name))
        xin = m.tensor(x).to(getattr(m, name)).requires_grad_()
        h = ln(conv(xin)).relu()
        e = emb(m.tensor(seq))
        loss = m.nn.functional.cross_entropy(h.mean((2, 3)), m.tensor([1, 2])) + e.sum() * 0.01
        loss.backward()
        return loss, xin.grad, conv.weight.grad, emb.weight.grad

    torch.manual_seed(0)
    tconv, tln, temb = torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.LayerNorm(8), torch.nn.Embedding(10, 8)
    ours, theirs = run(tg), run(torch)
    for a, b in zip(ours, theirs):
        assert a.dtype is D(name)
        np.testing.assert_allclose(values(a), b.detach().double().numpy(), rtol=5e-2, atol=5e-2)


@pytest.mark.parametrize("name", ["float16", "bfloat16"])
@pytest.mark.parametrize("opt", ["SGD", "Adam"])
def test_optimizers_on_half_parameters(name, opt):
    torch = torch_or_skip()
    rng = np.random.default_rng(6)
    w0 = rng.standard_normal((4, 3)).astype(np.float32)
    x = rng.standard_normal((8, 4)).astype(np.float32)
    kw = dict(lr=0.1, momentum=0.9) if opt == "SGD" else dict(lr=0.01)
    out = []
    for m in (tg, torch):
        w = m.tensor(w0).to(getattr(m, name)).requires_grad_()
        o = getattr(m.optim, opt)([w], **kw)
        xin = m.tensor(x).to(getattr(m, name))
        for _ in range(3):
            o.zero_grad()
            ((xin @ w) ** 2).mean().backward()
            o.step()
        assert w.dtype == getattr(m, name)
        out.append(w.detach().float().numpy())
    np.testing.assert_allclose(out[0], out[1], rtol=3e-2, atol=3e-2)


def test_half_grad_fn_names_like_torch():
    torch = torch_or_skip()
    for name in ("float16", "bfloat16"):
        x = tg.ones(2, 3, dtype=D(name), requires_grad=True)
        tx = torch.ones(2, 3, dtype=T(torch, name), requires_grad=True)
        for f in (lambda m, p: p.sum(), lambda m, p: p.mean(1), lambda m, p: p @ p.t(), lambda m, p: p * 2,
                  lambda m, p: m.softmax(p, 1), lambda m, p: p.exp(), lambda m, p: p.max(), lambda m, p: p.float()):
            assert f(tg, x).grad_fn.name() == f(torch, tx).grad_fn.name()


POOL_LOSS = {
    "mse": lambda m, x: m.nn.functional.mse_loss(x, x * 0.5),
    "l1": lambda m, x: m.nn.functional.l1_loss(x, x * 0.5),
    "max_pool1d": lambda m, x: m.nn.functional.max_pool1d(x[None], 2),
    "avg_pool1d": lambda m, x: m.nn.functional.avg_pool1d(x[None], 2),
    "max_pool2d": lambda m, x: m.nn.functional.max_pool2d(x[None, None], 2),
    "adaptive_avg": lambda m, x: m.nn.functional.adaptive_avg_pool1d(x[None], 2),
    "adaptive_max": lambda m, x: m.nn.functional.adaptive_max_pool1d(x[None], 2),
    "nearest": lambda m, x: m.nn.functional.interpolate(x[None], scale_factor=2),
    "linear": lambda m, x: m.nn.functional.interpolate(x[None], scale_factor=2, mode="linear"),
}


@pytest.mark.parametrize("name", ["float16", "bfloat16"])
@pytest.mark.parametrize("op", list(POOL_LOSS))
def test_half_pooling_losses_upsampling_like_torch(name, op):
    torch = torch_or_skip()
    data = [[1.5, 2.0, 3.25, 4.0], [5.0, 6.5, 7.0, 1.0]]
    x = tg.tensor(data, dtype=D(name), requires_grad=True)
    tx = torch.tensor(data, dtype=T(torch, name), requires_grad=True)
    out, tout = POOL_LOSS[op](tg, x), POOL_LOSS[op](torch, tx)
    assert out.dtype is D(name)
    np.testing.assert_allclose(values(out), tout.detach().double().numpy(), rtol=1e-2)
    out.float().sum().backward()
    tout.float().sum().backward()
    assert x.grad.dtype is D(name)
    np.testing.assert_allclose(values(x.grad), tx.grad.double().numpy(), rtol=1e-2, atol=1e-2)


def test_uint8_images_and_masks_like_torch():
    torch = torch_or_skip()
    img = np.arange(24, dtype=np.uint8).reshape(1, 2, 3, 4) * 10
    ours = tg.nn.functional.interpolate(tg.from_numpy(img), scale_factor=2)
    theirs = torch.nn.functional.interpolate(torch.from_numpy(img), scale_factor=2)
    assert ours.dtype is tg.uint8 and ours.tolist() == theirs.tolist()
    m = tg.tensor([[0, 3], [0, 0]], dtype=tg.uint8)
    tm = torch.tensor([[0, 3], [0, 0]], dtype=torch.uint8)
    for f in (lambda p: p.any(), lambda p: p.all(1), lambda p: p.any(0)):
        same(f(m), f(tm))
    with pytest.raises(NotImplementedError):
        tg.nn.functional.interpolate(tg.ones(1, 1, 2, dtype=tg.int8), scale_factor=2)


@pytest.mark.parametrize("name", ["float16", "bfloat16"])
def test_half_batch_norm_like_torch(name):
    torch = torch_or_skip()
    rng = np.random.default_rng(7)
    x = (rng.standard_normal((4, 3, 5)) * 2 + 1).astype(np.float32)
    res = []
    for m in (tg, torch):
        bn = m.nn.BatchNorm1d(3).to(getattr(m, name))
        xin = m.tensor(x).to(getattr(m, name)).requires_grad_()
        out = bn(xin)
        (out * out).sum().backward()
        bn.eval()
        ev = bn(m.tensor(x).to(getattr(m, name)))
        assert out.dtype == getattr(m, name) and bn.running_mean.dtype == getattr(m, name)
        res.append([t.detach().float().numpy() for t in (out, xin.grad, bn.weight.grad, bn.running_mean,
                                                          bn.running_var, ev)])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=3e-2, atol=3e-2)
