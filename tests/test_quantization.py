"""Int8 dynamic quantization: tg.quantization.quantize_dynamic, the quantized Linear and its
int8 GEMM (tg._C._qgemm_s32 exposes the exact int32 product of each instruction set)."""
import copy
import os

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygrad_cpp as tg
import tinygrad_cpp.nn as nn

C = tg._C
ISAS = ["portable", "avx2", "avx512", "avx512_vnni"]
needs_int8 = pytest.mark.skipif(not hasattr(tg, "int8"), reason="needs the int8 tensor dtype")


def _available(isa):
    try:
        C._set_qgemm_isa(isa)
        return True
    except ValueError:
        return False
    finally:
        C._set_qgemm_isa("auto")


AVAILABLE = [i for i in ISAS if _available(i)]


@pytest.fixture(params=ISAS)
def isa(request):
    if request.param not in AVAILABLE:
        pytest.skip(f"this CPU cannot run {request.param}")
    C._set_qgemm_isa(request.param)
    yield request.param
    C._set_qgemm_isa("auto")


def ref_s32(a, w):
    return a.astype(np.int32) @ w.astype(np.int32).T


def rand_ops(rng, M, K, N):
    return (rng.integers(0, 128, (M, K)).astype(np.uint8), rng.integers(-127, 128, (N, K)).astype(np.int8))


# ---- the kernel: exact int32 sums on every instruction set ------------------------------

SHAPES = [(1, 1, 1), (1, 3, 1), (2, 4, 16), (3, 5, 7), (8, 32, 32), (9, 33, 33), (17, 130, 50),
          (64, 784, 128), (256, 128, 10), (5, 0, 3)]


@pytest.mark.parametrize("M,K,N", SHAPES)
def test_qgemm_exact(isa, M, K, N):
    assert C._qgemm_isa() == isa
    a, w = rand_ops(np.random.default_rng(M * 1000 + K * 7 + N), M, K, N)
    np.testing.assert_array_equal(C._qgemm_s32(a, w), ref_s32(a, w))


def test_qgemm_extremes_no_saturation(isa):
    # every product at +-127 * 127: vpmaddubsw's int16 pair sums reach +-32258, never clip
    K = 4100
    a = np.full((9, K), 127, np.uint8)
    for w in (np.full((17, K), 127, np.int8), np.full((17, K), -127, np.int8)):
        np.testing.assert_array_equal(C._qgemm_s32(a, w), ref_s32(a, w))
    w = np.where(np.arange(K) % 2, 127, -127).astype(np.int8)[None].repeat(3, 0)
    np.testing.assert_array_equal(C._qgemm_s32(a, w), ref_s32(a, w))


@settings(max_examples=40, deadline=None)
@given(M=st.integers(1, 40), K=st.integers(1, 300), N=st.integers(1, 70), seed=st.integers(0, 2 ** 31))
def test_qgemm_exact_random_shapes(M, K, N, seed):
    a, w = rand_ops(np.random.default_rng(seed), M, K, N)
    ref = ref_s32(a, w)
    try:
        for name in AVAILABLE:
            C._set_qgemm_isa(name)
            np.testing.assert_array_equal(C._qgemm_s32(a, w), ref, err_msg=name)
    finally:
        C._set_qgemm_isa("auto")


def test_qgemm_threads_same_result():
    a, w = rand_ops(np.random.default_rng(1), 256, 784, 128)
    n = tg.get_num_threads()
    try:
        tg.set_num_threads(1)
        one = C._qgemm_s32(a, w)
        tg.set_num_threads(2)
        two = C._qgemm_s32(a, w)
    finally:
        tg.set_num_threads(n)
    np.testing.assert_array_equal(one, ref_s32(a, w))
    np.testing.assert_array_equal(two, one)


def test_qgemm_operand_range_checked():
    a, w = rand_ops(np.random.default_rng(2), 2, 3, 4)
    with pytest.raises(ValueError, match=r"\[-127, 127\]"):
        C._qgemm_s32(a, np.full((4, 3), -128, np.int8))
    with pytest.raises(ValueError, match=r"\[0, 127\]"):
        C._qgemm_s32(np.full((2, 3), 200, np.uint8), w)


def test_isa_follows_set_gemm_isa():
    best = C._gemm_isa()
    try:
        C._set_gemm_isa("portable")
        assert C._qgemm_isa() == "portable"
        if "avx2" in AVAILABLE:
            C._set_gemm_isa("avx2")
            assert C._qgemm_isa() == "avx2"
    finally:
        C._set_gemm_isa(best)
    assert C._qgemm_isa() == AVAILABLE[-1]
    with pytest.raises(ValueError, match="unknown int8 GEMM instruction set"):
        C._set_qgemm_isa("sse9")


