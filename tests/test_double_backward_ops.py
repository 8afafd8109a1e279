"""Higher-order gradients (create_graph=True) of the ops with recorded backward formulas
beyond the elementwise core: gelu and erf, layer_norm, embedding, batch_norm,
scaled_dot_product_attention, convolutions, pooling, F.pad, logsumexp, var/std,
clamp/maximum/minimum, cumsum and the indexing ops; custom autograd Functions under
create_graph (and once_differentiable); autograd.functional's create_graph, hessian, hvp,
vhp and jvp. Derivatives up to the third against PyTorch's in float64, gradgradcheck
against finite differences for a few."""
import math

import numpy as np
import pytest

import tinygrad_cpp as tg
import tinygrad_cpp.nn.functional as F
from helpers import torch
from test_double_backward import check_against_torch

rng = np.random.default_rng(11)


def anyv(shape):
    return rng.standard_normal(shape)


def pos(shape):
    return rng.uniform(0.5, 2.0, shape)


# ---- gelu / erf -------------------------------------------------------------------------------


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu(approximate):
    check_against_torch(lambda L, x: L.nn.functional.gelu(x, approximate=approximate) * x, [anyv((3, 4))])


def test_erf_forward_backward_and_higher_orders():
    xs = anyv((3, 4))
    x = tg.tensor(xs)
    np.testing.assert_allclose(tg.erf(x).numpy(), np.vectorize(math.erf)(xs), rtol=1e-15)
    np.testing.assert_allclose(x.erf().numpy(), np.vectorize(math.erf)(xs), rtol=1e-15)
    np.testing.assert_allclose(tg.special.erf(x).numpy(), np.vectorize(math.erf)(xs), rtol=1e-15)
    xf = tg.tensor(xs.astype(np.float32))
    assert tg.erf(xf).dtype == tg.float32
    assert tg.erf(tg.tensor([0, 1])).dtype == tg.float32  # integers compute in float32
    y = tg.tensor(xs, requires_grad=True)
    assert tg.erf(y).grad_fn.name() == "ErfBackward0"
    check_against_torch(lambda L, x: L.erf(x) * x, [xs])
    assert tg.autograd.gradgradcheck(lambda t: tg.erf(t), [tg.tensor(anyv((2, 3)), requires_grad=True)])


# ---- normalization ----------------------------------------------------------------------------


# PyTorch's third derivatives of its norms go through double-backward formulas that take
# the saved mean / inverse std as constants, so they are not exact past the second order
# (d/dx of an identically zero row sum of layer_norm's input gradient comes out nonzero);
# ours differentiate the recomputed statistics. So: orders 1-2 against PyTorch's ops,
# orders 1-3 against the same normalization composed of PyTorch's primitive ops.
def _norm_ref(x, dims, w, b, eps, wshape):
    mu = x.mean(dims, keepdim=True)
    xc = x - mu
    y = xc * torch.rsqrt((xc * xc).mean(dims, keepdim=True) + eps)
    if w is not None:
        y = y * w.reshape(wshape)
    if b is not None:
        y = y + b.reshape(wshape)
    return y


def _check_norm(ours, ref, arrays, tol=1e-9):
    check_against_torch(ours, arrays, order=2, tol=tol)
    check_against_torch(lambda L, *a: ours(L, *a) if L is tg else ref(*a), arrays, order=3, tol=tol)


@pytest.mark.parametrize("affine", ["both", "weight", "none"])
@pytest.mark.parametrize("shape,norm", [((3, 5), (5,)), ((2, 3, 4), (3, 4))])
def test_layer_norm(affine, shape, norm):
    arrays = [anyv(shape)]
    if affine in ("both", "weight"):
        arrays.append(anyv(norm))
    if affine == "both":
        arrays.append(anyv(norm))
    dims = tuple(range(len(shape) - len(norm), len(shape)))

    def fn(L, x, *wb):
        w = wb[0] if wb else None
        b = wb[1] if len(wb) > 1 else None
        y = L.nn.functional.layer_norm(x, norm, w, b, eps=1e-3)
        return y * y * L.sin(x)

    def ref(x, *wb):
        w = wb[0] if wb else None
        b = wb[1] if len(wb) > 1 else None
        y = _norm_ref(x, dims, w, b, 1e-3, norm)
        return y * y * torch.sin(x)
    _check_norm(fn, ref, arrays)


