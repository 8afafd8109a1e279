"""Attention: F.scaled_dot_product_attention (the fused kernel) against a numpy reference,
finite differences and PyTorch; its memory use; nn.MultiheadAttention against PyTorch with
the weights copied across."""
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_cpp as tg
import tinygrad_cpp.nn as nn
import tinygrad_cpp.nn.functional as F
from tinygrad_cpp.autograd import gradcheck

SDPA_NODE = "ScaledDotProductFlashAttentionForCpuBackward0"


def ref_sdpa(q, k, v, mask=None, causal=False, scale=None):
    """numpy reference: broadcasting matmuls, a softmax whose fully masked rows give 0."""
    L, S = q.shape[-2], k.shape[-2]
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = np.matmul(q.astype(np.float64), np.swapaxes(k, -1, -2).astype(np.float64)) * scale
    if mask is not None:
        s = np.where(mask, s, -np.inf) if mask.dtype == np.bool_ else s + mask
    if causal:
        s = np.where(np.tril(np.ones((L, S), bool)), s, -np.inf)
    m = s.max(-1, keepdims=True)
    dead = np.isneginf(m)
    e = np.exp(s - np.where(dead, 0.0, m))
    p = np.where(dead, 0.0, e / np.where(dead, 1.0, e.sum(-1, keepdims=True)))
    return np.matmul(p, v.astype(np.float64))


def rand(rng, shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


# ---- forward against numpy ------------------------------------------------------------------

@st.composite
def attention_case(draw):
    nbd = draw(st.integers(0, 2))
    batch = [draw(st.integers(1, 3)) for _ in range(nbd)]

    def bshape():  # the batch dims of one operand: some dropped (leading) or broadcast (1)
        drop = draw(st.integers(0, nbd))
        return [1 if draw(st.booleans()) else b for b in batch[drop:]]

    L = draw(st.sampled_from([1, 2, 5, 17, 64, 65, 130]))
    S = draw(st.sampled_from([1, 3, 8, 63, 128, 129, 200]))
    E = draw(st.integers(1, 12))
    Ev = draw(st.integers(1, 12))
    mask_kind = draw(st.sampled_from([None, "bool", "float"]))
    causal = draw(st.booleans())
    scale = draw(st.sampled_from([None, 0.1, 1.0, 2.5]))
    qb, kb, vb = bshape(), bshape(), bshape()
    mshape = None
    if mask_kind:
        full = list(np.broadcast_shapes(tuple(qb), tuple(kb), tuple(vb))) + [L, S]
        keep = draw(st.integers(2, len(full)))
        mshape = [1 if draw(st.booleans()) and i < len(full) - 2 else d for i, d in enumerate(full)][-keep:]
        if draw(st.booleans()):  # broadcast over rows or keys too
            mshape[-2 if draw(st.booleans()) else -1] = 1
    return batch, qb, kb, vb, L, S, E, Ev, mask_kind, mshape, causal, scale, draw(st.integers(0, 99))


@settings(max_examples=60, deadline=None)
@given(attention_case())
def test_sdpa_forward_matches_numpy(case):
    batch, qb, kb, vb, L, S, E, Ev, mask_kind, mshape, causal, scale, seed = case
    rng = np.random.default_rng(seed)
    q, k, v = rand(rng, qb + [L, E]), rand(rng, kb + [S, E]), rand(rng, vb + [S, Ev])
    mask = None
    if mask_kind == "bool":
        mask = rng.random(mshape) < 0.7
    elif mask_kind == "float":
        mask = rng.standard_normal(mshape) * 2
    if causal and mask is not None:  # PyTorch takes both only on its fused path (4-D inputs)
        causal = False
    out = F.scaled_dot_product_attention(tg.tensor(q), tg.tensor(k), tg.tensor(v),
                                         None if mask is None else tg.tensor(mask), is_causal=causal, scale=scale)
    want = ref_sdpa(q, k, v, mask, causal, scale)
    assert tuple(out.shape) == want.shape
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-10, atol=1e-12)
    out32 = F.scaled_dot_product_attention(tg.tensor(q.astype(np.float32)), tg.tensor(k.astype(np.float32)),
                                           tg.tensor(v.astype(np.float32)),
                                           None if mask is None else tg.tensor(
                                               mask if mask.dtype == np.bool_ else mask.astype(np.float32)),
                                           is_causal=causal, scale=scale)
    assert out32.dtype == tg.float32
    np.testing.assert_allclose(out32.numpy(), want, rtol=1e-4, atol=1e-5)


