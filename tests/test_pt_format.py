"""PyTorch's `.pt` format without torch: `tg.load` of files `torch.save` wrote (torch is the
oracle), `tg.save` of whole objects in that format, the restricted (weights_only) unpickler
and its allow-lists, and hostile `.pt` files, which raise an error naming the file, run
nothing and allocate nothing they claim."""
import collections
import io
import os
import pickle
import struct
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import tinygrad_cpp as tg
import tinygrad_cpp.nn as nn
from tinygrad_cpp import serialization

PKG_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(tg.__file__)))
SANITIZED = "asan" in os.environ.get("LD_PRELOAD", "")
HAS_NEW_DTYPES = hasattr(tg, "float16")
needs_new_dtypes = pytest.mark.skipif(not HAS_NEW_DTYPES, reason="needs the uint8/int8/int16/int32/"
                                      "float16/bfloat16 dtypes (branch dtypes)")


@pytest.fixture(autouse=True)
def _no_leftover_safe_globals():
    serialization.clear_safe_globals()
    yield
    serialization.clear_safe_globals()


# ---- module-level classes (pickle finds classes by module path) ------------------------------

class MyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3, padding=1)
        self.bn = nn.BatchNorm2d(3)
        self.fc = nn.Linear(3 * 4 * 4, 5)
        self.register_buffer("scale", tg.tensor([2.0]))

    def forward(self, x):
        return self.fc(tg.flatten(self.bn(self.conv(x)).relu(), 1)) * self.scale