@pytest.mark.parametrize("shape", [(2, 4, 3), (2, 4, 2, 2), (3, 4)])
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm(shape, affine):
    arrays = [anyv(shape)] + ([anyv(4), anyv(4)] if affine else [])

    def fn(L, x, *wb):
        w, b = (wb + (None, None))[:2]
        y = L.nn.functional.group_norm(x, 2, w, b, eps=1e-3)
        return y * y * L.sin(x)

    def ref(x, *wb):
        w, b = (wb + (None, None))[:2]
        n = x.shape[0]
        y = _norm_ref(x.reshape(n, 2, -1), (2,), None, None, 1e-3, None).reshape(x.shape)
        cshape = (1, 4) + (1,) * (x.dim() - 2)
        if w is not None:
            y = y * w.reshape(cshape) + b.reshape(cshape)
        return y * y * torch.sin(x)
    _check_norm(fn, ref, arrays)


def test_layer_norm_gradgradcheck():
    x = tg.tensor(anyv((2, 4)), requires_grad=True)
    w = tg.tensor(anyv(4), requires_grad=True)
    assert tg.autograd.gradgradcheck(lambda a, b: F.layer_norm(a, (4,), b) ** 2, [x, w])


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5), (2, 3, 2, 2)])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm(training, shape, affine):
    rm, rv = anyv(3) * 0.1, pos(3)
    arrays = [anyv(shape)] + ([anyv(3), anyv(3)] if affine else [])
    cshape = (1, 3) + (1,) * (len(shape) - 2)
    dims = (0,) + tuple(range(2, len(shape)))

    def fn(L, x, *wb):
        w, b = (wb + (None, None))[:2]
        y = L.nn.functional.batch_norm(x, L.tensor(rm.copy()), L.tensor(rv.copy()), w, b,
                                       training=training, eps=1e-3)
        return y * y * L.cos(x)

    def ref(x, *wb):
        w, b = (wb + (None, None))[:2]
        if training:
            y = _norm_ref(x, dims, w, b, 1e-3, cshape)
        else:
            y = (x - torch.tensor(rm).reshape(cshape)) / torch.sqrt(torch.tensor(rv).reshape(cshape) + 1e-3)
            if w is not None:
                y = y * w.reshape(cshape) + b.reshape(cshape)
        return y * y * torch.cos(x)
    _check_norm(fn, ref, arrays)


def test_batch_norm_gradgradcheck():
    x = tg.tensor(anyv((3, 2, 2)), requires_grad=True)
    w = tg.tensor(anyv(2), requires_grad=True)
    assert tg.autograd.gradgradcheck(lambda a, b: F.batch_norm(a, None, None, b, None, training=True) ** 2, [x, w])


# ---- embedding --------------------------------------------------------------------------------


EMB_IDX = np.array([[0, 2, 2], [4, 0, 1]])


@pytest.mark.parametrize("kind", ["plain", "padding_idx", "scale_grad_by_freq", "both"])
def test_embedding(kind):
    kwargs = {"plain": {}, "padding_idx": {"padding_idx": 2}, "scale_grad_by_freq": {"scale_grad_by_freq": True},
              "both": {"padding_idx": 0, "scale_grad_by_freq": True}}[kind]

    def fn(L, w):
        e = L.nn.functional.embedding(L.tensor(EMB_IDX), w, **kwargs)
        return L.sin(e) * e
    # with scale_grad_by_freq the first "gradient" is not the derivative of the forward;
    # the second follows PyTorch's (embedding_dense_double_backward: no 1/count)
    check_against_torch(fn, [anyv((5, 3))])


def test_embedding_gradgradcheck():
    w = tg.tensor(anyv((5, 3)), requires_grad=True)
    idx = tg.tensor(EMB_IDX)
    assert tg.autograd.gradgradcheck(lambda t: tg.sin(F.embedding(idx, t)), [w])


# ---- attention --------------------------------------------------------------------------------


