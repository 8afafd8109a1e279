"""The memory layout of F.scaled_dot_product_attention's output and gradients: where PyTorch
2.13 runs its CPU flash kernel, the output (and the gradients of query, key and value) are
laid out as the operands are (empty_like), so a GPT's q/k/v, `view(B, T, H, D).transpose(1, 2)`
of one Linear's output, give an output whose `transpose(1, 2).contiguous()` is free. Values
and gradients with such layouts against PyTorch, finite differences and the same
computation on contiguous copies."""
import numpy as np
import pytest

import tinygrad_cpp as tg
import tinygrad_cpp.nn.functional as F
from tinygrad_cpp.autograd import gradcheck, gradgradcheck

B, T, H, D = 2, 5, 3, 4
C = H * D


def rand(rng, shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


def heads(lib, x, n_head=H):
    """GPT's q, k, v: (B, nh, T, hs) views of the (B, T, 3C) projection."""
    b, t, c3 = x.shape
    c = c3 // 3
    return [p.view(b, t, n_head, c // n_head).transpose(1, 2) for p in x.split(c, dim=2)]


# (name, builder(lib, rng) -> (args, kwargs)); each builds the same arrays for both libraries
def _t(lib, a):
    """`a` as a contiguous tensor whose strides are the same in both libraries (a view of a
    1-d tensor: torch.tensor(ndarray) strides size-1 dims differently)."""
    a = np.ascontiguousarray(a)
    return lib.tensor(a.ravel()).view(*a.shape)


def _bthd(lib, a):  # (B, H, T, D) values in (B, T, H, D) memory
    return _t(lib, np.ascontiguousarray(np.swapaxes(a, 1, 2))).transpose(1, 2)


def _case(qs, ks=None, vs=None, layout="bthd", **kw):
    ks, vs = ks or qs, vs or ks or qs

    def build(lib, rng):
        arrays = [rand(rng, s, np.float32) for s in (qs, ks, vs)]
        mk = _bthd if layout == "bthd" else _t
        args = [mk(lib, a) if len(a.shape) == 4 else _t(lib, a) for a in arrays]
        kwargs = dict(kw)
        m = kwargs.pop("mask", None)
        if m is not None:
            shape, kind = m
            am = rng.random(shape) < 0.7 if kind == "bool" else rand(rng, shape, np.float32)
            kwargs["attn_mask"] = _t(lib, am)
            if kind == "float_grad":
                kwargs["attn_mask"].requires_grad_()
        return args, kwargs
    return build


STRIDE_CASES = {
    "bthd": _case((B, H, T, D), is_causal=True),
    "contiguous": _case((B, H, T, D), layout="contig"),
    "3d": _case((H, T, D), layout="contig"),
    "5d": _case((1, B, H, T, D), layout="contig"),
    "2d": _case((T, D), layout="contig"),
    "float_mask": _case((B, H, T, D), mask=((T, T), "float")),
    "bool_mask": _case((B, H, T, D), mask=((T, T), "bool")),
    "mask_4d": _case((B, H, T, D), mask=((B, 1, T, T), "float")),
    "mask_4d_heads": _case((B, H, T, D), mask=((1, H, T, T), "bool")),
    "mask_3d": _case((B, H, T, D), mask=((H, T, T), "float")),
    "mask_requires_grad": _case((B, H, T, D), mask=((T, T), "float_grad")),
    "dropout": _case((B, H, T, D), dropout_p=0.3),
    "broadcast_q": _case((1, H, T, D), (B, H, T, D)),
    "head_size_differs": _case((B, H, T, D), (B, H, T, D), (B, H, T, 7)),
    "more_keys": _case((B, H, T, D), (B, H, 9, D)),
    "gqa": _case((B, H, T, D), (B, 1, T, D), enable_gqa=True),
    "gqa_kv_heads_differ": _case((B, 4, T, D), (B, 2, T, D), (B, 1, T, D), enable_gqa=True),
    "heads_broadcast": _case((B, H, T, D), (B, 1, T, D)),
    "one_batch_one_head": _case((1, 1, T, D)),
    "no_keys": _case((B, H, T, D), (B, H, 0, D)),
    "no_queries": _case((B, H, 0, D), (B, H, T, D)),
    "no_batch": _case((0, H, T, D), (0, H, 9, D)),
}


def _hbtd(lib, rng):  # (B, H, T, D) values in (H, B, T, D) memory
    a = rand(rng, (H, B, T, D), np.float32)
    return [_t(lib, a).permute(1, 0, 2, 3)] * 3, {}


def _q_contig_kv_bthd(lib, rng):
    q = _t(lib, rand(rng, (B, H, T, D), np.float32))
    k = _bthd(lib, rand(rng, (B, H, T, D), np.float32))
    return [q, k, k], {}


def _strided_last(lib, rng):
    a = rand(rng, (B, H, D, T), np.float32)
    x = _t(lib, a).transpose(-1, -2)
    return [x, x, x], {}


def _expanded_batch(lib, rng):  # a query shared by the batch: stride 0 (overlapping)
    q = _t(lib, rand(rng, (1, T, H, D), np.float32)).transpose(1, 2).expand(B, H, T, D)
    k = _t(lib, rand(rng, (B, H, T, D), np.float32))
    return [q, k, k], {}


def _expanded_heads(lib, rng):
    x = _t(lib, rand(rng, (H, 1, T, D), np.float32)).expand(H, B, T, D).transpose(0, 1)
    return [x, x.contiguous(), x.contiguous()], {}


STRIDE_CASES.update(hbtd=_hbtd, q_contig_kv_bthd=_q_contig_kv_bthd, strided_last_dim=_strided_last,
                    expanded_batch=_expanded_batch, expanded_heads=_expanded_heads)


@pytest.mark.parametrize("name", list(STRIDE_CASES))
def test_output_strides_match_torch(name):
    torch = pytest.importorskip("torch")
    res, res_args = [], []
    for lib in (tg, torch):
        args, kw = STRIDE_CASES[name](lib, np.random.default_rng(0))
        res_args.append(args)
        res.append(lib.nn.functional.scaled_dot_product_attention(*args, **kw))
    ours, want = res
    assert [tuple(a.stride()) for a in args] == [tuple(a.stride()) for a in res_args[0]]
    assert tuple(ours.shape) == tuple(want.shape)
    assert tuple(ours.stride()) == tuple(want.stride())
    if name != "dropout":  # (dropout's masks differ between the libraries)
        np.testing.assert_allclose(ours.detach().numpy(), want.detach().numpy(), rtol=1e-4, atol=2e-5)


@pytest.mark.parametrize("name", ["bthd", "contiguous", "hbtd", "q_contig_kv_bthd", "gqa", "more_keys",
                                  "mask_4d", "3d", "broadcast_q", "one_batch_one_head", "expanded_batch"])
def test_grad_strides_match_torch(name):
    """The gradients reaching q, k, v (hooks see them before any accumulation) are laid out
    as PyTorch's: (B, T, H, D) memory from its flash kernel, whatever the operands' layouts;
    its math fallback's elsewhere (only the values are compared there)."""
    torch = pytest.importorskip("torch")
    res = []
    for lib in (tg, torch):
        args, kw = STRIDE_CASES[name](lib, np.random.default_rng(0))
        args = [a.detach().requires_grad_() for a in args]  # (hbtd: one tensor thrice, three leaves now)
        seen = {}
        for i, t in enumerate(args):
            t.register_hook(lambda g, i=i: seen.__setitem__(i, tuple(g.stride())))
        y = lib.nn.functional.scaled_dot_product_attention(*args, **kw)
        y.backward(lib.tensor(np.random.default_rng(1).standard_normal(tuple(y.shape)).astype(np.float32)))
        res.append((seen, [a.grad.numpy() for a in args]))
    (so, go), (sw, gw) = res
    for a, b in zip(go, gw):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)
    flash = name not in ("3d", "broadcast_q")
    if flash:
        assert so == sw


def test_gpt_layout_output_transposes_for_free():
    rng = np.random.default_rng(1)
    x = tg.tensor(rand(rng, (B, T, 3 * C), np.float32))
    y = F.scaled_dot_product_attention(*heads(tg, x), is_causal=True)
    assert tuple(y.stride()) == (T * C, D, C, 1)
    yt = y.transpose(1, 2)
    assert yt.is_contiguous()
    assert yt.contiguous().data_ptr() == y.data_ptr()  # no copy
    np.testing.assert_allclose(yt.reshape(B, T, C).numpy(),
                               np.swapaxes(y.numpy(), 1, 2).reshape(B, T, C), rtol=0, atol=0)


# What the output's gradient flows back through, so it arrives in different layouts (and
# "expanded": y.sum(), a gradient of zero strides).
GRAD_PATHS = {
    # the GPT: y.transpose(1, 2).contiguous().view(B, T, C): the grad is a transposed view
    "through_view": lambda y: y.transpose(1, 2).contiguous().view(B, T, C),
    "contiguous": lambda y: y,
    # last dim strided (T) in the grad
    "permuted": lambda y: y.permute(0, 1, 3, 2).contiguous().permute(0, 1, 3, 2),
}


@pytest.mark.parametrize("gkind", ["through_view", "contiguous", "permuted", "expanded"])
@pytest.mark.parametrize("case", ["causal", "float_mask", "bool_mask_4d", "gqa", "more_keys"])
@pytest.mark.parametrize("threads", [1, 4])
def test_gpt_layout_values_and_grads_match_torch(case, gkind, threads):
    """The projection's gradient (all of q, k, v at once through split), the mask's, and the
    strides of q/k/v's gradients (seen by hooks) as PyTorch's; at 4 threads the two
    problems take the backward's two-pass path, at 1 the one-pass path."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    nh, kvh, S = H, H, T
    if case == "gqa":
        kvh = 1
    xa = rand(rng, (B, T, 3 * C), np.float32)
    kva = rand(rng, (B, 9, 2 * D * kvh), np.float32) if case in ("gqa", "more_keys") else None
    if case == "more_keys":
        S = 9
    ma = None
    if case == "float_mask":
        ma = rand(rng, (T, S), np.float32)
    elif case == "bool_mask_4d":
        ma = rng.random((B, 1, T, S)) < 0.7
        ma[..., 0] = True
    ga = rand(rng, (B, T, C), np.float32)
    results = []
    n = tg.get_num_threads()
    try:
        tg.set_num_threads(threads)
        for lib in (tg, torch):
            x = lib.tensor(xa, requires_grad=True)
            q, k, v = heads(lib, x, nh)
            leaves = [x]
            if kva is not None:
                kv = lib.tensor(kva, requires_grad=True)
                leaves.append(kv)
                Skv = kva.shape[1]
                k, v = [p.view(B, Skv, kvh, D).transpose(1, 2) for p in kv.split(D * kvh, dim=2)]
            kw = {}
            if case == "causal":
                kw["is_causal"] = True
            if case == "gqa":
                kw["enable_gqa"] = True
            if ma is not None:
                m = lib.tensor(ma)
                kw["attn_mask"] = m
            strides = {}
            for name, t in zip("qkv", (q, k, v)):
                t.register_hook(lambda g, name=name: strides.__setitem__(name, tuple(g.stride())))
            y = lib.nn.functional.scaled_dot_product_attention(q, k, v, **kw)
            if gkind == "expanded":
                (y.sum() * 0.5).backward()
            else:
                out = GRAD_PATHS[gkind](y)
                g = lib.tensor(ga if gkind == "through_view" else np.swapaxes(ga.reshape(B, T, H, D), 1, 2).copy())
                out.backward(g)
            results.append((y.detach().numpy(), [t.grad.numpy() for t in leaves], strides, tuple(y.stride())))
    finally:
        tg.set_num_threads(n)
    (yo, go, so, sto), (yw, gw, sw, stw) = results
    tol = dict(rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(yo, yw, **tol)
    for a, b in zip(go, gw):
        np.testing.assert_allclose(a, b, **tol)
    assert sto == stw
    assert so == sw


GRAD_CASES = {
    "causal": dict(is_causal=True),
    "float_mask": dict(mask="float"),
    "bool_mask": dict(mask="bool"),
    "gqa": dict(enable_gqa=True, kv_heads=1),
    "scale": dict(scale=0.6),
}


def _gpt_inputs(rng, kv_heads=H):
    x = tg.tensor(rand(rng, (B, T, 3 * C)), requires_grad=True)
    kv = tg.tensor(rand(rng, (B, 4, 2 * D * kv_heads)), requires_grad=True) if kv_heads != H else None
    return x, kv


def _gpt_fn(case, mask):
    kw = {k: v for k, v in case.items() if k not in ("mask", "kv_heads")}

    def fn(x, kv=None, m=None):
        q, k, v = heads(tg, x)
        if kv is not None:
            kh = case["kv_heads"]
            k, v = [p.view(B, 4, kh, D).transpose(1, 2) for p in kv.split(D * kh, dim=2)]
        extra = {} if m is None and mask is None else {"attn_mask": m if m is not None else mask}
        y = F.scaled_dot_product_attention(q, k, v, **kw, **extra)
        return y.transpose(1, 2).contiguous().view(B, T, C)
    return fn


@pytest.mark.parametrize("name", list(GRAD_CASES))
def test_gpt_layout_gradcheck(name):
    case = GRAD_CASES[name]
    rng = np.random.default_rng(3)
    x, kv = _gpt_inputs(rng, case.get("kv_heads", H))
    S = 4 if kv is not None else T
    inputs = [x] if kv is None else [x, kv]
    mask = None
    if case.get("mask") == "bool":
        m = rng.random((T, S)) < 0.6
        m[:, 0] = True
        mask = tg.tensor(m)
    fn = _gpt_fn(case, mask)
    if case.get("mask") == "float":
        inputs.append(tg.tensor(rand(rng, (1, H, T, S)), requires_grad=True))
        assert gradcheck(lambda x, m: fn(x, None, m), inputs)
    else:
        assert gradcheck(fn, inputs)


@pytest.mark.parametrize("name", ["causal", "float_mask"])
def test_gpt_layout_gradgradcheck(name):
    case = GRAD_CASES[name]
    rng = np.random.default_rng(4)
    x, _ = _gpt_inputs(rng)
    fn = _gpt_fn(case, None)
    if case.get("mask") == "float":
        m = tg.tensor(rand(rng, (T, T)), requires_grad=True)
        assert gradgradcheck(lambda x, m: fn(x, None, m), [x, m])
    else:
        assert gradgradcheck(fn, [x])


@pytest.mark.parametrize("threads", [1, 4])
@pytest.mark.parametrize("dropout_p", [0.0, 0.3])
@pytest.mark.parametrize("mask", [None, "float", "bool"])
def test_layouts_agree_with_contiguous_copies(mask, dropout_p, threads):
    """The same values in any memory layout, the same seed: identical output and gradients
    (dropout's mask is drawn per (problem, query, key), not per address)."""
    rng = np.random.default_rng(5)
    xa = rand(rng, (B, T, 3 * C))
    ma = None
    if mask == "float":
        ma = rand(rng, (B, 1, T, T))
    elif mask == "bool":
        ma = rng.random((T, T)) < 0.7
    ga = rand(rng, (B, H, T, D))
    res = []
    n = tg.get_num_threads()
    try:
        tg.set_num_threads(threads)
        for contig in (False, True):
            x = tg.tensor(xa, requires_grad=True)
            q, k, v = heads(tg, x)
            if contig:
                q, k, v = q.contiguous(), k.contiguous(), v.contiguous()
            kw = {"dropout_p": dropout_p, "is_causal": mask is None}
            m = None
            if ma is not None:
                m = tg.tensor(ma, requires_grad=mask == "float")
                kw["attn_mask"] = m
            tg.manual_seed(9)
            y = F.scaled_dot_product_attention(q, k, v, **kw)
            y.backward(tg.tensor(ga))
            res.append([y.detach().numpy(), x.grad.numpy()] + ([m.grad.numpy()] if mask == "float" else []))
    finally:
        tg.set_num_threads(n)
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_output_in_place_and_views():
    """The laid-out output behaves as any tensor: views, in-place ops, the autograd check of
    a modified saved output."""
    rng = np.random.default_rng(6)
    x = tg.tensor(rand(rng, (B, T, 3 * C)), requires_grad=True)
    y = F.scaled_dot_product_attention(*heads(tg, x), is_causal=True)
    want = y.detach().numpy().copy()
    z = y * 1.0
    np.testing.assert_array_equal(z.detach().numpy(), want)
    y2 = F.scaled_dot_product_attention(*heads(tg, x), is_causal=True)
    y2.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y2.sum().backward()
    with tg.no_grad():
        y3 = F.scaled_dot_product_attention(*heads(tg, x.detach()), is_causal=True)
        y3.add_(1)
    np.testing.assert_allclose(y3.numpy(), want + 1, rtol=1e-12)
    with pytest.raises(RuntimeError):
        y3.view(B, H, T * D)  # (not viewable, as in PyTorch)
