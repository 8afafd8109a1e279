"""`save` / `load` in the safetensors format (https://github.com/huggingface/safetensors).

Layout: an 8-byte little-endian header length N, N bytes of JSON header, then the raw
little-endian tensor data. The header maps each tensor name to
`{"dtype": "F32"|"F64"|"I64"|"BOOL", "shape": [...], "data_offsets": [begin, end]}`
(offsets relative to the start of the data). A flat dict of tensors is stored with tensor
names equal to its keys, so other safetensors readers see the same names. Anything else
(a single tensor, nested dicts, lists, numbers, strings, None) is described by one JSON
string in `__metadata__["tinygrad_cpp"]`, whose tensor leaves refer to tensors by name.

Loading trusts nothing in the file: every length and offset is checked against the file
size before anything is allocated or read, and each tensor is read into its own fresh
buffer, so loaded tensors never alias the file or each other.

Any other object (a whole Module, an optimizer, a dict holding them) is written in
PyTorch's own format, zip + pickle (see _pt_format.py), and `load` reads the `.pt` files
`torch.save` writes, telling the formats apart by their first bytes. Pickled content is
loaded through a restricted unpickler (`weights_only=True`, the default) that only accepts
the globals on an allow-list extended by `add_safe_globals` / `safe_globals`.
"""
import builtins
import json
import math
import os
import struct

import numpy as np

from . import _C
from . import _pt_format
from ._pt_format import add_safe_globals, clear_safe_globals, get_safe_globals, safe_globals

__all__ = ["save", "load", "save_pt", "add_safe_globals", "clear_safe_globals", "get_safe_globals",
           "safe_globals"]

_FORMAT_KEY = "tinygrad_cpp"
_FORMAT_VERSION = 1
_DTYPES = {  # safetensors name -> (tinygrad_cpp dtype, little-endian numpy dtype)
    "F32": (_C.dtype.float32, np.dtype("<f4")),
    "F64": (_C.dtype.float64, np.dtype("<f8")),
    "I64": (_C.dtype.int64, np.dtype("<i8")),
    "BOOL": (_C.dtype.bool, np.dtype("u1")),
    "F16": (_C.dtype.float16, np.dtype("<f2")),
    "BF16": (_C.dtype.bfloat16, np.dtype("<i2")),  # numpy has no bfloat16: moved as its bits
    "I32": (_C.dtype.int32, np.dtype("<i4")),
    "I16": (_C.dtype.int16, np.dtype("<i2")),
    "I8": (_C.dtype.int8, np.dtype("i1")),
    "U8": (_C.dtype.uint8, np.dtype("u1")),
}
_NAMES = {v[0]: k for k, v in _DTYPES.items()}
_MAX_DIMS = 64  # numpy's, through which tensors are read


class _Corrupt(Exception):
    """Internal: raised while decoding, re-raised as RuntimeError naming the file."""


# ----------------------------------------------------------------------------- save

def _encode(obj, tensors, path):
    """A JSON-able description of `obj`; tensors are appended to `tensors` and referred
    to by name. Dicts with non-string keys and tuples are tagged so they come back as
    they went in (optimizer state dicts have int keys and tuple betas)."""
    if isinstance(obj, _C.Tensor):
        name = ".".join(path) if path else "tensor"
        taken = {n for n, _ in tensors}
        base, k = name, 1
        while name in taken or name == "__metadata__":
            name, k = f"{base}#{k}", k + 1
        tensors.append((name, obj))
        return {"__tensor__": name}
    if obj is None or isinstance(obj, (builtins.bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else {"__float__": repr(obj)}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, tensors, path + [str(i)]) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, tensors, path + [str(i)]) for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: _encode(v, tensors, path + [k]) for k, v in obj.items()}
        return {"__dict__": [[_encode(k, [], []), _encode(v, tensors, path + [str(k)])]
                             for k, v in obj.items()]}
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return _encode(obj.item(), tensors, path)
    raise TypeError(f"tg.save can't store an object of type {type(obj).__name__} "
                    f"(at {'.'.join(path) or 'the top level'}); it stores tensors, dicts, "
                    "lists, tuples, numbers, strings and None")


def _tensor_bytes(t):
    if t.dtype == _C.dtype.bfloat16:
        t = _C._reinterpret(t.detach(), _C.dtype.int16)  # its bits
    arr = t.detach().numpy()
    if t.dtype == _C.dtype.bool:
        arr = arr.view(np.uint8)
    return np.ascontiguousarray(arr, dtype=_DTYPES[_NAMES[t.dtype]][1]).reshape(-1).view(np.uint8)


def _serialize(obj):
    tensors = []
    structure = _encode(obj, tensors, [])
    flat = (isinstance(obj, dict) and all(isinstance(v, _C.Tensor) for v in obj.values())
            and all(isinstance(k, str) and not k.startswith("__") for k in obj))
    header, blobs, offset = {}, [], 0
    meta = {"format": "pt"} if flat else {}
    meta[_FORMAT_KEY] = json.dumps({"version": _FORMAT_VERSION, "structure": structure})
    header["__metadata__"] = meta
    for name, t in tensors:
        data = _tensor_bytes(t)
        header[name] = {"dtype": _NAMES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + data.nbytes]}
        blobs.append(data)
        offset += data.nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # safetensors pads the header so data is 8-aligned
    return [struct.pack("<Q", len(text)), text] + blobs