def _attention(L, q, k, v, mask=None, causal=False, gqa=False):
    if L is tg:
        return tg.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal,
                                                             enable_gqa=gqa)
    # PyTorch's fused CPU backward has no derivative itself: compare with its math path
    if gqa:
        k = k.repeat_interleave(q.size(-3) // k.size(-3), -3)
        v = v.repeat_interleave(q.size(-3) // v.size(-3), -3)
    s = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else s + mask
    if causal:
        keep = torch.ones(q.size(-2), k.size(-2), dtype=torch.bool).tril()
        s = s.masked_fill(~keep, float("-inf"))
    return torch.softmax(s, -1) @ v


@pytest.mark.parametrize("case", ["plain", "bool_mask", "float_mask", "causal", "broadcast", "gqa"])
def test_scaled_dot_product_attention(case):
    if case == "gqa":
        arrays = [anyv((1, 4, 3, 2)), anyv((1, 2, 5, 2)), anyv((1, 2, 5, 3))]
    elif case == "broadcast":
        arrays = [anyv((2, 3, 4)), anyv((5, 4)), anyv((5, 3))]
    else:
        arrays = [anyv((2, 3, 4)), anyv((2, 5, 4)), anyv((2, 5, 3))]
    bmask = np.array([[True, False, True, True, False], [True, True, False, True, True],
                      [False, True, True, True, True]])
    if case == "float_mask":
        arrays.append(anyv((3, 5)))

    def fn(L, q, k, v, *m):
        mask = m[0] if m else (L.tensor(bmask) if case == "bool_mask" else None)
        out = _attention(L, q, k, v, mask, causal=case == "causal", gqa=case == "gqa")
        return out * out
    check_against_torch(fn, arrays, tol=1e-9)


def test_attention_strided_operands():
    # operands with a non-unit last stride are copied for the kernel; the recorded formula
    # still differentiates through the originals
    def fn(L, q, k, v):
        out = _attention(L, q, k.transpose(-2, -1), v.transpose(-2, -1))
        return out * out
    check_against_torch(fn, [anyv((2, 3, 4)), anyv((2, 4, 5)), anyv((2, 3, 5))], tol=1e-9)


def test_attention_dropout_gradgradcheck():
    # the same dropout mask on every call (reseeded): finite differences apply
    q, k, v = (tg.tensor(anyv(s), requires_grad=True) for s in ((2, 3, 2), (2, 4, 2), (2, 4, 3)))

    def f(a, b, c):
        tg.manual_seed(7)
        return F.scaled_dot_product_attention(a, b, c, dropout_p=0.4) ** 2
    assert tg.autograd.gradgradcheck(f, [q, k, v])
    # the recorded formula regenerates the kernel's mask: its first derivatives are the fused ones
    fused = tg.autograd.grad(f(q, k, v).sum(), [q, k, v])
    graph = tg.autograd.grad(f(q, k, v).sum(), [q, k, v], create_graph=True)
    assert all(g.requires_grad for g in graph)
    for a, b in zip(fused, graph):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-12)
    assert not np.allclose(fused[0].numpy(), tg.autograd.grad(
        F.scaled_dot_product_attention(q, k, v).pow(2).sum(), q)[0].numpy())  # dropout did drop


def test_attention_gradgradcheck():
    q, k, v = (tg.tensor(anyv(s), requires_grad=True) for s in ((2, 3), (4, 3), (4, 2)))
    assert tg.autograd.gradgradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c) ** 2, [q, k, v])


# ---- convolutions -----------------------------------------------------------------------------

CONV = {
    "conv1d": ((2, 4, 7), (6, 2, 3), dict(stride=2, padding=1, dilation=1, groups=2)),
    "conv1d_dil": ((1, 3, 9), (2, 3, 2), dict(stride=1, padding=2, dilation=3)),
    "conv2d": ((2, 2, 5, 6), (3, 2, 3, 2), dict(stride=(2, 1), padding=(1, 0))),
    "conv2d_groups": ((1, 4, 5, 5), (4, 1, 3, 3), dict(stride=2, padding=1, dilation=(1, 2), groups=4)),
    "conv2d_unbatched": ((2, 4, 4), (3, 2, 2, 2), dict()),
    "conv2d_same": ((1, 2, 5, 5), (2, 2, 3, 3), dict(padding="same")),
    "conv2d_same_even": ((1, 2, 5, 6), (2, 2, 2, 4), dict(padding="same", dilation=(2, 1))),
    "conv1d_same_even": ((2, 2, 7), (3, 2, 4), dict(padding="same")),
    "conv_transpose1d": ((2, 4, 5), (4, 3, 3), dict(stride=2, padding=1)),
    "conv_transpose2d": ((1, 4, 3, 4), (4, 1, 2, 3), dict(stride=(2, 1), padding=(0, 1), groups=2, dilation=(1, 2))),
}


