"""Batch normalization (F.batch_norm, nn.BatchNorm1d/2d/3d): forward against a numpy
reference (train and eval, running-stat updates), backward against float64 finite
differences and against PyTorch with the same weights, modules against PyTorch's over
several steps (momentum 0.1 and None, affine False, track_running_stats False), state dicts
both ways, a hypothesis property test over shapes, and the error cases with PyTorch's
exception types."""
import numpy as np
import pytest

import tinygrad_cpp as tg
import tinygrad_cpp.nn as nn
import tinygrad_cpp.nn.functional as F
from helpers import check_grad, torch

rng = np.random.default_rng(11)
TG = {np.float32: tg.float32, np.float64: tg.float64}
TOL = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}
SHAPES = [(5, 3), (4, 3, 7), (3, 2, 4, 5), (2, 3, 2, 3, 4)]


def np_batch_norm(x, rm, rv, w, b, training, momentum, eps):
    """(y, new running mean, new running var) in float64."""
    x = x.astype(np.float64)
    axes = (0,) + tuple(range(2, x.ndim))
    bshape = (1, -1) + (1,) * (x.ndim - 2)
    if training:
        mean, var = x.mean(axis=axes), x.var(axis=axes)
        m = x.size // x.shape[1]
        if rm is not None:
            rm = (1 - momentum) * rm + momentum * mean
            rv = (1 - momentum) * rv + momentum * var * m / (m - 1)
    else:
        mean, var = rm, rv
    y = (x - mean.reshape(bshape)) / np.sqrt(var.reshape(bshape) + eps)
    if w is not None:
        y = y * w.reshape(bshape)
    if b is not None:
        y = y + b.reshape(bshape)
    return y, rm, rv


def tgt(a, dtype=None, requires_grad=False):
    return None if a is None else tg.tensor(np.asarray(a, dtype=dtype or a.dtype), requires_grad=requires_grad)


# ---- forward against numpy -------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_forward_and_running_stats_match_numpy(shape, dtype, training, affine):
    c = shape[1]
    x = (rng.standard_normal(shape) * 2 + 0.5).astype(dtype)
    rm, rv = rng.standard_normal(c).astype(dtype), (rng.random(c) + 0.5).astype(dtype)
    w = rng.standard_normal(c).astype(dtype) if affine else None
    b = rng.standard_normal(c).astype(dtype) if affine else None
    trm, trv = tgt(rm), tgt(rv)
    v0 = trm._version
    y = F.batch_norm(tgt(x), trm, trv, tgt(w), tgt(b), training=training, momentum=0.3, eps=1e-3)
    ey, erm, erv = np_batch_norm(x, rm.astype(np.float64), rv.astype(np.float64), w, b, training, 0.3, 1e-3)
    assert y.dtype == TG[dtype] and y.shape == shape
    np.testing.assert_allclose(y.numpy(), ey, **TOL[dtype])
    np.testing.assert_allclose(trm.numpy(), erm, **TOL[dtype])
    np.testing.assert_allclose(trv.numpy(), erv, **TOL[dtype])
    assert (trm._version > v0) == training  # the update is an in-place write


def test_training_without_running_stats_and_eval_stats_are_constants():
    x = rng.standard_normal((6, 4, 3))
    y = F.batch_norm(tgt(x), None, None, training=True)
    np.testing.assert_allclose(y.numpy(), np_batch_norm(x, None, None, None, None, True, 0.1, 1e-5)[0],
                               rtol=1e-12, atol=1e-12)
    # eval ignores the batch: each element normalized alone by the running stats
    rm, rv = tg.tensor([1.0, 2.0, 3.0, 4.0]), tg.tensor([4.0, 1.0, 0.25, 9.0])
    y = F.batch_norm(tg.tensor(x[:1]).float(), rm, rv, training=False, eps=0.0)
    ref = (x[:1] - np.array([1, 2, 3, 4.0])[None, :, None]) / np.array([2, 1, 0.5, 3.0])[None, :, None]
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-6)
    assert rm.tolist() == [1.0, 2.0, 3.0, 4.0] and rv.tolist() == [4.0, 1.0, 0.25, 9.0]


