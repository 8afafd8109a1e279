"""tg.save / tg.load: round trips, the safetensors layout and interop, atomic writes, and
files that are truncated, corrupt or hostile."""
import io
import json
import math
import os
import struct
import tracemalloc

import numpy as np
import pytest

import tinygrad_cpp as tg
from tinygrad_cpp import serialization


def _arrays():
    rng = np.random.default_rng(0)
    return {
        "f32": rng.standard_normal((3, 4)).astype(np.float32),
        "f64": rng.standard_normal((2, 3, 2)),
        "i64": np.array([-(2 ** 62), -1, 0, 7, 2 ** 62], dtype=np.int64),
        "bool": np.array([[True, False, True]]),
        "scalar": np.array(3.5, dtype=np.float32),
        "empty": np.zeros((0, 5)),
    }


def _assert_same(t, a):
    assert isinstance(t, tg.Tensor)
    assert t.shape == a.shape
    arr = t.numpy()
    assert arr.dtype == a.dtype
    np.testing.assert_array_equal(arr, a)


def _header(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return n, json.loads(f.read(n))


def _write_raw(path, header, data=b"", header_len=None):
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text) if header_len is None else header_len) + text + data)
    return str(path)


def test_flat_dict_roundtrip_all_dtypes(tmp_path):
    arrays = _arrays()
    path = tmp_path / "sd.safetensors"
    tg.save({k: tg.tensor(a) for k, a in arrays.items()}, path)
    out = tg.load(path)
    assert list(out) == list(arrays)  # order kept
    for k, a in arrays.items():
        _assert_same(out[k], a)


def test_header_layout(tmp_path):
    path = tmp_path / "sd.safetensors"
    tg.save({"w": tg.tensor(np.ones((2, 3), np.float32)), "b": tg.tensor([1, 2])}, path)
    n, header = _header(path)
    assert n % 8 == 0  # data section aligned
    assert header["w"] == {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}
    assert header["b"] == {"dtype": "I64", "shape": [2], "data_offsets": [24, 40]}
    assert all(isinstance(v, str) for v in header["__metadata__"].values())
    assert os.path.getsize(path) == 8 + n + 40


def test_noncontiguous_and_grad_tensors(tmp_path):
    a = np.arange(12, dtype=np.float64).reshape(3, 4)
    t = tg.tensor(a).T  # a strided view
    g = tg.tensor(a, requires_grad=True)
    tg.save({"t": t, "g": g}, tmp_path / "x")
    out = tg.load(tmp_path / "x")
    _assert_same(out["t"], a.T)
    _assert_same(out["g"], a)
    assert not out["g"].requires_grad


def test_single_tensor(tmp_path):
    a = np.linspace(0, 1, 7, dtype=np.float32)
    tg.save(tg.tensor(a), tmp_path / "t")
    out = tg.load(tmp_path / "t")
    _assert_same(out, a)


def test_nested_state_and_plain_values(tmp_path):
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    obj = {
        "model": {"fc.weight": tg.tensor(w), "fc.bias": tg.zeros(2)},
        "optim": {"state": {0: {"step": 3, "momentum_buffer": tg.ones(2, 3)}, 1: {"step": 3}},
                  "param_groups": [{"lr": 0.01, "betas": (0.9, 0.999), "params": [0, 1],
                                    "nesterov": False, "name": None}]},
        "epoch": 4, "best": float("inf"), "nan": float("nan"), "tags": ["a", "b"],
        "pair": (tg.tensor([1, 2]), "x"), "np_scalar": np.float64(2.5),
        "__weird": 1,
    }
    tg.save(obj, tmp_path / "ckpt")
    out = tg.load(tmp_path / "ckpt")
    _assert_same(out["model"]["fc.weight"], w)
    _assert_same(out["model"]["fc.bias"], np.zeros(2, np.float32))
    st = out["optim"]["state"]
    assert set(st) == {0, 1} and st[1] == {"step": 3}
    _assert_same(st[0]["momentum_buffer"], np.ones((2, 3), np.float32))
    assert out["optim"]["param_groups"] == [{"lr": 0.01, "betas": (0.9, 0.999), "params": [0, 1],
                                             "nesterov": False, "name": None}]
    assert out["epoch"] == 4 and out["best"] == math.inf and math.isnan(out["nan"])
    assert out["tags"] == ["a", "b"] and out["np_scalar"] == 2.5 and out["__weird"] == 1
    assert isinstance(out["pair"], tuple) and out["pair"][1] == "x"
    _assert_same(out["pair"][0], np.array([1, 2]))


