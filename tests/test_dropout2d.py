"""Channel dropout (F.dropout1d/2d/3d, nn.Dropout1d/2d/3d): whole (n, c) slices zeroed with
probability p and the rest scaled by 1/(1-p) in training, the identity otherwise; seeded by
tg.manual_seed; gradients through the same mask; PyTorch's warnings and errors."""
import warnings

import numpy as np
import pytest

import tinygrad_cpp as tg
import tinygrad_cpp.nn as nn
import tinygrad_cpp.nn.functional as F
from helpers import torch

rng = np.random.default_rng(5)


def channel_mask(x, y, p, channel_dims=2):
    """The per-(n, c) factor y / x (x has no zeros), checked constant over each channel and
    equal to 0 or 1/(1-p)."""
    r = y / x
    flat = r.reshape(r.shape[:channel_dims] + (-1,))
    assert np.allclose(flat, flat[..., :1], rtol=1e-6, atol=0), "a channel was only partly dropped"
    f = flat[..., 0]
    scale = 1.0 / (1.0 - p)
    assert np.all(np.isclose(f, 0.0) | np.isclose(f, scale, rtol=1e-6)), f
    return f


def nonzero(shape, dtype=np.float32):
    a = rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1, 1], size=shape)
    return a.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_dropout2d_drops_whole_channels_at_rate_p(dtype, p):
    x = nonzero((40, 50, 3, 2), dtype)
    y = F.dropout2d(tg.tensor(x), p, True)
    assert y.dtype == tg.tensor(x).dtype and y.shape == x.shape
    f = channel_mask(x, y.numpy(), p)
    dropped = np.isclose(f, 0).mean()
    assert abs(dropped - p) < 0.05, dropped  # 2000 channels: 4 sigma is below 0.045
    # the mean is kept in expectation
    assert abs(f.mean() - 1.0) < 0.15


def test_seeded_and_fresh_draws():
    x = tg.tensor(nonzero((4, 8, 3, 3)))
    tg.manual_seed(3)
    a = F.dropout2d(x, 0.5).numpy()
    b = F.dropout2d(x, 0.5).numpy()
    tg.manual_seed(3)
    c = F.dropout2d(x, 0.5).numpy()
    np.testing.assert_array_equal(a, c)
    assert not np.array_equal(a, b)


def test_identity_cases():
    x = tg.randn(2, 3, 4, 4, requires_grad=True)
    assert F.dropout2d(x, 0.5, training=False) is x
    assert F.dropout2d(x, 0.0, training=True) is x
    u = tg.randn(3, 4)
    assert F.dropout1d(u, 0.5, training=False).tolist() == u.tolist()
    m = nn.Dropout2d(0.5).eval()
    assert m(x) is x
    z = F.dropout2d(x, 1.0, training=True)
    assert z.detach().abs().sum().item() == 0.0 and z.shape == x.shape
    z.sum().backward()
    assert x.grad.abs().sum().item() == 0.0
    e = tg.zeros(0, 3, 2, 2)
    assert F.dropout2d(e, 0.5) is e


def test_gradient_is_the_same_mask():
    x = tg.tensor(nonzero((3, 6, 2, 5)).astype(np.float64), requires_grad=True)
    y = F.dropout2d(x, 0.4, True)
    assert y.grad_fn.name() == "MulBackward0"  # PyTorch's node: the input times the noise
    g = rng.standard_normal((3, 6, 2, 5))
    y.backward(tg.tensor(g))
    factor = y.detach().numpy() / x.detach().numpy()
    np.testing.assert_allclose(x.grad.numpy(), g * factor, rtol=1e-12)


def test_module_and_unbatched_forms():
    x = nonzero((5, 7, 6))
    # Dropout1d: (N, C, L) and unbatched (C, L), channels along dim 1 / dim 0
    y = nn.Dropout1d(0.5)(tg.tensor(x)).numpy()
    channel_mask(x, y, 0.5)
    y = F.dropout1d(tg.tensor(x[0]), 0.5).numpy()
    channel_mask(x[0], y, 0.5, channel_dims=1)
    # Dropout3d: (N, C, D, H, W) and unbatched (C, D, H, W)
    x5 = nonzero((3, 4, 2, 2, 3))
    channel_mask(x5, nn.Dropout3d(0.3)(tg.tensor(x5)).numpy(), 0.3)
    channel_mask(x5[0], F.dropout3d(tg.tensor(x5[0]), 0.3).numpy(), 0.3, channel_dims=1)
    assert repr(nn.Dropout2d()) == "Dropout2d(p=0.5, inplace=False)"
    assert repr(nn.Dropout1d(0.3, inplace=True)) == "Dropout1d(p=0.3, inplace=True)"
    assert repr(nn.Dropout3d(0.1)) == "Dropout3d(p=0.1, inplace=False)"
    assert isinstance(nn.Dropout2d(), nn.modules.dropout.Dropout2d)
    d = nn.Dropout2d(0.5)
    d.eval()
    assert d(tg.tensor(x5[0])).numpy().tolist() == x5[0].tolist()


def _warnings_of(fn):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        try:
            fn()
        except RuntimeError:
            pass
    return [str(w.message) for w in rec]