def _open_new(path):
    """Creates a fresh temporary file next to `path` (same file system, so os.replace
    is atomic) with the permissions the umask gives a normal new file."""
    directory = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    for _ in range(100):
        tmp = os.path.join(directory, f".{base}.{os.urandom(6).hex()}.tmp")
        try:
            return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file next to {path}")


def save(obj, f):
    """Saves `obj` to `f` (a path or a binary file object). A tensor or a (nested)
    dict/list of tensors and plain values goes in the safetensors format; any other object
    (a Module, an optimizer, instances of other classes, also inside dicts and lists) in
    PyTorch's zip + pickle format, as `torch.save`. Writing to a path is atomic: the data
    goes to a temporary file in the same directory, is fsynced, then renamed."""
    try:
        parts = _serialize(obj)
    except TypeError:
        if not _pt_format.needs_pickle(obj):
            raise
        parts = None
    if parts is None:
        return _write(f, lambda out: _pt_format.save(obj, out))

    def write(out):
        for p in parts:
            out.write(p)
    return _write(f, write)


def save_pt(obj, f):
    """Saves `obj` in PyTorch's zip + pickle format whatever it is (what `save` does for
    objects safetensors cannot hold): `torch.load(f, weights_only=True)` reads a file of
    tensors, containers and plain values written this way."""
    return _write(f, lambda out: _pt_format.save(obj, out))


def _write(f, write):
    if hasattr(f, "write"):
        write(f)
        return
    path = os.fspath(f)
    # PyTorch's file writer reports these as RuntimeError (not the OSError subclasses)
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise RuntimeError(f"Parent directory {parent} does not exist.")
    if os.path.isdir(path):
        raise RuntimeError(f"open file failed with strerror: Is a directory ({path})")
    tmp, fd = _open_new(path)
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable; not every platform can open a directory
        dfd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


# ----------------------------------------------------------------------------- load

def _read_exact(f, n):
    data = f.read(n)
    if len(data) != n:
        raise _Corrupt(f"file is truncated: wanted {n} bytes, got {len(data)}")
    return data