def test_colliding_tensor_names(tmp_path):
    obj = {"a.b": tg.tensor([1.0]), "a": {"b": tg.tensor([2.0])}, "__metadata__": tg.tensor([3.0])}
    tg.save(obj, tmp_path / "x")
    out = tg.load(tmp_path / "x")
    assert out["a.b"].item() == 1.0 and out["a"]["b"].item() == 2.0 and out["__metadata__"].item() == 3.0


def test_loaded_tensors_own_their_memory(tmp_path):
    tg.save({"a": tg.tensor([1.0, 2.0]), "b": tg.tensor([3.0, 4.0])}, tmp_path / "x")
    first, second = tg.load(tmp_path / "x"), tg.load(tmp_path / "x")
    first["a"].add_(10.0)
    assert first["a"].tolist() == [11.0, 12.0]
    assert second["a"].tolist() == [1.0, 2.0] and first["b"].tolist() == [3.0, 4.0]
    os.remove(tmp_path / "x")  # the tensors don't depend on the file
    assert first["b"].tolist() == [3.0, 4.0]


def test_file_objects():
    buf = io.BytesIO()
    buf.write(b"prefix")
    tg.save({"x": tg.tensor([1, 2, 3])}, buf)
    buf.seek(6)
    assert tg.load(buf)["x"].tolist() == [1, 2, 3]


