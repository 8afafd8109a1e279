"""PyTorch's checkpoint format (`torch.save` / `torch.load`), read and written without torch.

A `.pt` file is a zip archive (entries stored uncompressed) whose single top-level folder
(any name: torch uses the file's stem, or "archive") holds

    data.pkl          the pickled object; tensors appear as
                      torch._utils._rebuild_tensor_v2(storage, offset, size, stride,
                                                      requires_grad, backward_hooks[, metadata])
                      whose `storage` is a persistent id
                      ("storage", torch.FloatStorage, "<key>", "cpu", numel)
    data/<key>        the raw bytes of that storage (numel * itemsize bytes)
    byteorder         "little" or "big"
    version           the format version ("3")

Reading goes through `_WeightsUnpickler`, an interpreter of the pickle opcodes (like
PyTorch's `_weights_only_unpickler`) that only resolves globals on an allow-list
(containers, tensors, storages, dtypes, and whatever `add_safe_globals` / `safe_globals`
allowed) and never calls anything else: a hostile pickle raises `pickle.UnpicklingError`
naming the global and runs nothing. `weights_only=False` uses Python's own unpickler, for
trusted files holding whole objects (Modules, optimizers).

Storages are read lazily from the archive the first time a tensor uses them, once per key,
with every size checked against the archive before anything is allocated, so tensors that
view one storage share its memory after loading, as in PyTorch.
"""
import _compat_pickle
import collections
import io
import math
import pickle
import struct

import numpy as np

from . import _C

# torch storage class -> (dtype name, little-endian numpy dtype used to read the bytes)
_STORAGES = {
    "FloatStorage": ("float32", "<f4"),
    "DoubleStorage": ("float64", "<f8"),
    "HalfStorage": ("float16", "<f2"),
    "BFloat16Storage": ("bfloat16", "<u2"),  # no numpy dtype: read as bits, widened to float32
    "LongStorage": ("int64", "<i8"),
    "IntStorage": ("int32", "<i4"),
    "ShortStorage": ("int16", "<i2"),
    "CharStorage": ("int8", "i1"),
    "ByteStorage": ("uint8", "u1"),
    "BoolStorage": ("bool", "u1"),
    "UntypedStorage": ("uint8", "u1"),
}
_UNSUPPORTED_STORAGES = ("ComplexFloatStorage", "ComplexDoubleStorage", "QInt8Storage",
                         "QUInt8Storage", "QInt32Storage", "QUInt4x2Storage", "QUInt2x4Storage")
_STORAGE_OF = {name: st for st, (name, _) in _STORAGES.items() if st != "UntypedStorage"}
_TORCH_DTYPES = ("float32", "float64", "float16", "bfloat16", "complex32", "complex64",
                 "complex128", "uint8", "int8", "int16", "int32", "int64", "bool", "uint16",
                 "uint32", "uint64", "qint8", "quint8", "qint32", "quint4x2", "quint2x4",
                 "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz")
_MAX_DIMS = 64
_BLOCKED_MODULES = ("sys", "os", "posix", "nt")
_DEFLATE_MAX_RATIO = 1100  # deflate cannot expand more than ~1032:1


class _Bad(Exception):
    """Internal: a malformed archive; re-raised as RuntimeError naming the file."""


# ----------------------------------------------------------------------------- allow-lists

_user_globals = []  # what add_safe_globals was given, in order (as torch keeps it)


def _global_name(entry):
    if isinstance(entry, tuple):
        if len(entry) != 2 or not isinstance(entry[1], str):
            raise ValueError(f"safe global entries are objects or (object, 'module.name') pairs, got {entry!r}")
        return entry[1]
    module = getattr(entry, "__module__", None)
    name = getattr(entry, "__qualname__", None) or getattr(entry, "__name__", None)
    if module is None or name is None:
        raise ValueError(f"{entry!r} has no __module__/__qualname__; pass it as (obj, 'module.name')")
    return f"{module}.{name}"


def add_safe_globals(safe_globals):
    """Marks the given globals (classes, functions, or `(obj, "module.name")` pairs) as safe
    for `tg.load(..., weights_only=True)`, as `torch.serialization.add_safe_globals`."""
    if not isinstance(safe_globals, (list, tuple, set)):
        raise TypeError(f"add_safe_globals expects a list of globals, got {type(safe_globals).__name__}")
    for g in safe_globals:
        _global_name(g)  # validates
        if not any(g is u for u in _user_globals):
            _user_globals.append(g)


def get_safe_globals():
    """The globals added by `add_safe_globals` (a list)."""
    return list(_user_globals)


def clear_safe_globals():
    """Forgets every global added by `add_safe_globals`."""
    _user_globals.clear()