def _parse_header(f, size):
    if size < 8:
        raise _Corrupt(f"file is {size} bytes, too short for a safetensors header")
    (n,) = struct.unpack("<Q", _read_exact(f, 8))
    if n > size - 8:
        raise _Corrupt(f"header length {n} is larger than the rest of the file ({size - 8} bytes)")
    try:
        header = json.loads(_read_exact(f, n).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise _Corrupt(f"header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise _Corrupt("header is not a JSON object")
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise _Corrupt("__metadata__ must map strings to strings")
    data_size = size - 8 - n
    entries = []
    for name, info in header.items():
        if not isinstance(info, dict):
            raise _Corrupt(f"entry {name!r} is not an object")
        dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        if not isinstance(dtype, str) or dtype not in _DTYPES:
            raise _Corrupt(f"tensor {name!r} has unsupported dtype {dtype!r} "
                           f"(supported: {', '.join(_DTYPES)})")
        if not (isinstance(shape, list) and all(type(s) is int and s >= 0 for s in shape)):
            raise _Corrupt(f"tensor {name!r} has an invalid shape {shape!r}")
        if not (isinstance(offsets, list) and len(offsets) == 2 and
                all(type(o) is int for o in offsets) and 0 <= offsets[0] <= offsets[1] <= data_size):
            raise _Corrupt(f"tensor {name!r} has data_offsets {offsets!r} outside the "
                           f"{data_size}-byte data section")
        nbytes = math.prod(shape) * _DTYPES[dtype][1].itemsize
        if nbytes != offsets[1] - offsets[0]:
            raise _Corrupt(f"tensor {name!r} of shape {shape} and dtype {dtype} needs {nbytes} "
                           f"bytes but its data_offsets span {offsets[1] - offsets[0]}")
        # Even an empty tensor's shape must be one an array can have (numpy's limits).
        if len(shape) > _MAX_DIMS or math.prod(s for s in shape if s) * _DTYPES[dtype][1].itemsize >= 2 ** 63:
            raise _Corrupt(f"tensor {name!r} has a shape no array can have: {shape!r:.200}")
        entries.append((name, dtype, shape, offsets))
    spans = sorted((o[0], o[1], name) for name, _, _, o in entries if o[1] > o[0])
    for (_, end, a), (begin, _, b) in zip(spans, spans[1:]):
        if begin < end:
            raise _Corrupt(f"tensors {a!r} and {b!r} overlap")
    return meta, entries, 8 + n


def _read_tensor(f, base, dtype, shape, offsets):
    tg_dtype, np_dtype = _DTYPES[dtype]
    arr = np.empty(math.prod(shape), dtype=np_dtype)  # bounded by the checked span
    f.seek(base + offsets[0])
    view = memoryview(arr.view(np.uint8))
    got = 0
    while got < len(view):
        k = f.readinto(view[got:])
        if not k:
            raise _Corrupt("file is shorter than its header says (was it truncated while reading?)")
        got += k
    if dtype == "BOOL":
        if arr.size and arr.max() > 1:
            raise _Corrupt("BOOL tensor holds bytes other than 0 and 1")
        arr = arr.view(np.bool_)
    elif not np_dtype.isnative:
        arr = arr.astype(np_dtype.newbyteorder("="))
    t = _C.from_numpy(arr.reshape(shape))  # a fresh array, owned by the tensor alone
    return t if t.dtype == tg_dtype else _C._reinterpret(t, tg_dtype)  # BF16 read as its bits


def _decode(node, tensors, used):
    if isinstance(node, list):
        return [_decode(v, tensors, used) for v in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        (tag, value), = node.items()
        if tag == "__tensor__":
            if value not in tensors:
                raise _Corrupt(f"metadata refers to a tensor {value!r} that is not in the file")
            used.add(value)
            return tensors[value]
        if tag == "__tuple__":
            return tuple(_decode(v, tensors, used) for v in value)
        if tag == "__float__" and value in ("nan", "inf", "-inf"):
            return float(value)
        if tag == "__dict__":
            out = {}
            for pair in value:
                if not (isinstance(pair, list) and len(pair) == 2):
                    raise _Corrupt("malformed dict entry in metadata")
                key = _decode(pair[0], {}, set())
                try:
                    out[key] = _decode(pair[1], tensors, used)
                except TypeError:
                    raise _Corrupt(f"unhashable dict key {key!r} in metadata") from None
            return out
    return {k: _decode(v, tensors, used) for k, v in node.items()}


def _load(f, size):
    meta, entries, base = _parse_header(f, size)
    tensors = {name: _read_tensor(f, base, d, s, o) for name, d, s, o in entries}
    if _FORMAT_KEY not in meta:  # written by another safetensors writer: a flat dict
        return tensors
    try:
        desc = json.loads(meta[_FORMAT_KEY])
        if not isinstance(desc, dict) or "structure" not in desc:
            raise _Corrupt("metadata has no structure")
        if desc.get("version") != _FORMAT_VERSION:
            raise _Corrupt(f"unknown tinygrad_cpp format version {desc.get('version')!r}")
        used = set()
        obj = _decode(desc["structure"], tensors, used)
    except (ValueError, RecursionError, TypeError) as e:
        raise _Corrupt(f"metadata is malformed ({e})") from None
    if used != set(tensors):
        raise _Corrupt(f"tensors {sorted(set(tensors) - used)} are not referred to by the metadata")
    return obj


def load(f, map_location=None, weights_only=True):
    """Loads what `save` wrote, any safetensors file (as a dict of tensors), or a `.pt`
    file written by `torch.save` (zip format). A missing file raises FileNotFoundError; a
    corrupt, truncated or malformed one raises RuntimeError naming the file. Pickled
    content goes through a restricted unpickler unless `weights_only=False`: a global
    outside the allow-list raises `pickle.UnpicklingError` naming it, and runs nothing.
    `map_location` is accepted for PyTorch compatibility: tensors live on the CPU."""
    if hasattr(f, "read"):
        name = getattr(f, "name", repr(f))
        start = f.tell()
        size = f.seek(0, os.SEEK_END) - start
        f.seek(start)
        head = f.read(16)
        f.seek(start)
        if _pt_format.is_zip(head):
            return _pt_format.load(f, start + size, name, weights_only)
        _refuse_legacy(head, name)
        return _load_named(_Offset(f, start), size, name)
    path = os.fspath(f)
    with open(path, "rb") as fh:
        head = fh.read(16)
        fh.seek(0)
        size = os.fstat(fh.fileno()).st_size
        if _pt_format.is_zip(head):
            return _pt_format.load(fh, size, path, weights_only)
        _refuse_legacy(head, path)
        return _load_named(fh, size, path)


def _refuse_legacy(head, name):
    if _pt_format.is_legacy(head):
        raise RuntimeError(f"tg.load: {name} is in PyTorch's legacy (pre-1.6, non-zip) format, which "
                           "is not supported; re-save it with a recent torch.save")


def _load_named(f, size, name):
    try:
        return _load(f, size)
    except _Corrupt as e:
        raise RuntimeError(f"tg.load: {name} is not a valid safetensors file: {e}") from None


class _Offset:
    """A file object seen from its current position (a stream may hold other data first)."""

    def __init__(self, f, start):
        self.f, self.start = f, start

    def read(self, n):
        return self.f.read(n)

    def readinto(self, b):
        return self.f.readinto(b)

    def seek(self, pos):
        return self.f.seek(self.start + pos)
