"""nn.Transformer and its layers against PyTorch (weights copied across: outputs and every
gradient), and Tensor.all/any, which their causal-mask detection uses."""
import copy
import pickle
import warnings

import numpy as np
import pytest

import tinygrad_cpp as tg
import tinygrad_cpp.nn as nn
import tinygrad_cpp.nn.functional as F

torch = pytest.importorskip("torch")


def _to_tg(t):
    return None if t is None else tg.tensor(t.detach().numpy())


def _copy_weights(src, dst):
    missing = dst.load_state_dict({k: _to_tg(v) for k, v in src.state_dict().items()})
    assert not missing.missing_keys and not missing.unexpected_keys


def _close(a, b, tol):
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=tol, atol=tol)


def _check_grads(tm, gm, t_inputs, g_inputs, tol):
    for name, p in tm.named_parameters():
        q = dict(gm.named_parameters())[name]
        assert (p.grad is None) == (q.grad is None), name
        if p.grad is not None:
            np.testing.assert_allclose(q.grad.numpy(), p.grad.numpy(), rtol=tol, atol=tol, err_msg=name)
    for t, g in zip(t_inputs, g_inputs):
        np.testing.assert_allclose(g.grad.numpy(), t.grad.numpy(), rtol=tol, atol=tol)


def _pair(make, dtype=torch.float64):
    """The same module in both libraries: torch's built under its seed, weights copied to ours."""
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tm = make(torch).to(dtype)
        gm = make(tg)
    gm = gm.double() if dtype == torch.float64 else gm
    _copy_weights(tm, gm)
    return tm, gm


def _inputs(*shapes, dtype=torch.float64):
    gen = torch.Generator().manual_seed(1)
    ts = [torch.randn(*s, generator=gen, dtype=dtype, requires_grad=True) for s in shapes]
    gs = [tg.tensor(t.detach().numpy(), requires_grad=True) for t in ts]
    return ts, gs


def _run(tm, gm, t_in, g_in, t_kw, g_kw, tol=1e-9):
    out_t = tm(*t_in, **t_kw)
    out_g = gm(*g_in, **g_kw)
    _close(out_g, out_t, tol)
    w = torch.randn(out_t.shape, dtype=out_t.dtype, generator=torch.Generator().manual_seed(2))
    (out_t * w).sum().backward()
    (out_g * _to_tg(w)).sum().backward()
    _check_grads(tm, gm, t_in, g_in, tol)


ENCODER_CASES = [
    dict(),
    dict(norm_first=True),
    dict(activation="gelu", batch_first=True),
    dict(activation="gelu", norm_first=True, batch_first=True, bias=False),
    dict(layer_norm_eps=1e-3, dim_feedforward=7),
]


@pytest.mark.parametrize("kw", ENCODER_CASES)
@pytest.mark.parametrize("mask", [None, "causal", "bool", "padding"])
def test_encoder_layer_matches_torch(kw, mask):
    def make(lib):
        return lib.nn.TransformerEncoderLayer(8, 2, dropout=0.0, **{"dim_feedforward": 16, **kw})
    tm, gm = _pair(make)
    S, N = 5, 3
    shape = (N, S, 8) if kw.get("batch_first") else (S, N, 8)
    t_in, g_in = _inputs(shape)
    t_kw, g_kw = {}, {}
    if mask == "causal":
        m = torch.nn.Transformer.generate_square_subsequent_mask(S, dtype=torch.float64)
        t_kw = dict(src_mask=m, is_causal=True)
        g_kw = dict(src_mask=_to_tg(m), is_causal=True)
    elif mask == "bool":
        m = torch.rand(S, S, generator=torch.Generator().manual_seed(3)) < 0.3
        m.fill_diagonal_(False)
        t_kw, g_kw = dict(src_mask=m), dict(src_mask=_to_tg(m))
    elif mask == "padding":
        m = torch.zeros(N, S, dtype=torch.bool)
        m[0, -2:] = True
        m[2, -1] = True
        t_kw, g_kw = dict(src_key_padding_mask=m), dict(src_key_padding_mask=_to_tg(m))
    _run(tm, gm, t_in, g_in, t_kw, g_kw)


def test_encoder_layer_unbatched_and_callable_activation():
    def make(lib):
        return lib.nn.TransformerEncoderLayer(8, 4, 16, 0.0, activation=lib.nn.functional.silu)
    tm, gm = _pair(make)
    assert gm.activation_relu_or_gelu == tm.activation_relu_or_gelu == 0
    t_in, g_in = _inputs((6, 8))
    _run(tm, gm, t_in, g_in, {}, {})