class safe_globals:
    """`with tg.serialization.safe_globals([MyNet, nn.Linear]):` allows those globals for the
    loads inside the block only (torch.serialization.safe_globals)."""

    def __init__(self, safe_globals):
        self.safe_globals = list(safe_globals)
        self._before = None

    def __enter__(self):
        self._before = list(_user_globals)
        add_safe_globals(self.safe_globals)

    def __exit__(self, *exc):
        _user_globals[:] = self._before


def _user_allowed():
    out = {}
    for g in _user_globals:
        out[_global_name(g)] = g[0] if isinstance(g, tuple) else g
    return out


# ----------------------------------------------------------------------------- load shims

class _StorageType:
    """Stands for torch.FloatStorage and friends (only ever used as a persistent-id tag)."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"torch.{self.name}"


class _TorchDtype:
    """A torch dtype that tinygrad_cpp does not have (kept so a pickled value loads)."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"torch.{self.name}"


_STORAGE_TYPES = {name: _StorageType(name) for name in list(_STORAGES) + list(_UNSUPPORTED_STORAGES)}


def _tg_dtype(name):
    return getattr(_C.dtype, name, None)


def _dtype_global(name):
    d = _tg_dtype(name)
    return d if d is not None else _TorchDtype(name)


class _Storage:
    """A storage record of the archive, read on first use (shared by every tensor using it)."""

    def __init__(self, archive, key, stype, numel):
        self.archive, self.key, self.stype, self.numel = archive, key, stype, numel
        self._array = None

    def array(self):
        if self._array is None:
            self._array = self.archive.storage_array(self.key, self.stype, self.numel)
        return self._array


def _check_ints(what, values, allow_negative=False):
    if not isinstance(values, (tuple, list)) or len(values) > _MAX_DIMS:
        raise _Bad(f"tensor {what} must be a tuple of at most {_MAX_DIMS} ints, got {values!r:.200}")
    for v in values:
        if type(v) is not int or (v < 0 and not allow_negative):
            raise _Bad(f"tensor {what} {tuple(values)!r:.200} holds {v!r:.50}; it must hold non-negative ints")
    return tuple(values)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    """torch._utils._rebuild_tensor_v2: a view of `storage` at `storage_offset` with `size`
    and `stride` (in elements), sharing the storage's memory."""
    if not isinstance(storage, _Storage):
        raise _Bad(f"a tensor's storage must be a storage record, got {type(storage).__name__}")
    if type(storage_offset) is not int or storage_offset < 0:
        raise _Bad(f"storage offset {storage_offset!r:.50} must be a non-negative int")
    size, stride = _check_ints("size", size), _check_ints("stride", stride)
    if len(size) != len(stride):
        raise _Bad(f"tensor size {size} and stride {stride} have different lengths")
    numel = math.prod(size)
    name, np_name = _STORAGES.get(storage.stype.name, (None, None))
    if name is None:
        raise _Bad(f"storage type torch.{storage.stype.name} is not supported")
    itemsize = np.dtype(np_name).itemsize
    if numel * itemsize >= 2 ** 62:
        raise _Bad(f"tensor of size {size} is larger than any array can be")
    if numel == 0:
        if storage_offset > storage.numel:
            raise _Bad(f"storage offset {storage_offset} is past the end of its {storage.numel}-element storage")
    else:
        last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= storage.numel:
            raise _Bad(f"a view of size {size}, stride {stride} and offset {storage_offset} reaches element "
                       f"{last} of a storage of {storage.numel} elements")
    arr = storage.array()
    view = np.lib.stride_tricks.as_strided(arr[storage_offset:], shape=size,
                                           strides=[s * itemsize for s in stride])
    return _to_tensor(view, name, requires_grad)


def _to_tensor(view, name, requires_grad):
    target = _tg_dtype(name)
    if name == "bfloat16":
        t = None
        if target is not None and hasattr(_C, "_reinterpret"):
            try:  # the bits as int16, seen as bfloat16: shares the storage like other dtypes
                t = _C._reinterpret(_C.from_numpy(view.view(np.int16)), target)
            except Exception:
                t = None
        if t is None:  # bits -> float32 (exact), then narrowed when the dtype exists
            t = _C.from_numpy((view.astype(np.uint32) << 16).view(np.float32))
    else:
        if target is None:
            raise _Bad(f"tensors of dtype {name} are not supported by this build of tinygrad_cpp")
        t = _C.from_numpy(view)  # shares memory with the storage
    if target is not None and t.dtype != target:
        t = t.to(target)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _rebuild_tensor_v2(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad, backward_hooks=None):
    from .nn.parameter import Parameter
    if not isinstance(data, _C.Tensor):
        raise _Bad(f"a Parameter's data must be a tensor, got {type(data).__name__}")
    return Parameter(data, bool(requires_grad))


def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    p = _rebuild_parameter(data, requires_grad, backward_hooks)
    if isinstance(state, dict):
        for k, v in state.items():
            setattr(p, k, v)
    return p


def _torch_device(*args):
    from ._device import device
    try:
        return device(*args)
    except Exception:  # e.g. "cuda" on a CPU-only build: tensors live on the CPU anyway
        return device("cpu")