# ---- activation quantization ------------------------------------------------------------

def ref_quantize(x, scale, zp):
    v = np.clip(x.astype(np.float32) * np.float32(1 / np.float32(scale)), -zp, 127 - zp)
    return (np.rint(v) + zp).astype(np.uint8)


@pytest.mark.parametrize("shift", [0.0, 0.7, -0.7, 5.0])
def test_quantize_activations(isa, shift):
    x = np.random.default_rng(3).standard_normal((13, 101)).astype(np.float32) + shift
    q, scale, zp = C._quantize_activations(tg.from_numpy(x))
    lo, hi = min(x.min(), 0), max(x.max(), 0)
    assert scale == pytest.approx((hi - lo) / 127, rel=1e-6)
    assert 0 <= zp <= 127
    np.testing.assert_array_equal(q, ref_quantize(x, scale, zp))
    assert q.max() <= 127


def test_quantize_activations_matches_torch():
    torch = pytest.importorskip("torch")
    for shift in (0.0, 0.7, -0.7, 5.0, -5.0):
        x = np.random.default_rng(4).standard_normal((8, 64)).astype(np.float32) + shift
        q, scale, zp = C._quantize_activations(tg.from_numpy(x))
        ts, tz = torch._choose_qparams_per_tensor(torch.from_numpy(x), True)
        assert (np.float32(ts), tz) == (np.float32(scale), zp)
        with _quiet():
            tq = torch.quantize_per_tensor(torch.from_numpy(x), ts, tz, torch.quint8).int_repr().numpy()
        np.testing.assert_array_equal(q, tq)


def test_quantize_activations_all_zero_and_nan():
    q, scale, zp = C._quantize_activations(tg.zeros(2, 5))
    assert scale == pytest.approx(0.1) and zp == 0 and not q.any()
    # NaNs are skipped by the min/max pass and quantize to 0, alike on every ISA
    x = np.random.default_rng(7).standard_normal((5, 37)).astype(np.float32)
    x[0, 0] = x[2, 9] = x[4, 36] = np.nan
    clean = x.copy()
    clean[np.isnan(clean)] = 0.0
    outs = []
    try:
        for name in AVAILABLE:
            C._set_qgemm_isa(name)
            q, scale, zp = C._quantize_activations(tg.from_numpy(x))
            _, scale0, zp0 = C._quantize_activations(tg.from_numpy(clean))
            assert (scale, zp) == (scale0, zp0), name
            assert q[0, 0] == q[2, 9] == q[4, 36] == 0
            outs.append(q)
            q, scale, zp = C._quantize_activations(tg.full((2, 9), float("nan")))
            assert scale == pytest.approx(0.1) and zp == 0 and not q.any()
    finally:
        C._set_qgemm_isa("auto")
    for o in outs[1:]:
        np.testing.assert_array_equal(o, outs[0])


# ---- the quantized Linear -------------------------------------------------------------

def mlp(seed=0):
    tg.manual_seed(seed)
    return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))


def ref_forward(qlinear, x):
    """The quantized Linear's output computed in numpy from its int8 weight, scales and the
    documented activation scheme."""
    w = qlinear.weight()
    wq = w.int_repr_numpy().astype(np.int64)
    ws = w.q_per_channel_scales().numpy().astype(np.float32)
    xn = x.numpy().reshape(-1, x.shape[-1])
    xq, xs, xz = C._quantize_activations(tg.from_numpy(np.ascontiguousarray(xn)))
    acc = (xq.astype(np.int64) - xz) @ wq.T
    y = acc.astype(np.float64) * (np.float64(np.float32(xs)) * ws.astype(np.float64))
    b = qlinear.bias()
    if b is not None:
        y += b.numpy()
    return y.reshape(tuple(x.shape[:-1]) + (wq.shape[0],))