@pytest.mark.parametrize("dtype,offset", [(np.float32, 1e4), (np.float64, 1e8)])
def test_statistics_survive_a_large_mean(dtype, offset):
    """The variance is accumulated around a shift, so a mean far from 0 does not cancel it
    (a plain sum of squares in double loses it all at 1e8)."""
    x = (offset + rng.standard_normal((64, 2, 5))).astype(dtype)
    y = F.batch_norm(tg.tensor(x), None, None, training=True)
    ref = np_batch_norm(x, None, None, None, None, True, 0.1, 1e-5)[0]
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-4 if dtype == np.float32 else 1e-7,
                               atol=1e-4 if dtype == np.float32 else 1e-7)


def test_strided_input_and_running_stats():
    base = rng.standard_normal((4, 6, 5))
    xv = tg.tensor(base).permute(2, 0, 1)  # (5, 4, 6): non-contiguous
    x = np.transpose(base, (2, 0, 1))
    rm_store, rv_store = tg.zeros(4, 2, dtype=tg.float64), tg.ones(4, 2, dtype=tg.float64)
    rm, rv = rm_store[:, 1], rv_store[:, 1]  # strided views, written in place
    y = F.batch_norm(xv, rm, rv, training=True, momentum=0.5)
    ey, erm, erv = np_batch_norm(x, np.zeros(4), np.ones(4), None, None, True, 0.5, 1e-5)
    np.testing.assert_allclose(y.numpy(), ey, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(rm_store.numpy()[:, 1], erm, rtol=1e-12)
    np.testing.assert_allclose(rv_store.numpy()[:, 1], erv, rtol=1e-12)
    assert rm_store.numpy()[:, 0].tolist() == [0.0] * 4 and rv_store.numpy()[:, 0].tolist() == [1.0] * 4


def test_empty_batch_leaves_running_stats():
    rm, rv = tg.zeros(3), tg.ones(3)
    for shape in [(0, 3), (2, 3, 0)]:
        y = F.batch_norm(tg.zeros(*shape), rm, rv, training=True)
        assert y.shape == shape
    assert rm.tolist() == [0.0] * 3 and rv.tolist() == [1.0] * 3
    assert F.batch_norm(tg.zeros(2, 0), tg.zeros(0), tg.ones(0), training=True).shape == (2, 0)


def test_result_does_not_depend_on_thread_count():
    """Big enough to run in parallel; the partial sums have a fixed order."""
    x = tg.tensor(rng.standard_normal((16, 3, 40, 40)).astype(np.float32), requires_grad=True)
    w = tg.tensor(rng.standard_normal(3).astype(np.float32), requires_grad=True)
    g = tg.tensor(rng.standard_normal((16, 3, 40, 40)).astype(np.float32))
    x2 = tg.tensor(rng.standard_normal((20000, 5)), requires_grad=True)  # the (N, C) layout
    outs = []
    prev = tg.get_num_threads()
    try:
        for n in (1, 2, 3):
            tg.set_num_threads(n)
            x.grad = w.grad = x2.grad = None
            y = F.batch_norm(x, None, None, w, None, training=True)
            y.backward(g)
            y2 = F.batch_norm(x2, None, None, training=True)
            (y2 * y2[:, :1]).sum().backward()
            outs.append([t.detach().numpy().copy() for t in (y, x.grad, w.grad, y2, x2.grad)])
    finally:
        tg.set_num_threads(prev)
    for other in outs[1:]:
        for a, b in zip(outs[0], other):
            np.testing.assert_array_equal(a, b)
    ref = np_batch_norm(x.detach().numpy(), None, None, w.detach().numpy(), None, True, 0.1, 1e-5)[0]
    np.testing.assert_allclose(outs[0][0], ref, rtol=1e-4, atol=1e-5)


# ---- backward ----------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(4, 3), (3, 2, 5), (2, 3, 2, 3)])
def test_training_backward_finite_differences_and_torch(shape):
    c = shape[1]
    x, w, b = rng.standard_normal(shape), rng.standard_normal(c), rng.standard_normal(c)
    check_grad(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), x, w, b,
               torch_fn=None if torch is None else
               lambda x, w, b: torch.nn.functional.batch_norm(x, None, None, w, b, training=True),
               atol=1e-8, rtol=1e-6)