def _codecs_encode(obj, encoding="utf-8", errors="strict"):
    """_codecs.encode as protocol-2 pickles use it for bytes (text codecs only)."""
    if not isinstance(obj, str) or encoding not in ("latin1", "latin-1", "utf-8", "utf8", "ascii"):
        raise pickle.UnpicklingError(f"_codecs.encode is only allowed for text with latin1/utf-8, got {encoding!r}")
    return obj.encode(encoding, errors)


def _bytearray(*args):
    """bytearray as protocol-2 pickles use it (from bytes/str), never bytearray(n)."""
    if args and not isinstance(args[0], (bytes, str, list, bytearray)):
        raise pickle.UnpicklingError(f"bytearray({type(args[0]).__name__}) is not allowed")
    return bytearray(*args)


def _size(*args):
    return tuple(*args)


def _allowed_globals():
    from ._device import device
    from .nn.parameter import Parameter
    rc = {
        "collections.OrderedDict": collections.OrderedDict,
        "collections.Counter": collections.Counter,
        "torch.nn.parameter.Parameter": Parameter,
        "torch.Size": _size,
        "torch.device": _torch_device,
        "tinygrad_cpp._device.device": device,
        "_codecs.encode": _codecs_encode,
        "builtins.bytearray": _bytearray,
        "builtins.set": set,
        "builtins.frozenset": frozenset,
        "builtins.complex": complex,
        "torch._utils._rebuild_tensor": _rebuild_tensor,
        "torch._utils._rebuild_tensor_v2": _rebuild_tensor_v2,
        "torch._utils._rebuild_parameter": _rebuild_parameter,
        "torch._utils._rebuild_parameter_with_state": _rebuild_parameter_with_state,
    }
    for name, st in _STORAGE_TYPES.items():
        rc[("torch.storage." if name == "UntypedStorage" else "torch.") + name] = st
    for name in _TORCH_DTYPES:
        rc[f"torch.{name}"] = _dtype_global(name)
    return rc


def _full_load_global(module, name):
    """What a trusted (weights_only=False) load finds for `module.name`."""
    full = f"{module}.{name}"
    allowed = _allowed_globals()
    if full in allowed and (module == "torch" or module.startswith("torch.")):
        return allowed[full]
    return None


# ----------------------------------------------------------------------------- unpicklers

def _unsupported_global(full):
    shown = full
    if full.startswith("builtins."):
        shown = full[len("builtins."):]
    return pickle.UnpicklingError(
        f"Unsupported global: GLOBAL {shown} was not an allowed global by default. "
        f"Please use `tg.serialization.add_safe_globals([{shown}])` or the "
        f"`tg.serialization.safe_globals([{shown}])` context manager to allowlist this global "
        "if you trust this class/function.")


def _is_allowed(obj, allowed, user):
    return any(obj is v for v in allowed.values()) or any(obj is v for v in user.values())