def test_weight_quantization_scheme():
    lin = nn.Linear(40, 6)
    q = tg.ao.nn.quantized.dynamic.Linear.from_float(lin)
    w = q.weight()
    wf = lin.weight.detach().numpy()
    scales = w.q_per_channel_scales().numpy()
    np.testing.assert_allclose(scales, np.abs(wf).max(1) / 127, rtol=1e-6)
    iv = w.int_repr_numpy()
    assert iv.dtype == np.int8 and iv.min() >= -127 and iv.max() <= 127
    assert (np.abs(iv).max(1) == 127).all()
    np.testing.assert_array_equal(iv, np.rint(wf / scales.astype(np.float32)[:, None]).astype(np.int8))
    assert (w.q_per_channel_zero_points().numpy() == 0).all()
    deq = w.dequantize().numpy()
    assert np.abs(deq - wf).max() <= scales.max() / 2 + 1e-7


@pytest.mark.parametrize("shape", [(256, 784), (1, 784), (3, 5, 784), (784,), (0, 784)])
def test_forward_matches_reference(isa, shape):
    m = mlp()
    q = tg.quantization.quantize_dynamic(m, {nn.Linear}, dtype=tg.qint8)
    tg.manual_seed(1)
    x = tg.randn(*shape)
    y = q[0](x)
    assert tuple(y.shape) == shape[:-1] + (128,) and y.dtype == tg.float32
    if not x.numel():
        return
    ref = ref_forward(q[0], x)
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-5, atol=1e-5)
    # close to the float layer: quantization error only
    err = np.abs(y.numpy() - m[0](x).detach().numpy()).max()
    assert err < 0.05 * np.abs(ref).max()


def test_forward_same_on_every_isa():
    q = tg.quantization.quantize_dynamic(mlp(), {nn.Linear})
    x = tg.randn(37, 784)
    outs = []
    try:
        for name in AVAILABLE:
            C._set_qgemm_isa(name)
            outs.append(q(x).numpy())
    finally:
        C._set_qgemm_isa("auto")
    for o in outs[1:]:
        np.testing.assert_allclose(o, outs[0], rtol=1e-6, atol=1e-6)


def test_no_bias_and_strided_input():
    lin = nn.Linear(30, 20, bias=False)
    q = tg.ao.nn.quantized.dynamic.Linear.from_float(lin)
    assert q.bias() is None
    x = tg.randn(30, 12).t()  # non-contiguous
    np.testing.assert_allclose(q(x).numpy(), ref_forward(q, x.contiguous()), rtol=1e-5, atol=1e-5)


def test_outputs_do_not_require_grad():
    q = tg.quantization.quantize_dynamic(mlp(), {nn.Linear})
    x = tg.randn(4, 784, requires_grad=True)
    y = q(x)
    assert not y.requires_grad and y.grad_fn is None
    assert list(q.parameters()) == []


# ---- API shape -----------------------------------------------------------------------------

def test_module_types_and_repr():
    m = mlp()
    q = tg.quantization.quantize_dynamic(m, {nn.Linear}, dtype=tg.qint8)
    assert tg.quantization.quantize_dynamic is tg.ao.quantization.quantize_dynamic
    assert type(q[0]) is tg.ao.nn.quantized.dynamic.Linear
    assert type(q[1]) is nn.ReLU and type(q[2]) is tg.ao.nn.quantized.dynamic.Linear
    assert type(m[0]) is nn.Linear  # inplace=False left the float model alone
    assert not q.training
    assert repr(q[0]) == ("DynamicQuantizedLinear(in_features=784, out_features=128, dtype=tinygrad_cpp.qint8, "
                          "qscheme=tinygrad_cpp.per_channel_affine)")
    assert repr(q).splitlines()[1].strip().startswith("(0): DynamicQuantizedLinear(in_features=784")
    assert repr(tg.qint8) == "tinygrad_cpp.qint8" and repr(tg.quint8) == "tinygrad_cpp.quint8"
    assert repr(tg.per_channel_affine) == "tinygrad_cpp.per_channel_affine"


def test_weight_object():
    q = tg.quantization.quantize_dynamic(mlp(), {nn.Linear})
    w = q[2].weight()
    assert w.dtype is tg.qint8 and w.is_quantized
    assert w.shape == (10, 128) and w.size() == (10, 128) and w.size(0) == 10 and w.dim() == 2
    assert w.qscheme() is tg.per_channel_affine and w.q_per_channel_axis() == 0
    s = w.q_per_channel_scales()
    assert s.dtype == tg.float64 and tuple(s.shape) == (10,)
    assert w.q_per_channel_zero_points().dtype == tg.int64
    d = w.dequantize()
    assert d.dtype == tg.float32 and tuple(d.shape) == (10, 128)
    r = repr(w)
    assert r.startswith("tensor([[") and "size=(10, 128), dtype=tinygrad_cpp.qint8" in r
    assert "quantization_scheme=tinygrad_cpp.per_channel_affine" in r and r.endswith("axis=0)")
    with pytest.raises(RuntimeError):
        w.q_scale()