@pytest.mark.parametrize("norm", [False, True])
@pytest.mark.parametrize("is_causal", [None, True])
def test_encoder_stack_matches_torch(norm, is_causal):
    def make(lib):
        layer = lib.nn.TransformerEncoderLayer(8, 2, 16, 0.0, batch_first=True)
        return lib.nn.TransformerEncoder(layer, 3, lib.nn.LayerNorm(8) if norm else None)
    tm, gm = _pair(make)
    assert len(gm.layers) == 3 and gm.layers[0] is not gm.layers[1]
    t_in, g_in = _inputs((2, 5, 8))
    m = torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64)
    _run(tm, gm, t_in, g_in, dict(mask=m, is_causal=is_causal), dict(mask=_to_tg(m), is_causal=is_causal))


@pytest.mark.parametrize("kw", [dict(), dict(norm_first=True, activation="gelu"), dict(batch_first=True)])
def test_decoder_layer_matches_torch(kw):
    def make(lib):
        return lib.nn.TransformerDecoderLayer(8, 2, 16, 0.0, **kw)
    tm, gm = _pair(make)
    T, S, N = 4, 6, 2
    bf = kw.get("batch_first")
    t_in, g_in = _inputs((N, T, 8) if bf else (T, N, 8), (N, S, 8) if bf else (S, N, 8))
    tgt_mask = torch.nn.Transformer.generate_square_subsequent_mask(T, dtype=torch.float64)
    mem_pad = torch.zeros(N, S, dtype=torch.bool)
    mem_pad[1, -3:] = True
    t_kw = dict(tgt_mask=tgt_mask, memory_key_padding_mask=mem_pad, tgt_is_causal=True)
    g_kw = dict(tgt_mask=_to_tg(tgt_mask), memory_key_padding_mask=_to_tg(mem_pad), tgt_is_causal=True)
    _run(tm, gm, t_in, g_in, t_kw, g_kw)


def test_transformer_matches_torch():
    def make(lib):
        return lib.nn.Transformer(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=2,
                                  dim_feedforward=16, dropout=0.0)
    tm, gm = _pair(make)
    assert list(gm.state_dict()) == list(tm.state_dict())
    t_in, g_in = _inputs((6, 2, 8), (4, 2, 8))
    m = torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=torch.float64)
    pad = torch.tensor([[False] * 6, [False] * 4 + [True] * 2])
    t_kw = dict(tgt_mask=m, src_key_padding_mask=pad, memory_key_padding_mask=pad)
    g_kw = dict(tgt_mask=_to_tg(m), src_key_padding_mask=_to_tg(pad), memory_key_padding_mask=_to_tg(pad))
    _run(tm, gm, t_in, g_in, t_kw, g_kw)


def test_transformer_float32_batch_first():
    def make(lib):
        return lib.nn.Transformer(d_model=16, nhead=4, num_encoder_layers=1, num_decoder_layers=1,
                                  dim_feedforward=32, dropout=0.0, batch_first=True, norm_first=True)
    tm, gm = _pair(make, dtype=torch.float32)
    t_in, g_in = _inputs((3, 7, 16), (3, 5, 16), dtype=torch.float32)
    _run(tm, gm, t_in, g_in, {}, {}, tol=2e-5)


def test_init_and_state_dict_keys_match_torch():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tm = torch.nn.Transformer(d_model=16, nhead=2, num_encoder_layers=2, num_decoder_layers=1,
                                  dim_feedforward=24)
        gm = nn.Transformer(d_model=16, nhead=2, num_encoder_layers=2, num_decoder_layers=1, dim_feedforward=24)
    ts, gs = tm.state_dict(), gm.state_dict()
    assert list(ts) == list(gs)
    for k in ts:
        assert tuple(ts[k].shape) == tuple(gs[k].shape), k
    # xavier_uniform_ on every matrix: the bound sqrt(6 / (fan_in + fan_out)), filled
    w = gs["encoder.layers.0.linear1.weight"].numpy()
    bound = np.sqrt(6 / (16 + 24))
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert gs["encoder.norm.weight"].numpy().tolist() == [1.0] * 16
    # a PyTorch state dict loads into ours and back
    gm.load_state_dict({k: _to_tg(v) for k, v in ts.items()})
    tm.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in gm.state_dict().items()})