class _WeightsUnpickler:
    """An interpreter of pickle opcodes that resolves only allow-listed globals, calls only
    allow-listed callables and builds only allow-listed types (PyTorch's
    `_weights_only_unpickler`). INST, OBJ, EXT* and text persistent ids are refused."""

    def __init__(self, data, persistent_load):
        self.f = io.BytesIO(data)
        self.persistent_load = persistent_load
        self.allowed = _allowed_globals()
        self.user = _user_allowed()

    def _read(self, n):
        data = self.f.read(n)
        if len(data) != n:
            raise _Bad("data.pkl is truncated")
        return data

    def _readline(self):
        line = self.f.readline()
        if not line.endswith(b"\n"):
            raise _Bad("data.pkl is truncated")
        return line[:-1]

    def _global(self, module, name):
        full = f"{module}.{name}"
        if module.split(".")[0] in _BLOCKED_MODULES:
            raise pickle.UnpicklingError(
                f"Trying to load unsupported GLOBAL {full} whose module {module} is blocked.")
        if full in self.allowed:
            return self.allowed[full]
        if full in self.user:
            return self.user[full]
        raise _unsupported_global(full)

    def load(self):
        P = pickle
        read, stack, metastack, memo = self._read, [], [], {}

        def pop_mark():
            nonlocal stack
            items = stack
            stack = metastack.pop()
            return items

        def setitems_target(op):
            target = stack[-1]
            if type(target) not in (dict, collections.OrderedDict, collections.Counter):
                raise P.UnpicklingError(f"Can only {op} for dict, collections.OrderedDict, "
                                        f"collections.Counter, but got {type(target)}")
            return target

        while True:
            key = self.f.read(1)
            if not key:
                raise _Bad("data.pkl ends without a STOP opcode")
            op = key[0]
            if op == P.PROTO[0]:
                proto = read(1)[0]
                if proto > 5:
                    raise P.UnpicklingError(f"unsupported pickle protocol: {proto}")
            elif op == P.FRAME[0]:
                read(8)
            elif op == P.STOP[0]:
                return stack.pop()
            elif op == P.GLOBAL[0]:
                module = self._readline().decode("utf-8")
                name = self._readline().decode("utf-8")
                # protocol 2 writes Python 2 names (__builtin__.set): map them as pickle does
                if (module, name) in _compat_pickle.NAME_MAPPING:
                    module, name = _compat_pickle.NAME_MAPPING[(module, name)]
                elif module in _compat_pickle.IMPORT_MAPPING:
                    module = _compat_pickle.IMPORT_MAPPING[module]
                stack.append(self._global(module, name))
            elif op == P.STACK_GLOBAL[0]:
                name, module = stack.pop(), stack.pop()
                if type(name) is not str or type(module) is not str:
                    raise P.UnpicklingError("STACK_GLOBAL requires str")
                stack.append(self._global(module, name))
            elif op == P.NEWOBJ[0] or op == P.NEWOBJ_EX[0]:
                kwargs = stack.pop() if op == P.NEWOBJ_EX[0] else {}
                args, cls = stack.pop(), stack.pop()
                if not isinstance(cls, type) or not _is_allowed(cls, self.allowed, self.user):
                    raise P.UnpicklingError("Can only create new object for nn.Parameter or classes "
                                            f"allowlisted via `add_safe_globals` but got {cls}")
                if type(args) is not tuple or type(kwargs) is not dict:
                    raise P.UnpicklingError("NEWOBJ arguments must be a tuple (and a dict)")
                if cls.__name__ == "Parameter" and issubclass(cls, _C.Tensor):
                    stack.append(cls(*args, **kwargs))
                else:
                    stack.append(cls.__new__(cls, *args, **kwargs))
            elif op == P.REDUCE[0]:
                args = stack.pop()
                func = stack[-1]
                if not _is_allowed(func, self.allowed, self.user):
                    raise P.UnpicklingError(f"Trying to call reduce for unrecognized function {func}")
                if type(args) is not tuple:
                    raise P.UnpicklingError("REDUCE arguments must be a tuple")
                stack[-1] = func(*args)
            elif op == P.BUILD[0]:
                state = stack.pop()
                inst = stack[-1]
                t = type(inst)
                if t is collections.OrderedDict:
                    if not isinstance(state, dict):
                        raise P.UnpicklingError("OrderedDict state must be a dict")
                    inst.__dict__.update(state)
                elif isinstance(inst, type) or not _is_allowed(t, self.allowed, self.user) \
                        or t in (set, frozenset, complex, bytearray, collections.Counter, tuple):
                    raise P.UnpicklingError("Can only build Tensor, Parameter, OrderedDict or types "
                                            f"allowlisted via `add_safe_globals`, but got {t}")
                elif hasattr(inst, "__setstate__") and t.__setstate__ is not object.__dict__.get("__setstate__"):
                    inst.__setstate__(state)
                else:
                    slotstate = None
                    if isinstance(state, tuple) and len(state) == 2:
                        state, slotstate = state
                    if state:
                        inst.__dict__.update(state)
                    if slotstate:
                        for k, v in slotstate.items():
                            setattr(inst, k, v)
            elif op == P.MARK[0]:
                metastack.append(stack)
                stack = []
            elif op == P.POP[0]:
                stack.pop()
            elif op == P.POP_MARK[0]:
                pop_mark()
            elif op == P.DUP[0]:
                stack.append(stack[-1])
            elif op == P.APPEND[0]:
                item = stack.pop()
                if type(stack[-1]) is not list:
                    raise P.UnpicklingError(f"Can only append to lists, but got {type(stack[-1])}")
                stack[-1].append(item)
            elif op == P.APPENDS[0]:
                items = pop_mark()
                if type(stack[-1]) is not list:
                    raise P.UnpicklingError(f"Can only extend lists, but got {type(stack[-1])}")
                stack[-1].extend(items)
            elif op == P.LIST[0]:
                items = pop_mark()
                stack.append(items)
            elif op == P.DICT[0]:
                items = pop_mark()
                if len(items) % 2:
                    raise P.UnpicklingError("DICT with an odd number of items")
                stack.append({items[i]: items[i + 1] for i in range(0, len(items), 2)})
            elif op == P.SETITEM[0]:
                v, k = stack.pop(), stack.pop()
                setitems_target("SETITEM")[k] = v
            elif op == P.SETITEMS[0]:
                items = pop_mark()
                target = setitems_target("SETITEMS")
                if len(items) % 2:
                    raise P.UnpicklingError("SETITEMS with an odd number of items")
                for i in range(0, len(items), 2):
                    target[items[i]] = items[i + 1]
            elif op == P.EMPTY_SET[0]:
                stack.append(set())
            elif op == P.ADDITEMS[0]:
                items = pop_mark()
                if type(stack[-1]) is not set:
                    raise P.UnpicklingError(f"Can only add items to sets, but got {type(stack[-1])}")
                stack[-1].update(items)
            elif op == P.FROZENSET[0]:
                items = pop_mark()
                stack.append(frozenset(items))
            elif op == P.TUPLE[0]:
                items = pop_mark()
                stack.append(tuple(items))
            elif op == P.TUPLE1[0]:
                stack[-1] = (stack[-1],)
            elif op == P.TUPLE2[0]:
                stack[-2:] = [(stack[-2], stack[-1])]
            elif op == P.TUPLE3[0]:
                stack[-3:] = [(stack[-3], stack[-2], stack[-1])]
            elif op == P.EMPTY_TUPLE[0]:
                stack.append(())
            elif op == P.EMPTY_LIST[0]:
                stack.append([])
            elif op == P.EMPTY_DICT[0]:
                stack.append({})
            elif op == P.NONE[0]:
                stack.append(None)
            elif op == P.NEWTRUE[0]:
                stack.append(True)
            elif op == P.NEWFALSE[0]:
                stack.append(False)
            elif op == P.BININT[0]:
                stack.append(struct.unpack("<i", read(4))[0])
            elif op == P.BININT1[0]:
                stack.append(read(1)[0])
            elif op == P.BININT2[0]:
                stack.append(struct.unpack("<H", read(2))[0])
            elif op == P.LONG1[0]:
                stack.append(int.from_bytes(read(read(1)[0]), "little", signed=True))
            elif op == P.LONG4[0]:
                n = struct.unpack("<i", read(4))[0]
                if n < 0 or n > 4096:
                    raise P.UnpicklingError(f"LONG4 of {n} bytes refused")
                stack.append(int.from_bytes(read(n), "little", signed=True))
            elif op == P.BINFLOAT[0]:
                stack.append(struct.unpack(">d", read(8))[0])
            elif op in (P.BINUNICODE[0], P.SHORT_BINUNICODE[0], P.BINUNICODE8[0]):
                n = (read(1)[0] if op == P.SHORT_BINUNICODE[0] else
                     struct.unpack("<I", read(4))[0] if op == P.BINUNICODE[0] else struct.unpack("<Q", read(8))[0])
                stack.append(str(read(n), "utf-8", "surrogatepass"))
            elif op in (P.SHORT_BINBYTES[0], P.BINBYTES[0], P.BINBYTES8[0], P.BYTEARRAY8[0]):
                n = (read(1)[0] if op == P.SHORT_BINBYTES[0] else
                     struct.unpack("<I", read(4))[0] if op == P.BINBYTES[0] else struct.unpack("<Q", read(8))[0])
                data = read(n)
                stack.append(bytearray(data) if op == P.BYTEARRAY8[0] else data)
            elif op in (P.SHORT_BINSTRING[0], P.BINSTRING[0]):
                n = read(1)[0] if op == P.SHORT_BINSTRING[0] else struct.unpack("<i", read(4))[0]
                if n < 0:
                    raise P.UnpicklingError("BINSTRING pickle has negative byte count")
                stack.append(read(n).decode("latin1"))
            elif op == P.BINPERSID[0]:
                pid = stack.pop()
                if type(pid) is not tuple or not pid or pid[0] != "storage":
                    raise P.UnpicklingError(f"Only persistent_load of storage is allowed, but got {pid!r:.100}")
                stack.append(self.persistent_load(pid))
            elif op in (P.BINGET[0], P.LONG_BINGET[0]):
                i = read(1)[0] if op == P.BINGET[0] else struct.unpack("<I", read(4))[0]
                if i not in memo:
                    raise P.UnpicklingError(f"Memo value not found at index {i}")
                stack.append(memo[i])
            elif op in (P.BINPUT[0], P.LONG_BINPUT[0]):
                i = read(1)[0] if op == P.BINPUT[0] else struct.unpack("<I", read(4))[0]
                memo[i] = stack[-1]
            elif op == P.MEMOIZE[0]:
                memo[len(memo)] = stack[-1]
            else:
                raise P.UnpicklingError(f"Unsupported operand {op}")