@pytest.mark.parametrize("name", sorted(CONV))
@pytest.mark.parametrize("bias", [True, False])
def test_conv(name, bias):
    xs, ws, kw = CONV[name]
    transposed = "transpose" in name
    out_ch = ws[1] * kw.get("groups", 1) if transposed else ws[0]
    arrays = [anyv(xs), anyv(ws)] + ([anyv(out_ch)] if bias else [])
    op = name.replace("_dil", "").replace("_groups", "").replace("_unbatched", "").replace("_same", "").replace("_even", "")

    def fn(L, x, w, *b):
        y = getattr(L.nn.functional, op)(x, w, *b, **kw)
        return y * y * L.sin(y)
    check_against_torch(fn, arrays, tol=1e-9)


def test_conv_gradgradcheck():
    x = tg.tensor(anyv((1, 2, 4, 4)), requires_grad=True)
    w = tg.tensor(anyv((2, 1, 2, 2)), requires_grad=True)
    assert tg.autograd.gradgradcheck(lambda a, b: F.conv2d(a, b, stride=2, groups=2) ** 2, [x, w])
    # output_padding: PyTorch's own double backward refuses it, so finite differences only
    x = tg.tensor(anyv((1, 2, 3)), requires_grad=True)
    w = tg.tensor(anyv((2, 2, 3)), requires_grad=True)
    assert tg.autograd.gradgradcheck(lambda a, b: F.conv_transpose1d(a, b, stride=2, padding=1, output_padding=1) ** 2,
                                     [x, w])


# ---- pooling, pad -----------------------------------------------------------------------------

POOL = {
    "max_pool2d": lambda L, x: L.nn.functional.max_pool2d(x, 2, stride=1, padding=1),
    "max_pool2d_dil": lambda L, x: L.nn.functional.max_pool2d(x, 2, stride=2, dilation=2, ceil_mode=True),
    "max_pool1d": lambda L, x: L.nn.functional.max_pool1d(x.flatten(2), 3, stride=2),
    "adaptive_max_pool2d": lambda L, x: L.nn.functional.adaptive_max_pool2d(x, (2, 3)),
    "avg_pool2d": lambda L, x: L.nn.functional.avg_pool2d(x, 3, stride=2, padding=1),
    "avg_pool2d_nopad": lambda L, x: L.nn.functional.avg_pool2d(x, 2, stride=1, padding=1, count_include_pad=False),
    "avg_pool2d_divisor": lambda L, x: L.nn.functional.avg_pool2d(x, 2, divisor_override=3, ceil_mode=True),
    "avg_pool1d": lambda L, x: L.nn.functional.avg_pool1d(x.flatten(2), 3, stride=2, padding=1),
    "adaptive_avg_pool2d": lambda L, x: L.nn.functional.adaptive_avg_pool2d(x, (3, 2)),
}


@pytest.mark.parametrize("name", sorted(POOL))
def test_pooling(name):
    check_against_torch(lambda L, x: L.sin(POOL[name](L, x)) * POOL[name](L, x), [anyv((2, 2, 5, 5))])


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad(mode):
    kw = {"value": 0.5} if mode == "constant" else {}

    def fn(L, x):
        y = L.nn.functional.pad(x, (1, 2, 2, 1), mode=mode, **kw)
        return L.sin(y) * y
    check_against_torch(fn, [anyv((1, 2, 4, 3))])


@pytest.mark.parametrize("case", ["bilinear", "bilinear_align", "linear"])
def test_linear_upsample(case):
    def fn(L, x):
        if case == "linear":
            y = L.nn.functional.interpolate(x.flatten(2), size=7, mode="linear")
        else:
            y = L.nn.functional.interpolate(x, size=(4, 5), mode="bilinear", align_corners=case == "bilinear_align")
        return L.sin(y) * y
    check_against_torch(fn, [anyv((1, 2, 3, 2))])


