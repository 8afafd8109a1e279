"""Devices: tg.device (parsing, str/repr/eq/hash/pickle as torch.device), Tensor.to in all
its forms, .cpu()/.cuda()/.device, device= on creation functions, Module.to/cpu/cuda, and
the availability queries (tg.cuda, tg.accelerator, tg.backends) that let GPU-minded
scripts run unchanged on the CPU."""
import pickle

import numpy as np
import pytest

import tinygrad_cpp as tg
import tinygrad_cpp.nn as nn
import tinygrad_cpp.optim as optim
from helpers import torch


# ---- tg.device ---------------------------------------------------------------------------

@pytest.mark.parametrize("args", [("cpu",), ("cpu", 0), ("cpu:0",), ("cuda",), ("cuda:1",), ("cuda", 3),
                                  ("mps",), ("meta",), ("xpu:2",)])
def test_device_str_repr_attributes_like_torch(args):
    d = tg.device(*args)
    kind, _, idx = args[0].partition(":")
    index = int(idx) if idx else (args[1] if len(args) > 1 else None)
    assert (d.type, d.index) == (kind, index)
    assert str(d) == (kind if index is None else f"{kind}:{index}")
    assert repr(d) == (f"device(type='{kind}')" if index is None else f"device(type='{kind}', index={index})")
    assert isinstance(d, tg.device)
    assert tg.device(d) == d and tg.device(str(d)) == d
    if torch is not None:
        td = torch.device(*args)
        assert (str(d), repr(d), d.type, d.index) == (str(td), repr(td), td.type, td.index)


def test_device_equality_hash_and_pickle():
    cpu = tg.device("cpu")
    assert cpu == tg.device("cpu") and hash(cpu) == hash(tg.device("cpu"))
    assert cpu != tg.device("cpu", 0)  # as in PyTorch: the index is part of the identity
    assert tg.device("cuda:0") != tg.device("cuda:1") and tg.device("cuda:1") == tg.device("cuda", 1)
    assert cpu != "cpu"  # a device never equals a string, as in PyTorch
    assert {cpu: 1}[tg.device("cpu")] == 1
    for d in (cpu, tg.device("cuda", 2)):
        assert pickle.loads(pickle.dumps(d)) == d
    with pytest.raises(AttributeError):
        cpu.type = "cuda"  # read-only, like torch.device


@pytest.mark.parametrize("args,exc,match", [
    (("foo",), RuntimeError, "Expected one of cpu, cuda.*device string: foo"),
    (("CPU",), RuntimeError, "Expected one of"),
    (("cpu:x",), RuntimeError, "Invalid device string: 'cpu:x'"),
    (("cpu:-1",), RuntimeError, "Invalid device string"),
    (("cpu:01",), RuntimeError, "Invalid device string"),
    ((" cpu",), RuntimeError, "Invalid device string"),
    (("cuda", -1), RuntimeError, "Device index must not be negative"),
    (("cuda:0", 1), RuntimeError, "must not include an index"),
    ((0,), RuntimeError, "Cannot access accelerator device when none is available"),
    ((1.5,), TypeError, "invalid combination of arguments - got \\(float\\)"),
    ((None,), TypeError, "NoneType"),
    ((True,), TypeError, "bool"),
    (("cpu", "0"), TypeError, "argument 'index' \\(position 2\\) must be int, not str"),
    (("cpu", 0, 1), TypeError, "positional arguments"),
])
def test_device_errors_like_torch(args, exc, match):
    with pytest.raises(exc, match=match):
        tg.device(*args)
    if torch is not None and args not in [((None,)), ((True,))]:
        with pytest.raises(exc):
            torch.device(*args)


# ---- Tensor.to, .cpu(), .cuda(), .device ---------------------------------------------------

def test_tensor_device_attributes():
    t = tg.ones(2, 3)
    assert t.device == tg.device("cpu") and str(t.device) == "cpu"
    assert t.is_cpu and not t.is_cuda and not t.is_meta and t.get_device() == -1
    assert t.cpu() is t
    assert (t * 2).device.type == "cpu"