class _FullUnpickler(pickle.Unpickler):
    """Python's unpickler for trusted files (weights_only=False): torch's tensor and storage
    globals map to tinygrad_cpp's, `torch.nn...` classes to tinygrad_cpp's namesakes."""

    def __init__(self, f, persistent_load):
        super().__init__(f)
        self._pl = persistent_load

    def persistent_load(self, pid):
        if type(pid) is not tuple or not pid or pid[0] != "storage":
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r:.100}")
        return self._pl(pid)

    def find_class(self, module, name):
        shim = _full_load_global(module, name)
        if shim is not None:
            return shim
        if module == "torch" or module.startswith("torch."):
            try:
                return super().find_class("tinygrad_cpp" + module[len("torch"):], name)
            except (ImportError, AttributeError):
                pass
        return super().find_class(module, name)


# ----------------------------------------------------------------------------- reader

class _Archive:
    def __init__(self, f, size, name):
        import zipfile  # imported where used: zipfile and what it imports cost `import tinygrad_cpp` ~10 ms
        self.name, self.size = name, size
        try:
            self.zf = zipfile.ZipFile(f)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, struct.error) as e:
            raise _Bad(f"not a valid zip archive ({e})") from None
        pkls = [i.filename for i in self.zf.infolist()
                if i.filename.endswith("/data.pkl") and i.filename.count("/") == 1]
        if not pkls:
            if any(i.filename.endswith("constants.pkl") for i in self.zf.infolist()):
                raise _Bad("it is a TorchScript archive (torch.jit.save), which tg.load cannot read")
            raise _Bad("the archive has no <folder>/data.pkl: it is not a PyTorch checkpoint")
        self.prefix = pkls[0][: -len("data.pkl")]
        order = self._small("byteorder", default=b"little")
        if order not in (b"little", b"big"):
            raise _Bad(f"byteorder record holds {order[:20]!r}, expected 'little' or 'big'")
        self.big = order == b"big"
        self.bytes = {}  # storage key -> its bytes (a numpy uint8 array)
        self.storages = {}  # (key, storage type) -> _Storage

    def _info(self, rel):
        import zipfile
        info = self.zf.NameToInfo.get(self.prefix + rel)
        if info is None:
            return None
        if info.flag_bits & 0x1:
            raise _Bad(f"record {rel} is encrypted")
        if info.compress_type == zipfile.ZIP_STORED:
            if info.compress_size != info.file_size or info.header_offset + info.compress_size > self.size:
                raise _Bad(f"record {rel} claims {info.file_size} bytes at offset {info.header_offset}, "
                           f"outside the {self.size}-byte archive")
        elif info.compress_size > self.size or info.file_size > info.compress_size * _DEFLATE_MAX_RATIO + 4096:
            raise _Bad(f"record {rel} claims to expand {info.compress_size} bytes to {info.file_size}, "
                       "more than compression can")
        return info

    def _read_into(self, info, rel, n):
        import zipfile
        buf = np.empty(n, dtype=np.uint8)
        view, got = memoryview(buf), 0
        try:
            with self.zf.open(info) as r:
                while got < n:
                    k = r.readinto(view[got:])
                    if not k:
                        break
                    got += k
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, struct.error) as e:
            raise _Bad(f"record {rel} cannot be read ({type(e).__name__}: {e})") from None
        except Exception as e:  # zlib.error and friends
            raise _Bad(f"record {rel} cannot be read ({type(e).__name__}: {e})") from None
        if got != n:
            raise _Bad(f"record {rel} is truncated: wanted {n} bytes, got {got}")
        return buf

    def _small(self, rel, default=None):
        info = self._info(rel)
        if info is None:
            if default is None:
                raise _Bad(f"the archive has no {rel} record")
            return default
        if info.file_size > (1 << 16):
            raise _Bad(f"record {rel} is implausibly large ({info.file_size} bytes)")
        return self._read_into(info, rel, info.file_size).tobytes().strip()

    def data_pkl(self):
        info = self._info("data.pkl")
        return self._read_into(info, "data.pkl", info.file_size).tobytes()

    def persistent_load(self, pid):
        if len(pid) != 5:
            raise _Bad(f"storage persistent id {pid!r:.200} does not have 5 fields")
        _, stype, key, _location, numel = pid
        if not isinstance(stype, _StorageType):
            raise _Bad(f"storage type {stype!r:.100} is not a torch storage class")
        if type(key) is not str or type(numel) is not int or numel < 0:
            raise _Bad(f"storage id {pid!r:.200} has a bad key or element count")
        if stype.name not in _STORAGES:
            raise _Bad(f"storage type torch.{stype.name} is not supported")
        s = self.storages.get((key, stype.name))
        if s is None:
            s = self.storages[(key, stype.name)] = _Storage(self, key, stype, numel)
        elif s.numel != numel:
            raise _Bad(f"storage {key} is declared with {s.numel} and {numel} elements")
        return s

    def storage_array(self, key, stype, numel):
        _, np_name = _STORAGES[stype.name]
        dt = np.dtype(np_name)
        nbytes = numel * dt.itemsize
        rel = f"data/{key}"
        raw = self.bytes.get(key)
        if raw is None:
            info = self._info(rel)
            if info is None:
                raise _Bad(f"storage {key!r:.100} refers to a record {rel!r:.100} that is not in the archive")
            if nbytes > info.file_size:
                raise _Bad(f"storage {key} declares {numel} elements of torch.{stype.name} ({nbytes} bytes) "
                           f"but its record holds {info.file_size} bytes")
            raw = self.bytes[key] = self._read_into(info, rel, info.file_size)
        elif nbytes > raw.nbytes:
            raise _Bad(f"storage {key} declares {numel} elements of torch.{stype.name} ({nbytes} bytes) "
                       f"but its record holds {raw.nbytes} bytes")
        arr = raw[:nbytes].view(dt)
        if self.big and dt.itemsize > 1:
            arr = arr.byteswap()  # a copy in native order (shared by this storage's tensors)
        elif not dt.isnative:
            arr = arr.astype(dt.newbyteorder("="))
        if _STORAGES[stype.name][0] == "bool":
            arr[arr > 1] = 1
            arr = arr.view(np.bool_)
        return arr


