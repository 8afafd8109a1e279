"""Embedding (F.embedding, nn.Embedding) and F.one_hot: forward against numpy over index
shapes and dtypes, backward against numpy's np.add.at (repeated indices, padding_idx,
scale_grad_by_freq), gradcheck in float64, a large case that runs in parallel and must not
depend on the thread count, max_norm renormalization, the module against PyTorch's (weights
copied, state_dict keys, a torch state_dict loading, from_pretrained, repr), and the error
cases with PyTorch's exception types and messages."""
import numpy as np
import pytest

import tinygrad_cpp as tg
import tinygrad_cpp.nn as nn
import tinygrad_cpp.nn.functional as F
from helpers import torch

rng = np.random.default_rng(5)


def np_embedding_grad(idx, g, V, padding_idx=None, scale=False):
    D = g.shape[-1]
    gw = np.zeros((V, D), dtype=np.float64)
    flat = idx.reshape(-1)
    np.add.at(gw, flat, g.reshape(-1, D).astype(np.float64))
    if scale:
        counts = np.bincount(flat, minlength=V)
        gw /= np.maximum(counts, 1)[:, None]
    if padding_idx is not None:
        gw[padding_idx] = 0
    return gw


# ---- forward ---------------------------------------------------------------------------

@pytest.mark.parametrize("ishape", [(), (1,), (7,), (3, 4), (2, 3, 5), (0,), (2, 0, 3)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_forward_matches_numpy(ishape, dtype):
    V, D = 11, 6
    w = (rng.standard_normal((V, D)) * 10).astype(dtype)
    idx = rng.integers(0, V, size=ishape)
    out = F.embedding(tg.tensor(idx), tg.tensor(w))
    assert out.shape == ishape + (D,)
    assert out.dtype == tg.tensor(w).dtype
    np.testing.assert_array_equal(out.numpy(), w[idx])


def test_forward_strided_weight_and_indices():
    w = rng.standard_normal((6, 8))
    tw = tg.tensor(w).t()  # (8, 6), not contiguous
    idx = rng.integers(0, 8, size=(4, 6))
    ti = tg.tensor(idx)[:, ::2]
    np.testing.assert_array_equal(F.embedding(ti, tw).numpy(), w.T[idx[:, ::2]])


def test_zero_width_embedding():
    out = F.embedding(tg.tensor([[1, 2]]), tg.zeros(3, 0, requires_grad=True))
    assert out.shape == (1, 2, 0)


# ---- backward ----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("padding_idx", [None, 0, 3, -1])
@pytest.mark.parametrize("scale", [False, True])
def test_backward_accumulates_repeated_indices(dtype, padding_idx, scale):
    V, D = 7, 5
    idx = np.array([[0, 3, 3, 6], [3, 1, 0, 3], [6, 6, 2, 3]])
    w = tg.tensor(rng.standard_normal((V, D)).astype(dtype), requires_grad=True)
    g = rng.standard_normal(idx.shape + (D,)).astype(dtype)
    out = F.embedding(tg.tensor(idx), w, padding_idx=padding_idx, scale_grad_by_freq=scale)
    assert out.grad_fn.name() == "EmbeddingBackward0"
    out.backward(tg.tensor(g))
    pad = None if padding_idx is None else padding_idx % V
    expected = np_embedding_grad(idx, g, V, pad, scale)
    tol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=tol, atol=tol)
    assert w.grad.dtype == w.dtype
    # the padding row is an ordinary row in the forward
    if pad is not None:
        np.testing.assert_array_equal(out.detach().numpy()[idx == pad], np.repeat(w.detach().numpy()[pad:pad + 1],
                                                                                    (idx == pad).sum(), 0))


def test_gradcheck_float64():
    idx = tg.tensor([[0, 2, 2], [1, 0, 2]])
    w = tg.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    assert tg.autograd.gradcheck(lambda w: F.embedding(idx, w), (w,))
    # (padding_idx and scale_grad_by_freq change the gradient on purpose: not a Jacobian)
    assert tg.autograd.gradcheck(lambda w: F.embedding(tg.tensor([[[3]], [[3]]]), w) * 1.5, (w,))


def test_large_backward_parallel_and_thread_independent():
    """Many repeated indices (a hot row named by a third of them) over a wide table: runs
    in parallel; the result equals numpy's and is the same bit for bit for any thread count."""
    V, D, n = 500, 700, 6000
    idx = rng.integers(0, V, size=n)
    idx[::3] = 7
    g = rng.standard_normal((n, D)).astype(np.float32)
    w = tg.tensor(rng.standard_normal((V, D)).astype(np.float32), requires_grad=True)
    prev = tg.get_num_threads()
    grads = []
    try:
        for threads in (1, 2, 4):
            tg.set_num_threads(threads)
            w.grad = None
            F.embedding(tg.tensor(idx), w, padding_idx=11).backward(tg.tensor(g))
            grads.append(w.grad.numpy().copy())
    finally:
        tg.set_num_threads(prev)
    for other in grads[1:]:
        np.testing.assert_array_equal(grads[0], other)
    np.testing.assert_allclose(grads[0], np_embedding_grad(idx, g, V, 11), rtol=1e-4, atol=1e-4)


def test_grad_accumulates_and_gradient_flows_through_other_ops():
    w = tg.tensor(rng.standard_normal((5, 2)), requires_grad=True)
    idx = tg.tensor([1, 1, 4])
    (F.embedding(idx, w) * 2).sum().backward()
    (F.embedding(idx, w)).sum().backward()
    expected = np.zeros((5, 2))
    expected[1] = 6
    expected[4] = 3
    np.testing.assert_allclose(w.grad.numpy(), expected)


def test_indices_modified_in_place_after_forward_raise_on_backward():
    idx = tg.tensor([0, 1])
    w = tg.randn(3, 2, requires_grad=True)
    out = F.embedding(idx, w)
    idx.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


def test_no_grad_records_nothing():
    w = tg.randn(3, 2, requires_grad=True)
    with tg.no_grad():
        out = F.embedding(tg.tensor([0, 1]), w)
    assert out.grad_fn is None and not out.requires_grad


# ---- max_norm --------------------------------------------------------------------------

def np_renorm(w, idx, max_norm, p):
    w = w.copy()
    for r in np.unique(idx):
        norm = np.linalg.norm(w[r], ord=p)
        if norm > max_norm:
            w[r] *= max_norm / (norm + 1e-7)
    return w


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, float("inf")])
def test_max_norm_renormalizes_looked_up_rows_in_place(p):
    w0 = rng.standard_normal((6, 4)) * 3
    idx = np.array([[0, 2], [2, 5]])
    w = tg.tensor(w0, requires_grad=True)
    v0 = w._version
    out = F.embedding(tg.tensor(idx), w, max_norm=1.5, norm_type=p)
    expected = np_renorm(w0, idx, 1.5, p)
    np.testing.assert_allclose(w.detach().numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(out.detach().numpy(), expected[idx], rtol=1e-12)
    assert w._version > v0 and w.is_leaf and w.grad_fn is None
    out.sum().backward()
    assert w.grad is not None


# ---- PyTorch parity ----------------------------------------------------------------------

def _torch_embedding(m):
    return torch.nn.Embedding(m.num_embeddings, m.embedding_dim, padding_idx=m.padding_idx,
                              max_norm=m.max_norm, norm_type=m.norm_type,
                              scale_grad_by_freq=m.scale_grad_by_freq, sparse=m.sparse)


@pytest.mark.parametrize("kw", [{}, {"padding_idx": 2}, {"padding_idx": -1}, {"scale_grad_by_freq": True},
                                {"max_norm": 1.0}, {"max_norm": 0.5, "norm_type": 1.0, "padding_idx": 0}])
def test_module_matches_torch(kw):
    pytest.importorskip("torch")
    m = nn.Embedding(9, 4, **kw)
    t = _torch_embedding(m)
    assert m.padding_idx == t.padding_idx
    with torch.no_grad():
        t.weight.copy_(torch.tensor(m.weight.detach().numpy()))
    idx = rng.integers(0, 9, size=(3, 5))
    idx[0, :3] = 2
    g = rng.standard_normal((3, 5, 4)).astype(np.float32)
    out = m(tg.tensor(idx))
    tout = t(torch.tensor(idx))
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(m.weight.detach().numpy(), t.weight.detach().numpy(), rtol=1e-6)
    out.backward(tg.tensor(g))
    tout.backward(torch.tensor(g))
    np.testing.assert_allclose(m.weight.grad.numpy(), t.weight.grad.numpy(), rtol=1e-5, atol=1e-6)
    assert out.grad_fn.name() == type(tout.grad_fn).__name__ == "EmbeddingBackward0"


def test_padding_row_zero_initialised_and_repr_matches_torch():
    pytest.importorskip("torch")
    for args, kw in [((5, 3), {}), ((5, 3), {"padding_idx": -2}),
                     ((5, 3), {"padding_idx": 1, "max_norm": 2.0, "norm_type": 1.0, "scale_grad_by_freq": True,
                               "sparse": True})]:
        m, t = nn.Embedding(*args, **kw), torch.nn.Embedding(*args, **kw)
        assert repr(m) == repr(t)
        if m.padding_idx is not None:
            assert m.weight.detach().numpy()[m.padding_idx].tolist() == [0.0] * 3
        assert m.weight.requires_grad and m.weight.shape == (5, 3)


def test_init_is_standard_normal():
    w = nn.Embedding(4000, 50).weight.detach().numpy()
    assert abs(w.mean()) < 0.02 and abs(w.std() - 1) < 0.02


def test_state_dict_with_torch_both_ways():
    pytest.importorskip("torch")
    m, t = nn.Embedding(6, 3, padding_idx=0), torch.nn.Embedding(6, 3, padding_idx=0)
    assert list(m.state_dict().keys()) == list(t.state_dict().keys()) == ["weight"]
    m.load_state_dict({k: tg.tensor(v.numpy()) for k, v in t.state_dict().items()})
    np.testing.assert_array_equal(m.weight.detach().numpy(), t.weight.detach().numpy())
    m2 = nn.Embedding(6, 3)
    t.load_state_dict({k: torch.tensor(v.numpy()) for k, v in m2.state_dict().items()})
    np.testing.assert_array_equal(m2.weight.detach().numpy(), t.weight.detach().numpy())


def test_torch_model_state_dict_loads():
    pytest.importorskip("torch")
    t = torch.nn.Sequential(torch.nn.Embedding(7, 4), torch.nn.LayerNorm(4))
    with torch.no_grad():
        t[1].weight.uniform_(0.5, 2.0)
        t[1].bias.uniform_(-1.0, 1.0)
    m = nn.Sequential(nn.Embedding(7, 4), nn.LayerNorm(4))
    assert list(m.state_dict().keys()) == list(t.state_dict().keys())
    m.load_state_dict({k: tg.tensor(v.numpy()) for k, v in t.state_dict().items()})
    idx = [[1, 2, 6]]
    np.testing.assert_allclose(m(tg.tensor(idx)).detach().numpy(), t(torch.tensor(idx)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)


def test_from_pretrained():
    pytest.importorskip("torch")
    w = rng.standard_normal((5, 3)).astype(np.float32)
    src = tg.tensor(w)
    m = nn.Embedding.from_pretrained(src)
    t = torch.nn.Embedding.from_pretrained(torch.tensor(w))
    assert not m.weight.requires_grad and m.weight.requires_grad == t.weight.requires_grad
    assert repr(m) == repr(t)
    np.testing.assert_array_equal(m(tg.tensor([4, 0])).numpy(), w[[4, 0]])
    with tg.no_grad():
        src[0, 0] = 100.0  # the weight shares the given tensor's memory, as in PyTorch
    assert m.weight[0, 0].item() == 100.0
    m2 = nn.Embedding.from_pretrained(tg.tensor(w), freeze=False, padding_idx=-1)
    t2 = torch.nn.Embedding.from_pretrained(torch.tensor(w), freeze=False, padding_idx=-1)
    assert m2.weight.requires_grad and m2.padding_idx == t2.padding_idx == 4
    np.testing.assert_array_equal(m2.weight.detach().numpy()[4], w[4])  # not zeroed
    m2(tg.tensor([4, 1, 4])).sum().backward()
    t2(torch.tensor([4, 1, 4])).sum().backward()
    np.testing.assert_array_equal(m2.weight.grad.numpy(), t2.weight.grad.numpy())


def test_module_paths_and_exports():
    from tinygrad_cpp.nn.modules.sparse import Embedding
    assert Embedding is nn.Embedding and "Embedding" in nn.__all__


def test_embedding_trains():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Embedding(10, 8, padding_idx=0), nn.Flatten(), nn.Linear(24, 2))
    opt = tg.optim.SGD(model.parameters(), lr=0.5)
    x = tg.tensor(rng.integers(0, 10, size=(32, 3)))
    y = tg.tensor((x.numpy().sum(1) % 2).astype(np.int64))
    first = None
    for _ in range(60):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < first * 0.5
    assert model[0].weight.detach().numpy()[0].tolist() == [0.0] * 8


# ---- errors --------------------------------------------------------------------------------

def _both(fn_tg, fn_torch):
    with pytest.raises(Exception) as e_t:
        fn_torch()
    with pytest.raises(Exception) as e_g:
        fn_tg()
    assert type(e_g.value) is type(e_t.value), (e_g.value, e_t.value)
    return str(e_g.value), str(e_t.value)


EMBEDDING_ERRORS = [
    ("out of range", lambda m, w: m.embedding(m.tensor([1, 5]), w), True),
    ("negative", lambda m, w: m.embedding(m.tensor([[1, -1]]), w), True),
    ("float indices", lambda m, w: m.embedding(m.tensor([1.0, 2.0]), w), True),
    ("bool indices", lambda m, w: m.embedding(m.tensor([True]), w), True),
    ("1-d weight", lambda m, w: m.embedding(m.tensor([1]), w[0]), True),
    ("3-d weight", lambda m, w: m.embedding(m.tensor([1]), w.reshape(1, 5, 3)), True),
    ("padding_idx too big", lambda m, w: m.embedding(m.tensor([1]), w, padding_idx=5), True),
    ("padding_idx too small", lambda m, w: m.embedding(m.tensor([1]), w, padding_idx=-6), True),
    ("padding_idx float", lambda m, w: m.embedding(m.tensor([1]), w, padding_idx=1.0), True),
    ("list indices", lambda m, w: m.embedding([1, 2], w), True),
    ("list weight", lambda m, w: m.embedding(m.tensor([1, 2]), [[1.0]]), True),
    ("max_norm float indices", lambda m, w: m.embedding(m.tensor([1.0]), w, max_norm=1.0), True),
    # PyTorch's message comes from the select() its renorm runs
    ("max_norm out of range", lambda m, w: m.embedding(m.tensor([7]), w, max_norm=1.0), False),
]


@pytest.mark.parametrize("name,call,same_message", EMBEDDING_ERRORS, ids=[e[0] for e in EMBEDDING_ERRORS])
def test_embedding_errors_match_torch(name, call, same_message):
    pytest.importorskip("torch")
    w_np = rng.standard_normal((5, 3)).astype(np.float32)

    class TG:
        tensor = staticmethod(tg.tensor)
        embedding = staticmethod(F.embedding)

    class TH:
        tensor = staticmethod(torch.tensor)
        embedding = staticmethod(torch.nn.functional.embedding)

    w = tg.tensor(w_np, requires_grad=True)
    ours, theirs = _both(lambda: call(TG, w), lambda: call(TH, torch.tensor(w_np, requires_grad=True)))
    if same_message:
        assert ours == theirs
    np.testing.assert_array_equal(w.detach().numpy(), w_np)  # nothing written
    assert w.grad is None


def test_sparse_is_not_implemented():
    m = nn.Embedding(4, 2, sparse=True)
    with pytest.raises(NotImplementedError, match="sparse"):
        m(tg.tensor([1]))
    with pytest.raises(NotImplementedError):
        F.embedding(tg.tensor([1]), tg.randn(4, 2), sparse=True)


def test_module_errors_match_torch():
    pytest.importorskip("torch")
    for kw in [dict(padding_idx=5), dict(padding_idx=-6), dict(_weight=None)]:
        if kw.get("_weight", 1) is None:
            ours, theirs = _both(lambda: nn.Embedding(5, 3, _weight=tg.randn(4, 3)),
                                 lambda: torch.nn.Embedding(5, 3, _weight=torch.randn(4, 3)))
        else:
            ours, theirs = _both(lambda: nn.Embedding(5, 3, **kw), lambda: torch.nn.Embedding(5, 3, **kw))
        assert ours == theirs
    ours, theirs = _both(lambda: nn.Embedding.from_pretrained(tg.randn(4)),
                         lambda: torch.nn.Embedding.from_pretrained(torch.randn(4)))
    assert ours == theirs


def test_out_of_range_message_and_graph_still_usable():
    w = tg.randn(4, 2, requires_grad=True)
    with pytest.raises(IndexError, match="^index out of range in self$"):
        F.embedding(tg.tensor([0, 4]), w)
    F.embedding(tg.tensor([0, 3]), w).sum().backward()
    assert w.grad.numpy().sum() == 4.0


# ---- one_hot -------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (2, 0)])
@pytest.mark.parametrize("num_classes", [-1, 7])
def test_one_hot_matches_numpy(shape, num_classes):
    x = rng.integers(0, 6, size=shape)
    if num_classes == -1 and x.size == 0:
        return
    out = F.one_hot(tg.tensor(x), num_classes)
    c = x.max() + 1 if num_classes == -1 else num_classes
    assert out.dtype == tg.int64 and out.shape == shape + (c,)
    np.testing.assert_array_equal(out.numpy(), np.eye(c, dtype=np.int64)[x])


def test_one_hot_matches_torch_and_default():
    pytest.importorskip("torch")
    x = np.array([[0, 3], [1, 1]])
    np.testing.assert_array_equal(F.one_hot(tg.tensor(x)).numpy(), torch.nn.functional.one_hot(torch.tensor(x)).numpy())
    assert F.one_hot(tg.tensor([], dtype=tg.int64), 3).shape == (0, 3)


ONE_HOT_ERRORS = [
    ("negative", lambda m: m.one_hot(m.tensor([0, -2]))),
    ("too small", lambda m: m.one_hot(m.tensor([0, 2]), 2)),
    ("negative classes", lambda m: m.one_hot(m.tensor([0, 2]), -2)),
    ("zero classes", lambda m: m.one_hot(m.tensor([0, 2]), 0)),
    ("empty infer", lambda m: m.one_hot(m.tensor([], dtype=m.int64))),
    ("empty zero", lambda m: m.one_hot(m.tensor([], dtype=m.int64), 0)),
    ("float input", lambda m: m.one_hot(m.tensor([0.0, 1.0]))),
    ("bool input", lambda m: m.one_hot(m.tensor([True]))),
    ("float classes", lambda m: m.one_hot(m.tensor([1]), 3.0)),
    ("bool classes", lambda m: m.one_hot(m.tensor([1]), True)),
    ("list input", lambda m: m.one_hot([1], 3)),
]


@pytest.mark.parametrize("name,call", ONE_HOT_ERRORS, ids=[e[0] for e in ONE_HOT_ERRORS])
def test_one_hot_errors_match_torch(name, call):
    pytest.importorskip("torch")

    class TG:
        tensor = staticmethod(tg.tensor)
        one_hot = staticmethod(F.one_hot)
        int64 = tg.int64

    class TH:
        tensor = staticmethod(torch.tensor)
        one_hot = staticmethod(torch.nn.functional.one_hot)
        int64 = torch.int64

    ours, theirs = _both(lambda: call(TG), lambda: call(TH))
    assert ours == theirs