def test_to_device_returns_self_or_a_copy():
    t = tg.tensor([1.0, 2.0])
    for dev in ("cpu", "cpu:0", tg.device("cpu"), tg.device("cpu", 3), None):
        assert t.to(dev) is t
    assert t.to() is t and t.to(device="cpu") is t and t.to("cpu", None) is t
    assert t.to("cpu", non_blocking=True) is t
    c = t.to("cpu", copy=True)
    assert c is not t and c.data_ptr() != t.data_ptr()
    np.testing.assert_array_equal(c.numpy(), [1.0, 2.0])
    c.add_(1.0)
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0])  # a real copy
    assert t.to(tg.float32, copy=True) is not t
    assert t.to(tg.float32) is t


def test_to_device_and_dtype_forms():
    t = tg.tensor([1.5, -2.0])
    assert t.to("cpu", tg.float64).dtype == tg.float64
    assert t.to(tg.device("cpu"), tg.float64, False, True).dtype == tg.float64
    assert t.to(device="cpu", dtype=tg.int64).tolist() == [1, -2]
    assert t.to(tg.float64, True, False).dtype == tg.float64
    assert t.to(dtype=tg.float64, non_blocking=True).dtype == tg.float64
    other = tg.zeros(1, dtype=tg.int64)
    assert t.to(other).dtype == tg.int64 and t.to(other, non_blocking=True, copy=True).dtype == tg.int64
    same = tg.zeros(3)
    assert t.to(same) is t
    np.testing.assert_array_equal(t.to("cpu", tg.float64).numpy(), [1.5, -2.0])


def test_to_keeps_autograd():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    assert x.to("cpu") is x
    y = x.to("cpu", tg.float64)
    assert y.grad_fn.name() == "ToCopyBackward0"
    (y * y).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])
    assert x.grad.dtype == tg.float32
    x.grad = None
    z = x.to(copy=True)
    assert z is not x and z.requires_grad
    (z * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


@pytest.mark.parametrize("dev", ["cuda", "cuda:0", tg.device("cuda", 1), "mps", "meta", "xpu"])
def test_to_another_device_raises_runtime_error(dev):
    t = tg.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="cpu device only") as info:
        t.to(dev)
    assert str(tg.device(dev)) in str(info.value)
    with pytest.raises(RuntimeError):
        t.to(dev, tg.float64)
    with pytest.raises(RuntimeError):
        t.to(device=dev)
    assert t.requires_grad and t.dtype == tg.float32  # unchanged and usable
    (t * 2).sum().backward()
    if torch is not None:
        # torch without that backend raises too (AssertionError for CUDA in a CPU-only build,
        # RuntimeError for a CUDA build without a GPU and for other missing backends)
        if tg.device(dev).type != "meta":
            with pytest.raises((RuntimeError, AssertionError)):
                torch.ones(2).to(str(tg.device(dev)))


def test_cuda_method_raises():
    t = tg.ones(2)
    for args in [(), (0,), ("cuda:1",), (tg.device("cuda"),)]:
        with pytest.raises(RuntimeError, match="no CUDA backend"):
            t.cuda(*args)


@pytest.mark.parametrize("args,kwargs,match", [
    (("cpu", "cpu"), {}, "argument 'dtype' must be tinygrad_cpp.dtype, not str"),
    ((tg.float64, "cpu"), {}, "argument 'non_blocking' must be bool, not str"),
    (("cpu", tg.float64, False, False, False), {}, "at most 4 positional arguments but 5 were given"),
    ((tg.float64, False, False, False), {}, "at most 3 positional arguments but 4 were given"),
    ((), {"foo": 1}, "unexpected keyword argument 'foo'"),
    ((tg.float64,), {"dtype": tg.float32}, "multiple values for argument 'dtype'"),
    (("cpu",), {"device": "cpu"}, "multiple values for argument 'device'"),
    ((3.5, tg.float64), {}, "argument 'non_blocking' must be bool"),
    (([1],), {}, "invalid combination"),
    ((), {"copy": "yes"}, "argument 'copy' must be bool"),
    ((), {"dtype": "float32"}, "argument 'dtype' must be"),
])
def test_to_bad_arguments_raise_type_error(args, kwargs, match):
    t = tg.ones(2)
    with pytest.raises(TypeError, match=match):
        t.to(*args, **kwargs)
    assert t.dtype == tg.float32


