"""Convolutions: Conv1d/Conv2d (stride, padding incl. 'same'/'valid', dilation, groups)
and ConvTranspose1d/2d, forward against a direct numpy reference, gradients against
finite differences (float64) and PyTorch, modules against PyTorch with weights copied."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_cpp as tg
import tinygrad_cpp.nn.functional as F
from helpers import check_grad, torch

rng = np.random.default_rng(0)


def ref_conv(x, w, b=None, stride=(1, 1), pad=((0, 0), (0, 0)), dilation=(1, 1), groups=1):
    """out[n, o, i, j] = sum over c, ki, kj of x_padded[n, c, i*s + ki*d, j*s + kj*d] * w[o, c, ki, kj]."""
    N, C, H, W = x.shape
    O, Cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), pad[0], pad[1]))
    OH = (xp.shape[2] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    OW = (xp.shape[3] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((N, O, OH, OW), dtype=np.result_type(x, w))
    Og = O // groups
    for g in range(groups):
        xs = xp[:, g * Cg:(g + 1) * Cg]
        for ki in range(kh):
            for kj in range(kw):
                i0, j0 = ki * dilation[0], kj * dilation[1]
                patch = xs[:, :, i0:i0 + stride[0] * (OH - 1) + 1:stride[0], j0:j0 + stride[1] * (OW - 1) + 1:stride[1]]
                out[:, g * Og:(g + 1) * Og] += np.einsum("nchw,oc->nohw", patch, w[g * Og:(g + 1) * Og, :, ki, kj])
    if b is not None:
        out += b[None, :, None, None]
    return out


def ref_conv_transpose(x, w, b=None, stride=(1, 1), pad=(0, 0), output_padding=(0, 0), dilation=(1, 1), groups=1):
    """Scatters each input pixel through the kernel: the adjoint of ref_conv."""
    N, Cin, H, W = x.shape
    _, Og, kh, kw = w.shape
    Cg = Cin // groups
    OH = (H - 1) * stride[0] - 2 * pad[0] + dilation[0] * (kh - 1) + output_padding[0] + 1
    OW = (W - 1) * stride[1] - 2 * pad[1] + dilation[1] * (kw - 1) + output_padding[1] + 1
    full = np.zeros((N, Og * groups, OH + 2 * pad[0] + stride[0] + dilation[0] * kh,
                     OW + 2 * pad[1] + stride[1] + dilation[1] * kw), dtype=np.result_type(x, w))
    for g in range(groups):
        for ki in range(kh):
            for kj in range(kw):
                contrib = np.einsum("nchw,co->nohw", x[:, g * Cg:(g + 1) * Cg], w[g * Cg:(g + 1) * Cg, :, ki, kj])
                i0, j0 = ki * dilation[0], kj * dilation[1]
                full[:, g * Og:(g + 1) * Og, i0:i0 + stride[0] * H:stride[0], j0:j0 + stride[1] * W:stride[1]] += contrib
    out = full[:, :, pad[0]:pad[0] + OH, pad[1]:pad[1] + OW]
    if b is not None:
        out = out + b[None, :, None, None]
    return out


CONV2D = [  # N, C, O, H, W, k, stride, padding, dilation, groups
    (2, 3, 4, 7, 6, 3, 1, 1, 1, 1),
    (2, 4, 6, 9, 8, (3, 2), (2, 1), (1, 0), (2, 1), 2),
    (3, 4, 4, 5, 5, 1, 1, 0, 1, 1),        # pointwise: no unfolding
    (1, 4, 8, 6, 7, 1, 2, 0, 1, 4),        # strided 1x1, grouped
    (2, 6, 6, 7, 7, 3, 1, 2, 1, 6),        # depthwise, padding beyond the kernel's half
    (1, 2, 3, 4, 4, 4, 3, 3, 1, 1),
]


def _pair(v):
    return v if isinstance(v, tuple) else (v, v)


@pytest.mark.parametrize("cfg", CONV2D)
def test_conv2d_forward_matches_numpy(cfg):
    N, C, O, H, W, k, s, p, d, g = cfg
    k, s, p, d = map(_pair, (k, s, p, d))
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((O, C // g) + k)
    b = rng.standard_normal(O)
    out = F.conv2d(tg.tensor(x), tg.tensor(w), tg.tensor(b), stride=s, padding=p, dilation=d, groups=g)
    ref = ref_conv(x, w, b, s, ((p[0], p[0]), (p[1], p[1])), d, g)
    assert out.shape == ref.shape
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12, atol=1e-12)
    # float32 agrees to float32 rounding
    out32 = F.conv2d(tg.tensor(x, dtype=tg.float32), tg.tensor(w, dtype=tg.float32), tg.tensor(b, dtype=tg.float32),
                     stride=s, padding=p, dilation=d, groups=g)
    np.testing.assert_allclose(out32.numpy(), ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("cfg", CONV2D)
def test_conv2d_gradients(cfg):
    N, C, O, H, W, k, s, p, d, g = cfg
    k = _pair(k)
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((O, C // g) + k)
    b = rng.standard_normal(O)
    check_grad(lambda x, w, b: F.conv2d(x, w, b, stride=s, padding=p, dilation=d, groups=g), x, w, b,
               torch_fn=None if torch is None else
               lambda x, w, b: torch.nn.functional.conv2d(x, w, b, stride=s, padding=p, dilation=d, groups=g))


def test_conv1d_forward_and_gradients():
    x = rng.standard_normal((2, 4, 11))
    w = rng.standard_normal((6, 2, 3))
    b = rng.standard_normal(6)
    out = F.conv1d(tg.tensor(x), tg.tensor(w), tg.tensor(b), stride=2, padding=2, dilation=2, groups=2)
    ref = ref_conv(x[:, :, None], w[:, :, None], b, (1, 2), ((0, 0), (2, 2)), (1, 2), 2)[:, :, 0]
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12, atol=1e-12)
    check_grad(lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=2, dilation=2, groups=2), x, w, b,
               torch_fn=None if torch is None else
               lambda x, w, b: torch.nn.functional.conv1d(x, w, b, stride=2, padding=2, dilation=2, groups=2))


TRANSPOSED = [  # N, Cin, Cout, H, W, k, stride, padding, output_padding, dilation, groups
    (2, 4, 6, 5, 4, 3, 2, 1, 1, 1, 2),
    (2, 4, 6, 5, 4, 3, 1, 0, 0, 2, 1),
    (1, 3, 2, 3, 4, (2, 3), (3, 2), (1, 0), (2, 1), 1, 1),
    (2, 2, 2, 4, 4, 1, 1, 0, 0, 1, 1),
]


@pytest.mark.parametrize("cfg", TRANSPOSED)
def test_conv_transpose2d_forward_and_gradients(cfg):
    N, Cin, Cout, H, W, k, s, p, op, d, g = cfg
    k, s, p, op, d = map(_pair, (k, s, p, op, d))
    x = rng.standard_normal((N, Cin, H, W))
    w = rng.standard_normal((Cin, Cout // g) + k)
    b = rng.standard_normal(Cout)
    out = F.conv_transpose2d(tg.tensor(x), tg.tensor(w), tg.tensor(b), s, p, op, g, d)
    ref = ref_conv_transpose(x, w, b, s, p, op, d, g)
    assert out.shape == ref.shape
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12, atol=1e-12)
    check_grad(lambda x, w, b: F.conv_transpose2d(x, w, b, s, p, op, g, d), x, w, b,
               torch_fn=None if torch is None else
               lambda x, w, b: torch.nn.functional.conv_transpose2d(x, w, b, s, p, op, g, d))


def test_conv_transpose1d_gradients():
    x = rng.standard_normal((2, 4, 7))
    w = rng.standard_normal((4, 3, 4))
    check_grad(lambda x, w: F.conv_transpose1d(x, w, None, 3, 1, 2, 2, 1), x, w,
               torch_fn=None if torch is None else
               lambda x, w: torch.nn.functional.conv_transpose1d(x, w, None, 3, 1, 2, 2, 1))


def test_conv_transpose_is_the_adjoint_of_conv():
    # <conv(x), y> == <x, conv_transpose(y)> for the same weight: the two kinds share kernels.
    x = rng.standard_normal((2, 3, 9, 8))
    w = rng.standard_normal((5, 3, 3, 2))
    y = rng.standard_normal(tuple(F.conv2d(tg.tensor(x), tg.tensor(w), stride=2, padding=1).shape))
    lhs = np.sum(F.conv2d(tg.tensor(x), tg.tensor(w), stride=2, padding=1).numpy() * y)
    back = F.conv_transpose2d(tg.tensor(y), tg.tensor(w), stride=2, padding=1).numpy()
    assert back.shape == x.shape
    assert lhs == pytest.approx(np.sum(x * back), rel=1e-12)


@pytest.mark.filterwarnings("ignore:Using padding=.same.")
@pytest.mark.parametrize("k,d", [(3, 1), (4, 1), (3, 2), ((2, 3), (1, 3))])
def test_padding_same_and_valid(k, d):
    x = rng.standard_normal((1, 2, 7, 8))
    kk, dd = _pair(k), _pair(d)
    w = rng.standard_normal((3, 2) + kk)
    out = F.conv2d(tg.tensor(x), tg.tensor(w), padding="same", dilation=d)
    assert out.shape == (1, 3, 7, 8)
    total = [di * (ki - 1) for di, ki in zip(dd, kk)]
    ref = ref_conv(x, w, None, (1, 1), tuple((t // 2, t - t // 2) for t in total), dd)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12, atol=1e-12)
    valid = F.conv2d(tg.tensor(x), tg.tensor(w), padding="valid", dilation=d)
    np.testing.assert_allclose(valid.numpy(), ref_conv(x, w, None, (1, 1), ((0, 0), (0, 0)), dd), rtol=1e-12, atol=1e-12)
    if torch is not None:
        t = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), padding="same", dilation=d)
        np.testing.assert_allclose(out.numpy(), t.numpy(), rtol=1e-12, atol=1e-12)
        check_grad(lambda x, w: F.conv2d(x, w, padding="same", dilation=d), x[:, :, :5, :6], w,
                   torch_fn=lambda x, w: torch.nn.functional.conv2d(x, w, padding="same", dilation=d))


def test_unbatched_input():
    x = rng.standard_normal((3, 6, 5))
    w = rng.standard_normal((4, 3, 3, 3))
    out = F.conv2d(tg.tensor(x), tg.tensor(w), padding=1)
    assert out.shape == (4, 6, 5)
    np.testing.assert_allclose(out.numpy(), ref_conv(x[None], w, None, (1, 1), ((1, 1), (1, 1)))[0], rtol=1e-12)
    check_grad(lambda x, w: F.conv2d(x, w, padding=1), x, w,
               torch_fn=None if torch is None else lambda x, w: torch.nn.functional.conv2d(x, w, padding=1))
    assert F.conv1d(tg.tensor(x[:, 0]), tg.tensor(w[:, :, 0])).shape == (4, 3)  # [C, L]


def test_many_bands_and_threads_agree():
    # a plane wider than one unfolded band, a batch split across threads: the same numbers
    # (bitwise) on 1 and 2 threads, and torch's to float64 rounding
    x = rng.standard_normal((6, 8, 60, 50))
    w = rng.standard_normal((5, 8, 3, 3))
    gy = rng.standard_normal((6, 5, 30, 25))
    results = []
    for n in (1, 2):
        prev = tg.get_num_threads()
        tg.set_num_threads(n)
        try:
            xt, wt = tg.tensor(x, requires_grad=True), tg.tensor(w, requires_grad=True)
            out = F.conv2d(xt, wt, stride=2, padding=1)
            out.backward(tg.tensor(gy))
            results.append((out.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()))
        finally:
            tg.set_num_threads(prev)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
    if torch is not None:
        xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
        out = torch.nn.functional.conv2d(xt, wt, stride=2, padding=1)
        out.backward(torch.tensor(gy))
        for a, b in zip(results[0], (out.detach(), xt.grad, wt.grad)):
            np.testing.assert_allclose(a, b.numpy(), rtol=1e-10, atol=1e-10)


def test_int64_convolution():
    x = rng.integers(-5, 5, (2, 3, 6, 6))
    w = rng.integers(-3, 3, (4, 3, 3, 3))
    out = F.conv2d(tg.tensor(x), tg.tensor(w), padding=1)
    assert out.dtype == tg.int64
    np.testing.assert_array_equal(out.numpy(), ref_conv(x, w, None, (1, 1), ((1, 1), (1, 1))))


def test_empty_batch_and_bias_only():
    w = tg.randn(4, 3, 3, 3)
    assert F.conv2d(tg.zeros(0, 3, 5, 5), w).shape == (0, 4, 3, 3)
    out = F.conv2d(tg.zeros(2, 0, 5, 5), tg.zeros(4, 0, 3, 3), tg.ones(4))
    np.testing.assert_array_equal(out.numpy(), np.ones((2, 4, 3, 3), np.float32))


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_conv2d_property(data):
    g = data.draw(st.sampled_from([1, 2, 3]))
    C = g * data.draw(st.integers(1, 3))
    O = g * data.draw(st.integers(1, 3))
    kh, kw = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    sh, sw = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    dh, dw = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    ph, pw = data.draw(st.integers(0, 3)), data.draw(st.integers(0, 3))
    H = data.draw(st.integers(max(1, dh * (kh - 1) + 1 - 2 * ph), 12))
    W = data.draw(st.integers(max(1, dw * (kw - 1) + 1 - 2 * pw), 12))
    N = data.draw(st.integers(1, 3))
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((O, C // g, kh, kw))
    transposed = data.draw(st.booleans())
    if not transposed:
        out = F.conv2d(tg.tensor(x), tg.tensor(w), None, (sh, sw), (ph, pw), (dh, dw), g)
        ref = ref_conv(x, w, None, (sh, sw), ((ph, ph), (pw, pw)), (dh, dw), g)
        np.testing.assert_allclose(out.numpy(), ref, rtol=1e-10, atol=1e-10)
        return
    wt = rng.standard_normal((C, O // g, kh, kw))
    oph, opw = data.draw(st.integers(0, max(sh, dh) - 1)), data.draw(st.integers(0, max(sw, dw) - 1))
    OH = (H - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
    OW = (W - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
    if OH <= 0 or OW <= 0:
        return
    out = F.conv_transpose2d(tg.tensor(x), tg.tensor(wt), None, (sh, sw), (ph, pw), (oph, opw), g, (dh, dw))
    ref = ref_conv_transpose(x, wt, None, (sh, sw), (ph, pw), (oph, opw), (dh, dw), g)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-10, atol=1e-10)


# ---- modules ------------------------------------------------------------------------------

def _copy_weights(ours, theirs):
    with tg.no_grad():
        for name, p in theirs.named_parameters():
            getattr(ours, name).copy_(tg.tensor(p.detach().numpy()))


@pytest.mark.skipif(torch is None, reason="needs torch")
@pytest.mark.parametrize("kwargs", [
    dict(in_channels=3, out_channels=8, kernel_size=3),
    dict(in_channels=4, out_channels=6, kernel_size=(3, 2), stride=2, padding=1, dilation=(1, 2), groups=2, bias=False),
    dict(in_channels=4, out_channels=4, kernel_size=3, padding="same", groups=4),
    dict(in_channels=2, out_channels=3, kernel_size=4, padding="same", dilation=2),
])
def test_conv2d_module_matches_torch(kwargs):
    ours, theirs = tg.nn.Conv2d(**kwargs), torch.nn.Conv2d(**kwargs)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ours.weight.shape == tuple(theirs.weight.shape)
    ours.load_state_dict({k: tg.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    x = rng.standard_normal((2, kwargs["in_channels"], 9, 8)).astype(np.float32)
    out, tout = ours(tg.tensor(x)), theirs(torch.tensor(x))
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-5, atol=1e-5)
    g = rng.standard_normal(tuple(tout.shape)).astype(np.float32)
    out.backward(tg.tensor(g))
    tout.backward(torch.tensor(g))
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(getattr(ours, name).grad.numpy(), p.grad.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.skipif(torch is None, reason="needs torch")
def test_default_init_matches_torch_statistics():
    # kaiming_uniform_(a=sqrt(5)): weights uniform in +-1/sqrt(fan_in), as torch's
    m = tg.nn.Conv2d(16, 32, 3)
    bound = 1 / np.sqrt(16 * 9)
    w = m.weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert np.abs(m.bias.detach().numpy()).max() <= bound


@pytest.mark.skipif(torch is None, reason="needs torch")
def test_conv1d_and_transposed_modules_match_torch():
    for cls, kwargs, shape in [
        ("Conv1d", dict(in_channels=3, out_channels=4, kernel_size=3, stride=2, padding=1), (2, 3, 10)),
        ("ConvTranspose2d", dict(in_channels=4, out_channels=2, kernel_size=3, stride=2, padding=1,
                                 output_padding=1, groups=2), (2, 4, 5, 5)),
        ("ConvTranspose1d", dict(in_channels=3, out_channels=2, kernel_size=2, stride=2), (1, 3, 6)),
    ]:
        ours, theirs = getattr(tg.nn, cls)(**kwargs), getattr(torch.nn, cls)(**kwargs)
        assert repr(ours) == repr(theirs)
        _copy_weights(ours, theirs)
        x = rng.standard_normal(shape).astype(np.float32)
        xt, tx = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        out, tout = ours(xt), theirs(tx)
        np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-5, atol=1e-5)
        out.sum().backward()
        tout.sum().backward()
        np.testing.assert_allclose(xt.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-4)
        assert out.grad_fn.name() == tout.grad_fn.name() == "ConvolutionBackward0"


@pytest.mark.skipif(torch is None, reason="needs torch")
def test_conv_transpose_output_size():
    ours = tg.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    theirs = torch.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    _copy_weights(ours, theirs)
    x = rng.standard_normal((1, 2, 4, 4)).astype(np.float32)
    for size in [(7, 7), (8, 8), (1, 3, 8, 7)]:
        out, tout = ours(tg.tensor(x), output_size=size), theirs(torch.tensor(x), output_size=size)
        assert out.shape == tuple(tout.shape)
        np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError):
        ours(tg.tensor(x), output_size=(9, 9))


# ---- errors: PyTorch's exception types -----------------------------------------------------

BAD_CALLS = {
    "rank": lambda m: m.nn.functional.conv2d(m.randn(2, 3), m.randn(4, 3, 3, 3)),
    "channels": lambda m: m.nn.functional.conv2d(m.randn(1, 4, 5, 5), m.randn(8, 3, 3, 3)),
    "kernel too big": lambda m: m.nn.functional.conv2d(m.randn(1, 3, 2, 2), m.randn(8, 3, 3, 3)),
    "stride 0": lambda m: m.nn.functional.conv2d(m.randn(1, 3, 5, 5), m.randn(8, 3, 3, 3), stride=0),
    "negative padding": lambda m: m.nn.functional.conv2d(m.randn(1, 3, 5, 5), m.randn(8, 3, 3, 3), padding=-1),
    "dilation 0": lambda m: m.nn.functional.conv2d(m.randn(1, 3, 5, 5), m.randn(8, 3, 3, 3), dilation=0),
    "groups 0": lambda m: m.nn.functional.conv2d(m.randn(1, 3, 5, 5), m.randn(8, 3, 3, 3), groups=0),
    "groups divide": lambda m: m.nn.functional.conv2d(m.randn(1, 4, 5, 5), m.randn(3, 2, 3, 3), groups=2),
    "bias size": lambda m: m.nn.functional.conv2d(m.randn(1, 3, 5, 5), m.randn(8, 3, 3, 3), m.randn(4)),
    "dtype": lambda m: m.nn.functional.conv2d(m.randn(1, 3, 5, 5, dtype=m.float64), m.randn(8, 3, 3, 3)),
    "stride length": lambda m: m.nn.functional.conv2d(m.randn(1, 3, 5, 5), m.randn(8, 3, 3, 3), stride=(1, 1, 1)),
    "float stride": lambda m: m.nn.functional.conv2d(m.randn(1, 3, 5, 5), m.randn(8, 3, 3, 3), stride=1.5),
    "same strided": lambda m: m.nn.functional.conv2d(m.randn(1, 3, 5, 5), m.randn(8, 3, 3, 3), padding="same", stride=2),
    "padding string": lambda m: m.nn.functional.conv2d(m.randn(1, 3, 5, 5), m.randn(8, 3, 3, 3), padding="foo"),
    "output padding": lambda m: m.nn.functional.conv_transpose2d(m.randn(1, 3, 5, 5), m.randn(3, 8, 3, 3), output_padding=1),
    "transposed channels": lambda m: m.nn.functional.conv_transpose2d(m.randn(1, 4, 5, 5), m.randn(3, 8, 3, 3)),
    "string input": lambda m: m.nn.functional.conv2d("a", m.randn(8, 3, 3, 3)),
    "conv1d rank": lambda m: m.nn.functional.conv1d(m.randn(2, 3, 4, 5), m.randn(4, 3, 3)),
    "module groups": lambda m: m.nn.Conv2d(4, 6, 3, groups=4),
    "module padding mode": lambda m: m.nn.Conv2d(4, 6, 3, padding_mode="foo"),
    "module same strided": lambda m: m.nn.Conv2d(4, 6, 3, padding="same", stride=2),
    "module groups 0": lambda m: m.nn.Conv2d(4, 6, 3, groups=0),
}


@pytest.mark.skipif(torch is None, reason="needs torch")
@pytest.mark.parametrize("case", list(BAD_CALLS))
def test_errors_match_torch(case):
    with pytest.raises(Exception) as theirs:
        BAD_CALLS[case](torch)
    with pytest.raises(type(theirs.value)) as ours:
        BAD_CALLS[case](tg)
    if type(theirs.value) is RuntimeError and case not in ("dtype", "rank"):
        # the message names what PyTorch's names (shapes, sizes)
        key = str(theirs.value).split(",")[0].split(":")[0]
        assert key.split("[")[0] in str(ours.value)