def test_nearest_upsample():
    check_against_torch(lambda L, x: L.sin(L.nn.functional.interpolate(x, scale_factor=2, mode="nearest")) ** 2,
                        [anyv((1, 2, 3, 2))])


# ---- reductions, selection, cumsum, indexing ---------------------------------------------------

MISC = {
    "logsumexp": lambda L, x: L.logsumexp(x * x, 1) * x.sum(),
    "logsumexp_keepdim": lambda L, x: L.logsumexp(L.sin(x), (0, 1), keepdim=True) ** 2,
    "var": lambda L, x: x.var(1) * x.sum(0)[:3],
    "var_all": lambda L, x: L.sin(x.var() * x),
    "var_correction": lambda L, x: x.var(0, correction=0, keepdim=True) * x,
    "std": lambda L, x: x.std(1) ** 3,
    "std_dims": lambda L, x: L.sin(x.std((0, 1), keepdim=True) * x),
    "clamp_scalar": lambda L, x: L.clamp(x, -0.5, 0.7) * x * x,
    "clamp_min": lambda L, x: x.clamp(min=0.1) ** 3,
    "cumsum": lambda L, x: L.sin(L.cumsum(x, 1)) * x,
    "cumsum_dim0": lambda L, x: L.cumsum(x * x, 0) ** 2,
    "index_select": lambda L, x: L.sin(L.index_select(x, 1, L.tensor(np.array([3, 0, 3])))) * x[:, :3],
    "gather": lambda L, x: L.gather(x, 1, L.tensor(np.array([[0, 0], [3, 1], [2, 2]]))) ** 3,
    "advanced_index": lambda L, x: L.sin(x[L.tensor(np.array([0, 2, 0])), L.tensor(np.array([1, 1, 3]))]) * x[0, :3],
    "bool_mask": lambda L, x: (x[x > 0] ** 3).sum() * x,
    "max_all": lambda L, x: L.sin(x.max()) * x,
    "min_dim": lambda L, x: x.min(1)[0] ** 3,
    "max_dim_keepdim": lambda L, x: L.sin(x.max(0, keepdim=True)[0] * x),
    "amax": lambda L, x: L.amax(x * x, 1) ** 2,
    "amin_dims": lambda L, x: L.sin(L.amin(x, (0, 1), keepdim=True) * x),
    "topk": lambda L, x: L.topk(x, 2, 1)[0] ** 3,
    "sort": lambda L, x: L.sort(x, 0)[0] * x,
    "flip": lambda L, x: L.flip(x * x, (0, 1)) * x,
    "roll": lambda L, x: L.roll(x * x, 1, 1) * x,
    "roll_flat": lambda L, x: L.roll(x * x, 2) * x,
    "repeat": lambda L, x: x.repeat(2, 1) ** 3,
    "tril": lambda L, x: L.tril(x * x, 1) * x,
    "masked_fill": lambda L, x: L.sin(x.masked_fill(x > 0.5, 2.0)) * x,
    "triu": lambda L, x: L.triu(x ** 3, -1),
}


@pytest.mark.parametrize("name", sorted(MISC))
def test_misc_ops(name):
    check_against_torch(MISC[name], [anyv((3, 4))])


def _setitem(L, a, b, accumulate):
    y = a * a
    idx = L.tensor(np.array([0, 2]))
    if accumulate:
        y.index_put_((idx,), L.sin(b[:2]), accumulate=True)
    else:
        y[idx] = L.sin(b[:2])
    return y * y * a


BINARY_SEL = {
    "setitem": lambda L, a, b: _setitem(L, a, b, False),
    "index_put_accumulate": lambda L, a, b: _setitem(L, a, b, True),
    "masked_fill_tensor": lambda L, a, b: L.sin(a.masked_fill(a > 0, (b * b).sum())) * a,
    "maximum": lambda L, a, b: L.maximum(a, b) * a * b,
    "minimum": lambda L, a, b: L.sin(L.minimum(a * a, b)) * a,
    "clamp_tensor": lambda L, a, b: L.clamp(a, min=b - 0.5, max=b + 0.5) ** 3,
    "clamp_tensor_max": lambda L, a, b: L.clamp(a, max=b) * a * b,
    "scatter_add": lambda L, a, b: L.scatter_add(a, 1, L.tensor(np.array([[0, 1, 0, 3], [2, 2, 1, 0], [3, 3, 3, 3]])), b * b) ** 2,
}