def test_to_bad_device_strings_raise_runtime_error():
    t = tg.ones(2)
    with pytest.raises(RuntimeError, match="Expected one of"):
        t.to("gpu")
    with pytest.raises(RuntimeError, match="Cannot access accelerator"):
        t.to(0)


def test_to_numpy_bool_flags():
    t = tg.ones(2)
    assert t.to("cpu", copy=np.bool_(True)) is not t


# ---- device= on creation functions ---------------------------------------------------------

CREATORS = [
    ("tensor", lambda d: tg.tensor([1.0, 2.0], device=d)),
    ("zeros", lambda d: tg.zeros(2, 3, device=d)),
    ("ones", lambda d: tg.ones((2,), device=d)),
    ("empty", lambda d: tg.empty(2, device=d)),
    ("full", lambda d: tg.full((2,), 3.0, device=d)),
    ("zeros_like", lambda d: tg.zeros_like(tg.ones(2), device=d)),
    ("ones_like", lambda d: tg.ones_like(tg.ones(2), device=d)),
    ("empty_like", lambda d: tg.empty_like(tg.ones(2), device=d)),
    ("full_like", lambda d: tg.full_like(tg.ones(2), 7, device=d)),
    ("rand", lambda d: tg.rand(2, device=d)),
    ("randn", lambda d: tg.randn(2, device=d)),
    ("randint", lambda d: tg.randint(0, 5, (3,), device=d)),
    ("randperm", lambda d: tg.randperm(4, device=d)),
    ("rand_like", lambda d: tg.rand_like(tg.ones(2), device=d)),
    ("randn_like", lambda d: tg.randn_like(tg.ones(2), device=d)),
    ("arange", lambda d: tg.arange(4, device=d)),
    ("linspace", lambda d: tg.linspace(0, 1, 5, device=d)),
    ("eye", lambda d: tg.eye(3, device=d)),
]


@pytest.mark.parametrize("name,make", CREATORS, ids=[c[0] for c in CREATORS])
def test_creation_functions_accept_device(name, make):
    for dev in (None, "cpu", "cpu:0", tg.device("cpu")):
        t = make(dev)
        assert isinstance(t, tg.Tensor) and t.device == tg.device("cpu")
    with pytest.raises(RuntimeError, match="cpu device only"):
        make("cuda")
    with pytest.raises(RuntimeError, match="cpu device only"):
        make(tg.device("mps"))
    with pytest.raises(RuntimeError, match="Expected one of"):
        make("gpu")
    with pytest.raises(TypeError):
        make(1.5)


def test_creation_values_with_device_unchanged():
    np.testing.assert_array_equal(tg.zeros(2, device="cpu").numpy(), [0.0, 0.0])
    np.testing.assert_array_equal(tg.arange(3, device="cpu").numpy(), [0, 1, 2])
    tg.manual_seed(5)
    a = tg.randn(4, device="cpu").numpy()
    tg.manual_seed(5)
    np.testing.assert_array_equal(a, tg.randn(4).numpy())
    assert sorted(tg.randperm(5, device="cpu").tolist()) == [0, 1, 2, 3, 4]
    t = tg.tensor([1.0], requires_grad=True, device="cpu", dtype=tg.float64)
    assert t.requires_grad and t.dtype == tg.float64
    with tg.device("cpu"):  # PyTorch's default-device context manager
        assert tg.zeros(1).device.type == "cpu"
    with pytest.raises(RuntimeError):
        with tg.device("cuda"):
            pass
    assert tg.get_default_device() == tg.device("cpu")
    tg.set_default_device("cpu")
    tg.set_default_device(None)
    with pytest.raises(RuntimeError):
        tg.set_default_device("cuda")