def test_sdpa_fully_masked_rows_give_zero():
    rng = np.random.default_rng(0)
    q, k, v = rand(rng, (2, 4, 8)), rand(rng, (2, 5, 8)), rand(rng, (2, 5, 3))
    mask = np.ones((4, 5), bool)
    mask[1] = False
    qt, kt, vt = (tg.tensor(a, requires_grad=True) for a in (q, k, v))
    out = F.scaled_dot_product_attention(qt, kt, vt, tg.tensor(mask))
    assert np.all(out.detach().numpy()[:, 1] == 0)
    assert np.all(np.isfinite(out.detach().numpy()))
    out.sum().backward()
    assert np.all(qt.grad.numpy()[:, 1] == 0) and np.all(np.isfinite(kt.grad.numpy()))
    fmask = np.where(mask, 0.0, -np.inf)
    out2 = F.scaled_dot_product_attention(tg.tensor(q), tg.tensor(k), tg.tensor(v), tg.tensor(fmask))
    np.testing.assert_allclose(out2.numpy(), out.detach().numpy(), rtol=1e-12, atol=0)
    # no features: every score 0, the mean of the values (not 0 * inf from the default scale)
    none = F.scaled_dot_product_attention(tg.tensor(q[..., :0]), tg.tensor(k[..., :0]), tg.tensor(v))
    np.testing.assert_allclose(none.numpy(), np.broadcast_to(v.mean(1, keepdims=True), (2, 4, 3)), rtol=1e-12)
    # no keys at all: zeros, as PyTorch
    empty = F.scaled_dot_product_attention(tg.tensor(q), tg.tensor(k[:, :0]), tg.tensor(v[:, :0]))
    assert tuple(empty.shape) == (2, 4, 3) and np.all(empty.numpy() == 0)


def test_sdpa_causal_is_top_left_aligned():
    rng = np.random.default_rng(1)
    for L, S in ((3, 7), (7, 3), (130, 70)):
        q, k, v = rand(rng, (L, 4)), rand(rng, (S, 4)), rand(rng, (S, 2))
        out = F.scaled_dot_product_attention(tg.tensor(q), tg.tensor(k), tg.tensor(v), is_causal=True)
        np.testing.assert_allclose(out.numpy(), ref_sdpa(q, k, v, np.tril(np.ones((L, S), bool))), rtol=1e-10)


def test_sdpa_strided_inputs_and_gqa():
    rng = np.random.default_rng(2)
    # (B, L, H, E) transposed to (B, H, L, E): read in place
    q = rand(rng, (2, 70, 3, 8))
    k = rand(rng, (2, 90, 3, 8))
    v = rand(rng, (2, 90, 3, 5))
    out = F.scaled_dot_product_attention(*(tg.tensor(a).transpose(1, 2) for a in (q, k, v)))
    want = ref_sdpa(*(a.transpose(0, 2, 1, 3) for a in (q, k, v)))
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-10)
    # a non-unit stride in the last dim
    kt = tg.tensor(rand(rng, (2, 3, 8, 90))).transpose(-1, -2)
    out = F.scaled_dot_product_attention(tg.tensor(q).transpose(1, 2), kt, tg.tensor(v).transpose(1, 2))
    np.testing.assert_allclose(out.numpy(), ref_sdpa(q.transpose(0, 2, 1, 3), kt.numpy(), v.transpose(0, 2, 1, 3)),
                               rtol=1e-10)
    # grouped-query heads: key head h // 3 serves query heads h
    q, k, v = rand(rng, (2, 6, 9, 4)), rand(rng, (2, 2, 11, 4)), rand(rng, (2, 3, 11, 4))
    out = F.scaled_dot_product_attention(tg.tensor(q), tg.tensor(k), tg.tensor(v), enable_gqa=True)
    want = ref_sdpa(q, np.repeat(k, 3, axis=1), np.repeat(v, 2, axis=1))
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-10)


# ---- dropout ---------------------------------------------------------------------------------