@needs_int8
def test_weight_int_repr_int8():
    w = tg.quantization.quantize_dynamic(mlp(), {nn.Linear})[0].weight()
    iv = w.int_repr()
    assert iv.dtype == tg.int8 and tuple(iv.shape) == (128, 784)
    np.testing.assert_array_equal(iv.numpy(), w.int_repr_numpy())


def test_set_weight_bias_round_trip():
    q = tg.quantization.quantize_dynamic(mlp(), {nn.Linear})
    fresh = tg.ao.nn.quantized.dynamic.Linear(784, 128)
    assert (fresh.weight().int_repr_numpy() == 0).all()
    fresh.set_weight_bias(q[0].weight(), q[0].bias())
    x = tg.randn(5, 784)
    np.testing.assert_array_equal(fresh(x).numpy(), q[0](x).numpy())


def test_qconfig_spec_forms():
    m = mlp()
    DQ = tg.ao.nn.quantized.dynamic.Linear
    assert type(tg.quantization.quantize_dynamic(m)[0]) is DQ  # None: every Linear
    q = tg.quantization.quantize_dynamic(m, {"2"})
    assert type(q[0]) is nn.Linear and type(q[2]) is DQ
    q = tg.quantization.quantize_dynamic(m, {nn.Linear: tg.quantization.default_dynamic_qconfig, "2": None})
    assert type(q[0]) is DQ and type(q[2]) is nn.Linear
    q = tg.quantization.quantize_dynamic(m, {nn.Sequential})  # a container's type covers its children
    assert type(q[0]) is DQ and type(q[2]) is DQ
    # only exact nn.Linear is swapped
    class MyLinear(nn.Linear):
        pass
    q = tg.quantization.quantize_dynamic(nn.Sequential(MyLinear(3, 4)), {nn.Linear})
    assert type(q[0]) is MyLinear
    # a bare Linear is swapped itself; inplace=True quantizes the given model
    assert type(tg.quantization.quantize_dynamic(nn.Linear(3, 4))) is DQ
    q = tg.quantization.quantize_dynamic(m, {nn.Linear}, inplace=True)
    assert q is m and type(m[0]) is DQ


def test_deepcopy_quantized():
    q = tg.quantization.quantize_dynamic(mlp(), {nn.Linear})
    q2 = copy.deepcopy(q)
    x = tg.randn(3, 784)
    np.testing.assert_array_equal(q2(x).numpy(), q(x).numpy())


def test_pickle_quantized_model():
    import pickle
    q = tg.quantization.quantize_dynamic(mlp(), {nn.Linear})
    q2 = pickle.loads(pickle.dumps(q))
    x = tg.randn(3, 784)
    np.testing.assert_array_equal(q2(x).numpy(), q(x).numpy())
    assert repr(q2) == repr(q)
    assert pickle.loads(pickle.dumps(tg.qint8)) is tg.qint8
    assert pickle.loads(pickle.dumps(tg.per_channel_affine)) is tg.per_channel_affine


# ---- state dict -------------------------------------------------------------------------

def test_state_dict_round_trip(tmp_path):
    q = tg.quantization.quantize_dynamic(mlp(0), {nn.Linear})
    sd = q.state_dict()
    assert list(sd) == ["0._packed_params.weight", "0._packed_params.weight_scale", "0._packed_params.bias",
                        "2._packed_params.weight", "2._packed_params.weight_scale", "2._packed_params.bias"]
    assert tuple(sd["0._packed_params.weight"].shape) == (128, 784)
    assert sd["0._packed_params.weight_scale"].dtype == tg.float32
    f = os.path.join(tmp_path, "q.safetensors")
    tg.save(sd, f)
    other = tg.quantization.quantize_dynamic(mlp(1), {nn.Linear})
    x = tg.randn(16, 784)
    assert not np.array_equal(other(x).numpy(), q(x).numpy())
    res = other.load_state_dict(tg.load(f))
    assert res.missing_keys == [] and res.unexpected_keys == []
    np.testing.assert_array_equal(other(x).numpy(), q(x).numpy())
    np.testing.assert_array_equal(other[0].weight().int_repr_numpy(), q[0].weight().int_repr_numpy())


