"""Threads: Python threads training separate models at once get the results they get one
after another (the GIL is released around big kernels, so they really overlap); grad mode
is per thread; the OpenMP thread count changes speed, not results."""
import threading

import numpy as np
import pytest

import tinygrad_cpp as tg
import tinygrad_cpp.nn as nn
import tinygrad_cpp.nn.functional as F
import tinygrad_cpp.optim as optim


def _model(seed, dtype):
    """A small MLP with deterministic weights from numpy (the tg generator is global)."""
    rng = np.random.default_rng(seed)
    m = nn.Sequential(nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    with tg.no_grad():
        for p in m.parameters():
            p.copy_(tg.tensor(rng.standard_normal(tuple(p.shape)) * 0.05))
    return m.double() if dtype == tg.float64 else m


def _data(seed, dtype):
    rng = np.random.default_rng(100 + seed)
    x = tg.tensor(rng.standard_normal((256, 256)), dtype=dtype)
    y = tg.tensor(rng.integers(0, 10, 256))
    return x, y


def _train(seed, opt_name, dtype=tg.float32, steps=6):
    m = _model(seed, dtype)
    x, y = _data(seed, dtype)
    opt = optim.SGD(m.parameters(), lr=0.1, momentum=0.9) if opt_name == "sgd" else optim.Adam(m.parameters(), lr=1e-3)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(m(x).log_softmax(1).exp().log(), y) + (m(x) ** 2).mean() * 1e-3
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, [p.detach().numpy().copy() for p in m.parameters()]


def test_concurrent_training_matches_sequential():
    jobs = [(0, "sgd", tg.float32), (1, "adam", tg.float32), (2, "sgd", tg.float64), (3, "adam", tg.float64)]
    sequential = [_train(*j) for j in jobs]
    results = [None] * len(jobs)
    errors = []
    start = threading.Barrier(len(jobs))

    def work(i):
        try:
            start.wait()
            results[i] = _train(*jobs[i])
        except BaseException as e:  # noqa: BLE001  (reported below)
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for (seq_losses, seq_params), (par_losses, par_params) in zip(sequential, results):
        assert seq_losses == par_losses  # the kernels are deterministic: bitwise equal
        for a, b in zip(seq_params, par_params):
            np.testing.assert_array_equal(a, b)


def test_concurrent_ops_on_shared_read_only_inputs():
    """Many threads reading the same tensors (matmul, reductions, backward into their own
    leaves) do not disturb each other."""
    rng = np.random.default_rng(0)
    a = tg.tensor(rng.standard_normal((200, 300)))
    b = tg.tensor(rng.standard_normal((300, 150)))
    want_mm = (a @ b).numpy()
    want_sm = a.softmax(1).numpy()
    errors = []

    def work():
        try:
            for _ in range(5):
                np.testing.assert_array_equal((a @ b).numpy(), want_mm)
                np.testing.assert_array_equal(a.softmax(1).numpy(), want_sm)
                w = tg.tensor(np.ones((300, 1)), requires_grad=True)
                (a @ w).sum().backward()
                np.testing.assert_allclose(w.grad.numpy()[:, 0], a.numpy().sum(0), rtol=1e-12)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_grad_mode_is_per_thread():
    inside = threading.Event()
    checked = threading.Event()
    seen = {}

    def no_grad_thread():
        with tg.no_grad():
            seen["a_enabled"] = tg.is_grad_enabled()
            inside.set()
            checked.wait(10)
            x = tg.ones(2, requires_grad=True)
            seen["a_records"] = (x * 2).requires_grad

    def other_thread():
        inside.wait(10)
        seen["b_enabled"] = tg.is_grad_enabled()
        x = tg.ones(2, requires_grad=True)
        seen["b_records"] = (x * 2).requires_grad
        checked.set()

    ta, tb = threading.Thread(target=no_grad_thread), threading.Thread(target=other_thread)
    ta.start()
    tb.start()
    ta.join()
    tb.join()
    assert seen == {"a_enabled": False, "a_records": False, "b_enabled": True, "b_records": True}
    assert tg.is_grad_enabled()

    # and the main thread's no_grad does not leak into a new thread
    out = {}
    with tg.no_grad():
        t = threading.Thread(target=lambda: out.setdefault("enabled", tg.is_grad_enabled()))
        t.start()
        t.join()
    assert out["enabled"] is True


@pytest.fixture
def restore_threads():
    n = tg.get_num_threads()
    yield
    tg.set_num_threads(n)


def _with_threads(n, fn):
    tg.set_num_threads(n)
    assert tg.get_num_threads() == n
    return fn()


def _lstm(dtype):
    """An LSTM on 64 rows, forward and backward: with threads, blocks of rows run the
    whole recurrence each (ops/rnn.cpp)."""
    rng = np.random.default_rng(3)
    layer = nn.LSTM(12, 16, batch_first=True, bidirectional=True).to(dtype)
    with tg.no_grad():
        for p in layer.parameters():
            p.copy_(tg.tensor(rng.uniform(-0.3, 0.3, tuple(p.shape)), dtype=dtype))
    x = tg.tensor(rng.standard_normal((64, 10, 12)), dtype=dtype, requires_grad=True)
    out, (h, c) = layer(x)
    (out.square().sum() + h.sum() + c.sum()).backward()
    return [out.detach().numpy(), x.grad.numpy()] + [p.grad.numpy() for p in layer.parameters()]


@pytest.mark.parametrize("dtype,rtol", [(tg.float32, 1e-5), (tg.float64, 1e-12)])
def test_one_and_two_threads_agree(restore_threads, dtype, rtol):
    rng = np.random.default_rng(1)
    a = tg.tensor(rng.standard_normal((300, 257)), dtype=dtype)
    b = tg.tensor(rng.standard_normal((257, 301)), dtype=dtype)
    big = tg.tensor(rng.standard_normal((1000, 1000)), dtype=dtype)
    logits = tg.tensor(rng.standard_normal((512, 1000)) * 5, dtype=dtype)

    def compute():
        return {
            "matmul": (a @ b).numpy(),
            "bmm": tg.matmul(a.reshape(3, 100, 257), b).numpy(),
            "sum": big.sum().numpy(),
            "sum0": big.sum(0).numpy(),
            "mean1": big.mean(1).numpy(),
            "var": big.var(0).numpy(),
            "max": big.max(1).values.numpy(),
            "argmax": big.argmax(0).numpy(),
            "logsumexp": logits.logsumexp(1).numpy(),
            "softmax": logits.softmax(1).numpy(),
            "log_softmax": logits.log_softmax(0).numpy(),
            "exp": big.exp().numpy(),
            "train": _train(7, "sgd", dtype, steps=2)[1],
            "lstm": _lstm(dtype),
        }

    one = _with_threads(1, compute)
    two = _with_threads(2, compute)
    for k in one:
        if k in ("train", "lstm"):
            for p1, p2 in zip(one[k], two[k]):
                np.testing.assert_allclose(p1, p2, rtol=rtol * 10, atol=rtol, err_msg=k)
        elif k == "argmax":
            np.testing.assert_array_equal(one[k], two[k])
        else:
            np.testing.assert_allclose(one[k], two[k], rtol=rtol, atol=rtol, err_msg=k)


def test_set_num_threads_rejects_bad_values(restore_threads):
    for bad in (0, -1):
        with pytest.raises(ValueError):
            tg.set_num_threads(bad)
    with pytest.raises(TypeError):
        tg.set_num_threads("2")
    assert tg.get_num_threads() >= 1


def test_embedding_and_layer_norm_backward_from_threads():
    """The embedding scatter-add (repeated indices) and the fused layer-norm backward run
    parallel regions from several Python threads at once; each gives the sequential result
    bit for bit (their kernels own disjoint outputs per task and sum in a fixed order)."""
    rng = np.random.default_rng(3)
    idx = tg.tensor(rng.integers(0, 50, size=(64, 40)))
    g_emb = tg.tensor(rng.standard_normal((64, 40, 300)).astype(np.float32))
    w0 = rng.standard_normal((50, 300)).astype(np.float32)
    x0 = rng.standard_normal((512, 160)).astype(np.float32)
    g_ln = tg.tensor(rng.standard_normal((512, 160)).astype(np.float32))

    def run():
        w = tg.tensor(w0, requires_grad=True)
        F.embedding(idx, w, padding_idx=3).backward(g_emb)
        x = tg.tensor(x0, requires_grad=True)
        lw = tg.ones(160, requires_grad=True)
        F.layer_norm(x, (160,), lw).backward(g_ln)
        return [w.grad.numpy(), x.grad.numpy(), lw.grad.numpy()]

    want = run()
    errors = []

    def work():
        try:
            for _ in range(3):
                for a, b in zip(run(), want):
                    np.testing.assert_array_equal(a, b)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