def test_sdpa_dropout_drops_weights_and_is_seeded():
    rng = np.random.default_rng(3)
    L, S, p = 40, 150, 0.3
    q, k = rand(rng, (2, L, 8)), rand(rng, (2, S, 8))
    eye = np.broadcast_to(np.eye(S), (2, S, S)).copy()  # value = I: the output is the weights
    tg.manual_seed(5)
    out = F.scaled_dot_product_attention(tg.tensor(q), tg.tensor(k), tg.tensor(eye), dropout_p=p).numpy()
    weights = ref_sdpa(q, k, eye)
    kept = out != 0
    assert 0.25 < 1 - kept.mean() < 0.35
    np.testing.assert_allclose(out[kept], weights[kept] / (1 - p), rtol=1e-10)
    tg.manual_seed(5)
    again = F.scaled_dot_product_attention(tg.tensor(q), tg.tensor(k), tg.tensor(eye), dropout_p=p).numpy()
    np.testing.assert_array_equal(out, again)
    other = F.scaled_dot_product_attention(tg.tensor(q), tg.tensor(k), tg.tensor(eye), dropout_p=p).numpy()
    assert not np.array_equal(out, other)
    one = F.scaled_dot_product_attention(tg.tensor(q), tg.tensor(k), tg.tensor(eye), dropout_p=1.0).numpy()
    assert np.all(one == 0)


def test_sdpa_dropout_does_not_depend_on_threads():
    rng = np.random.default_rng(4)
    q, k, v = rand(rng, (2, 3, 200, 16)), rand(rng, (2, 3, 300, 16)), rand(rng, (2, 3, 300, 16))
    n = tg.get_num_threads()
    outs = []
    try:
        for threads in (1, max(n, 2)):
            tg.set_num_threads(threads)
            tg.manual_seed(9)
            outs.append(F.scaled_dot_product_attention(tg.tensor(q), tg.tensor(k), tg.tensor(v),
                                                       dropout_p=0.2, is_causal=True).numpy())
    finally:
        tg.set_num_threads(n)
    np.testing.assert_array_equal(outs[0], outs[1])


# ---- gradients -------------------------------------------------------------------------------

GRAD_CASES = {
    "plain": dict(shapes=((2, 3, 4), (2, 5, 4), (2, 5, 3))),
    "causal": dict(shapes=((2, 6, 3), (2, 4, 3), (2, 4, 2)), is_causal=True),
    "bool_mask": dict(shapes=((2, 4, 3), (2, 5, 3), (2, 5, 3)), mask="bool"),
    "float_mask": dict(shapes=((2, 4, 3), (2, 5, 3), (2, 5, 2)), mask="float"),
    "scale": dict(shapes=((4, 3), (5, 3), (5, 3)), scale=0.7),
    "broadcast": dict(shapes=((2, 2, 4, 3), (1, 5, 3), (2, 1, 5, 2))),
    "gqa": dict(shapes=((1, 4, 3, 2), (1, 2, 5, 2), (1, 1, 5, 2)), enable_gqa=True),
    "tiles": dict(shapes=((1, 70, 2), (1, 130, 2), (1, 130, 2)), is_causal=True),
}


@pytest.mark.parametrize("name", list(GRAD_CASES))
def test_sdpa_gradcheck(name):
    case = dict(GRAD_CASES[name])
    rng = np.random.default_rng(len(name))
    shapes = case.pop("shapes")
    kind = case.pop("mask", None)
    inputs = [tg.tensor(rand(rng, s), requires_grad=True) for s in shapes]
    if kind == "bool":
        mask = rng.random((4, 5)) < 0.6
        mask[:, 0] = True
        case["attn_mask"] = tg.tensor(mask)
    elif kind == "float":
        inputs.append(tg.tensor(rand(rng, (1, 4, 5)), requires_grad=True))  # the mask's gradient too

    def fn(q, k, v, m=None):
        kw = dict(case)
        if m is not None:
            kw["attn_mask"] = m
        return F.scaled_dot_product_attention(q, k, v, **kw)
    assert fn(*inputs).grad_fn.name() == SDPA_NODE
    assert gradcheck(fn, inputs)


def test_sdpa_gradcheck_with_dropout():
    rng = np.random.default_rng(7)
    inputs = [tg.tensor(rand(rng, s), requires_grad=True) for s in ((2, 5, 3), (2, 6, 3), (2, 6, 4))]

    def fn(q, k, v):
        tg.manual_seed(3)  # the same mask at every evaluation
        return F.scaled_dot_product_attention(q, k, v, dropout_p=0.4, is_causal=True)
    assert gradcheck(fn, inputs)


def test_sdpa_backward_frees_and_detects_inplace():
    rng = np.random.default_rng(8)
    q, k, v = (tg.tensor(rand(rng, (3, 4)), requires_grad=True) for _ in range(3))
    out = F.scaled_dot_product_attention(q, k, v)
    out.sum().backward()
    with pytest.raises(RuntimeError):
        out.sum().backward()
    out = F.scaled_dot_product_attention(q * 1.0, k, v)
    out.mul_(2)  # the saved output changed
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