def load(f, size, name, weights_only=True):
    """Reads a torch.save zip checkpoint from the binary file object `f` (`size` bytes,
    named `name` in errors). `weights_only` None means True, as in torch.load."""
    weights_only = weights_only is None or bool(weights_only)
    try:
        archive = _Archive(f, size, name)
        try:
            data = archive.data_pkl()
            if weights_only:
                return _WeightsUnpickler(data, archive.persistent_load).load()
            return _FullUnpickler(io.BytesIO(data), archive.persistent_load).load()
        finally:
            archive.zf.close()
    except _Bad as e:
        raise RuntimeError(f"tg.load: {name} is not a valid PyTorch checkpoint: {e}") from None
    except pickle.UnpicklingError as e:
        if not weights_only:
            raise pickle.UnpicklingError(f"tg.load: {name}: {e}") from None
        raise pickle.UnpicklingError(
            f"Weights only load failed ({name}). This file can still be loaded, to do so you have two "
            "options, do those steps only if you trust the source of the checkpoint. \n\t(1) Re-running "
            "`tg.load` with `weights_only` set to `False` will likely succeed, but it can result in "
            "arbitrary code execution. Do it only if you got the file from a trusted source.\n\t(2) "
            "Alternatively, to load with `weights_only=True` please check the recommended steps in the "
            f"following error message.\n\tWeightsUnpickler error: {e}") from None
    except (FileNotFoundError, PermissionError, KeyboardInterrupt, MemoryError):
        raise
    except Exception as e:
        if not weights_only:
            raise
        raise RuntimeError(f"tg.load: {name} is not a valid PyTorch checkpoint: "
                           f"{type(e).__name__}: {e}") from None


