"""Shared oracles for the tests: numpy for values, central finite differences (float64)
and PyTorch (when importable) for gradients."""
import os

import numpy as np

import tinygrad_cpp as tg

try:
    import torch
except ImportError:  # parity checks skip cleanly without torch
    torch = None

# GCC 12's AddressSanitizer allocator is not fork-safe: a process forked while another of the
# parent's threads (multiprocessing's queue feeder) holds an allocator lock inherits the lock
# and hangs at its first malloc. Tests that fork DataLoader workers skip under it (they run
# in the release suite).
ASAN_NO_FORK = "asan" in os.environ.get("LD_PRELOAD", "")

MNIST_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data", "mnist")


def t64(a, requires_grad=True):
    return tg.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def numeric_grad(f, arrays, eps=1e-6):
    """d(sum(f(*arrays) * w))/d(arrays) for a fixed random weight w, by central differences."""
    out = np.asarray(f(*arrays), dtype=np.float64)
    w = np.random.default_rng(0).standard_normal(out.shape)
    grads = []
    for a in arrays:
        g = np.zeros_like(a, dtype=np.float64)
        flat, gf = a.reshape(-1), g.reshape(-1)
        for i in range(flat.size):
            orig = flat[i]
            flat[i] = orig + eps
            plus = np.sum(np.asarray(f(*arrays)) * w)
            flat[i] = orig - eps
            minus = np.sum(np.asarray(f(*arrays)) * w)
            flat[i] = orig
            gf[i] = (plus - minus) / (2 * eps)
        grads.append(g)
    return w, grads


def check_grad(tg_fn, *arrays, torch_fn=None, atol=1e-6, rtol=1e-5):
    """Checks tg_fn's backward against finite differences in float64, and against
    PyTorch (torch_fn, defaulting to tg_fn applied to torch tensors) when available."""
    arrays = [np.array(a, dtype=np.float64) for a in arrays]

    def value(*arrs):
        with tg.no_grad():
            return tg_fn(*[tg.tensor(a) for a in arrs]).numpy()

    w, expected = numeric_grad(value, arrays)
    inputs = [tg.tensor(a, requires_grad=True) for a in arrays]
    out = tg_fn(*inputs)
    out.backward(tg.tensor(w))
    for x, e in zip(inputs, expected):
        assert x.grad is not None
        np.testing.assert_allclose(x.grad.numpy(), e, atol=max(atol, 1e-5), rtol=max(rtol, 1e-4))
    if torch is not None:
        tin = [torch.tensor(a, requires_grad=True) for a in arrays]
        tout = (torch_fn or tg_fn)(*tin)
        tout.backward(torch.tensor(w))
        np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), atol=atol, rtol=rtol)
        for x, tx in zip(inputs, tin):
            np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), atol=atol, rtol=rtol)
    return out
