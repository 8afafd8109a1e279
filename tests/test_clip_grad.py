"""nn.utils: clip_grad_norm_ (every norm type, the returned total norm, error_if_nonfinite),
clip_grad_value_, get_total_norm / clip_grads_with_norm_, parameters_to_vector /
vector_to_parameters, against numpy and PyTorch with the same gradients."""
import math
import warnings

import numpy as np
import pytest

import tinygrad_cpp as tg
import tinygrad_cpp.nn as nn
from helpers import torch

rng = np.random.default_rng(23)


def _params(shapes, dtype=np.float32, scale=1.0):
    """The same parameters with the same gradients in tinygrad_cpp and (when installed)
    PyTorch."""
    data = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [(rng.standard_normal(s) * scale).astype(dtype) for s in shapes]
    ours = []
    for d, g in zip(data, grads):
        p = nn.Parameter(tg.tensor(d))
        p.grad = tg.tensor(g)
        ours.append(p)
    theirs = None
    if torch is not None:
        theirs = []
        for d, g in zip(data, grads):
            p = torch.nn.Parameter(torch.tensor(d))
            p.grad = torch.tensor(g)
            theirs.append(p)
    return ours, theirs, grads


def np_total_norm(grads, p):
    """The norm of the per-tensor norms, as PyTorch computes it (for p=0 the count of
    tensors with a non-zero element, not of the elements)."""
    if p == 0:
        return float(sum(bool((g != 0).any()) for g in grads))
    flat = np.concatenate([g.reshape(-1).astype(np.float64) for g in grads])
    if p == math.inf:
        return np.abs(flat).max()
    if p == -math.inf:
        return np.abs(flat).min()
    return (np.abs(flat) ** p).sum() ** (1 / p)


SHAPES = [(3, 4), (4,), (2, 2, 3), ()]


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, 0.5, math.inf, "inf", -math.inf, 0])
@pytest.mark.parametrize("max_norm", [0.1, 1e6])
def test_clip_grad_norm_matches_numpy_and_torch(norm_type, max_norm):
    ours, theirs, grads = _params(SHAPES)
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    p = float(norm_type)
    expected = np_total_norm(grads, p)
    assert isinstance(total, tg.Tensor) and total.shape == () and total.dtype == tg.float32
    np.testing.assert_allclose(total.item(), expected, rtol=1e-5)
    coef = min(max_norm / (expected + 1e-6), 1.0)
    for prm, g in zip(ours, grads):
        np.testing.assert_allclose(prm.grad.numpy(), g * coef, rtol=1e-5, atol=1e-7)
        assert prm.grad.grad_fn is None
    if torch is not None:
        ttotal = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
        np.testing.assert_allclose(total.item(), ttotal.item(), rtol=1e-5)
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_float64_and_mixed_grads():
    ours, _, grads = _params([(5,), (2, 3)], dtype=np.float64, scale=10)
    total = nn.utils.clip_grad_norm_(ours, 1.0)
    assert total.dtype == tg.float64
    np.testing.assert_allclose(total.item(), np_total_norm(grads, 2), rtol=1e-12)
    np.testing.assert_allclose(np_total_norm([p.grad.numpy() for p in ours], 2), 1.0, rtol=1e-5)


def test_single_tensor_skips_missing_grads_and_generator():
    ours, _, grads = _params([(4,), (3,)])
    total = nn.utils.clip_grad_norm_(ours[0], 1e-3)
    np.testing.assert_allclose(total.item(), np.linalg.norm(grads[0]), rtol=1e-5)
    np.testing.assert_allclose(ours[1].grad.numpy(), grads[1])  # untouched
    m = nn.Linear(3, 2)
    m(tg.randn(5, 3)).sum().backward()
    m.bias.grad = None
    w = m.weight.grad.numpy().copy()
    total = nn.utils.clip_grad_norm_(m.parameters(), 0.01)  # a generator
    np.testing.assert_allclose(total.item(), np.linalg.norm(w), rtol=1e-5)
    assert m.bias.grad is None
    np.testing.assert_allclose(np.linalg.norm(m.weight.grad.numpy()), 0.01, rtol=1e-3)


def test_no_grads_and_empty_generator():
    p = nn.Parameter(tg.randn(3))
    assert nn.utils.clip_grad_norm_([p], 1.0).item() == 0.0
    assert nn.utils.clip_grad_norm_([], 1.0).item() == 0.0
    with pytest.warns(UserWarning, match="empty generator"):
        assert nn.utils.clip_grad_norm_((q for q in []), 1.0).item() == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.utils.clip_grad_norm_([], 1.0)  # a list warns nothing


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_error_if_nonfinite(bad):
    ours, theirs, grads = _params([(3,), (2,)])
    ours[0].grad = tg.tensor(np.array([1.0, bad, 2.0], dtype=np.float32))
    before = [p.grad.numpy().copy() for p in ours]
    with pytest.raises(RuntimeError, match="non-finite") as e:
        nn.utils.clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    for p, b in zip(ours, before):
        np.testing.assert_array_equal(p.grad.numpy(), b)  # nothing scaled
    if torch is not None:
        theirs[0].grad = torch.tensor(np.array([1.0, bad, 2.0], dtype=np.float32))
        with pytest.raises(RuntimeError) as te:
            torch.nn.utils.clip_grad_norm_(theirs, 1.0, error_if_nonfinite=True)
        assert str(e.value) == str(te.value)
        total = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
        ours_total = nn.utils.clip_grad_norm_(ours, 1.0)
        assert math.isnan(ours_total.item()) == math.isnan(total.item())
        for a, b in zip(ours, theirs):
            np.testing.assert_array_equal(np.isnan(a.grad.numpy()), np.isnan(b.grad.numpy()))


