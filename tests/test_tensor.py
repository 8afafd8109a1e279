"""Creation, attributes, conversion, numpy/DLPack interop and repr."""
import os
import subprocess
import sys

import numpy as np
import pytest

import tinygrad_cpp as tg
from helpers import torch


@pytest.mark.parametrize("data,dtype", [
    ([1.0, 2.0], tg.float32), ([1, 2], tg.int64), ([True, False], tg.bool), (3.5, tg.float32),
    (7, tg.int64), ([[1.5, 2.0], [3.0, 4.0]], tg.float32), (np.arange(4.0), tg.float64),
    (np.arange(4, dtype=np.int32), tg.int32), (np.ones(3, dtype=np.float32), tg.float32),
])
def test_tensor_infers_dtype_and_copies(data, dtype):
    t = tg.tensor(data)
    assert t.dtype is dtype
    np.testing.assert_array_equal(t.numpy(), np.asarray(data))


def test_tensor_copy_is_independent_of_numpy_source():
    a = np.arange(6.0).reshape(2, 3)
    t = tg.tensor(a)
    a[0, 0] = 100
    assert t.numpy()[0, 0] == 0


def test_full_converts_its_value_exactly_or_refuses():
    assert tg.full((2,), 2 ** 62 + 1).tolist() == [2 ** 62 + 1] * 2  # no trip through a double
    assert tg.full((1,), 0.1, dtype=tg.float64).item() == 0.1
    assert tg.full((2,), 3.7, dtype=tg.int64).tolist() == [3, 3]  # truncates, as PyTorch
    assert tg.full((2,), 0.5, dtype=tg.bool).tolist() == [True, True]
    assert tg.full((2,), tg.tensor(2.5)).tolist() == [2.5, 2.5]
    for bad in (1e30, -1e19, float("nan"), float("inf")):
        with pytest.raises(RuntimeError, match="int64_t without overflow"):
            tg.full((2,), bad, dtype=tg.int64)
    with pytest.raises(TypeError, match="fill_value"):
        tg.full((2,), "a")
    if torch is not None:
        with pytest.raises(RuntimeError, match="without overflow"):
            torch.full((2,), 1e30, dtype=torch.int64)


def test_factories():
    assert tg.zeros(2, 3).shape == (2, 3)
    assert tg.zeros((2, 3)).shape == (2, 3)
    np.testing.assert_array_equal(tg.ones(2, dtype=tg.int64).numpy(), [1, 1])
    np.testing.assert_array_equal(tg.full((2, 2), 7.0).numpy(), np.full((2, 2), 7.0))
    assert tg.full((2,), 3).dtype is tg.int64
    assert tg.empty(4).shape == (4,)
    np.testing.assert_array_equal(tg.arange(5).numpy(), np.arange(5))
    assert tg.arange(5).dtype is tg.int64
    np.testing.assert_allclose(tg.arange(0, 1, 0.25).numpy(), np.arange(0, 1, 0.25))
    np.testing.assert_allclose(tg.arange(5, 0, -1.5).numpy(), np.arange(5, 0, -1.5))
    np.testing.assert_allclose(tg.linspace(-1, 1, 7).numpy(), np.linspace(-1, 1, 7), rtol=1e-6)
    np.testing.assert_array_equal(tg.eye(3).numpy(), np.eye(3))
    np.testing.assert_array_equal(tg.eye(2, 3).numpy(), np.eye(2, 3))
    x = tg.ones(2, 3, dtype=tg.float64)
    assert tg.zeros_like(x).dtype is tg.float64 and tg.zeros_like(x).shape == (2, 3)
    np.testing.assert_array_equal(tg.full_like(x, 2.5).numpy(), np.full((2, 3), 2.5))
    assert tg.ones(0, 3).numel() == 0
    assert tg.zeros(()).shape == ()