def test_state_dict_errors():
    q = tg.quantization.quantize_dynamic(mlp(), {nn.Linear})
    sd = dict(q.state_dict())
    del sd["2._packed_params.weight_scale"]
    sd["2.extra"] = tg.zeros(1)
    with pytest.raises(RuntimeError, match="Missing key.*2._packed_params.weight_scale"):
        q.load_state_dict(sd)
    sd = dict(q.state_dict())
    sd["0._packed_params.weight"] = tg.zeros(128, 783)
    with pytest.raises(RuntimeError, match="size mismatch for 0._packed_params.weight"):
        q.load_state_dict(sd)
    sd = dict(q.state_dict())
    sd["0._packed_params.weight"] = tg.full((128, 784), 0.5)
    with pytest.raises(RuntimeError, match=r"integers in \[-127, 127\]"):
        q.load_state_dict(sd)


@needs_int8
def test_state_dict_file_is_4x_smaller(tmp_path):
    m = mlp()
    q = tg.quantization.quantize_dynamic(m, {nn.Linear})
    assert q.state_dict()["0._packed_params.weight"].dtype == tg.int8
    ff, fq = os.path.join(tmp_path, "f"), os.path.join(tmp_path, "q")
    tg.save(m.state_dict(), ff)
    tg.save(q.state_dict(), fq)
    ratio = os.path.getsize(ff) / os.path.getsize(fq)
    assert 3.5 < ratio <= 4.0, ratio


# ---- errors -----------------------------------------------------------------------------

def test_errors():
    m = mlp()
    qd = tg.quantization.quantize_dynamic
    with pytest.raises(TypeError, match="must be nn.Module"):
        qd(3)
    with pytest.raises(TypeError, match="qconfig_spec"):
        qd(m, "x")
    with pytest.raises(TypeError, match="qconfig_spec entries"):
        qd(m, {1})
    with pytest.raises(TypeError, match="inplace"):
        qd(m, {nn.Linear}, inplace=1)
    with pytest.raises(AssertionError, match="only supported dtypes for dynamic quantized linear"):
        qd(m, {nn.Linear}, dtype=tg.quint8)
    with pytest.raises(RuntimeError, match="Unknown dtype specified for quantize_dynamic"):
        qd(m, {nn.Linear}, dtype=tg.float32)
    with pytest.raises(ValueError, match="Don't know how to quantize"):
        qd(m, None, dtype=tg.float32)
    with pytest.raises(TypeError):
        qd(m, {nn.Linear}, dtype="qint8")
    q = qd(m, {nn.Linear})
    with pytest.raises(TypeError, match="must be Tensor"):
        q[0]([1.0] * 784)
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        q[0](tg.randn(2, 783))
    with pytest.raises(RuntimeError, match="float32"):
        q[0](tg.randn(2, 784, dtype=tg.float64))
    with pytest.raises(RuntimeError):
        tg.ao.nn.quantized.dynamic.Linear(3, 4, dtype=tg.quint8)
    with pytest.raises(TypeError):
        tg.ao.nn.quantized.dynamic.Linear(3.0, 4)


def test_errors_match_torch():
    torch = pytest.importorskip("torch")
    tq = torch.ao.quantization.quantize_dynamic
    tm = torch.nn.Sequential(torch.nn.Linear(4, 3))
    cases = [(lambda qd, mod, lib: qd(mod, {mod[0].__class__}, dtype=lib.quint8)),
             (lambda qd, mod, lib: qd(mod, {mod[0].__class__}, dtype=lib.float32)),
             (lambda qd, mod, lib: qd(mod, None, dtype=lib.float32))]
    for case in cases:
        with _quiet():
            with pytest.raises(Exception) as te:
                case(tq, tm, torch)
        with pytest.raises(Exception) as ge:
            case(tg.quantization.quantize_dynamic, nn.Sequential(nn.Linear(4, 3)), tg)
        assert type(ge.value) is type(te.value), (te.value, ge.value)


class _quiet:
    def __enter__(self):
        import warnings
        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *a):
        return self._w.__exit__(*a)


# ---- quantize_per_channel / per_tensor -----------------------------------------------------