def test_safetensors_package_reads_our_files(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    arrays = _arrays()
    tg.save({k: tg.tensor(a) for k, a in arrays.items()}, tmp_path / "x.safetensors")
    out = st.load_file(str(tmp_path / "x.safetensors"))
    assert set(out) == set(arrays)
    for k, a in arrays.items():
        assert out[k].dtype == a.dtype
        np.testing.assert_array_equal(out[k], a)


def test_we_read_safetensors_package_files(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    arrays = _arrays()
    st.save_file(arrays, str(tmp_path / "x.safetensors"), metadata={"format": "np"})
    out = tg.load(tmp_path / "x.safetensors")
    assert set(out) == set(arrays)
    for k, a in arrays.items():
        _assert_same(out[k], a)


def test_unsupported_dtype_from_other_writers(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    st.save_file({"x": np.zeros(3, np.uint16)}, str(tmp_path / "u16.safetensors"))
    with pytest.raises(RuntimeError, match=r"u16\.safetensors.*unsupported dtype 'U16'"):
        tg.load(tmp_path / "u16.safetensors")


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        tg.load(tmp_path / "nope.safetensors")


def test_unsupported_objects_are_refused(tmp_path):
    with pytest.raises(TypeError, match="object"):
        tg.save({"x": object()}, tmp_path / "x")
    assert os.listdir(tmp_path) == []


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "ckpt"
    tg.save({"x": tg.tensor([1.0])}, path)
    with pytest.raises(TypeError):
        tg.save({"x": tg.tensor([2.0]), "bad": {1, 2}}, path)

    def failing_fsync(fd):
        raise OSError("disk on fire")
    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="disk on fire"):
        tg.save({"x": tg.tensor([3.0])}, path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["ckpt"]  # no temporary left behind
    assert tg.load(path)["x"].tolist() == [1.0]
    tg.save({"x": tg.tensor([4.0])}, path)  # and overwriting works
    assert tg.load(path)["x"].tolist() == [4.0] and os.listdir(tmp_path) == ["ckpt"]


def test_new_file_permissions_follow_umask(tmp_path):
    old = os.umask(0o022)
    try:
        tg.save({"x": tg.tensor([1.0])}, tmp_path / "x")
    finally:
        os.umask(old)
    assert os.stat(tmp_path / "x").st_mode & 0o777 == 0o644


def test_every_truncation_is_rejected(tmp_path):
    good = tmp_path / "good"
    tg.save({"w": tg.tensor(np.arange(6.0).reshape(2, 3)), "n": 3}, good)
    data = good.read_bytes()
    bad = tmp_path / "bad"
    for cut in range(len(data)):
        bad.write_bytes(data[:cut])
        with pytest.raises(RuntimeError, match="bad"):
            tg.load(bad)


def _entry(dtype="F32", shape=(2,), offsets=(0, 8)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


@pytest.mark.parametrize("header,data,header_len,message", [
    ({"x": _entry()}, b"\0" * 8, 2 ** 63, "header length"),
    ({"x": _entry()}, b"\0" * 8, 10 ** 6, "header length"),
    ({"x": _entry(offsets=(0, 16))}, b"\0" * 8, None, "outside"),
    ({"x": _entry(offsets=(8, 4))}, b"\0" * 8, None, "outside"),
    ({"x": _entry(offsets=(-8, 0))}, b"\0" * 8, None, "outside"),
    ({"x": _entry(shape=(2 ** 40, 2 ** 40), offsets=(0, 8))}, b"\0" * 8, None, "needs"),
    ({"x": _entry(shape=(3,))}, b"\0" * 8, None, "needs"),
    ({"x": _entry(shape=(-2,))}, b"\0" * 8, None, "shape"),
    ({"x": _entry(shape=(2.0,))}, b"\0" * 8, None, "shape"),
    ({"x": _entry(dtype="U16", shape=(4,))}, b"\0" * 8, None, "dtype"),
    ({"x": _entry(dtype=["F32"])}, b"\0" * 8, None, "dtype"),
    ({"x": _entry(), "y": _entry(offsets=(4, 12))}, b"\0" * 12, None, "overlap"),
    ({"x": _entry(dtype="BOOL", shape=(2,), offsets=(0, 2))}, b"\0\2", None, "BOOL"),
    ({"x": [1, 2]}, b"", None, "not an object"),
    ([1, 2], b"", None, "not a JSON object"),
    ({"__metadata__": {"a": 1}}, b"", None, "__metadata__"),
    ({"__metadata__": {"tinygrad_cpp": "{not json"}}, b"", None, "metadata"),
    ({"__metadata__": {"tinygrad_cpp": json.dumps({"version": 1, "structure": {"__tensor__": "z"}})}},
     b"", None, "'z'"),
    ({"__metadata__": {"tinygrad_cpp": json.dumps({"version": 1, "structure": 1})}, "x": _entry()},
     b"\0" * 8, None, "not referred to"),
    ({"__metadata__": {"tinygrad_cpp": json.dumps({"version": 99, "structure": 1})}}, b"", None, "version"),
    ({"__metadata__": {"tinygrad_cpp": json.dumps({"version": 1, "structure": {"__dict__": [[[1], 2]]}})}},
     b"", None, "unhashable"),
    ({"__metadata__": {"tinygrad_cpp": "[" * 100000 + "]" * 100000}}, b"", None, "metadata"),
])
def test_hostile_headers(tmp_path, header, data, header_len, message):
    path = _write_raw(tmp_path / "evil.safetensors", header, data, header_len)
    tracemalloc.start()
    try:
        with pytest.raises(RuntimeError, match=message) as info:
            tg.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "evil.safetensors" in str(info.value)
    assert peak < 4 * os.path.getsize(path) + (1 << 20)  # nothing sized by the header's claims


def test_garbage_header_bytes(tmp_path):
    path = tmp_path / "garbage"
    path.write_bytes(struct.pack("<Q", 4) + b"\xff\xfe\x00\x01")
    with pytest.raises(RuntimeError, match="garbage.*JSON"):
        tg.load(path)


def test_format_constants_match_dtypes():
    for name, (dt, np_dt) in serialization._DTYPES.items():
        assert serialization._NAMES[dt] == name
        assert np_dt.itemsize == {"F32": 4, "F64": 8, "I64": 8, "BOOL": 1, "F16": 2, "BF16": 2,
                                  "I32": 4, "I16": 2, "I8": 1, "U8": 1}[name]