def test_factory_errors():
    with pytest.raises(ValueError, match="negative dimension -1"):
        tg.zeros(2, -1)
    with pytest.raises(TypeError):
        tg.zeros(2.5)
    with pytest.raises(RuntimeError, match="step must be nonzero"):
        tg.arange(0, 5, 0)
    with pytest.raises(RuntimeError, match="inconsistent with step sign"):
        tg.arange(5, 0, 1)
    with pytest.raises(RuntimeError, match="floating point"):
        tg.ones(2, dtype=tg.int64, requires_grad=True)
    with pytest.raises((MemoryError, RuntimeError)):
        tg.empty(1 << 40, 1 << 30)


def test_attributes():
    t = tg.zeros(2, 3, 4)
    assert t.shape == (2, 3, 4) and t.ndim == 3 and t.dim() == 3
    assert t.size() == (2, 3, 4) and t.size(1) == 3 and t.size(-1) == 4
    assert t.numel() == 24 and len(t) == 2
    assert t.stride() == (12, 4, 1) and t.is_contiguous()
    assert t.is_leaf and t.grad_fn is None and t.grad is None and not t.requires_grad
    with pytest.raises(IndexError, match="Dimension out of range"):
        t.size(3)
    with pytest.raises(TypeError, match="0-d"):
        len(tg.tensor(1.0))


def test_conversions():
    t = tg.tensor([[1.5, -2.0]])
    assert t.tolist() == [[1.5, -2.0]]
    assert tg.tensor(2.5).item() == 2.5 and isinstance(tg.tensor(3).item(), int)
    assert tg.tensor(True).item() is True
    assert t.double().dtype is tg.float64 and t.long().tolist() == [[1, -2]]
    assert t.bool().tolist() == [[True, True]] and t.to(tg.float64).dtype is tg.float64
    assert t.float() is t
    assert float(tg.tensor(1.5)) == 1.5 and int(tg.tensor(3)) == 3 and bool(tg.tensor(0.0)) is False
    with pytest.raises(RuntimeError, match="2 elements cannot be converted"):
        t.item()


def test_from_numpy_shares_memory_both_ways():
    a = np.zeros((2, 3), dtype=np.float32)
    t = tg.from_numpy(a)
    a[0, 1] = 5
    assert t.numpy()[0, 1] == 5
    t.numpy()[1, 2] = 7
    assert a[1, 2] == 7
    assert np.shares_memory(np.asarray(t), a)
    # non-contiguous numpy views keep their strides
    b = np.arange(12.0).reshape(3, 4)[:, ::2]
    tb = tg.from_numpy(b)
    assert not tb.is_contiguous()
    np.testing.assert_array_equal(tb.numpy(), b)
    np.testing.assert_array_equal((tb + 1).numpy(), b + 1)


def test_from_numpy_keeps_array_alive():
    t = tg.from_numpy(np.arange(1000.0))
    import gc
    gc.collect()
    assert t.numpy()[999] == 999.0


def test_from_numpy_rejects_unsupported_dtypes():
    with pytest.raises(TypeError, match="uint16"):
        tg.from_numpy(np.zeros(3, dtype=np.uint16))


def test_numpy_refuses_tensors_that_require_grad():
    t = tg.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        t.numpy()
    np.testing.assert_array_equal(t.detach().numpy(), [1, 1])


def test_numpy_of_a_view_is_a_view():
    t = tg.tensor(np.arange(6.0).reshape(2, 3))
    v = t.T.numpy()
    np.testing.assert_array_equal(v, np.arange(6.0).reshape(2, 3).T)
    assert np.shares_memory(v, t.numpy())


def test_dlpack_round_trip_shares_memory():
    a = np.arange(6, dtype=np.float32)
    t = tg.from_dlpack(a)
    a[0] = 42
    assert t.numpy()[0] == 42
    back = np.from_dlpack(t)
    assert np.shares_memory(back, a)
    if torch is not None:
        tt = torch.from_dlpack(t)
        tt[1] = 9
        assert t.numpy()[1] == 9
        t2 = tg.from_dlpack(torch.arange(3.0))
        np.testing.assert_array_equal(t2.numpy(), [0, 1, 2])