# ---- Module.to / cpu / cuda ------------------------------------------------------------------

def test_module_to_device():
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    w = m[0].weight
    for dev in ("cpu", "cpu:0", tg.device("cpu"), tg.device("cpu", 0)):
        assert m.to(dev) is m and m[0].weight is w
    assert m.cpu() is m and m.to(device="cpu", non_blocking=True) is m
    assert m.to("cpu", tg.float64) is m and m[0].weight.dtype == tg.float64
    assert m.to(tg.zeros(1)) is m and m[2].bias.dtype == tg.float32
    assert m.to(device=tg.device("cpu"), dtype=tg.float64)[0].weight.dtype == tg.float64
    with pytest.raises(TypeError, match="floating point"):
        m.to(tg.zeros(1, dtype=tg.int64))
    for dev in ("cuda", tg.device("cuda", 0), "mps"):
        with pytest.raises(RuntimeError, match="cpu device only"):
            m.to(dev)
    with pytest.raises(RuntimeError, match="no CUDA backend"):
        m.cuda()
    with pytest.raises(RuntimeError, match="no CUDA backend"):
        m.cuda(1)
    with pytest.raises(TypeError, match="unexpected keyword argument 'copy'"):
        m.to("cpu", copy=True)
    with pytest.raises(TypeError, match="floating point"):
        m.to(True)  # PyTorch's parser reads a bool value as the dtype bool (and 3.5 as float64)
    assert m[0].weight.dtype == tg.float64  # the failed calls changed nothing


def test_module_constructor_device():
    lin = nn.Linear(3, 2, device="cpu", dtype=tg.float64)
    assert lin.weight.device.type == "cpu" and lin.bias.dtype == tg.float64
    with pytest.raises(RuntimeError, match="cpu device only"):
        nn.Linear(3, 2, device="cuda")


# ---- availability queries ---------------------------------------------------------------------

def test_availability_queries():
    assert tg.cuda.is_available() is False and tg.cuda.device_count() == 0
    assert tg.cuda.is_initialized() is False
    assert tg.accelerator.is_available() is False and tg.accelerator.device_count() == 0
    assert tg.accelerator.current_accelerator() is None
    assert tg.backends.mps.is_available() is False and tg.backends.mps.is_built() is False
    assert tg.backends.cudnn.is_available() is False and tg.backends.cuda.is_built() is False
    # seeding and flags are accepted and do nothing, as in PyTorch without CUDA
    tg.cuda.manual_seed(0)
    tg.cuda.manual_seed_all(0)
    tg.cuda.empty_cache()
    tg.backends.cudnn.benchmark = True
    tg.backends.cudnn.deterministic = True
    tg.backends.cuda.matmul.allow_tf32 = True
    for fn in (tg.cuda.current_device, tg.cuda.synchronize, tg.cuda.get_device_name):
        with pytest.raises(RuntimeError, match="no CUDA backend"):
            fn()
    if torch is not None and not torch.cuda.is_available():
        assert tg.cuda.device_count() == torch.cuda.device_count()


def test_gpu_minded_script_runs_unchanged():
    # the usual preamble and loop of a PyTorch script written for a GPU, with tg for torch
    device = tg.device("cuda" if tg.cuda.is_available() else "cpu")
    if tg.backends.mps.is_available():
        device = tg.device("mps")
    assert device == tg.device("cpu")
    tg.manual_seed(0)
    tg.cuda.manual_seed_all(0)
    tg.backends.cudnn.benchmark = True
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1)).to(device)
    opt = optim.Adam(model.parameters(), lr=0.05)
    x = tg.randn(32, 4, device=device)
    y = (x.sum(1, keepdim=True) > 0).float().to(device, non_blocking=True)
    first = None
    for _ in range(40):
        xb, yb = x.to(device), y.to(device)
        opt.zero_grad()
        loss = nn.BCEWithLogitsLoss()(model(xb), yb)
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.cpu().item() < 0.5 * first
    assert next(model.parameters()).device == device