class Pwn:
    """Unpickling it would run a shell command (creating `path`)."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


# ---- hand-made pickles and archives ---------------------------------------------------------

class G:
    """Pickled as the global module.name."""

    def __init__(self, module, name):
        self.module, self.name = module, name


class Call:
    """Pickled as func(*args) (GLOBAL/args/REDUCE)."""

    def __init__(self, func, *args):
        self.func, self.args = func, args


class Pid:
    def __init__(self, *pid):
        self.pid = pid


class _HandPickler(pickle._Pickler):
    def save(self, obj, save_persistent_id=True):
        if isinstance(obj, G):
            self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
        elif isinstance(obj, Call):
            self.save(obj.func)
            self.save(obj.args)
            self.write(pickle.REDUCE)
        else:
            super().save(obj, save_persistent_id)

    def persistent_id(self, obj):
        return obj.pid if isinstance(obj, Pid) else None


def _pickle(obj):
    buf = io.BytesIO()
    _HandPickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


def _storage(key, numel, stype="FloatStorage"):
    return Pid("storage", G("torch", stype), key, "cpu", numel)


def _tensor(storage, offset, size, stride, requires_grad=False):
    return Call(G("torch._utils", "_rebuild_tensor_v2"), storage, offset, tuple(size), tuple(stride),
                requires_grad, Call(G("collections", "OrderedDict")))


def _zip(entries, compression=zipfile.ZIP_STORED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _pt(data_pkl, records=None, folder="archive", byteorder=b"little", extra=None):
    entries = {f"{folder}/data.pkl": data_pkl if isinstance(data_pkl, bytes) else _pickle(data_pkl),
               f"{folder}/byteorder": byteorder}
    for key, data in (records or {}).items():
        entries[f"{folder}/data/{key}"] = data
    entries[f"{folder}/version"] = b"3\n"
    entries.update(extra or {})
    return _zip(entries)


def _f32(*values):
    return np.asarray(values, dtype="<f4").tobytes()


# ---- torch as the oracle --------------------------------------------------------------------

def _torch():
    return pytest.importorskip("torch")


def _torch_resnet(torch):
    tnn = torch.nn

    class Block(tnn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = tnn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(cout)
            self.conv2 = tnn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(cout)
            self.down = (tnn.Sequential(tnn.Conv2d(cin, cout, 1, stride, bias=False), tnn.BatchNorm2d(cout))
                         if stride != 1 or cin != cout else tnn.Sequential())

        def forward(self, x):
            y = torch.relu(self.bn1(self.conv1(x)))
            return torch.relu(self.bn2(self.conv2(y)) + self.down(x))

    class ResNet(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = tnn.Conv2d(3, 8, 3, 1, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(8)
            self.layer1 = tnn.Sequential(Block(8, 8, 1), Block(8, 16, 2))
            self.pool = tnn.AdaptiveAvgPool2d(1)
            self.fc = tnn.Linear(16, 10)

        def forward(self, x):
            x = self.layer1(torch.relu(self.bn1(self.conv1(x))))
            return self.fc(torch.flatten(self.pool(x), 1))
    return ResNet()


class TgBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                     if stride != 1 or cin != cout else nn.Sequential())

    def forward(self, x):
        y = self.bn1(self.conv1(x)).relu()
        return (self.bn2(self.conv2(y)) + self.down(x)).relu()


class TgResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.layer1 = nn.Sequential(TgBlock(8, 8, 1), TgBlock(8, 16, 2))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.layer1(self.bn1(self.conv1(x)).relu())
        return self.fc(tg.flatten(self.pool(x), 1))


def test_torch_resnet_state_dict_loads_into_the_tg_model(tmp_path):
    torch = _torch()
    torch.manual_seed(0)
    tm = _torch_resnet(torch)
    with torch.no_grad():  # running statistics that are not the defaults
        for _ in range(3):
            tm(torch.randn(4, 3, 8, 8))
    tm.eval()
    path = tmp_path / "resnet.pt"
    torch.save(tm.state_dict(), path)
    sd = tg.load(path)
    assert isinstance(sd, collections.OrderedDict)
    assert list(sd) == list(tm.state_dict())
    assert sd["bn1.num_batches_tracked"].dtype == tg.int64 and sd["bn1.num_batches_tracked"].shape == ()
    assert sd["bn1.num_batches_tracked"].item() == 3
    model = TgResNet()
    model.load_state_dict(sd)
    model.eval()
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    with torch.no_grad():
        want = tm(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model(tg.tensor(x)).detach().numpy(), want, rtol=1e-4, atol=1e-5)


_TORCH_DTYPES = [  # (torch dtype name, tg dtype name, needs the new dtypes)
    ("float32", "float32", False), ("float64", "float64", False), ("int64", "int64", False),
    ("bool", "bool", False), ("float16", "float16", True), ("bfloat16", "bfloat16", True),
    ("int32", "int32", True), ("int16", "int16", True), ("int8", "int8", True), ("uint8", "uint8", True),
]


@pytest.mark.parametrize("tname,gname,new", _TORCH_DTYPES, ids=[d[0] for d in _TORCH_DTYPES])
def test_every_storage_dtype_from_torch(tmp_path, tname, gname, new):
    torch = _torch()
    if new and not hasattr(tg, gname):
        pytest.skip(f"needs tg.{gname} (branch dtypes)")
    dt = getattr(torch, tname)
    if tname == "bool":
        t = torch.tensor([[True, False, True], [False, False, True]])
    elif dt.is_floating_point:
        t = (torch.arange(6, dtype=torch.float32).reshape(2, 3) * 1.25 - 3).to(dt)
    else:
        t = torch.tensor([[0, 1, 2], [3, 100, 127]]).to(dt)
    torch.save({"x": t, "xt": t.t()}, tmp_path / "d.pt")
    d = tg.load(tmp_path / "d.pt")
    assert d["x"].dtype == getattr(tg, gname)
    for k in ("x", "xt"):
        want = d_want = {"x": t, "xt": t.t()}[k]
        got = d[k]
        assert tuple(got.shape) == tuple(want.shape)
        if tname in ("float16", "bfloat16"):
            np.testing.assert_array_equal(got.float().numpy(), d_want.float().numpy())
        else:
            np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_bfloat16_values_before_the_dtype_exists(tmp_path):
    """bfloat16 has no numpy dtype: its bits are widened to float32 exactly (and narrowed to
    tg.bfloat16 when the build has it)."""
    torch = _torch()
    t = torch.tensor([1.5, -2.25, 3.0e38, 1e-3, float("inf")], dtype=torch.bfloat16)
    torch.save(t, tmp_path / "b.pt")
    got = tg.load(tmp_path / "b.pt")
    assert got.dtype == getattr(tg, "bfloat16", tg.float32)
    np.testing.assert_array_equal(got.float().numpy(), t.float().numpy())


def test_views_of_one_storage_share_memory(tmp_path):
    torch = _torch()
    base = torch.arange(24, dtype=torch.float32)
    obj = {"base": base, "mat": base.view(4, 6), "t": base.view(4, 6).t(), "slice": base[3:15:2],
           "block": base.view(4, 6)[1:3, 2:5], "expanded": base[5:6].expand(3, 4), "scalar": base[7]}
    torch.save(obj, tmp_path / "v.pt")
    got = tg.load(tmp_path / "v.pt")
    for k, v in obj.items():
        assert tuple(got[k].shape) == tuple(v.shape), k
        np.testing.assert_array_equal(got[k].numpy(), v.numpy(), err_msg=k)
    with tg.no_grad():
        got["base"].mul_(10)  # one storage: every view sees the change, as in torch
    for k, v in obj.items():
        np.testing.assert_array_equal(got[k].numpy(), v.numpy() * 10, err_msg=k)


@pytest.mark.skipif(not hasattr(tg, "bfloat16"), reason="needs tg.bfloat16 (branch dtypes)")
@pytest.mark.parametrize("tname", ["float16", "bfloat16", "int8", "int32"])
def test_views_of_new_dtype_storages(tmp_path, tname):
    torch = _torch()
    base = torch.arange(12, dtype=torch.float32).to(getattr(torch, tname))
    obj = {"base": base, "t": base.view(3, 4).t(), "slice": base[2:10:3]}
    torch.save(obj, tmp_path / "v.pt")
    got = tg.load(tmp_path / "v.pt")
    for k, v in obj.items():
        assert got[k].dtype == getattr(tg, tname) and tuple(got[k].shape) == tuple(v.shape)
        np.testing.assert_array_equal(got[k].float().numpy(), v.float().numpy(), err_msg=k)
    itemsize = base.element_size()
    assert got["slice"].data_ptr() == got["base"].data_ptr() + 2 * itemsize  # one storage, as in torch


def test_two_storages_stay_apart(tmp_path):
    torch = _torch()
    a, b = torch.zeros(3), torch.zeros(3)
    torch.save([a, b, a], tmp_path / "ab.pt")
    x, y, z = tg.load(tmp_path / "ab.pt")
    with tg.no_grad():
        x.add_(1)
    assert y.tolist() == [0, 0, 0] and z.tolist() == [1, 1, 1]


def test_parameters_ordered_dicts_and_plain_values(tmp_path):
    torch = _torch()
    p = torch.nn.Parameter(torch.randn(3, 2))
    frozen = torch.nn.Parameter(torch.ones(2), requires_grad=False)
    obj = collections.OrderedDict(
        p=p, frozen=frozen, grad=torch.ones(2, requires_grad=True),
        meta={"epoch": 7, "lr": 0.5, "name": "resnet", "none": None, "pair": (1, 2.5), "flags": [True, False],
              "big": 2 ** 70, "neg": -5, "size": torch.Size([3, 4]), "dtype": torch.float64, "nan": float("nan")})
    torch.save(obj, tmp_path / "p.pt")
    got = tg.load(tmp_path / "p.pt")
    assert type(got) is collections.OrderedDict and list(got) == list(obj)
    assert type(got["p"]) is nn.Parameter and got["p"].requires_grad
    np.testing.assert_array_equal(got["p"].detach().numpy(), p.detach().numpy())
    assert type(got["frozen"]) is nn.Parameter and not got["frozen"].requires_grad
    assert type(got["grad"]) is tg.Tensor and got["grad"].requires_grad and got["grad"].is_leaf
    meta = got["meta"]
    assert {k: meta[k] for k in ("epoch", "lr", "name", "none", "pair", "flags", "big", "neg")} == {
        "epoch": 7, "lr": 0.5, "name": "resnet", "none": None, "pair": (1, 2.5), "flags": [True, False],
        "big": 2 ** 70, "neg": -5}
    assert tuple(meta["size"]) == (3, 4) and meta["dtype"] == tg.float64 and np.isnan(meta["nan"])


def test_file_objects_and_top_level_folder_names(tmp_path):
    torch = _torch()
    buf = io.BytesIO()
    torch.save({"w": torch.arange(3.0)}, buf)  # folder "archive"
    buf.seek(0)
    assert tg.load(buf)["w"].tolist() == [0, 1, 2]
    torch.save({"w": torch.arange(3.0)}, tmp_path / "some.name.pt")  # folder named after the file
    assert zipfile.ZipFile(tmp_path / "some.name.pt").namelist()[0].startswith("some.name/")
    with open(tmp_path / "some.name.pt", "rb") as f:
        assert tg.load(f)["w"].tolist() == [0, 1, 2]
    assert tg.load(str(tmp_path / "some.name.pt"))["w"].tolist() == [0, 1, 2]


def test_legacy_format_is_refused_clearly(tmp_path):
    torch = _torch()
    path = tmp_path / "old.pt"
    torch.save({"w": torch.ones(2)}, path, _use_new_zipfile_serialization=False)
    with pytest.raises(RuntimeError, match=r"old\.pt.*legacy"):
        tg.load(path)


def test_big_endian_archives(tmp_path):
    """byteorder "big": the records hold big-endian numbers (torch reads them swapped)."""
    torch = _torch()
    obj = {"f": torch.tensor([1.5, -2.0]), "i": torch.tensor([1, -300]), "h": torch.tensor([0.5], dtype=torch.float64)}
    torch.save(obj, tmp_path / "le.pt")
    zin = zipfile.ZipFile(tmp_path / "le.pt")
    pkl = zin.read("le/data.pkl")
    records = {}
    for key, t in zip(("0", "1", "2"), obj.values()):  # the order torch wrote them
        records[key] = t.numpy().astype(t.numpy().dtype.newbyteorder(">")).tobytes()
    (tmp_path / "be.pt").write_bytes(_pt(pkl, records, folder="le", byteorder=b"big"))
    got = tg.load(tmp_path / "be.pt")
    for k, v in obj.items():
        np.testing.assert_array_equal(got[k].numpy(), v.numpy())
    if tuple(int(x) for x in torch.__version__.split(".")[:2]) >= (2, 0):
        for k, v in torch.load(tmp_path / "be.pt").items():  # the file we made is what torch means
            np.testing.assert_array_equal(v.numpy(), obj[k].numpy())


def test_torch_reads_what_we_write(tmp_path):
    torch = _torch()
    p = nn.Parameter(tg.randn(2, 3))
    obj = {"layers": [tg.arange(6).reshape(2, 3), tg.randn(4).double(), tg.tensor([True, False])],
           "t": tg.arange(12.0).reshape(3, 4).t(), "p": p, "meta": (1, 2.5, "x", None), "dtype": tg.float32}
    path = tmp_path / "ours.pt"
    serialization.save_pt(obj, path)
    got = torch.load(path, weights_only=True)
    for a, b in zip(got["layers"], obj["layers"]):
        assert str(a.dtype) == "torch." + str(b.dtype).rsplit(".", 1)[1]
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(got["t"].numpy(), obj["t"].numpy())
    assert isinstance(got["p"], torch.nn.Parameter) and got["p"].requires_grad
    np.testing.assert_array_equal(got["p"].detach().numpy(), p.detach().numpy())
    assert got["meta"] == (1, 2.5, "x", None) and got["dtype"] is torch.float32
    # and the records are 64-byte aligned, as torch writes them
    with open(path, "rb") as f:
        for info in zipfile.ZipFile(path).infolist():
            if "/data/" in info.filename:
                f.seek(info.header_offset + 26)
                n, e = struct.unpack("<HH", f.read(4))
                assert (info.header_offset + 30 + n + e) % 64 == 0
    back = tg.load(path)
    np.testing.assert_array_equal(back["t"].numpy(), obj["t"].numpy())
    assert type(back["p"]) is nn.Parameter and back["dtype"] == tg.float32


@needs_new_dtypes
def test_torch_reads_our_new_dtypes(tmp_path):
    torch = _torch()
    vals = np.array([[1.5, -2.0, 0.25], [3.0, 100.0, -0.5]], np.float32)
    obj = {name: tg.tensor(vals).to(getattr(tg, name))
           for name in ("float16", "bfloat16", "int32", "int16", "int8", "uint8")}
    serialization.save_pt(obj, tmp_path / "n.pt")
    got = torch.load(tmp_path / "n.pt", weights_only=True)
    for name, t in obj.items():
        assert got[name].dtype == getattr(torch, name)
        np.testing.assert_array_equal(got[name].float().numpy(), t.float().numpy())
    back = tg.load(tmp_path / "n.pt")
    for name, t in obj.items():
        assert back[name].dtype == t.dtype
        np.testing.assert_array_equal(back[name].float().numpy(), t.float().numpy())


# ---- whole objects: tg.save(model) ----------------------------------------------------------

def _model():
    tg.manual_seed(0)
    m = MyNet()
    m.train()
    m(tg.randn(4, 1, 4, 4))  # running statistics
    m.eval()
    return m


def test_whole_module_round_trip(tmp_path):
    m = _model()
    path = tmp_path / "model.pt"
    tg.save(m, path)
    assert path.read_bytes()[:4] == b"PK\x03\x04"
    x = tg.randn(3, 1, 4, 4)
    loaded = tg.load(path, weights_only=False)
    assert type(loaded) is MyNet and not loaded.training
    np.testing.assert_array_equal(loaded(x).detach().numpy(), m(x).detach().numpy())
    assert type(loaded.fc.weight) is nn.Parameter and loaded.fc.weight.requires_grad
    assert set(loaded.state_dict()) == set(m.state_dict())


def test_weights_only_refuses_the_module_class_unless_allowed(tmp_path):
    m = _model()
    path = tmp_path / "model.pt"
    tg.save(m, path)
    with pytest.raises(pickle.UnpicklingError, match=r"model\.pt(.|\n)*Unsupported global: GLOBAL "
                       r"test_pt_format\.MyNet|Unsupported global: GLOBAL .*MyNet"):
        tg.load(path)
    allowed = [MyNet, nn.Conv2d, nn.BatchNorm2d, nn.Linear]
    with pytest.raises(pickle.UnpicklingError, match="Conv2d"):
        with serialization.safe_globals([MyNet]):
            tg.load(path)
    x = tg.randn(2, 1, 4, 4)
    with serialization.safe_globals(allowed):
        assert len(serialization.get_safe_globals()) == 4
        loaded = tg.load(path)
    assert serialization.get_safe_globals() == []
    np.testing.assert_array_equal(loaded(x).detach().numpy(), m(x).detach().numpy())
    serialization.add_safe_globals(allowed)
    assert serialization.get_safe_globals() == allowed
    assert type(tg.load(path)) is MyNet
    serialization.clear_safe_globals()
    with pytest.raises(pickle.UnpicklingError):
        tg.load(path)
    tg.serialization.add_safe_globals([(MyNet, f"{MyNet.__module__}.MyNet"), nn.Conv2d, nn.BatchNorm2d, nn.Linear])
    assert type(tg.load(path)) is MyNet


def test_checkpoint_dicts_with_modules_and_optimizers(tmp_path):
    m = _model()
    opt = tg.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    m.train()
    m(tg.randn(2, 1, 4, 4)).sum().backward()
    opt.step()
    buf = io.BytesIO()
    tg.save({"model": m, "optimizer": opt, "epoch": 3}, buf)
    assert buf.getvalue()[:4] == b"PK\x03\x04"
    buf.seek(0)
    got = tg.load(buf, weights_only=False)
    assert got["epoch"] == 3 and type(got["model"]) is MyNet
    assert got["optimizer"].param_groups[0]["params"][0] is got["model"].conv.weight
    assert got["optimizer"].param_groups[0]["lr"] == 0.1


def test_state_dicts_still_go_to_safetensors(tmp_path):
    m = _model()
    tg.save(m.state_dict(), tmp_path / "sd")
    assert (tmp_path / "sd").read_bytes()[:4] != b"PK\x03\x04"
    with pytest.raises(TypeError):  # builtin values safetensors cannot hold stay refused
        tg.save({"x": {1, 2}}, tmp_path / "s")


def test_shared_tensors_stay_shared_in_our_files(tmp_path):
    t = tg.arange(4.0)
    serialization.save_pt({"a": t, "b": [t]}, tmp_path / "s.pt")
    got = tg.load(tmp_path / "s.pt")
    assert got["a"] is got["b"][0]


def test_non_leaf_tensors_save_as_leaves(tmp_path):
    x = tg.ones(2, requires_grad=True) * 3
    serialization.save_pt(x, tmp_path / "x.pt")
    got = tg.load(tmp_path / "x.pt")
    assert got.is_leaf and got.requires_grad and got.tolist() == [3, 3]


def test_weights_only_none_means_true(tmp_path):
    tg.save(_model(), tmp_path / "m.pt")
    with pytest.raises(pickle.UnpicklingError):
        tg.load(tmp_path / "m.pt", weights_only=None)


def test_whole_torch_modules_load_as_ours_when_trusted(tmp_path):
    """weights_only=False maps torch.nn classes to their tinygrad_cpp namesakes (best effort)."""
    torch = _torch()
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    torch.save(tm, tmp_path / "whole.pt")
    with pytest.raises(pickle.UnpicklingError, match="torch.nn.modules.container.Sequential"):
        tg.load(tmp_path / "whole.pt")
    m = tg.load(tmp_path / "whole.pt", weights_only=False)
    assert type(m) is nn.Sequential and type(m[0]) is nn.Linear
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    with torch.no_grad():
        want = tm(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(m(tg.tensor(x)).detach().numpy(), want, rtol=1e-6, atol=1e-6)


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        tg.load(tmp_path / "nope.pt")
    with pytest.raises(FileNotFoundError):
        tg.load(str(tmp_path / "nope.pt"), weights_only=False)


def test_add_safe_globals_checks_its_argument():
    with pytest.raises(TypeError):
        serialization.add_safe_globals(MyNet)
    with pytest.raises(ValueError):
        serialization.add_safe_globals([(MyNet, 3)])


# ---- hostile files --------------------------------------------------------------------------

def _load_error(path, exc=(RuntimeError, pickle.UnpicklingError)):
    """tg.load(path) raises `exc` naming the file."""
    with pytest.raises(exc) as info:
        tg.load(path)
    assert os.path.basename(str(path)) in str(info.value), info.value
    return str(info.value)


def test_os_system_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    for i, payload in enumerate([Pwn(marker), {"w": [Pwn(marker)]}, collections.OrderedDict(x=Pwn(marker))]):
        path = tmp_path / f"evil{i}.pt"
        path.write_bytes(_pt(pickle.dumps(payload, protocol=2)))
        msg = _load_error(path, pickle.UnpicklingError)
        assert "system" in msg and "blocked" in msg
        with serialization.safe_globals([os.system]):  # the blocked modules stay blocked
            _load_error(path, pickle.UnpicklingError)
    hand = tmp_path / "hand.pt"
    hand.write_bytes(_pt(Call(G("os", "system"), f"touch {marker}")))
    assert "GLOBAL os.system" in _load_error(hand, pickle.UnpicklingError)
    assert not marker.exists()


_MARK_FILE = "/tmp/tg_pt_format_pwned_marker"

HOSTILE_PICKLES = {  # name -> (data.pkl bytes, words the error must contain)
    "builtins.eval": (_pickle(Call(G("builtins", "eval"), f"open('{_MARK_FILE}', 'w')")), "GLOBAL eval"),
    "__builtin__.eval": (b"\x80\x02c__builtin__\neval\nX\x04\x00\x00\x001+1;\x85R.", "GLOBAL eval"),
    "getattr chain": (_pickle(Call(G("builtins", "getattr"), Call(G("builtins", "__import__"), "os"), "system")),
                      "GLOBAL getattr"),
    "subprocess": (_pickle(Call(G("subprocess", "check_call"), ["touch", _MARK_FILE])), "subprocess.check_call"),
    "dotted name": (_pickle(G("collections", "OrderedDict.__init__.__globals__")), "Unsupported global"),
    "STACK_GLOBAL": (b"\x80\x04\x8c\x08builtins\x8c\x04exec\x93\x8c\x08print(1)\x85R.", "GLOBAL exec"),
    "STACK_GLOBAL not str": (b"\x80\x04K\x01K\x02\x93.", "STACK_GLOBAL"),
    "INST": (b"(S'touch " + _MARK_FILE.encode() + b"'\nios\nsystem\n.", "Unsupported operand"),
    "NEWOBJ of os.system": (b"\x80\x02cos\nsystem\n)\x81.", "blocked"),
    "OBJ opcode": (b"(X\x01\x00\x00\x00ao.", "Unsupported operand"),
    "EXT1": (b"\x80\x02\x82\x01.", "Unsupported operand"),
    "text PERSID": (b"P0\n.", "Unsupported operand"),
    "REDUCE on a storage": (_pickle(Call(_storage("0", 1), 1)), "reduce for unrecognized function"),
    "BUILD slots on a rebuild function": (
        b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\nN}X\x0c\x00\x00\x00__defaults__)s\x86b.", "Can only build"),
    "BUILD on a set": (b"\x80\x02cbuiltins\nset\n)R}b.", "Can only build"),
    "SETITEM on a list": (b"\x80\x02]K\x01K\x02s.", "SETITEM"),
    "APPEND to a dict": (b"\x80\x02}K\x01a.", "append"),
    "persistent id not storage": (_pickle(Pid("module", "os")), "persistent_load"),
    "bytearray(1e12)": (_pickle(Call(G("builtins", "bytearray"), 10 ** 12)), "bytearray(int)"),
    "DICT with odd items": (b"\x80\x02(K\x01d.", "odd"),
    "NEWOBJ of an unallowed class": (b"\x80\x02cbuiltins\nobject\n)\x81.", "GLOBAL object"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_PICKLES))
def test_hostile_pickles_run_nothing(tmp_path, name):
    data, words = HOSTILE_PICKLES[name]
    path = tmp_path / "hostile.pt"
    path.write_bytes(_pt(data, {"0": _f32(1.0)}))
    if os.path.exists(_MARK_FILE):
        os.unlink(_MARK_FILE)
    msg = _load_error(path)
    assert words in msg, msg
    assert not os.path.exists(_MARK_FILE)
    from tinygrad_cpp import _pt_format
    assert _pt_format._rebuild_tensor_v2.__defaults__ == (False, None, None)


def _patch_central(data, name, **fields):
    """`data` (a zip) with the central-directory entry of `name` claiming other sizes."""
    b = bytearray(data)
    pos = b.find(b"PK\x01\x02")
    while pos >= 0:
        n = struct.unpack_from("<H", b, pos + 28)[0]
        if bytes(b[pos + 46:pos + 46 + n]).decode() == name:
            if "method" in fields:
                struct.pack_into("<H", b, pos + 10, fields["method"])
            if "compressed" in fields:
                struct.pack_into("<I", b, pos + 20, fields["compressed"])
            if "size" in fields:
                struct.pack_into("<I", b, pos + 24, fields["size"])
            if "offset" in fields:
                struct.pack_into("<I", b, pos + 42, fields["offset"])
        pos = b.find(b"PK\x01\x02", pos + 4)
    return bytes(b)


def _good_pkl():
    return _pickle({"w": _tensor(_storage("0", 6), 0, (2, 3), (3, 1)),
                    "v": _tensor(_storage("0", 6), 1, (2,), (2,)), "n": 3})


_GOOD = _pt(_good_pkl(), {"0": _f32(*range(6))})
# a deflated record that claims (in the central directory) to expand ~1e6 times
_BOMB = _zip({"archive/data.pkl": _pickle(_tensor(_storage("0", 2 ** 28), 0, (1,), (1,))),
              "archive/data/0": b"\0" * 4096}, zipfile.ZIP_DEFLATED)

HOSTILE_ARCHIVES = {  # name -> (file bytes, words the error must contain)
    "empty file": (b"", None),
    "not a zip after the magic": (b"PK\x03\x04" + b"\0" * 100, "zip"),
    "no data.pkl": (_zip({"archive/byteorder": b"little"}), "data.pkl"),
    "TorchScript archive": (_zip({"archive/constants.pkl": b"", "archive/code/x.py": b""}), "TorchScript"),
    "missing record": (_pt(_good_pkl(), {}), "data/0"),
    "record key escapes": (_pt(_pickle(_tensor(_storage("../../etc/passwd", 1), 0, (1,), (1,))), {"0": _f32(1)}),
                           "not in the archive"),
    "record shorter than numel": (_pt(_good_pkl(), {"0": _f32(1, 2, 3)}), "holds 12 bytes"),
    "1e15 elements": (_pt(_pickle(_tensor(_storage("0", 10 ** 15), 0, (10 ** 15,), (1,))), {"0": _f32(1)}),
                      "holds 4 bytes"),
    "1e15 element view of a small storage": (
        _pt(_pickle(_tensor(_storage("0", 1), 0, (10 ** 15,), (1,))), {"0": _f32(1)}), "reaches element"),
    "size beyond int64": (_pt(_pickle(_tensor(_storage("0", 1), 0, (2 ** 40, 2 ** 40), (0, 0))), {"0": _f32(1)}),
                          "larger than any array"),
    "negative stride": (_pt(_pickle(_tensor(_storage("0", 4), 3, (4,), (-1,))), {"0": _f32(1, 2, 3, 4)}),
                        "non-negative"),
    "negative offset": (_pt(_pickle(_tensor(_storage("0", 4), -1, (2,), (1,))), {"0": _f32(1, 2, 3, 4)}),
                        "offset"),
    "view past the storage": (_pt(_pickle(_tensor(_storage("0", 4), 2, (2, 2), (2, 1))), {"0": _f32(1, 2, 3, 4)}),
                              "reaches element"),
    "offset past an empty view": (_pt(_pickle(_tensor(_storage("0", 4), 9, (0,), (1,))), {"0": _f32(1, 2, 3, 4)}),
                                  "past the end"),
    "size/stride mismatch": (_pt(_pickle(_tensor(_storage("0", 4), 0, (2, 2), (1,))), {"0": _f32(1, 2, 3, 4)}),
                             "different lengths"),
    "float size": (_pt(_pickle(_tensor(_storage("0", 4), 0, (2.0,), (1,))), {"0": _f32(1, 2, 3, 4)}), "size"),
    "too many dims": (_pt(_pickle(_tensor(_storage("0", 1), 0, (1,) * 100, (1,) * 100)), {"0": _f32(1)}),
                      "at most 64"),
    "storage is not a storage": (_pt(_pickle(_tensor("0", 0, (1,), (1,))), {"0": _f32(1)}), "storage"),
    "unknown storage type": (_pt(_pickle(_tensor(_storage("0", 1, "EvilStorage"), 0, (1,), (1,))), {"0": _f32(1)}),
                             "GLOBAL torch.EvilStorage"),
    "complex storage": (_pt(_pickle(_tensor(_storage("0", 1, "ComplexFloatStorage"), 0, (1,), (1,))),
                            {"0": _f32(1, 2)}), "not supported"),
    "negative numel": (_pt(_pickle(_tensor(_storage("0", -1), 0, (0,), (1,))), {"0": _f32(1)}), "element count"),
    "short persistent id": (_pt(_pickle(Pid("storage", G("torch", "FloatStorage"))), {"0": _f32(1)}), "5 fields"),
    "one storage, two sizes": (_pt(_pickle([_tensor(_storage("0", 1), 0, (1,), (1,)),
                                            _tensor(_storage("0", 2), 0, (2,), (1,))]), {"0": _f32(1, 2)}),
                               "declared with"),
    "bad byteorder": (_pt(_good_pkl(), {"0": _f32(*range(6))}, byteorder=b"middle"), "byteorder"),
    "truncated data.pkl": (_pt(_good_pkl()[:-9], {"0": _f32(*range(6))}), "truncated"),
    "data.pkl without STOP": (_pt(_good_pkl()[:-1], {"0": _f32(*range(6))}), "STOP"),
    "empty data.pkl": (_pt(b"", {}), "STOP"),
    "stack underflow": (_pt(b"\x80\x02t.", {}), None),
    "missing memo": (_pt(b"\x80\x02h\x07.", {}), "Memo"),
    "unhashable key": (_pt(b"\x80\x02}]]s.", {}), None),
    "huge LONG4": (_pt(b"\x80\x02\x8b\xff\xff\xff\x7f.", {}), "LONG4"),
    "huge BINUNICODE": (_pt(b"\x80\x02X\xff\xff\xff\xffab.", {}), "truncated"),
    "bad utf-8": (_pt(b"\x80\x02X\x02\x00\x00\x00\xc3\x28.", {}), "utf-8"),
    "protocol 9": (_pt(b"\x80\x09N.", {}), "protocol"),
    "stored record larger than the archive": (
        _patch_central(_GOOD, "archive/data/0", size=2 ** 32 - 1, compressed=2 ** 32 - 1), "outside"),
    "stored record offset past the end": (_patch_central(_GOOD, "archive/data/0", offset=2 ** 31), None),
    "data.pkl larger than the archive": (
        _patch_central(_GOOD, "archive/data.pkl", size=2 ** 32 - 1, compressed=2 ** 32 - 1), "outside"),
    "central and local sizes disagree": (_patch_central(_GOOD, "archive/data/0", size=4000, compressed=4000),
                                         None),
    "zip bomb": (_patch_central(_BOMB, "archive/data/0", size=2 ** 32 - 1), "more than compression can"),
    "bool storage with bytes > 1": (
        _pt(_pickle(_tensor(_storage("0", 3, "BoolStorage"), 0, (3,), (1,))), {"0": b"\x00\x07\x01"}), None),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_ARCHIVES))
def test_hostile_archives_raise_naming_the_file(tmp_path, name):
    data, words = HOSTILE_ARCHIVES[name]
    path = tmp_path / "hostile.pt"
    path.write_bytes(data)
    if name == "bool storage with bytes > 1":  # loads, as torch does, but only as 0/1
        assert tg.load(path).tolist() == [False, True, True]
        return
    if name == "empty file":  # not a zip: the safetensors reader reports it
        _load_error(path, RuntimeError)
        return
    msg = _load_error(path)
    if words:
        assert words in msg, msg


def test_an_honest_deflated_archive_loads(tmp_path):
    path = tmp_path / "deflated.pt"
    path.write_bytes(_zip({"archive/data.pkl": _good_pkl(), "archive/data/0": _f32(*range(6))}, zipfile.ZIP_DEFLATED))
    assert tg.load(path)["w"].tolist() == [[0, 1, 2], [3, 4, 5]]


def test_every_truncation_of_a_pt_file(tmp_path):
    src = tmp_path / "src.pt"
    serialization.save_pt({"w": tg.arange(6.0).reshape(2, 3), "b": [tg.tensor([True]), 7]}, src)
    data = src.read_bytes()
    path = tmp_path / "cut.pt"
    for n in range(0, len(data), 3):
        path.write_bytes(data[:n])
        _load_error(path, RuntimeError)


def test_random_corruption_of_a_pt_file(tmp_path):
    """Byte flips anywhere: the load either succeeds or raises RuntimeError/UnpicklingError
    naming the file; never another exception, and nothing is run."""
    src = tmp_path / "src.pt"
    serialization.save_pt({"w": tg.arange(6.0).reshape(2, 3), "v": tg.arange(4), "meta": {"k": (1, "s")}}, src)
    data = src.read_bytes()
    path = tmp_path / "flip.pt"
    rng = np.random.default_rng(0)
    outcomes = collections.Counter()
    for _ in range(400):
        b = bytearray(data)
        for p in rng.integers(0, len(b), size=int(rng.integers(1, 4))):
            b[p] = int(rng.integers(0, 256))
        path.write_bytes(bytes(b))
        try:
            tg.load(path)
            outcomes["loaded"] += 1
        except (RuntimeError, pickle.UnpicklingError) as e:
            assert "flip.pt" in str(e), e
            outcomes["error"] += 1
    assert outcomes["error"] > 0


def test_hostile_archives_allocate_nothing_they_claim(tmp_path):
    """Under an address-space limit ~512 MiB above what the process uses, every hostile
    archive fails with the file-naming error: an attempt to allocate what a record or a
    view claims (terabytes) would show up as MemoryError instead."""
    if SANITIZED:
        pytest.skip("ASan reserves terabytes of address space; RLIMIT_AS cannot apply")
    paths = {}
    for i, (name, (data, _)) in enumerate(sorted(HOSTILE_ARCHIVES.items())):
        p = tmp_path / f"h{i}.pt"
        p.write_bytes(data)
        paths[name] = str(p)
    code = textwrap.dedent(f"""
        import pickle, resource, tinygrad_cpp as tg
        with open("/proc/self/statm") as f:
            vm = int(f.read().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (vm + (512 << 20), resource.RLIM_INFINITY))
        for name, path in {paths!r}.items():
            try:
                tg.load(path)
                print("loaded", name)
            except (RuntimeError, pickle.UnpicklingError) as e:
                assert path in str(e), e
                print("error", name)
            except BaseException as e:
                print("BAD", name, type(e).__name__, e)
    """)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([PKG_ROOT] + [p for p in [env.get("PYTHONPATH")] if p])
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    bad = [line for line in res.stdout.splitlines() if line.startswith("BAD")]
    assert not bad, bad
    assert len(res.stdout.splitlines()) == len(HOSTILE_ARCHIVES)