def test_repr_matches_pytorch():
    assert repr(tg.tensor([1.0, 2.0], dtype=tg.float64, requires_grad=True)) == \
        "tensor([1., 2.], dtype=tinygrad_cpp.float64, requires_grad=True)"
    if torch is None:
        pytest.skip("torch not installed")
    for data in ([0.0, 0.25, 0.5], [[1.5, -2.25], [3.0, 4.0]], [1e-5, 1.0], [1234567.0, 2.0],
                 [], [True, False], [1, 2, 3], 3.5):
        assert repr(tg.tensor(data)) == repr(torch.tensor(data)).replace("torch.", "tinygrad_cpp.")
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    assert repr(x * 2) == "tensor([2., 4.], grad_fn=<MulBackward0>)"


def test_dtype_objects():
    assert tg.ones(1).dtype is tg.float32
    assert tg.float32 != tg.float64 and tg.float == tg.float32 and tg.long is tg.int64
    assert repr(tg.int64) == "tinygrad_cpp.int64"
    assert tg.float32.is_floating_point and not tg.int64.is_floating_point
    assert {tg.float32: 1}[tg.ones(1).dtype] == 1


def test_threads_setting_round_trips():
    n = tg.get_num_threads()
    try:
        tg.set_num_threads(1)
        assert tg.get_num_threads() == 1
        with pytest.raises(ValueError):
            tg.set_num_threads(0)
    finally:
        tg.set_num_threads(n)


def test_buffer_pool_reuses_freed_buffers():
    if not tg._C._pool_stats()["enabled"]:
        pytest.skip("pool disabled (sanitizer build)")
    tg._C._empty_cache()
    before = tg._C._pool_stats()
    for _ in range(20):
        y = tg.ones(256, 256) * 2.0
        del y
    after = tg._C._pool_stats()
    assert after["hits"] - before["hits"] >= 19
    tg._C._empty_cache()
    assert tg._C._pool_stats()["cached_bytes"] == 0


def test_buffer_pool_can_be_switched_off():
    code = ("import tinygrad_cpp as tg; s = tg._C._pool_stats(); y = (tg.ones(300) * 2).sum().item(); "
            "assert tg._C._pool_stats()['cached_bytes'] == 0; print(s['enabled'], y)")
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, TG_NO_POOL="1"),
                         capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "600.0"]


def test_explicit_dtype_keeps_python_float_precision():
    assert tg.tensor([0.3], dtype=tg.float64).item() == 0.3
    assert tg.tensor(0.1, dtype=tg.float64).item() == 0.1


def test_deepcopy_and_pickle():
    import copy
    import pickle
    t = tg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True).T
    c = copy.deepcopy(t.detach().requires_grad_())
    assert c.requires_grad and c.tolist() == t.tolist()
    c.detach().numpy()[0, 0] = 9  # an independent copy
    assert t.detach().numpy()[0, 0] == 1
    p = pickle.loads(pickle.dumps(t.detach()))
    assert p.tolist() == t.tolist() and p.dtype is tg.float32


def test_numpy_scalars_act_as_python_numbers():
    t = tg.ones(2)
    for r in (t * np.float32(2), np.float32(2) * t, t + np.int64(1)):
        assert isinstance(r, tg.Tensor) and r.dtype is tg.float32
        np.testing.assert_array_equal(r.numpy(), [2.0, 2.0])
    assert (tg.ones(2, dtype=tg.int64) * np.float64(1.5)).dtype is tg.float32


def test_float_to_int_conversion_of_non_finite_values_is_defined():
    out = tg.tensor([float("nan"), float("inf"), 1e30, -3.7]).long().tolist()
    assert out[3] == -3 and out[:3] == [-(2**63)] * 3