def test_clip_grad_value_matches_torch():
    ours, theirs, grads = _params(SHAPES, scale=2.0)
    assert nn.utils.clip_grad_value_(ours, 0.7) is None
    for p, g in zip(ours, grads):
        np.testing.assert_array_equal(p.grad.numpy(), np.clip(g, -0.7, 0.7))
        assert p.grad.grad_fn is None
    if torch is not None:
        torch.nn.utils.clip_grad_value_(theirs, 0.7)
        for a, b in zip(ours, theirs):
            np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())
    single = nn.Parameter(tg.zeros(2))
    single.grad = tg.tensor([3.0, -3.0])
    nn.utils.clip_grad_value_(single, 1)
    assert single.grad.tolist() == [1.0, -1.0]


def test_total_norm_and_clip_with_norm_parts():
    ours, theirs, grads = _params([(3, 2), (5,)], scale=3.0)
    total = nn.utils.get_total_norm([p.grad for p in ours], 2.0)
    np.testing.assert_allclose(total.item(), np_total_norm(grads, 2), rtol=1e-5)
    nn.utils.clip_grads_with_norm_(ours, 1.0, total)
    np.testing.assert_allclose(np_total_norm([p.grad.numpy() for p in ours], 2), 1.0, rtol=1e-4)
    if torch is not None:
        ttotal = torch.nn.utils.get_total_norm([p.grad for p in theirs], 2.0)
        torch.nn.utils.clip_grads_with_norm_(theirs, 1.0, ttotal)
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-5)


def test_clip_inside_training_step_is_not_recorded():
    tg.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    opt = tg.optim.SGD(m.parameters(), lr=0.1)
    x, y = tg.randn(16, 4), tg.randn(16, 1)
    for _ in range(3):
        opt.zero_grad()
        loss = ((m(x) - y) ** 2).mean()
        loss.backward()
        total = nn.utils.clip_grad_norm_(m.parameters(), 0.5)
        assert not total.requires_grad and total.grad_fn is None
        assert np_total_norm([p.grad.numpy() for p in m.parameters()], 2) <= 0.5 + 1e-5
        opt.step()


def test_parameters_to_vector_and_back_match_torch():
    m = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 4))
    vec = nn.utils.parameters_to_vector(m.parameters())
    n = sum(p.numel() for p in m.parameters())
    assert vec.shape == (n,)
    np.testing.assert_array_equal(vec.detach().numpy(),
                                  np.concatenate([p.detach().numpy().reshape(-1) for p in m.parameters()]))
    vec.sum().backward()  # differentiable, as PyTorch's
    assert all(p.grad.numpy().tolist() == np.ones(tuple(p.shape)).tolist() for p in m.parameters())
    new = np.arange(n, dtype=np.float32)
    nn.utils.vector_to_parameters(tg.tensor(new), m.parameters())
    np.testing.assert_array_equal(nn.utils.parameters_to_vector(m.parameters()).detach().numpy(), new)
    assert all(p.requires_grad and p.is_leaf for p in m.parameters())
    if torch is not None:
        t = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Linear(2, 4))
        torch.nn.utils.vector_to_parameters(torch.tensor(new), t.parameters())
        for (k, a), (tk, b) in zip(m.state_dict().items(), t.state_dict().items()):
            assert k == tk
            np.testing.assert_array_equal(a.numpy(), b.detach().numpy())
        with pytest.raises(TypeError) as te:
            torch.nn.utils.vector_to_parameters([1.0], t.parameters())
        with pytest.raises(TypeError) as e:
            nn.utils.vector_to_parameters([1.0], m.parameters())
        assert str(e.value) == str(te.value)


def test_import_paths():
    import tinygrad_cpp.nn.utils as u
    from tinygrad_cpp.nn.utils import clip_grad, convert_parameters
    from tinygrad_cpp.nn.utils.clip_grad import clip_grad_norm_
    assert u is nn.utils and clip_grad_norm_ is nn.utils.clip_grad_norm_
    assert clip_grad.clip_grad_value_ is u.clip_grad_value_
    assert convert_parameters.parameters_to_vector is u.parameters_to_vector
    assert "utils" in nn.__all__
    with pytest.warns(FutureWarning):
        p = nn.Parameter(tg.ones(2))
        p.grad = tg.ones(2)
        nn.utils.clip_grad_norm(p, 1.0)