@pytest.mark.parametrize("name", sorted(BINARY_SEL))
def test_binary_selection(name):
    check_against_torch(BINARY_SEL[name], [anyv((3, 4)), anyv((3, 4))])


def test_maximum_ties_split_the_gradient():
    a = np.array([[1.0, 2.0, 3.0]])
    check_against_torch(lambda L, x, y: L.maximum(x * x, y * y) * x, [a, a.copy()])


def test_dropout_second_derivative():
    x = tg.tensor(anyv((4, 5)), requires_grad=True)
    y = F.dropout(x, 0.4, training=True)
    m = y.detach().numpy() / x.detach().numpy()  # 0 or 1 / (1 - p)
    (g,) = tg.autograd.grad((y ** 3).sum(), x, create_graph=True)
    (g2,) = tg.autograd.grad(g.sum(), x)
    xs = x.detach().numpy()
    np.testing.assert_allclose(g.detach().numpy(), 3 * m ** 3 * xs ** 2, rtol=1e-6)
    np.testing.assert_allclose(g2.numpy(), 6 * m ** 3 * xs, rtol=1e-6)


def test_misc_gradgradcheck():
    x = tg.tensor(anyv((3, 4)), requires_grad=True)
    assert tg.autograd.gradgradcheck(lambda t: tg.logsumexp(t, 1) * t.std(1), [x])
    assert tg.autograd.gradgradcheck(lambda t: F.max_pool2d(t.reshape(1, 1, 3, 4), 2) ** 2, [x])
    assert tg.autograd.gradgradcheck(lambda t: F.avg_pool2d(t.reshape(1, 1, 3, 4) ** 2, 2, stride=1), [x])


# ---- custom Functions ---------------------------------------------------------------------------


def _cube_class(lib, once=False):
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x ** 2

    class Cube(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

    Cube.backward = staticmethod(lib.autograd.function.once_differentiable(backward) if once else backward)
    return Cube


def test_custom_function_is_differentiable_twice():
    check_against_torch(lambda L, x: L.sin(_cube_class(L).apply(x)), [anyv((2, 3))])


def test_custom_function_once_differentiable_raises_on_double_backward():
    if torch is None:
        pytest.skip("torch not installed")
    for lib in (tg, torch):
        x = lib.tensor(anyv(3), requires_grad=True)
        y = lib.sin(_cube_class(lib, once=True).apply(x)).sum()
        (g,) = lib.autograd.grad(y, x, create_graph=True)
        assert g.requires_grad
        with pytest.raises(RuntimeError, match="trying to differentiate twice a function that was marked with "
                                               "@once_differentiable"):
            g.sum().backward()
        # a plain backward still works
        (g1,) = lib.autograd.grad(lib.sin(_cube_class(lib, once=True).apply(x)).sum(), x)
        assert not g1.requires_grad


# ---- autograd.functional ----------------------------------------------------------------------


def _same(a, b, tol=1e-10):
    if isinstance(b, tuple):
        assert isinstance(a, tuple) and len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y, tol)
        return
    assert isinstance(a, tg.Tensor) and tuple(a.shape) == tuple(b.shape)
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=tol, atol=tol)


def _args(lib, arrays, as_tuple):
    ts = tuple(lib.tensor(a) for a in arrays)
    return ts if as_tuple else ts[0]


def _f1(L, x):
    return (L.sin(x) * x).sum()


def _f2(L, x, y):
    return (x.exp() * y).sum() + (x * x).sum() * y[0]


@pytest.mark.parametrize("fn_name", ["hessian", "hvp", "vhp"])
@pytest.mark.parametrize("as_tuple", [False, True])
def test_second_order_functional(fn_name, as_tuple):
    if torch is None:
        pytest.skip("torch not installed")
    arrays = [anyv((2, 3))] if not as_tuple else [anyv(3), anyv(3)]
    f = _f1 if not as_tuple else _f2
    vs = [anyv(a.shape) for a in arrays]
    res = []
    for lib in (tg, torch):
        fun = getattr(lib.autograd.functional, fn_name)
        fn = (lambda *a, L=lib: f(L, *a))
        inputs = _args(lib, arrays, as_tuple)
        if fn_name == "hessian":
            res.append(fun(fn, inputs))
        else:
            res.append(fun(fn, inputs, _args(lib, vs, as_tuple)))
    _same(*res)