# ---- PyTorch parity --------------------------------------------------------------------------

PARITY = [
    dict(q=(2, 3, 4, 8), k=(2, 3, 5, 8), v=(2, 3, 5, 8)),
    dict(q=(2, 3, 4, 8), k=(2, 3, 5, 8), v=(2, 3, 5, 6), is_causal=True),
    dict(q=(1, 2, 150, 16), k=(1, 2, 200, 16), v=(1, 2, 200, 16), is_causal=True),
    dict(q=(1, 2, 200, 16), k=(1, 2, 70, 16), v=(1, 2, 70, 16), is_causal=True),
    dict(q=(2, 2, 100, 8), k=(2, 2, 150, 8), v=(2, 2, 150, 8), mask=(2, 1, 100, 150), mask_kind="bool",
         is_causal=True),
    dict(q=(2, 2, 100, 8), k=(1, 2, 150, 8), v=(2, 150, 4), mask=(100, 150), mask_kind="float", scale=0.3),
    dict(q=(2, 6, 40, 8), k=(2, 3, 50, 8), v=(2, 2, 50, 8), mask=(40, 50), mask_kind="float_grad",
         enable_gqa=True),
    dict(q=(7, 8), k=(9, 8), v=(9, 3), mask=(7, 9), mask_kind="bool"),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", range(len(PARITY)))
def test_sdpa_matches_torch(case, dtype):
    torch = pytest.importorskip("torch")
    c = dict(PARITY[case])
    rng = np.random.default_rng(case)
    arrays = [rand(rng, c.pop(n), dtype) for n in ("q", "k", "v")]
    kind, mshape = c.pop("mask_kind", None), c.pop("mask", None)
    mask = None
    if kind == "bool":
        mask = rng.random(mshape) < 0.7
    elif kind:
        mask = rand(rng, mshape, dtype)
    ours = [tg.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    om = tm = None
    if mask is not None:
        om, tm = tg.tensor(mask), torch.tensor(mask)
        if kind == "float_grad":
            om.requires_grad_(), tm.requires_grad_()
    out = F.scaled_dot_product_attention(*ours, attn_mask=om, **c)
    want = torch.nn.functional.scaled_dot_product_attention(*theirs, attn_mask=tm, **c)
    assert out.grad_fn.name() == SDPA_NODE
    tol = dict(rtol=1e-4, atol=2e-5) if dtype == "float32" else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(out.detach().numpy(), want.detach().numpy(), **tol)
    g = rand(rng, want.shape, dtype)
    out.backward(tg.tensor(g))
    want.backward(torch.tensor(g))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **tol)
    if kind == "float_grad":
        np.testing.assert_allclose(om.grad.numpy(), tm.grad.numpy(), **tol)


def test_sdpa_mask_with_causal_as_torch():
    """PyTorch's fused CPU kernel applies both; its other path refuses the combination."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    q, k, v = rand(rng, (2, 3, 6, 4)), rand(rng, (2, 3, 7, 4)), rand(rng, (2, 3, 7, 4))
    mask = rng.random((6, 7)) < 0.6
    out = F.scaled_dot_product_attention(tg.tensor(q), tg.tensor(k), tg.tensor(v), tg.tensor(mask), is_causal=True)
    want = torch.nn.functional.scaled_dot_product_attention(torch.tensor(q), torch.tensor(k), torch.tensor(v),
                                                            torch.tensor(mask), is_causal=True)
    np.testing.assert_allclose(out.numpy(), want.numpy(), rtol=1e-10)
    for lib, Fn in ((tg, F), (torch, torch.nn.functional)):
        with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set when is_causal=True"):
            Fn.scaled_dot_product_attention(lib.tensor(q[0]), lib.tensor(k[0]), lib.tensor(v[0]), lib.tensor(mask),
                                            is_causal=True)
        with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set when is_causal=True"):
            Fn.scaled_dot_product_attention(lib.tensor(q), lib.tensor(k), lib.tensor(v), lib.tensor(mask),
                                            dropout_p=0.5, is_causal=True)


def _errors(lib):
    ones = lambda *s, **kw: lib.ones(*s, **kw)  # noqa: E731
    q, k, v = ones(2, 3, 4, 8), ones(2, 3, 5, 8), ones(2, 3, 5, 8)
    Fn = lib.nn.functional.scaled_dot_product_attention
    return {
        "1-d query": lambda: Fn(ones(8), k, v),
        "E mismatch": lambda: Fn(q, ones(2, 3, 5, 4), v),
        "batch mismatch": lambda: Fn(q, ones(3, 3, 5, 8), ones(3, 3, 5, 8)),
        "heads without gqa": lambda: Fn(ones(2, 6, 4, 8), k, v),
        "gqa not dividing": lambda: Fn(ones(2, 4, 4, 8), k, v, enable_gqa=True),
        "gqa 2-d": lambda: Fn(ones(4, 8), ones(5, 8), ones(5, 8), enable_gqa=True),
        "dtype mismatch": lambda: Fn(q.double(), k, v),
        "int inputs": lambda: Fn(q.long(), k.long(), v.long()),
        "int mask": lambda: Fn(q, k, v, attn_mask=ones(4, 5, dtype=lib.int64)),
        "double mask": lambda: Fn(q, k, v, attn_mask=ones(4, 5, dtype=lib.float64)),
        "mask shape": lambda: Fn(q, k, v, attn_mask=ones(4, 4, dtype=lib.bool)),
        "mask 5-d": lambda: Fn(q, k, v, attn_mask=ones(1, 2, 3, 4, 5)),
        "mask 1-d": lambda: Fn(q, k, v, attn_mask=ones(5)),
        "mask 0-d": lambda: Fn(q, k, v, attn_mask=ones(())),
        "dropout > 1": lambda: Fn(q, k, v, dropout_p=2.0),
        "dropout nan": lambda: Fn(q, k, v, dropout_p=float("nan")),
        "scale str": lambda: Fn(q, k, v, scale="a"),
        "is_causal int": lambda: Fn(q, k, v, is_causal=1),
        "query list": lambda: Fn([1.0], k, v),
        "mask list": lambda: Fn(q, k, v, attn_mask=[[True]]),
        "positional scale": lambda: Fn(q, k, v, None, 0.0, False, 1.0),
    }


def test_sdpa_errors_match_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = _errors(tg), _errors(torch)
    for name in ours:
        with pytest.raises(Exception) as want:
            theirs[name]()
        with pytest.raises(Exception) as got:
            ours[name]()
        assert isinstance(got.value, want.type) or type(got.value).__name__ == want.type.__name__, \
            (name, want.value, got.value)


def test_sdpa_no_graph_without_grad():
    rng = np.random.default_rng(12)
    q = tg.tensor(rand(rng, (3, 4)), requires_grad=True)
    with tg.no_grad():
        out = F.scaled_dot_product_attention(q, q, q)
    assert out.grad_fn is None and not out.requires_grad
    out = F.scaled_dot_product_attention(q.detach(), q.detach(), q.detach())
    assert out.grad_fn is None


# ---- memory ----------------------------------------------------------------------------------

_MEMORY_SCRIPT = r"""
import numpy as np, tinygrad_cpp as tg, tinygrad_cpp.nn.functional as F
def kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
B, H, T, D = 1, 4, 4096, 32
rng = np.random.default_rng(0)
q, k, v = (tg.tensor(rng.standard_normal((B, H, T, D), dtype=np.float32), requires_grad=True) for _ in range(3))
F.scaled_dot_product_attention(q[:, :, :256], k[:, :, :256], v[:, :, :256], is_causal=True).sum().backward()
q.grad = k.grad = v.grad = None
try:
    with open("/proc/self/clear_refs", "w") as f:  # the peak restarts from the current size
        f.write("5")
except OSError:
    print("no clear_refs")
    raise SystemExit(0)
before = kb("VmRSS")
out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
fwd = kb("VmHWM") - before
out.sum().backward()
total = kb("VmHWM") - before
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
before = kb("VmRSS")
scores = q.detach()[0, 0] @ k.detach()[0, 0].T  # one head's T x T scores: the measure sees it
dense = kb("VmHWM") - before
print(fwd, total, dense, float(out.detach().abs().sum()))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux") or "asan" in os.environ.get("LD_PRELOAD", ""),
                    reason="peak RSS from /proc (and meaningless under ASan)")