def test_dropout_only_in_training():
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.5)
    x = tg.randn(4, 2, 8)
    tg.manual_seed(0)
    a = layer(x)
    b = layer(x)
    assert not np.allclose(a.detach().numpy(), b.detach().numpy())
    layer.eval()
    np.testing.assert_array_equal(layer(x).detach().numpy(), layer(x).detach().numpy())


def test_generate_square_subsequent_mask():
    m = nn.Transformer.generate_square_subsequent_mask(4)
    assert m.dtype == tg.float32
    np.testing.assert_array_equal(m.numpy(), torch.nn.Transformer.generate_square_subsequent_mask(4).numpy())
    assert nn.Transformer.generate_square_subsequent_mask(3, dtype=tg.float64).dtype == tg.float64


def test_nested_tensor_warning_as_torch():
    for kw in [dict(), dict(batch_first=True), dict(batch_first=True, norm_first=True),
               dict(batch_first=True, activation=F.silu)]:
        def messages(lib):
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                layer = lib.nn.TransformerEncoderLayer(8, 2, 16, **kw) if lib is tg else \
                    lib.nn.TransformerEncoderLayer(8, 2, 16, **{k: (torch.nn.functional.silu if v is F.silu else v)
                                                                for k, v in kw.items()})
                enc = lib.nn.TransformerEncoder(layer, 1)
            return [str(x.message) for x in w], enc.use_nested_tensor
        assert messages(tg) == messages(torch)


def test_errors_match_torch():
    for lib in (tg, torch):
        with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
            lib.nn.TransformerEncoderLayer(8, 2, activation="tanh")
        with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
            lib.nn.TransformerEncoderLayer(8, 3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = lib.nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=8)
        with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
            m(lib.randn(5, 2, 8), lib.randn(4, 3, 8))
        with pytest.raises(RuntimeError, match="the feature number of src and tgt must be equal to d_model"):
            m(lib.randn(5, 2, 8), lib.randn(4, 2, 6))
        layer = lib.nn.TransformerEncoderLayer(8, 2, 16)
        with pytest.raises(AssertionError, match="only bool and floating types of src_mask are supported"):
            layer(lib.randn(5, 2, 8), src_mask=lib.zeros(5, 5, dtype=lib.int64))


def test_pickle_and_deepcopy():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=8,
                           dropout=0.0).eval()
    src, tgt = tg.randn(3, 2, 8), tg.randn(2, 2, 8)
    want = m(src, tgt).detach().numpy()
    for other in (pickle.loads(pickle.dumps(m)), copy.deepcopy(m)):
        np.testing.assert_array_equal(other(src, tgt).detach().numpy(), want)
        assert other.encoder.layers[0].activation is F.relu
    state = m.decoder.layers[0].__dict__.copy()
    del state["activation"]  # a checkpoint from before the activation option
    layer = nn.TransformerDecoderLayer.__new__(nn.TransformerDecoderLayer)
    layer.__setstate__(state)
    assert layer.activation is F.relu


@pytest.mark.parametrize("fn", ["all", "any"])
def test_all_any_match_torch(fn):
    rng = np.random.default_rng(0)
    datas = [rng.integers(0, 2, (3, 4, 5)), rng.integers(0, 3, (2, 3)) > 0,
             np.where(rng.random((4, 6)) < 0.2, 0.0, rng.standard_normal((4, 6))),
             np.array([[np.nan, 0.0], [1.0, 2.0]]), np.zeros((0, 3)), np.ones((2, 0, 3))]
    for data in datas:
        a, t = tg.tensor(data), torch.tensor(data)
        kws = [dict()] + [dict(dim=d, keepdim=k) for d in range(-data.ndim, data.ndim) for k in (False, True)]
        if data.ndim >= 2:
            kws.append(dict(dim=(0, 1)))
        for kw in kws:
            got, want = getattr(a, fn)(**kw), getattr(t, fn)(**kw)
            assert got.dtype == tg.bool and tuple(got.shape) == tuple(want.shape), (data.shape, kw)
            np.testing.assert_array_equal(got.numpy(), want.numpy())
            np.testing.assert_array_equal(getattr(tg, fn)(a, **kw).numpy(), want.numpy())
    with pytest.raises(IndexError):
        getattr(tg.ones(2, 3), fn)(2)
    with pytest.raises(TypeError):
        getattr(tg.ones(2, 3), fn)("a")
    x = tg.ones(3, requires_grad=True)
    assert not getattr(x, fn)().requires_grad