# ----------------------------------------------------------------------------- writer

class _TorchName:
    """Pickled as the global `module.name` (a name torch resolves; torch need not be here)."""

    def __init__(self, module, name):
        self.opcode = pickle.GLOBAL + f"{module}\n{name}\n".encode("utf-8")

    def __call__(self, *args):  # pickle insists that a reduce function be callable
        raise TypeError("a placeholder for a torch global; never called")


_W_REBUILD_V2 = _TorchName("torch._utils", "_rebuild_tensor_v2")
_W_REBUILD_PARAM = _TorchName("torch._utils", "_rebuild_parameter")
_W_DEVICE = _TorchName("torch", "device")
_W_STORAGE = {st: _TorchName("torch", st) for st in _STORAGES if st != "UntypedStorage"}
_W_DTYPE = {name: _TorchName("torch", name) for name in _TORCH_DTYPES}


class _StorageRef:
    def __init__(self, stype, key, numel):
        self.stype, self.key, self.numel = stype, key, numel


class _PlainTensor:
    """A Parameter's data, pickled as a plain tensor inside _rebuild_parameter."""

    def __init__(self, t):
        self.t = t


def _dtype_name(dt):
    return str(dt).rsplit(".", 1)[-1]


def _storage_bytes(t):
    """(torch storage class name, element count, contiguous little-endian bytes) of `t`."""
    name = _dtype_name(t.dtype)
    st = _STORAGE_OF.get(name)
    if st is None:
        raise TypeError(f"tg.save can't store tensors of dtype {t.dtype} in the PyTorch format")
    t = t.detach()
    if name == "bfloat16":
        arr = None
        if hasattr(_C, "_reinterpret"):
            try:  # the exact bits (NaN payloads included)
                arr = np.ascontiguousarray(_C._reinterpret(t.contiguous(), _C.dtype.int16).numpy()).reshape(-1)
                arr = arr.astype("<i2", copy=False).view("<u2")
            except Exception:
                arr = None
        if arr is None:  # a bfloat16 value is exactly the top half of its float32
            f32 = np.ascontiguousarray(t.float().numpy(), dtype=np.float32).reshape(-1)
            arr = (f32.view(np.uint32) >> 16).astype("<u2")
    else:
        np_dt = np.dtype("u1") if name == "bool" else np.dtype(_STORAGES[st][1])
        a = t.numpy()
        if name == "bool":
            a = a.view(np.uint8) if a.dtype == np.bool_ else a.astype(np.uint8)
        arr = np.ascontiguousarray(a).reshape(-1).astype(np_dt, copy=False)
    return st, arr.size, arr.view(np.uint8)