def test_training_backward_input_only_and_with_running_stats():
    x = rng.standard_normal((5, 3, 2))
    check_grad(lambda x: F.batch_norm(x, None, None, training=True), x,
               torch_fn=None if torch is None else
               lambda x: torch.nn.functional.batch_norm(x, None, None, training=True),
               atol=1e-8, rtol=1e-6)

    # the running stats are updated on each call, but are not part of the function
    def tg_fn(x):
        return F.batch_norm(x, tg.zeros(3, dtype=tg.float64), tg.ones(3, dtype=tg.float64),
                            training=True, momentum=0.2)
    check_grad(tg_fn, x, torch_fn=None if torch is None else lambda x: torch.nn.functional.batch_norm(
        x, torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64), training=True,
        momentum=0.2), atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize("affine", [True, False])
def test_eval_backward_finite_differences_and_torch(affine):
    x = rng.standard_normal((3, 4, 3))
    rm, rv = rng.standard_normal(4), rng.random(4) + 0.5
    w, b = rng.standard_normal(4), rng.standard_normal(4)
    if affine:
        check_grad(lambda x, w, b: F.batch_norm(x, tg.tensor(rm), tg.tensor(rv), w, b, training=False),
                   x, w, b, torch_fn=None if torch is None else lambda x, w, b: torch.nn.functional.batch_norm(
                       x, torch.tensor(rm), torch.tensor(rv), w, b, training=False), atol=1e-8, rtol=1e-6)
    else:
        check_grad(lambda x: F.batch_norm(x, tg.tensor(rm), tg.tensor(rv), training=False), x,
                   torch_fn=None if torch is None else lambda x: torch.nn.functional.batch_norm(
                       x, torch.tensor(rm), torch.tensor(rv), training=False), atol=1e-8, rtol=1e-6)


def test_gradcheck_and_node():
    x = tg.tensor(rng.standard_normal((4, 2, 3)), requires_grad=True)
    w = tg.tensor(rng.standard_normal(2), requires_grad=True)
    b = tg.tensor(rng.standard_normal(2), requires_grad=True)
    assert tg.autograd.gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), (x, w, b))
    y = F.batch_norm(x, None, None, w, b, training=True)
    assert y.grad_fn.name() == "NativeBatchNormBackward0"
    assert F.batch_norm(x, tg.zeros(2, dtype=tg.float64), tg.ones(2, dtype=tg.float64),
                        training=False).grad_fn.name() == "NativeBatchNormBackward0"
    with tg.no_grad():
        assert F.batch_norm(x, None, None, w, b, training=True).grad_fn is None
    # only the bias needs a gradient: weight and input get none
    xb = tg.tensor(rng.standard_normal((4, 2)))
    bb = tg.tensor([0.0, 0.0], dtype=tg.float64, requires_grad=True)
    F.batch_norm(xb, None, None, None, bb, training=True).sum().backward()
    assert bb.grad.tolist() == [4.0, 4.0]


