"""Random tensors: reproducible under manual_seed, right distributions, dropout."""
import numpy as np
import pytest

import tinygrad_cpp as tg


def test_manual_seed_reproduces_every_draw():
    def draws():
        tg.manual_seed(123)
        return [tg.rand(50).numpy(), tg.randn(3, 7).numpy(), tg.randint(0, 10, (20,)).numpy(),
                tg.randperm(30).numpy()]
    for a, b in zip(draws(), draws()):
        np.testing.assert_array_equal(a, b)
    tg.manual_seed(124)
    assert not np.array_equal(tg.rand(50).numpy(), draws()[0])


def test_generator_objects_are_independent_streams():
    g1, g2 = tg.Generator().manual_seed(5), tg.Generator().manual_seed(5)
    np.testing.assert_array_equal(tg.rand(8, generator=g1).numpy(), tg.rand(8, generator=g2).numpy())


def test_distributions():
    tg.manual_seed(0)
    u = tg.rand(200_000).numpy()
    assert u.min() >= 0 and u.max() < 1 and abs(u.mean() - 0.5) < 0.005
    n = tg.randn(200_000, dtype=tg.float64).numpy()
    assert n.dtype == np.float64 and abs(n.mean()) < 0.01 and abs(n.std() - 1) < 0.01
    r = tg.randint(-3, 4, (100_000,)).numpy()
    assert r.min() == -3 and r.max() == 3 and set(np.unique(r)) == set(range(-3, 4))
    assert tg.randint(5, (3,)).numpy().max() < 5
    p = tg.randperm(1000).numpy()
    np.testing.assert_array_equal(np.sort(p), np.arange(1000))
    assert tg.randperm(0).shape == (0,)


def test_in_place_fills_work_on_views():
    t = tg.zeros(4, 6)
    t.T.uniform_(2.0, 3.0)
    v = t.numpy()
    assert v.min() >= 2 and v.max() < 3
    t.normal_(5.0, 0.0)
    np.testing.assert_array_equal(t.numpy(), np.full((4, 6), 5.0))
    with pytest.raises(RuntimeError, match=r"\[from, to\) range"):  # PyTorch's type
        t.uniform_(3.0, 2.0)
    w = tg.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        w.uniform_()
    with tg.no_grad():
        w.uniform_()


def test_bernoulli():
    tg.manual_seed(1)
    b = tg.bernoulli(tg.full((100_000,), 0.3)).numpy()
    assert set(np.unique(b)) == {0.0, 1.0} and abs(b.mean() - 0.3) < 0.01


def test_dropout_scales_masks_and_backprops_through_mask():
    tg.manual_seed(2)
    x = tg.ones(1000, 10, requires_grad=True)
    y = tg.dropout(x, 0.25, True)
    v = y.detach().numpy()
    assert set(np.unique(v)) <= {np.float32(0.0), np.float32(1.0 / 0.75)}
    assert abs((v == 0).mean() - 0.25) < 0.02
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), v)
    assert y.grad_fn.name() == "NativeDropoutBackward0"
    assert tg.dropout(x, 0.5, False) is x
    np.testing.assert_array_equal(tg.dropout(x, 1.0, True).detach().numpy(), 0)
    with pytest.raises(RuntimeError, match="between 0 and 1"):  # torch.dropout's type (F.dropout: ValueError)
        tg.dropout(x, 1.5, True)


def test_random_errors():
    with pytest.raises(RuntimeError, match="from=5"):
        tg.randint(5, 5, (2,))
    with pytest.raises(RuntimeError):
        tg.randperm(-1)