@pytest.mark.parametrize("in_tuple,out_tuple", [(False, False), (True, False), (False, True), (True, True)])
def test_jvp(in_tuple, out_tuple):
    if torch is None:
        pytest.skip("torch not installed")
    arrays = [anyv((2, 3))] + ([anyv(3)] if in_tuple else [])
    vs = [anyv(a.shape) for a in arrays]

    def make(L):
        def f(*a):
            x = a[0]
            y = L.tanh(x * (a[1] if len(a) > 1 else 1.0))
            return (y, (x * x).sum(0)) if out_tuple else y
        return f
    ours = tg.autograd.functional.jvp(make(tg), _args(tg, arrays, in_tuple), _args(tg, vs, in_tuple))
    theirs = torch.autograd.functional.jvp(make(torch), _args(torch, arrays, in_tuple), _args(torch, vs, in_tuple))
    _same(ours, theirs)


def test_functional_create_graph():
    if torch is None:
        pytest.skip("torch not installed")
    a, v = anyv(3), anyv(3)
    out = []
    for lib in (tg, torch):
        x = lib.tensor(a, requires_grad=True)
        f = (lambda t, L=lib: L.sin(t) * t * t)
        j = lib.autograd.functional.jacobian(f, x, create_graph=True)
        _, vj = lib.autograd.functional.vjp(f, x, lib.tensor(v), create_graph=True)
        _, jv = lib.autograd.functional.jvp(f, x, lib.tensor(v), create_graph=True)
        h = lib.autograd.functional.hessian(lambda t, L=lib: (L.sin(t) * t).sum(), x, create_graph=True)
        _, hv = lib.autograd.functional.hvp(lambda t, L=lib: (L.exp(t) * t).sum(), x, lib.tensor(v), create_graph=True)
        assert j.requires_grad and vj.requires_grad and jv.requires_grad and h.requires_grad and hv.requires_grad
        total = (j * j).sum() + (vj ** 3).sum() + jv.sum() + (h * h).sum() + (hv * hv).sum()
        (g,) = lib.autograd.grad(total, x)
        out.append(g.detach().numpy())
        # without create_graph the results have no history
        j0 = lib.autograd.functional.jacobian(f, x)
        assert not j0.requires_grad
    np.testing.assert_allclose(out[0], out[1], rtol=1e-10, atol=1e-12)


def test_functional_errors_match_torch():
    if torch is None:
        pytest.skip("torch not installed")
    for lib in (tg, torch):
        fun = lib.autograd.functional
        x = lib.tensor(anyv(3))
        with pytest.raises(RuntimeError, match="should return a single Tensor"):
            fun.hvp(lambda t: (t.sum(), t.sum()), x, x)
        with pytest.raises(RuntimeError, match="should contain a single element"):
            fun.vhp(lambda t: t * 2, x, x)
        with pytest.raises(RuntimeError, match="should contain a single element"):
            fun.hessian(lambda t: t * 2, x)
        with pytest.raises(RuntimeError, match="v has invalid size"):
            fun.jvp(lambda t: t * 2, x, lib.tensor(anyv(2)))
        with pytest.raises(RuntimeError, match="The vector v can only be None"):
            fun.jvp(lambda t: t * 2, x)
        with pytest.raises(RuntimeError, match="independent of input 1"):
            fun.vhp(lambda a, b: (a * a).sum(), (x, x), (x, x), strict=True)
        with pytest.raises(TypeError, match="must be either a Tensor or a tuple of Tensors"):
            fun.hessian(lambda t: t.sum(), [x, 3])
        # a hessian of a linear function is zeros (not strict) and refused in strict mode
        h = fun.hessian(lambda t: (t * 2).sum(), x)
        assert tuple(h.shape) == (3, 3) and not h.numpy().any()
        with pytest.raises(RuntimeError, match="jacobian of the user-provided function with"):
            fun.hessian(lambda t: (t * 2).sum(), x, strict=True)