def test_float32_backward_matches_float64():
    x = rng.standard_normal((6, 3, 4))
    w = rng.standard_normal(3)
    g = rng.standard_normal((6, 3, 4))
    grads = {}
    for dt in (tg.float32, tg.float64):
        tx, tw = tg.tensor(x, dtype=dt, requires_grad=True), tg.tensor(w, dtype=dt, requires_grad=True)
        F.batch_norm(tx, None, None, tw, None, training=True).backward(tg.tensor(g, dtype=dt))
        grads[dt] = (tx.grad.numpy(), tw.grad.numpy())
        assert tx.grad.dtype == dt and tw.grad.dtype == dt
    for a, b in zip(grads[tg.float32], grads[tg.float64]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_input_modified_in_place_after_forward_raises_on_backward():
    x = tg.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    h = x * 1.0
    y = F.batch_norm(h, None, None, training=True)
    with tg.no_grad():
        h.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_backward_twice_needs_retain_graph():
    x = tg.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    y = F.batch_norm(x, None, None, training=True)
    (y * y).sum().backward()
    with pytest.raises(RuntimeError):
        (y * y).sum().backward()


# ---- modules against PyTorch ----------------------------------------------------------------

MODULE_CASES = [
    ("BatchNorm1d", (6, 4), {}),
    ("BatchNorm1d", (5, 4, 3), {"momentum": None}),
    ("BatchNorm2d", (3, 4, 3, 2), {}),
    ("BatchNorm2d", (3, 4, 3, 2), {"momentum": None}),
    ("BatchNorm2d", (3, 4, 2, 2), {"affine": False}),
    ("BatchNorm2d", (3, 4, 2, 2), {"track_running_stats": False}),
    ("BatchNorm2d", (3, 4, 2, 2), {"bias": False, "eps": 1e-3, "momentum": 0.3}),
    ("BatchNorm3d", (2, 4, 2, 2, 3), {}),
]


def _to_torch(t):
    return torch.tensor(t.numpy())


@pytest.mark.parametrize("name,shape,kw", MODULE_CASES, ids=[f"{n}-{k}" for n, _, k in MODULE_CASES])
def test_module_matches_torch_over_steps(name, shape, kw):
    pytest.importorskip("torch")
    m, tm = getattr(nn, name)(4, **kw), getattr(torch.nn, name)(4, **kw)
    assert repr(m) == repr(tm)
    assert list(m.state_dict()) == list(tm.state_dict())
    if m.weight is not None:  # distinct affine values so the gradients differ per channel
        with tg.no_grad():
            m.weight.copy_(tg.tensor(rng.standard_normal(4).astype(np.float32)))
            m.bias is not None and m.bias.copy_(tg.tensor(rng.standard_normal(4).astype(np.float32)))
        tm.load_state_dict({k: _to_torch(v) for k, v in m.state_dict().items()})
    for step in range(4):
        x = (rng.standard_normal(shape) * (step + 1) + step).astype(np.float32)
        g = rng.standard_normal(shape).astype(np.float32)
        tx, ttx = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y, ty = m(tx), tm(ttx)
        y.backward(tg.tensor(g))
        ty.backward(torch.tensor(g))
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(tx.grad.numpy(), ttx.grad.numpy(), rtol=1e-4, atol=1e-5)
        for (k, p), (tk, tp) in zip(m.named_parameters(), tm.named_parameters()):
            assert k == tk
            np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-4, atol=1e-4)
        for (k, v), (tk, tv) in zip(m.state_dict().items(), tm.state_dict().items()):
            assert k == tk and v.dtype.is_floating_point == tv.dtype.is_floating_point
            np.testing.assert_allclose(v.numpy(), tv.numpy(), rtol=1e-5, atol=1e-6)
    if m.num_batches_tracked is not None:
        assert m.num_batches_tracked.item() == 4 and m.num_batches_tracked.dtype == tg.int64
    m.eval(), tm.eval()
    x = rng.standard_normal(shape).astype(np.float32)
    np.testing.assert_allclose(m(tg.tensor(x)).detach().numpy(), tm(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-5)
    if m.num_batches_tracked is not None:
        assert m.num_batches_tracked.item() == 4  # eval does not count


def test_momentum_none_is_cumulative_average():
    m = nn.BatchNorm1d(2, momentum=None)
    batches = [rng.standard_normal((5, 2)) * (i + 1) + i for i in range(3)]
    for b in batches:
        m(tg.tensor(b).float())
    np.testing.assert_allclose(m.running_mean.numpy(), np.mean([b.mean(0) for b in batches], axis=0), rtol=1e-5)
    np.testing.assert_allclose(m.running_var.numpy(), np.mean([b.var(0, ddof=1) for b in batches], axis=0),
                               rtol=1e-5)


def test_module_buffers_resets_and_modes():
    m = nn.BatchNorm2d(3)
    assert isinstance(m, nn.modules.batchnorm.BatchNorm2d) and isinstance(m, nn.modules.batchnorm._BatchNorm)
    assert [k for k, _ in m.named_buffers()] == ["running_mean", "running_var", "num_batches_tracked"]
    assert [k for k, _ in m.named_parameters()] == ["weight", "bias"]
    assert m.num_batches_tracked.shape == () and m.num_batches_tracked.dtype == tg.int64
    m(tg.randn(4, 3, 2, 2) * 3 + 1)
    assert m.running_mean.abs().sum().item() > 0 and m.num_batches_tracked.item() == 1
    with tg.no_grad():
        m.weight.fill_(2.0)
    m.reset_running_stats()
    assert m.running_mean.tolist() == [0.0] * 3 and m.running_var.tolist() == [1.0] * 3
    assert m.num_batches_tracked.item() == 0 and m.weight.tolist() == [2.0] * 3
    m.reset_parameters()
    assert m.weight.tolist() == [1.0] * 3 and m.bias.tolist() == [0.0] * 3
    # eval with tracked stats: the running stats; without: the batch's
    m.eval()
    x = tg.randn(4, 3, 2, 2) * 5 + 2
    np.testing.assert_allclose(m(x).detach().numpy(), x.numpy() / np.sqrt(1 + 1e-5), rtol=1e-6)
    u = nn.BatchNorm2d(3, track_running_stats=False).eval()
    assert u.running_mean is None and list(u.state_dict()) == ["weight", "bias"]
    np.testing.assert_allclose(u(x).detach().numpy(), np_batch_norm(x.numpy(), None, None, None, None, True,
                                                                    0.1, 1e-5)[0], rtol=1e-4, atol=1e-5)
    d = nn.BatchNorm1d(3).double()
    assert d.weight.dtype == tg.float64 and d.running_mean.dtype == tg.float64
    assert d.num_batches_tracked.dtype == tg.int64
    assert d(tg.randn(4, 3, dtype=tg.float64)).dtype == tg.float64
    assert nn.BatchNorm1d(3, dtype=tg.float64).running_var.dtype == tg.float64


def test_module_in_a_model_trains():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))
    x = tg.randn(32, 4)
    y = (x.sum(1, keepdim=True) > 0).float()
    opt = tg.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    assert "1.running_mean" in model.state_dict() and model[1].num_batches_tracked.item() == 30