def test_sdpa_memory_is_not_quadratic():
    """Forward and backward at T = 4096 (4 heads, head dim 32) stay far below one head's
    T x T scores, let alone all four (256 MiB)."""
    env = dict(os.environ)
    pkg_root = os.path.dirname(os.path.dirname(os.path.abspath(tg.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([pkg_root] + [p for p in [env.get("PYTHONPATH")] if p])
    proc = subprocess.run([sys.executable, "-c", _MEMORY_SCRIPT], capture_output=True, text=True, timeout=600,
                          env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    if "no clear_refs" in proc.stdout:
        pytest.skip("/proc/self/clear_refs is not writable here (the peak cannot be reset)")
    fwd_kb, total_kb, dense_kb, checksum = proc.stdout.split()
    T, H = 4096, 4
    quadratic_kb = T * T * H * 4 // 1024
    assert np.isfinite(float(checksum))
    assert int(dense_kb) > quadratic_kb // 4 * 0.9, dense_kb  # the measure does see a T x T tensor
    assert int(fwd_kb) < quadratic_kb // 16, (fwd_kb, quadratic_kb)  # < 16 MiB (out + lse: 2.1 MiB)
    assert int(total_kb) < quadratic_kb // 8, (total_kb, quadratic_kb)  # grads of q, k, v: 6 MiB


# ---- nn.MultiheadAttention -------------------------------------------------------------------

def _copy_weights(src, dst):
    dst.load_state_dict({k: tg.tensor(v.detach().numpy()) for k, v in src.state_dict().items()})


MHA_CASES = [
    dict(kw={}),
    dict(kw={}, need_weights=False),
    dict(kw={"batch_first": True}, average=False),
    dict(kw={"batch_first": True}, batched=False),
    dict(kw={}, batched=False, need_weights=False, attn_mask="float"),
    dict(kw={"kdim": 5, "vdim": 6}, need_weights=False),
    dict(kw={"kdim": 5, "vdim": 6, "batch_first": True}, key_padding_mask=True),
    dict(kw={"add_bias_kv": True, "add_zero_attn": True}, key_padding_mask=True, attn_mask="bool"),
    dict(kw={"bias": False}, attn_mask="float", need_weights=False),
    dict(kw={}, self_attn=True, attn_mask="causal", is_causal=True, need_weights=False),
    dict(kw={}, self_attn=True, attn_mask="causal", is_causal=True),
    dict(kw={"batch_first": True}, self_attn=True, attn_mask="3d", key_padding_mask=True, need_weights=False),
    dict(kw={"dropout": 0.3}, eval=True),
]


@pytest.mark.parametrize("case", range(len(MHA_CASES)))
def test_multihead_attention_matches_torch(case):
    torch = pytest.importorskip("torch")
    c = MHA_CASES[case]
    kw = c["kw"]
    L, S, N, E, H = 5, 7, 3, 8, 2
    torch.manual_seed(case)
    ref = torch.nn.MultiheadAttention(E, H, **kw).double()
    mha = nn.MultiheadAttention(E, H, **kw).double()
    assert list(ref.state_dict()) == list(mha.state_dict())
    assert [n for n, _ in ref.named_parameters()] == [n for n, _ in mha.named_parameters()]
    _copy_weights(ref, mha)
    if c.get("eval"):
        ref.eval(), mha.eval()
    rng = np.random.default_rng(case)
    batched, bf = c.get("batched", True), kw.get("batch_first", False)
    if c.get("self_attn"):
        S = L

    def shape(length, e):
        return ((N, length, e) if bf else (length, N, e)) if batched else (length, e)
    if c.get("self_attn"):
        x = rand(rng, shape(L, E))
        ti = torch.tensor(x, requires_grad=True)
        oi = tg.tensor(x, requires_grad=True)
        t_in, o_in = (ti, ti, ti), (oi, oi, oi)
    else:
        arrays = [rand(rng, shape(L, E)), rand(rng, shape(S, kw.get("kdim") or E)),
                  rand(rng, shape(S, kw.get("vdim") or E))]
        t_in = tuple(torch.tensor(a, requires_grad=True) for a in arrays)
        o_in = tuple(tg.tensor(a, requires_grad=True) for a in arrays)
    t_kw, o_kw = {}, {}
    if c.get("key_padding_mask"):
        kpm = rng.random((N, S) if batched else (S,)) < 0.3
        kpm[..., 0] = False
        t_kw["key_padding_mask"], o_kw["key_padding_mask"] = torch.tensor(kpm), tg.tensor(kpm)
    am = c.get("attn_mask")
    if am:
        a = {"float": lambda: rng.standard_normal((L, S)), "bool": lambda: rng.random((L, S)) < 0.2,
             "causal": lambda: np.triu(np.ones((L, S), bool), 1),
             "3d": lambda: rng.random((N * H, L, S)) < 0.2}[am]()
        t_kw["attn_mask"], o_kw["attn_mask"] = torch.tensor(a), tg.tensor(a)
    common = dict(need_weights=c.get("need_weights", True), average_attn_weights=c.get("average", True),
                  is_causal=c.get("is_causal", False))
    t_out, t_w = ref(*t_in, **t_kw, **common)
    o_out, o_w = mha(*o_in, **o_kw, **common)
    tol = dict(rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(o_out.detach().numpy(), t_out.detach().numpy(), **tol)
    if t_w is None:
        assert o_w is None
    else:
        assert tuple(o_w.shape) == tuple(t_w.shape)
        np.testing.assert_allclose(o_w.detach().numpy(), t_w.detach().numpy(), **tol)
    g = rand(rng, t_out.shape)
    t_out.backward(torch.tensor(g))
    o_out.backward(tg.tensor(g))
    for (name, tp), (_, op) in zip(ref.named_parameters(), mha.named_parameters()):
        np.testing.assert_allclose(op.grad.numpy(), tp.grad.numpy(), err_msg=name, **tol)
    for a, b in zip(o_in, t_in):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **tol)


def test_multihead_attention_fully_padded_batch_as_torch():
    """A batch whose keys are all padded: NaN in the explicit-weights path, 0 through the
    fused kernel, as in PyTorch."""
    torch = pytest.importorskip("torch")
    ref, mha = torch.nn.MultiheadAttention(4, 2).double(), nn.MultiheadAttention(4, 2).double()
    _copy_weights(ref, mha)
    x = np.random.default_rng(0).standard_normal((3, 2, 4))
    kpm = np.zeros((2, 3), bool)
    kpm[1] = True
    for need_weights in (True, False):
        want = ref(*[torch.tensor(x)] * 3, key_padding_mask=torch.tensor(kpm), need_weights=need_weights)[0]
        got = mha(*[tg.tensor(x)] * 3, key_padding_mask=tg.tensor(kpm), need_weights=need_weights)[0]
        np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-10, equal_nan=True)


def test_multihead_attention_init_and_repr():
    tg.manual_seed(0)
    mha = nn.MultiheadAttention(16, 4)
    assert isinstance(mha, nn.modules.activation.MultiheadAttention)
    bound = math.sqrt(6.0 / (16 + 48))  # xavier_uniform_ over (3 * 16, 16)
    w = mha.in_proj_weight.detach().numpy()
    assert w.shape == (48, 16) and np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    assert np.all(mha.in_proj_bias.detach().numpy() == 0) and np.all(mha.out_proj.bias.detach().numpy() == 0)
    assert type(mha.out_proj).__name__ == "NonDynamicallyQuantizableLinear" and isinstance(mha.out_proj, nn.Linear)
    assert repr(mha) == ("MultiheadAttention(\n  (out_proj): NonDynamicallyQuantizableLinear(in_features=16, "
                         "out_features=16, bias=True)\n)")
    sep = nn.MultiheadAttention(8, 2, kdim=3, vdim=5, add_bias_kv=True, bias=False)
    assert sep.in_proj_weight is None and sep.in_proj_bias is None
    assert list(sep.state_dict()) == ["q_proj_weight", "k_proj_weight", "v_proj_weight", "bias_k", "bias_v",
                                      "out_proj.weight"]
    assert tuple(sep.k_proj_weight.shape) == (8, 3) and tuple(sep.bias_v.shape) == (1, 1, 8)


def _mha_errors(lib):
    mha = lib.nn.MultiheadAttention(4, 2)
    x = lib.ones(3, 2, 4)
    return {
        "not divisible": lambda: lib.nn.MultiheadAttention(5, 2),
        "zero heads": lambda: lib.nn.MultiheadAttention(4, 0),
        "4-d query": lambda: mha(lib.ones(1, 3, 2, 4), x, x),
        "2-d key for batched": lambda: mha(x, lib.ones(3, 4), x),
        "embed dim": lambda: mha(lib.ones(3, 2, 6), lib.ones(3, 2, 6), lib.ones(3, 2, 6)),
        "key/value shapes": lambda: mha(x, x, lib.ones(4, 2, 4)),
        "2-d mask shape": lambda: mha(x, x, x, attn_mask=lib.ones(3, 2)),
        "3-d mask shape": lambda: mha(x, x, x, attn_mask=lib.ones(2, 3, 3)),
        "4-d mask": lambda: mha(x, x, x, attn_mask=lib.ones(1, 4, 3, 3)),
        "padding mask shape": lambda: mha(x, x, x, key_padding_mask=lib.ones(2, 4, dtype=lib.bool)),
        "padding mask 3-d": lambda: mha(x, x, x, key_padding_mask=lib.ones(2, 3, 1, dtype=lib.bool)),
        "int mask": lambda: mha(x, x, x, attn_mask=lib.ones(3, 3, dtype=lib.int64)),
        "is_causal without mask": lambda: mha(x, x, x, is_causal=True),
        "unbatched 3-d mask shape": lambda: mha(lib.ones(3, 4), lib.ones(3, 4), lib.ones(3, 4),
                                                attn_mask=lib.ones(3, 3, 3)),
    }


def test_multihead_attention_errors_match_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = _mha_errors(tg), _mha_errors(torch)
    for name in ours:
        with pytest.raises(Exception) as want:
            theirs[name]()
        with pytest.raises(Exception) as got:
            ours[name]()
        assert type(got.value).__name__ == want.type.__name__, (name, want.value, got.value)
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(5, 2)


def test_multihead_attention_trains():
    tg.manual_seed(0)
    mha = nn.MultiheadAttention(8, 2, batch_first=True)
    opt = tg.optim.Adam(mha.parameters(), lr=0.01)
    rng = np.random.default_rng(0)
    x = tg.tensor(rng.standard_normal((4, 6, 8)).astype(np.float32))
    target = x.flip(1) if hasattr(x, "flip") else x * -1.0
    mask = tg.tensor(np.triu(np.ones((6, 6), bool), 1))
    losses = []
    for _ in range(60):
        opt.zero_grad()
        out, _ = mha(x, x, x, attn_mask=mask, need_weights=False)
        loss = ((out - target) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


def test_sdpa_nan_propagates_as_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(13)
    q, k, v = rand(rng, (2, 4, 3)), rand(rng, (2, 150, 3)), rand(rng, (2, 150, 2))
    q[0, 1, 0] = np.nan  # a whole row of scores NaN
    k[1, 140, 1] = np.nan  # one key: NaN in every row of batch 1
    got = F.scaled_dot_product_attention(tg.tensor(q), tg.tensor(k), tg.tensor(v)).numpy()
    want = torch.nn.functional.scaled_dot_product_attention(torch.tensor(q), torch.tensor(k), torch.tensor(v))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want.numpy()))
    assert np.isnan(got).sum() == 2 + 4 * 2


@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_backward_paths_agree(causal):
    """Few problems run the backward in two finer passes (per key tile, per query tile),
    many in one pass per problem: the same gradients either way (float mask and dropout too)."""
    rng = np.random.default_rng(14)
    arrays = [rand(rng, (2, 150, 8)), rand(rng, (2, 200, 8)), rand(rng, (2, 200, 5)), rand(rng, (150, 200))]
    n = tg.get_num_threads()
    grads = []
    try:
        for threads in (1, 4):  # 1: one pass; 4 threads for 2 problems: two passes
            tg.set_num_threads(threads)
            ins = [tg.tensor(a, requires_grad=True) for a in arrays]
            tg.manual_seed(1)
            mask = None if causal else ins[3]  # (PyTorch refuses both with dropout)
            out = F.scaled_dot_product_attention(*ins[:3], attn_mask=mask, dropout_p=0.25, is_causal=causal)
            out.backward(tg.tensor(rand(np.random.default_rng(0), out.shape)))
            grads.append([t.grad.numpy() for t in ins if t.grad is not None])
    finally:
        tg.set_num_threads(n)
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("need_weights", [True, False])
def test_multihead_attention_dropout_only_in_training(need_weights):
    tg.manual_seed(0)
    mha = nn.MultiheadAttention(8, 2, dropout=0.5).double()
    x = tg.tensor(np.random.default_rng(0).standard_normal((5, 2, 8)))

    def run():
        return mha(x, x, x, need_weights=need_weights)[0].detach().numpy()
    tg.manual_seed(1)
    a = run()
    tg.manual_seed(1)
    np.testing.assert_array_equal(run(), a)  # seeded
    assert not np.allclose(run(), a)  # fresh draws
    mha.eval()
    np.testing.assert_array_equal(run(), run())
    mha.dropout = 0.0
    e = run()
    mha.train()
    np.testing.assert_allclose(run(), e, rtol=1e-12)