def test_quantize_per_channel_and_tensor_vs_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(5).standard_normal((6, 9)).astype(np.float32)
    s = np.linspace(0.01, 0.05, 6)
    z = np.arange(6) - 3
    with _quiet():
        t = torch.quantize_per_channel(torch.from_numpy(x), torch.from_numpy(s), torch.from_numpy(z), 0, torch.qint8)
        tt = torch.quantize_per_tensor(torch.from_numpy(x), 0.02, 3, torch.quint8)
    g = tg.quantize_per_channel(tg.from_numpy(x), tg.from_numpy(s), tg.from_numpy(z), 0, tg.qint8)
    np.testing.assert_array_equal(g.int_repr_numpy(), t.int_repr().numpy())
    np.testing.assert_allclose(g.dequantize().numpy(), t.dequantize().numpy(), rtol=1e-6, atol=1e-7)
    assert g.q_per_channel_axis() == 0 and g.qscheme() is tg.per_channel_affine
    gt = tg.quantize_per_tensor(tg.from_numpy(x), 0.02, 3, tg.quint8)
    np.testing.assert_array_equal(gt.int_repr_numpy(), tt.int_repr().numpy())
    assert gt.q_scale() == pytest.approx(0.02) and gt.q_zero_point() == 3 and gt.dtype is tg.quint8
    with pytest.raises(TypeError):
        tg.quantize_per_tensor(x, 0.1, 0, tg.qint8)
    with pytest.raises(RuntimeError):
        tg.quantize_per_tensor(tg.from_numpy(x), 0.1, 0, tg.float32)


# ---- accuracy and parity ---------------------------------------------------------------------

def _fitted_classifier():
    """A random-feature MLP whose last layer is fitted in closed form (ridge regression) on
    synthetic 10-class data: no training loop, yet a model with real decision margins."""
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((10, 64)).astype(np.float32) * 1.2
    def data(n):
        y = rng.integers(0, 10, n)
        return (centers[y] + rng.standard_normal((n, 64)).astype(np.float32)), y
    xtr, ytr = data(4000)
    xte, yte = data(4000)
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 10))
    with tg.no_grad():
        h = model[1](model[0](tg.from_numpy(xtr))).numpy().astype(np.float64)
        h1 = np.concatenate([h, np.ones((len(h), 1))], 1)
        target = np.eye(10)[ytr]
        sol = np.linalg.solve(h1.T @ h1 + 1e-2 * np.eye(h1.shape[1]), h1.T @ target)
        model[2].weight.copy_(tg.from_numpy(sol[:-1].T.astype(np.float32).copy()))
        model[2].bias.copy_(tg.from_numpy(sol[-1].astype(np.float32).copy()))
    return model, xte, yte


def test_accuracy_drop_small():
    model, xte, yte = _fitted_classifier()
    q = tg.quantization.quantize_dynamic(model, {nn.Linear}, dtype=tg.qint8)
    x = tg.from_numpy(xte)
    with tg.no_grad():
        acc_f = (model(x).numpy().argmax(1) == yte).mean() * 100
    acc_q = (q(x).numpy().argmax(1) == yte).mean() * 100
    assert acc_f > 80
    assert acc_f - acc_q <= 0.3, (acc_f, acc_q)


def test_parity_with_torch_quantize_dynamic():
    torch = pytest.importorskip("torch")
    m = mlp(3)
    tm = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    with torch.no_grad():
        for i in (0, 2):
            tm[i].weight.copy_(torch.from_numpy(m[i].weight.detach().numpy()))
            tm[i].bias.copy_(torch.from_numpy(m[i].bias.detach().numpy()))
    with _quiet():
        tq = torch.ao.quantization.quantize_dynamic(
            tm, {torch.nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig})
    q = tg.quantization.quantize_dynamic(m, {nn.Linear}, dtype=tg.qint8)
    x = np.random.default_rng(6).standard_normal((64, 784)).astype(np.float32)
    with torch.no_grad():
        ref_f = tm(torch.from_numpy(x)).numpy()
        ref_q = tq(torch.from_numpy(x)).numpy()
    y = q(tg.from_numpy(x)).numpy()
    # Same activation scheme (7-bit, PyTorch's qparams: checked exactly above); weight
    # scales differ (max/127 here, max/127.5 in PyTorch's observer), so the two quantized
    # models agree to within their quantization error, not bit for bit.
    diff_torch = np.abs(y - ref_q).max()
    err_ours, err_torch = np.abs(y - ref_f).max(), np.abs(ref_q - ref_f).max()
    print(f"max |tg - torch quantized| = {diff_torch:.2e}; error vs float: tg {err_ours:.2e}, torch {err_torch:.2e}")
    assert diff_torch <= 2 * max(err_ours, err_torch) + 1e-6
    assert err_ours <= 2 * err_torch + 1e-6
    assert (y.argmax(1) == ref_q.argmax(1)).mean() > 0.95