def test_repr_matches_torch():
    cases = [(nn.BatchNorm2d(3), "BatchNorm2d(3, eps=1e-05, momentum=0.1, affine=True, bias=True, "
                                 "track_running_stats=True)"),
             (nn.BatchNorm1d(3, momentum=None, affine=False, track_running_stats=False),
              "BatchNorm1d(3, eps=1e-05, momentum=None, affine=False, bias=False, track_running_stats=False)")]
    for m, want in cases:
        assert repr(m) == want
    if torch is not None:
        for kw in [{}, {"eps": 1e-3, "momentum": 0.5}, {"bias": False}, {"affine": False}]:
            assert repr(nn.BatchNorm3d(7, **kw)) == repr(torch.nn.BatchNorm3d(7, **kw))


# ---- state dicts ------------------------------------------------------------------------------

def test_state_dict_round_trip_with_torch():
    pytest.importorskip("torch")
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    for _ in range(3):
        tm(torch.randn(8, 3) * 2 + 1)
    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    m.load_state_dict({k: tg.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    assert list(m.state_dict()) == list(tm.state_dict())
    assert m[1].num_batches_tracked.item() == 3 and m[1].num_batches_tracked.dtype == tg.int64
    for (k, v), tv in zip(m.state_dict().items(), tm.state_dict().values()):
        np.testing.assert_array_equal(v.numpy(), tv.numpy())
    # and back: train ours a step further, load into torch, both agree in eval
    m(tg.randn(8, 3))
    tm.load_state_dict({k: torch.tensor(v.numpy()) for k, v in m.state_dict().items()})
    assert tm[1].num_batches_tracked.item() == 4
    m.eval(), tm.eval()
    x = rng.standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(m(tg.tensor(x)).detach().numpy(), tm(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)


def test_state_dict_without_num_batches_tracked_loads():
    """An old checkpoint (PyTorch's version 1) has no num_batches_tracked; PyTorch keeps the
    module's count for a state dict without version metadata."""
    m = nn.BatchNorm1d(2)
    sd = {"weight": tg.ones(2) * 3, "bias": tg.zeros(2), "running_mean": tg.ones(2), "running_var": tg.ones(2) * 2}
    assert not m.load_state_dict(sd).missing_keys
    assert m.weight.tolist() == [3.0, 3.0] and m.num_batches_tracked.item() == 0
    with pytest.raises(RuntimeError, match="Missing key"):
        m.load_state_dict({"weight": tg.ones(2), "bias": tg.zeros(2)})
    u = nn.BatchNorm1d(2, track_running_stats=False)
    with pytest.raises(RuntimeError, match="Unexpected key"):
        u.load_state_dict(dict(sd, num_batches_tracked=tg.tensor(0)))


def test_save_and_load_file(tmp_path):
    m = nn.BatchNorm2d(3)
    m(tg.randn(4, 3, 2, 2))
    tg.save(m.state_dict(), tmp_path / "bn.safetensors")
    n = nn.BatchNorm2d(3)
    n.load_state_dict(tg.load(tmp_path / "bn.safetensors"))
    for (k, a), b in zip(m.state_dict().items(), n.state_dict().values()):
        assert a.dtype == b.dtype and a.shape == b.shape and a.tolist() == b.tolist(), k


# ---- errors ----------------------------------------------------------------------------------

def _raises_like_torch(tg_call, torch_call, match=None):
    with pytest.raises(Exception) as ei:
        tg_call()
    if torch is not None:
        with pytest.raises(Exception) as te:
            torch_call()
        assert isinstance(ei.value, type(te.value)) or issubclass(type(te.value), type(ei.value)), \
            (type(ei.value), type(te.value), str(te.value))
    if match:
        assert match in str(ei.value)
    return ei.value


def _pair(shape=(2, 3), **kw):
    """tg and torch calls of batch_norm with arguments given as (shape or None) per name."""
    def build(lib, zeros, dt):
        args = {}
        for k, v in kw.items():
            args[k] = v if not isinstance(v, tuple) else zeros(*v, dtype=dt)
        return args
    x = rng.standard_normal(shape).astype(np.float32)

    def tg_call():
        return F.batch_norm(tg.tensor(x), **build(tg, tg.zeros, tg.float32))

    def torch_call():
        return torch.nn.functional.batch_norm(torch.tensor(x), **build(torch, torch.zeros, torch.float32))
    return tg_call, torch_call


@pytest.mark.parametrize("shape,kw,exc,match", [
    ((1, 3), dict(running_mean=None, running_var=None, training=True), ValueError,
     "Expected more than 1 value per channel when training, got input size [1, 3]"),
    ((1, 3, 1, 1), dict(running_mean=None, running_var=None, training=True), ValueError, "[1, 3, 1, 1]"),
    ((2, 3), dict(running_mean=(4,), running_var=(3,), training=True), RuntimeError,
     "running_mean should contain 3 elements not 4"),
    ((2, 3), dict(running_mean=(3,), running_var=(4,), training=False), RuntimeError,
     "running_var should contain 3 elements not 4"),
    ((2, 3), dict(running_mean=None, running_var=None, weight=(4,), training=True), RuntimeError,
     "weight should contain 3 elements not 4"),
    ((2, 3), dict(running_mean=None, running_var=None, bias=(2,), training=True), RuntimeError,
     "bias should contain 3 elements not 2"),
    ((2, 3), dict(running_mean=None, running_var=None, training=False), RuntimeError,
     "running_mean must be defined in evaluation mode"),
    ((2, 3), dict(running_mean=(3,), running_var=None, training=True), ValueError,
     "must either both be None or neither be None"),
    ((2, 3), dict(running_mean=(3,), running_var=(3,), training=True, eps=0.0), ValueError,
     "eps must be positive"),
    ((2, 3), dict(running_mean=(3,), running_var=(3,), training=False, eps=-1.0), ValueError,
     "eps must be non-negative"),
    ((2, 3), dict(running_mean=(3,), running_var=(3,), training=1), TypeError, "training"),
    ((2, 3), dict(running_mean=(3,), running_var=(3,), training=True, momentum=None), TypeError, "momentum"),
    ((2, 3), dict(running_mean=[0, 0, 0], running_var=(3,), training=True), TypeError, "running_mean"),
])
def test_errors_match_torch(shape, kw, exc, match):
    tg_call, torch_call = _pair(shape, **kw)
    e = _raises_like_torch(tg_call, torch_call, match)
    assert type(e) is exc


def test_dtype_and_grad_errors():
    x = tg.tensor([[1, 2], [3, 4]])
    e = _raises_like_torch(lambda: F.batch_norm(x, tg.zeros(2), tg.ones(2), training=True),
                           lambda: torch.nn.functional.batch_norm(torch.tensor([[1, 2], [3, 4]]), torch.zeros(2),
                                                                  torch.ones(2), training=True))
    assert isinstance(e, RuntimeError) and "Long" in str(e) or "Int64" in str(e) or "int64" in str(e)
    xf = tg.randn(3, 2)
    _raises_like_torch(lambda: F.batch_norm(xf, tg.zeros(2, dtype=tg.float64), tg.ones(2, dtype=tg.float64)),
                       lambda: torch.nn.functional.batch_norm(torch.randn(3, 2), torch.zeros(2).double(),
                                                              torch.ones(2).double()), "mixed dtype")
    _raises_like_torch(lambda: F.batch_norm(xf, tg.zeros(2, requires_grad=True), tg.ones(2), training=True),
                       lambda: torch.nn.functional.batch_norm(torch.randn(3, 2), torch.zeros(2, requires_grad=True),
                                                              torch.ones(2), training=True), "requires_grad")
    with pytest.raises(IndexError):
        F.batch_norm(tg.randn(3), None, None, training=True)
    with pytest.raises(RuntimeError):  # an expanded buffer has one memory location for all
        F.batch_norm(xf, tg.zeros(1).expand(2), tg.ones(2), training=True)
    with pytest.raises(TypeError):
        F.batch_norm([[1.0, 2.0]], None, None, training=True)


def test_failed_call_changes_nothing():
    rm, rv = tg.zeros(3), tg.ones(3)
    with pytest.raises(RuntimeError):
        F.batch_norm(tg.randn(4, 3), rm, rv, tg.ones(4), training=True)
    with pytest.raises(RuntimeError):  # running_var cannot be written: running_mean is untouched
        F.batch_norm(tg.randn(4, 3), rm, tg.ones(1).expand(3), training=True)
    assert rm.tolist() == [0.0] * 3 and rm._version == 0 and rv.tolist() == [1.0] * 3


@pytest.mark.parametrize("name,shape,msg", [("BatchNorm1d", (2, 3, 4, 5), "expected 2D or 3D input (got 4D input)"),
                                            ("BatchNorm1d", (3,), "expected 2D or 3D input (got 1D input)"),
                                            ("BatchNorm2d", (2, 3, 4), "expected 4D input (got 3D input)"),
                                            ("BatchNorm3d", (2, 3, 4, 5), "expected 5D input (got 4D input)")])
def test_module_input_dim_errors(name, shape, msg):
    with pytest.raises(ValueError) as ei:
        getattr(nn, name)(3)(tg.zeros(*shape))
    assert str(ei.value) == msg
    if torch is not None:
        with pytest.raises(ValueError) as te:
            getattr(torch.nn, name)(3)(torch.zeros(*shape))
        assert str(te.value) == msg


def test_module_single_value_per_channel_error():
    m = nn.BatchNorm2d(3)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        m(tg.randn(1, 3, 1, 1))
    m.eval()
    assert m(tg.randn(1, 3, 1, 1)).shape == (1, 3, 1, 1)  # eval uses the running stats


# ---- property test -------------------------------------------------------------------------

try:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
except ImportError:  # only the property test needs it
    given = None


def _property(fn):
    if given is None:
        return pytest.mark.skip(reason="hypothesis is not installed")(lambda: None)
    return settings(max_examples=60, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])(given(
        n=st.integers(1, 5), c=st.integers(1, 4), rest=st.lists(st.integers(0, 5), max_size=3),
        dtype=st.sampled_from([np.float32, np.float64]), training=st.booleans(),
        affine=st.booleans(), with_stats=st.booleans(), momentum=st.floats(0.0, 1.0),
        seed=st.integers(0, 2 ** 31))(fn))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy on empty channels
@_property
def test_property_against_numpy(n, c, rest, dtype, training, affine, with_stats, momentum, seed):
    r = np.random.default_rng(seed)
    shape = (n, c, *rest)
    m = n * int(np.prod(rest))
    if training and m == 1:
        n, shape, m = 2, (2, c, *rest), 2 * int(np.prod(rest))
    with_stats = with_stats or not training
    x = (r.standard_normal(shape) * r.uniform(0.1, 5) + r.uniform(-5, 5)).astype(dtype)
    rm = r.standard_normal(c).astype(dtype) if with_stats else None
    rv = (r.random(c) + 0.1).astype(dtype) if with_stats else None
    w = r.standard_normal(c).astype(dtype) if affine else None
    b = r.standard_normal(c).astype(dtype) if affine else None
    trm, trv = tgt(rm), tgt(rv)
    tx = tg.tensor(x, requires_grad=True)
    y = F.batch_norm(tx, trm, trv, tgt(w), tgt(b), training=training, momentum=momentum, eps=1e-4)
    ey, erm, erv = np_batch_norm(x, None if rm is None else rm.astype(np.float64),
                                 None if rv is None else rv.astype(np.float64), w, b, training, momentum, 1e-4)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(y.detach().numpy(), ey, **tol)
    if with_stats and m > 0:
        np.testing.assert_allclose(trm.numpy(), erm, **tol)
        np.testing.assert_allclose(trv.numpy(), erv, **tol)
    # the gradient of sum(y * g) in x: training removes the mean and the xhat-direction per channel
    g = r.standard_normal(shape).astype(dtype)
    y.backward(tg.tensor(g))
    gx = tx.grad.numpy().astype(np.float64)
    axes = (0,) + tuple(range(2, len(shape)))
    bshape = (1, -1) + (1,) * (len(shape) - 2)
    wv = (w if w is not None else np.ones(c)).astype(np.float64).reshape(bshape)
    if training:
        xx = x.astype(np.float64)
        mean, var = xx.mean(axis=axes, keepdims=True), xx.var(axis=axes, keepdims=True)
        inv = 1 / np.sqrt(var + 1e-4)
        xhat = (xx - mean) * inv
        gg = g.astype(np.float64)
        want = wv * inv * (gg - gg.mean(axis=axes, keepdims=True) - xhat * (gg * xhat).mean(axis=axes, keepdims=True))
    else:
        want = g * wv / np.sqrt(rv.astype(np.float64).reshape(bshape) + 1e-4)
    scale = max(1.0, float(np.abs(want).max(initial=0)))
    np.testing.assert_allclose(gx, want, rtol=tol["rtol"] * 10, atol=tol["atol"] * 10 * scale)