class _TorchPickler(pickle._Pickler):
    """Python's pure pickler (protocol 2, as torch.save) with tensors written in torch's
    layout: storages as persistent ids whose bytes go to data/<key> records."""

    def __init__(self, file):
        super().__init__(file, protocol=2)
        self.records = []
        self._keep = []  # wrappers stay alive so their ids stay unique in the memo

    def save(self, obj, save_persistent_id=True):
        if isinstance(obj, _TorchName):
            self.write(obj.opcode)
            return
        if isinstance(obj, _C.dtype):  # torch pickles dtypes as the globals torch.<name>
            name = _dtype_name(obj)
            self.write(_W_DTYPE.get(name, _TorchName("torch", name)).opcode)
            return
        super().save(obj, save_persistent_id)

    def persistent_id(self, obj):
        if isinstance(obj, _StorageRef):
            return ("storage", _W_STORAGE[obj.stype], obj.key, "cpu", obj.numel)
        return None

    def _tensor_args(self, t, requires_grad):
        st, numel, data = _storage_bytes(t)
        key = str(len(self.records))
        self.records.append((key, data))
        ref = _StorageRef(st, key, numel)
        self._keep.append(ref)
        shape = tuple(t.shape)
        stride, acc = [], 1
        for n in reversed(shape):
            stride.append(acc)
            acc *= max(n, 1)
        return (ref, 0, shape, tuple(reversed(stride)), bool(requires_grad), collections.OrderedDict())

    def reducer_override(self, obj):
        from ._device import device
        from .nn.parameter import Parameter
        if isinstance(obj, _PlainTensor):
            return (_W_REBUILD_V2, self._tensor_args(obj.t, False))
        if isinstance(obj, Parameter):
            inner = _PlainTensor(obj)
            self._keep.append(inner)
            return (_W_REBUILD_PARAM, (inner, obj.requires_grad, collections.OrderedDict()))
        if isinstance(obj, _C.Tensor):  # a non-leaf loads back as a leaf, as with torch.save
            return (_W_REBUILD_V2, self._tensor_args(obj, obj.requires_grad))
        if isinstance(obj, device):
            return (_W_DEVICE, (obj.type,) if obj.index is None else (obj.type, obj.index))
        return NotImplemented


def _align_extra(pos, name, zip64):
    """An extra field ("FB" padding, as torch writes) putting a record's data on 64 bytes."""
    used = 30 + len(name.encode("utf-8")) + 4 + (20 if zip64 else 0)
    pad = (-(pos + used)) % 64
    return b"FB" + struct.pack("<H", pad) + b"Z" * pad


def save(obj, f, folder="archive"):
    """Writes `obj` to the binary file object `f` in torch.save's zip format."""
    import zipfile
    buf = io.BytesIO()
    p = _TorchPickler(buf)
    p.dump(obj)
    with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        def put(rel, data, align=False):
            info = zipfile.ZipInfo(f"{folder}/{rel}", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            info.file_size = len(data) if not isinstance(data, np.ndarray) else data.nbytes
            zip64 = info.file_size * 1.05 > zipfile.ZIP64_LIMIT
            if align:
                try:
                    info.extra = _align_extra(zf.fp.tell(), info.filename, zip64)
                except (OSError, AttributeError, ValueError):
                    pass
            with zf.open(info, "w", force_zip64=zip64) as out:
                out.write(memoryview(data) if isinstance(data, np.ndarray) else data)
        put("data.pkl", buf.getvalue())
        put("byteorder", b"little")
        for key, data in p.records:
            put(f"data/{key}", data, align=True)
        put("version", b"3\n")
        put(".format_version", b"1")
        put(".storage_alignment", b"64")


def _builtin_or_numpy(obj):
    mod = type(obj).__module__ or ""
    return mod == "builtins" or mod == "numpy" or mod.startswith("numpy.")


def needs_pickle(obj):
    """Whether `obj` (which the safetensors writer refused) holds objects only pickle can
    store: instances of user classes (Modules, optimizers, ...) at the top level or inside
    dicts/lists/tuples. Unsupported builtin values (sets, bare objects) stay refused."""
    todo, seen = [obj], set()
    while todo:
        x = todo.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        if isinstance(x, _C.Tensor):
            continue
        if isinstance(x, (list, tuple)) and type(x) in (list, tuple):
            todo.extend(x)
        elif type(x) is dict:
            todo.extend(x.keys())
            todo.extend(x.values())
        elif not _builtin_or_numpy(x):
            return True
    return False


def is_zip(head):
    return head[:4] in (b"PK\x03\x04", b"PK\x05\x06")


_LEGACY_MAGIC = b"\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19"


def is_legacy(head):
    """A torch file from before the zip format (torch < 1.6, or
    `_use_new_zipfile_serialization=False`): a pickle starting with torch's magic number."""
    return head[:1] == b"\x80" and head[2:14] == _LEGACY_MAGIC