@pytest.mark.parametrize("name,shape", [("dropout2d", (3,)), ("dropout2d", (2, 3)), ("dropout2d", (2, 3, 4)),
                                        ("dropout2d", (2, 3, 4, 5)), ("dropout2d", (2, 3, 4, 5, 6)),
                                        ("dropout3d", (2, 3)), ("dropout3d", (2, 3, 4)),
                                        ("dropout3d", (2, 3, 4, 5)), ("dropout3d", (2, 3, 4, 5, 6)),
                                        ("dropout3d", (1, 2, 3, 4, 5, 6)), ("dropout1d", (2, 3))])
def test_warnings_for_odd_ranks_match_torch(name, shape):
    got = _warnings_of(lambda: getattr(F, name)(tg.ones(*shape), 0.5, True))
    if torch is not None:
        want = _warnings_of(lambda: getattr(torch.nn.functional, name)(torch.ones(*shape), 0.5, True))
        assert got == want
    if name == "dropout2d" and len(shape) == 4 or name == "dropout3d" and len(shape) in (4, 5):
        assert got == []
    elif name != "dropout1d":
        assert len(got) == 1 and name in got[0]


def test_dropout2d_2d_input_drops_elements_of_n_c():
    x = nonzero((30, 40))
    with pytest.warns(UserWarning, match="Received a 2-D input to dropout2d"):
        y = F.dropout2d(tg.tensor(x), 0.5).numpy()
    f = y / x
    assert np.all(np.isclose(f, 0) | np.isclose(f, 2.0))


def _torch_exc(fn):
    if torch is None:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn()
    except Exception as e:  # noqa: BLE001
        return type(e)
    return None


@pytest.mark.parametrize("call,exc", [
    (lambda lib: lib.nn.functional.dropout2d(lib.ones(2, 3, 4, 5), 1.5, True), ValueError),
    (lambda lib: lib.nn.functional.dropout2d(lib.ones(2, 3, 4, 5), -0.1, True), ValueError),
    (lambda lib: lib.nn.Dropout2d(2.0), ValueError),
    (lambda lib: lib.nn.Dropout1d(-1), ValueError),
    (lambda lib: lib.nn.functional.dropout1d(lib.ones(3), 0.5, True), RuntimeError),
    (lambda lib: lib.nn.functional.dropout1d(lib.ones(2, 3, 4, 5), 0.5, True), RuntimeError),
    (lambda lib: lib.nn.functional.dropout2d(lib.ones(3), 0.5, True), RuntimeError),
    (lambda lib: lib.nn.functional.dropout2d(lib.ones(2, 3, 4, 5).long(), 0.5, True), RuntimeError),
])
def test_errors_match_torch(call, exc):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(exc):
            call(tg)
    want = _torch_exc(lambda: call(torch))
    if torch is not None:
        assert want is not None and issubclass(want, exc)


def test_in_a_model():
    tg.manual_seed(1)
    m = nn.Sequential(nn.Dropout2d(0.5), nn.Flatten())
    x = tg.ones(8, 4, 2, 2, requires_grad=True)
    y = m(x)
    y.sum().backward()
    g = x.grad.numpy()
    assert set(np.unique(g).tolist()) <= {0.0, 2.0}
    m.eval()
    assert m(x).detach().numpy().tolist() == tg.ones(8, 16).tolist()


@pytest.mark.parametrize("name,shape", [("dropout1d", (4, 6, 5)), ("dropout1d", (6, 5)), ("dropout2d", (3, 8, 2, 3)),
                                        ("dropout3d", (2, 5, 2, 2, 3)), ("dropout3d", (5, 2, 2, 3))])
def test_inplace_writes_the_input_with_the_same_mask(name, shape):
    x = tg.tensor(nonzero(shape))
    tg.manual_seed(7)
    want = getattr(F, name)(x, 0.5, True).numpy()
    y = tg.tensor(x.numpy().copy())
    tg.manual_seed(7)
    out = getattr(F, name)(y, 0.5, True, inplace=True)
    np.testing.assert_array_equal(y.numpy(), want)  # the input itself holds the result
    np.testing.assert_array_equal(out.numpy(), want)
    assert y._version == 1
    # inside a graph: recorded as the multiply, gradients through the mask
    leaf = tg.tensor(x.numpy(), requires_grad=True)
    h = leaf * 1.0
    tg.manual_seed(7)
    r = getattr(nn, name.replace("dropout", "Dropout"))(0.5, inplace=True)(h)
    batched = len(shape) == {"dropout1d": 3, "dropout2d": 4, "dropout3d": 5}[name]
    # (unbatched, PyTorch unsqueeze_s the input in place first; here the multiply goes through a view)
    assert h.grad_fn.name() == ("MulBackward0" if batched else "CopySlices")
    r.sum().backward()
    np.testing.assert_allclose(leaf.grad.numpy(), want / x.numpy(), rtol=1e-6)
    # eval and p = 0 leave the input alone
    z = tg.tensor(x.numpy().copy())
    assert getattr(F, name)(z, 0.5, False, inplace=True) is z and z._version == 0


def test_inplace_feature_dropout_as_torch():
    t = pytest.importorskip("torch")
    x = t.randn(2, 3, 4, requires_grad=True)
    h = x * 1.0
    r = t.nn.functional.dropout1d(h, 0.5, True, inplace=True)
    assert r is h and h.grad_fn.name() == "MulBackward0"
    y = tg.tensor(x.detach().numpy(), requires_grad=True)
    g = y * 1.0
    s = F.dropout1d(g, 0.5, True, inplace=True)
    assert s is g and g.grad_fn.name() == "MulBackward0"
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        F.dropout2d(tg.ones(2, 3, 4, 4, requires_grad=True), 0.5, True, inplace=True)
