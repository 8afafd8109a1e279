"""Bad input from Python: thousands of seeded random calls across the API with wrong
shapes, dtypes, dims, indices, sizes, NaN/inf and argument types.

The contract checked for every call: it returns or raises one of the Python exceptions
the API names; when it raises, every tensor it was given is unchanged (values, shape,
strides, dtype, autograd flags) and still usable (ops on it work, its autograd graph
still runs backward). The calls run in a child process (this file run as a script), so
a segfault or abort fails the test naming the case it was in instead of killing pytest.
Rerun one seed by hand with `python tests/test_fuzz.py fuzz SEED CASES [FIRST_CASE]`.
"""
import os
import signal
import subprocess
import sys

import pytest

import tinygrad_cpp as _tg_for_path

HERE = os.path.dirname(os.path.abspath(__file__))
PKG_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(_tg_for_path.__file__)))
SANITIZED = "asan" in os.environ.get("LD_PRELOAD", "")
ALLOWED = (TypeError, ValueError, IndexError, RuntimeError, MemoryError, NotImplementedError)


def _run_child(args, timeout):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([PKG_ROOT, HERE] + [p for p in [env.get("PYTHONPATH")] if p])
    env.setdefault("OMP_NUM_THREADS", "2")
    if SANITIZED:  # ASan ignores RLIMIT_AS; cap single allocations instead (they then fail)
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":allocator_may_return_null=1:max_allocation_size_mb=3072"
    cmd = [sys.executable, os.path.abspath(__file__)] + [str(a) for a in args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        pytest.fail(f"fuzz worker {args} hung for {timeout} s; last case started:\n{_last_case(out)}")
    return proc


def _last_case(out):
    starts = [line for line in out.splitlines() if line.startswith("case ")]
    return starts[-1] if starts else "(none)"


def _stderr(err):
    """The start of a sanitizer report (what and where) and the end of anything else."""
    return err if len(err) < 6000 else err[:4000] + "\n...\n" + err[-2000:]


def _check_child(proc, args):
    out = proc.stdout
    if proc.returncode < 0:
        sig = signal.Signals(-proc.returncode).name
        pytest.fail(f"fuzz worker {args} killed by {sig} in {_last_case(out)}\n"
                    f"stderr:\n{_stderr(proc.stderr)}")
    violations = [line for line in out.splitlines() if line.startswith("VIOLATION")]
    assert proc.returncode == 0, (f"fuzz worker {args} exited with {proc.returncode} in "
                                  f"{_last_case(out)}\nstderr:\n{_stderr(proc.stderr)}")
    assert not violations, "\n".join(violations[:30])
    assert out.rstrip().endswith("DONE"), out[-2000:]


CASES = 600 if SANITIZED else 2500


@pytest.mark.parametrize("seed", [1, 2])
def test_random_bad_calls(seed):
    proc = _run_child(["fuzz", seed, CASES], timeout=600 if SANITIZED else 120)
    _check_child(proc, ["fuzz", seed, CASES])


def test_impossible_allocations_raise():
    proc = _run_child(["alloc"], timeout=600 if SANITIZED else 60)
    _check_child(proc, ["alloc"])


def test_read_only_memory_is_never_written(tmp_path):
    """Tensors sharing a read-only memory map (from_numpy, from_dlpack) refuse in-place
    writes with RuntimeError; writing would fault."""
    proc = _run_child(["readonly", tmp_path / "ro.npy"], timeout=600 if SANITIZED else 60)
    _check_child(proc, ["readonly"])


def test_worker_reports_a_crash():
    """The harness itself: a child that segfaults is reported with its last case."""
    proc = _run_child(["crash"], timeout=60)
    assert proc.returncode < 0
    assert _last_case(proc.stdout) == "case 0: ctypes.string_at(0)"


# =========================================================================================
# The child process.
# =========================================================================================

def _child_main(argv):  # noqa: C901  (one long, flat table of the API)
    import ctypes
    import operator
    import random
    import warnings
    from collections import Counter

    import numpy as np

    import tinygrad_cpp as tg
    import tinygrad_cpp.optim  # noqa: F401  (tg.optim in the read-only cases)
    import tinygrad_cpp.nn as nn
    import tinygrad_cpp.nn.functional as F
    import tinygrad_cpp.optim as optim

    warnings.simplefilter("ignore")
    if not any(k in os.environ.get("LD_PRELOAD", "") for k in ("asan", "ubsan")):
        # A cap on the address space turns an overcommitted "huge but possible" allocation
        # into a clean MemoryError instead of an OOM kill (ASan needs the address space).
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (6 << 30, resource.RLIM_INFINITY))

    def say(msg):
        sys.stdout.write(msg + "\n")
        sys.stdout.flush()

    mode = argv[0]
    if mode == "crash":
        say("case 0: ctypes.string_at(0)")
        ctypes.string_at(0)
        return

    if mode == "readonly":
        np.save(argv[1], np.arange(12, dtype=np.float32).reshape(3, 4))
        arr = np.load(argv[1], mmap_mode="r")  # pages mapped read-only: a write faults
        writes = [
            ("add_", lambda t: t.add_(1)), ("mul_", lambda t: t.mul_(2)), ("copy_", lambda t: t.copy_(t + 1)),
            ("fill_", lambda t: t.fill_(0)), ("zero_", lambda t: t.zero_()), ("exp_", lambda t: t.exp_()),
            ("clamp_", lambda t: t.clamp_(0, 1)), ("+=", lambda t: t.__iadd__(1)),
            ("setitem", lambda t: t.__setitem__(0, 5.0)), ("setitem mask", lambda t: t.__setitem__(t > 3, 0.0)),
            ("index_put_", lambda t: t.index_put_((tg.tensor([0]),), tg.tensor([1.0]))),
            ("masked_fill_", lambda t: t.masked_fill_(t > 3, 0.0)), ("uniform_", lambda t: t.uniform_()),
            ("normal_", lambda t: t.normal_()), ("view add_", lambda t: t[1:, ::2].add_(1)),
            ("T fill_", lambda t: t.T.fill_(1)),
            ("sgd step", lambda t: tg.optim.SGD([t.requires_grad_()], lr=0.1).step()),
            ("sgd step with grad", lambda t: (setattr(t.requires_grad_(), "grad", tg.ones(3, 4)),
                                              tg.optim.SGD([t], lr=0.1).step())),
            ("adam step with grad", lambda t: (setattr(t.requires_grad_(), "grad", tg.ones(3, 4)),
                                               tg.optim.Adam([t], lr=0.1).step())),
            ("numpy() write", lambda t: t.numpy().__setitem__(0, 1.0)),
        ]
        for i, (desc, fn) in enumerate(writes):
            for make in (tg.from_numpy, tg.from_dlpack):
                say(f"case {i}: {desc} on {make.__name__}(read-only memmap)")
                t = make(arr)
                try:
                    fn(t)
                    if desc != "sgd step":  # no grad: nothing to write
                        say(f"VIOLATION case {i}: {desc}: wrote to read-only memory without an error")
                except (RuntimeError, ValueError):  # numpy's own refusal is a ValueError
                    pass
                np.testing.assert_array_equal(arr, np.arange(12, dtype=np.float32).reshape(3, 4))
                assert (t.detach() + 1).sum().item() == 66 + 12  # still readable
        say("DONE")
        return

    if mode == "alloc":
        big = [
            ("zeros(2**62)", lambda: tg.zeros(2 ** 62)),
            ("zeros(2**40, 2**10)", lambda: tg.zeros(2 ** 40, 2 ** 10)),
            ("ones(2**31, 2**31)", lambda: tg.ones(2 ** 31, 2 ** 31)),
            ("empty(2**63-1)", lambda: tg.empty(2 ** 63 - 1)),
            ("empty(2**62, 2**62)", lambda: tg.empty(2 ** 62, 2 ** 62)),
            ("empty(2**40, 2**40, 0)", lambda: tg.empty(2 ** 40, 2 ** 40, 0)),
            ("full((2**45,), 1.0)", lambda: tg.full((2 ** 45,), 1.0)),
            ("rand(2**45, dtype=float64)", lambda: tg.rand(2 ** 45, dtype=tg.float64)),
            ("randn(2**50)", lambda: tg.randn(2 ** 50)),
            ("randint(0, 5, (2**50,))", lambda: tg.randint(0, 5, (2 ** 50,))),
            ("randperm(2**50)", lambda: tg.randperm(2 ** 50)),
            ("arange(2**60)", lambda: tg.arange(2 ** 60)),
            ("arange(0, 1e18, 1e-3)", lambda: tg.arange(0, 1e18, 1e-3)),
            ("linspace(0, 1, 2**50)", lambda: tg.linspace(0, 1, 2 ** 50)),
            ("eye(2**31)", lambda: tg.eye(2 ** 31)),
            ("eye(2**62, 4)", lambda: tg.eye(2 ** 62, 4)),
            ("zeros(1).expand(2**50) + 1", lambda: tg.zeros(1).expand(2 ** 50) + 1),
            ("outer broadcast 2**31 x 2**31",
             lambda: tg.ones(1, 1).expand(2 ** 31, 1) * tg.ones(1, 1).expand(1, 2 ** 31)),
            ("expanded matmul 2**21",
             lambda: tg.ones(1, 1).expand(2 ** 21, 2 ** 21) @ tg.ones(1, 1).expand(2 ** 21, 2 ** 21)),
            ("expanded contiguous", lambda: tg.ones(1, 1).expand(2 ** 25, 2 ** 25).contiguous()),
            ("expanded clone", lambda: tg.ones(1).expand(2 ** 50).clone()),
            ("expanded float->double", lambda: tg.ones(1).expand(2 ** 50).double()),
            ("expanded reshape copy", lambda: tg.ones(2, 1).expand(2, 2 ** 49).t().reshape(-1)),
            ("expanded softmax", lambda: tg.ones(1, 1).expand(2 ** 25, 2 ** 25).softmax(1)),
            ("expanded nonzero", lambda: tg.ones(1, 1).expand(2 ** 25, 2 ** 25).nonzero()),
            ("expanded index", lambda: tg.ones(1, 1).expand(4, 2 ** 48)[tg.tensor([0, 1])]),
            ("expanded index_select", lambda: tg.ones(1, 1).expand(2 ** 48, 4).index_select(1, tg.tensor([0, 1]))),
            ("cat of expanded", lambda: tg.cat([tg.ones(1).expand(2 ** 50), tg.ones(1).expand(2 ** 50)])),
            ("stack of expanded", lambda: tg.stack([tg.ones(1).expand(2 ** 50)] * 2)),
            ("view 2**62 x 4", lambda: tg.ones(4).view(-1, 2 ** 62, 4)),
            ("reshape 2**40 x 2**40", lambda: tg.ones(4).reshape(2 ** 40, 2 ** 40)),
            ("tensor from a huge expanded numpy array",
             lambda: tg.tensor(np.broadcast_to(np.ones(1, np.float32), (2 ** 45,)))),
        ]
        for i, (desc, fn) in enumerate(big):
            say(f"case {i}: {desc}")
            try:
                fn()
                say(f"VIOLATION case {i}: {desc}: an impossible allocation succeeded")
            except (MemoryError, RuntimeError):
                pass
            except BaseException as e:  # noqa: B902  (anything else breaks the contract)
                say(f"VIOLATION case {i}: {desc}: raised {type(e).__name__}: {e}")
        x = tg.ones(3)  # the process is still healthy
        assert (x + 1).tolist() == [2.0, 2.0, 2.0]
        say("DONE")
        return

    seed, n_cases = int(argv[1]), int(argv[2])
    first = int(argv[3]) if len(argv) > 3 else 0  # cases before it are built, not run
    rng = random.Random(seed)
    nprng = np.random.default_rng(seed)
    tg.manual_seed(seed)

    # ---- random values ------------------------------------------------------------------
    DTYPES = [tg.float32, tg.float32, tg.float64, tg.float64, tg.int64, tg.bool,
              tg.float16, tg.int32, tg.uint8, tg.int8]
    NP = {tg.float32: np.float32, tg.float64: np.float64, tg.int64: np.int64, tg.bool: np.bool_,
          tg.float16: np.float16, tg.int32: np.int32, tg.uint8: np.uint8, tg.int8: np.int8}
    HUGE = [2 ** 31, 2 ** 40, 2 ** 62, 2 ** 63 - 1, -(2 ** 63), 2 ** 63, 2 ** 64]

    class Info:
        """What we know about a tensor handed to a call."""

        def __init__(self, t, leaf=None):
            self.t, self.leaf = t, leaf
            self.snap = t.detach().numpy().copy()
            self.meta = (t.shape, t.stride(), t.dtype, t.requires_grad, t.is_leaf)

    def small_shape():
        nd = rng.choice([0, 1, 1, 2, 2, 2, 3, 3, 4])
        return [rng.choice([0, 1, 1, 2, 2, 3, 3, 4]) for _ in range(nd)]

    def array(shape, dtype):
        if dtype == tg.bool:
            return nprng.random(shape) < 0.5
        if dtype in (tg.int32, tg.uint8, tg.int8):
            return nprng.integers(-4, 5, size=shape).astype(NP[dtype])
        if dtype == tg.int64:
            a = nprng.integers(-4, 5, size=shape).astype(np.int64)
            if a.size and rng.random() < 0.1:
                a.reshape(-1)[0] = rng.choice([2 ** 62, -(2 ** 63), 2 ** 63 - 1])
            return a
        a = nprng.standard_normal(shape).astype(NP[dtype])
        if a.size and rng.random() < 0.15:
            a.reshape(-1)[rng.randrange(a.size)] = rng.choice([np.nan, np.inf, -np.inf, 1e30, 0.0])
        return a

    def tensor(dtype=None, shape=None, infos=None):
        """A fresh tensor: contiguous, transposed, strided, expanded, numpy-shared, a leaf
        that requires grad, or a non-leaf with a graph."""
        dtype = dtype or rng.choice(DTYPES)
        shape = small_shape() if shape is None else list(shape)
        kind = rng.choice(["plain", "plain", "T", "step", "expand", "numpy", "leaf", "graph", "graph"])
        floating = dtype in (tg.float32, tg.float64, tg.float16)
        leaf = None
        if kind == "T" and len(shape) >= 2:
            t = tg.tensor(array(shape[::-1], dtype)).T
        elif kind == "step" and len(shape) >= 1:
            big = list(shape)
            big[0] = big[0] * 2
            t = tg.tensor(array(big, dtype))[::2]
        elif kind == "expand" and len(shape) >= 1:
            one = list(shape)
            one[-1] = 1
            t = tg.tensor(array(one, dtype)).expand(*shape)
        elif kind == "numpy":
            a = array(shape, dtype)
            a.setflags(write=rng.random() < 0.7)  # some read-only: in-place ops must refuse them
            t = tg.from_numpy(a)
        elif kind == "leaf" and floating:
            t = tg.tensor(array(shape, dtype), requires_grad=True)
        elif kind == "graph" and floating:
            leaf = tg.tensor(array(shape, dtype), requires_grad=True)
            t = leaf * 2.0 if rng.random() < 0.5 or len(shape) < 2 else (leaf * 2.0).transpose(0, -1)
        else:
            t = tg.tensor(array(shape, dtype))
        if infos is not None:
            infos.append(Info(t, leaf))
        return t

    def bad():
        return rng.choice([None, "abc", "", [1, 2], (0, 1), [[1], [2, 3]], 1.5, -1, 0, 2 ** 70,
                           True, 1j, object(), float("nan"), float("inf"), np.int64(2),
                           np.float32(0.5), np.array([1, 2]), tg.float32, Ellipsis, slice(1),
                           {"a": 1}, b"x", -(2 ** 63), 2 ** 63])

    def scalar():
        return rng.choice([0, 1, -1, 2, 3, 0.5, -2.5, 1e30, -1e308, float("nan"), float("inf"),
                           float("-inf"), True, False, 2 ** 62, np.float64(1.5), np.int64(-3)])

    def dim():
        return rng.choice([0, 0, 1, 1, -1, -1, 2, -2, 3, 4, -5, 7] + HUGE[:3])

    def dims():
        r = rng.random()
        if r < 0.25:
            return None
        if r < 0.6:
            return dim()
        return tuple(dim() for _ in range(rng.randrange(0, 4)))

    def count():
        return rng.choice([0, 1, 1, 2, 2, 3, 5, -1, -3] + HUGE)

    def size_args():
        n = rng.randrange(0, 4)
        vals = [rng.choice([0, 1, 2, 3, 4, -1, -1, -2, 2 ** 40, 2 ** 62, 2 ** 63 - 1, 6, 12])
                for _ in range(n)]
        return [tuple(vals)] if rng.random() < 0.3 else vals

    def index_key(infos, shape):
        def item():
            r = rng.random()
            if r < 0.3:
                return rng.choice([0, 1, -1, 2, -3, 5, 2 ** 62, -(2 ** 63)])
            if r < 0.55:
                return slice(rng.choice([None, 0, 1, -1, 2 ** 62]), rng.choice([None, 2, -1, 100]),
                             rng.choice([None, 1, 2, 3, -1, 0, 2 ** 62]))
            if r < 0.62:
                return rng.choice([None, Ellipsis, True, False])
            if r < 0.72:
                return [rng.choice([0, 1, -1, 3, 2 ** 40]) for _ in range(rng.randrange(0, 3))]
            if r < 0.85:
                return tensor(tg.int64, [rng.randrange(0, 3)], infos)
            if r < 0.95:
                sh = shape[:rng.randrange(0, len(shape) + 1)] if rng.random() < 0.8 else small_shape()
                return tensor(tg.bool, sh, infos)
            return bad()
        k = rng.randrange(0, 4)
        return item() if k == 1 else tuple(item() for _ in range(k))

    def dtype_arg():
        return rng.choice([tg.float32, tg.float64, tg.int64, tg.bool, None, "float32", np.float32, tg.float16,
                           tg.bfloat16, tg.uint8, tg.int8, tg.int32,
                           float, 3])

    def tensor_list(infos):
        n = rng.randrange(0, 4)
        base = small_shape()
        out = []
        for _ in range(n):
            r = rng.random()
            if r < 0.6:
                out.append(tensor(rng.choice(DTYPES), base, infos))
            elif r < 0.9:
                out.append(tensor(infos=infos))
            else:
                out.append(bad())
        return out

    def numpy_input():
        return rng.choice([
            np.arange(6, dtype=np.uint8), np.ones(3, np.float16), np.ones(3, np.complex64),
            np.array(["a", "b"]), np.array([1, "a"], dtype=object), np.ones(4, ">f4"),
            np.arange(12.0).reshape(3, 4)[:, ::-1], np.arange(12.0).reshape(3, 4)[::2, 1:],
            np.broadcast_to(np.ones(1), (4, 3)), np.ones((2, 0, 3)), np.int32(7), np.ones(3, np.int8),
            np.zeros((1,) * 40), np.array(np.nan), np.frombuffer(b"abcdefgh", np.float32),
            np.ones(3, np.uint64), np.datetime64("2020-01-01"),
        ])

    # ---- the call table -------------------------------------------------------------------
    # Each entry builds (description, thunk, kind); kind is "pure" (must not change any
    # input), "mut" (may change its inputs when it succeeds) or "graph" (may free graphs).
    entries = []

    def entry(weight=1, kind="pure"):
        def deco(f):
            entries.extend([(f, kind)] * weight)
            return f
        return deco

    UNARY = ["neg", "abs", "sign", "square", "exp", "expm1", "erf", "log", "log1p", "sqrt", "rsqrt",
             "reciprocal", "sin", "cos", "floor", "ceil", "sigmoid", "tanh", "relu", "silu",
             "clone", "contiguous", "detach", "float", "double", "long", "bool", "t", "nonzero",
             "numpy", "item", "tolist", "__neg__", "__abs__", "__float__", "__int__", "__bool__",
             "__index__", "__len__", "__repr__", "max", "min", "sum", "mean", "argmax", "argmin",
             "var", "std", "squeeze", "flatten", "unbind", "__dlpack__", "all", "any"]
    BINARY = ["add", "sub", "mul", "div", "remainder", "pow", "eq", "ne", "lt", "le", "gt", "ge",
              "maximum", "minimum", "floor_divide", "true_divide", "matmul", "mm", "bmm", "dot",
              "mv", "max", "min", "expand_as", "subtract", "multiply"]
    OPERATORS = [operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv,
                 operator.mod, operator.pow, operator.matmul, operator.eq, operator.ne, operator.lt,
                 operator.ge, operator.and_]
    INPLACE = ["neg_", "abs_", "exp_", "log_", "sqrt_", "rsqrt_", "reciprocal_", "floor_", "ceil_",
               "round_", "sigmoid_", "tanh_", "relu_", "zero_", "detach_"]
    INPLACE_BIN = ["add_", "sub_", "mul_", "div_", "pow_", "copy_", "fill_", "__iadd__", "__isub__",
                   "__imul__", "__itruediv__", "__ipow__"]

    def maybe_bad(v, p=0.2):
        return bad() if rng.random() < p else v

    def any_arg(infos, shape):
        r = rng.random()
        if r < 0.45:
            return tensor(rng.choice(DTYPES), shape if rng.random() < 0.6 else None, infos)
        if r < 0.8:
            return scalar()
        return bad()

    @entry(6)
    def unary(infos):
        x = tensor(infos=infos)
        name = rng.choice(UNARY)
        return name, lambda: getattr(x, name)()

    @entry(3)
    def unary_params(infos):
        x = tensor(infos=infos)
        name, args, kw = rng.choice([
            ("round", (), {"decimals": maybe_bad(rng.choice([0, 2, -3, 400, 2 ** 62]))}),
            ("gelu", (), {"approximate": maybe_bad(rng.choice(["none", "tanh", "erf"]))}),
            ("softplus", (maybe_bad(scalar()), maybe_bad(scalar())), {}),
            ("leaky_relu", (maybe_bad(scalar()),), {}),
            ("elu", (maybe_bad(scalar()),), {}),
            ("to", (dtype_arg(),), {}),
            ("to", (maybe_bad(rng.choice(["cpu", "cuda", "cpu:1", "gpu", 0, None, tg.device("cpu")])),),
             {"dtype": rng.choice([None, tg.float64, "x"]), "copy": rng.choice([True, False, 1])}),
            ("requires_grad_", (maybe_bad(rng.choice([True, False])),), {}),
            ("size", (maybe_bad(dim()),), {}),
            ("stride", (maybe_bad(dim()),), {}),
            ("numpy", (), {"force": rng.choice([True, False])}),
        ])
        kind = "mut" if name == "requires_grad_" else "pure"
        return f"{name}{args}{kw}", (lambda: getattr(x, name)(*args, **kw)), kind

    @entry(8)
    def binary(infos):
        x = tensor(infos=infos)
        other = any_arg(infos, x.shape)
        name = rng.choice(BINARY)
        how = rng.random()
        if how < 0.4:
            return f"x.{name}(other)", lambda: getattr(x, name)(other)
        if how < 0.8 and hasattr(tg, name):
            return f"tg.{name}(x, other)", lambda: getattr(tg, name)(x, other)
        op = rng.choice(OPERATORS)
        if rng.random() < 0.5:
            return f"{op.__name__}(x, other)", lambda: op(x, other)
        return f"{op.__name__}(other, x)", lambda: op(other, x)

    @entry(2)
    def arithmetic_kwargs(infos):
        x = tensor(infos=infos)
        other = any_arg(infos, x.shape)
        if rng.random() < 0.5:
            alpha = maybe_bad(scalar(), 0.4)
            name = rng.choice(["add", "sub"])
            return f"tg.{name}(x, other, alpha={alpha!r})", lambda: getattr(tg, name)(x, other, alpha=alpha)
        mode = rng.choice([None, "floor", "trunc", "round", 3])
        return f"tg.div(x, other, rounding_mode={mode!r})", lambda: tg.div(x, other, rounding_mode=mode)

    @entry(6)
    def reduction(infos):
        x = tensor(infos=infos)
        name = rng.choice(["sum", "mean", "var", "std", "logsumexp", "amax", "amin", "prod", "max",
                           "min", "argmax", "argmin", "softmax", "log_softmax", "squeeze"])
        args = []
        kw = {}
        if name in ("sum", "mean", "var", "std", "logsumexp", "amax", "amin", "squeeze"):
            args.append(dims())
        else:
            args.append(maybe_bad(rng.choice([dim(), None])))
        if name in ("softmax", "log_softmax", "sum", "mean", "prod") and rng.random() < 0.4:
            kw["dtype"] = dtype_arg()
        elif name != "squeeze" and rng.random() < 0.5:
            kw["keepdim"] = maybe_bad(rng.choice([True, False]))
        if name in ("var", "std") and rng.random() < 0.4:
            kw["correction"] = maybe_bad(rng.choice([0, 1, 2, 10, -1, 0.5]))
        fn = getattr(tg, name) if rng.random() < 0.5 else getattr(x, name)
        call_args = ([x] if fn is getattr(tg, name) else []) + args
        return f"{name}({args}, {kw})", lambda: fn(*call_args, **kw)

    @entry(6)
    def shape_op(infos):
        x = tensor(infos=infos)
        name = rng.choice(["view", "reshape", "expand", "permute", "transpose", "flatten",
                           "unflatten", "unsqueeze", "movedim", "narrow", "select", "split",
                           "chunk", "swapaxes", "T", "squeeze", "unbind", "t"])
        if name in ("view", "reshape", "expand"):
            args = size_args()
            if rng.random() < 0.4:  # a size that fits
                args = [tuple(x.shape)] if rng.random() < 0.5 else [-1]
        elif name == "permute":
            args = [rng.choice([0, 1, 2, -1, 3, 5]) for _ in range(rng.randrange(0, 5))]
        elif name in ("transpose", "swapaxes", "movedim"):
            args = [maybe_bad(dims() if name == "movedim" else dim()), maybe_bad(dim())]
        elif name == "flatten":
            args = [maybe_bad(dim()), maybe_bad(dim())]
        elif name == "unflatten":
            args = [maybe_bad(dim()), maybe_bad(tuple(rng.choice([-1, 1, 2, 3, 0, 2 ** 62])
                                                      for _ in range(rng.randrange(0, 4))))]
        elif name in ("narrow",):
            args = [maybe_bad(dim()), maybe_bad(count()), maybe_bad(count())]
        elif name in ("select",):
            args = [maybe_bad(dim()), maybe_bad(rng.choice([0, 1, -1, 3, -4] + HUGE))]
        elif name == "split":
            sizes = count() if rng.random() < 0.6 else [rng.choice([0, 1, 2, -1, 3]) for _ in range(rng.randrange(0, 4))]
            args = [maybe_bad(sizes), maybe_bad(dim())]
        elif name == "chunk":
            args = [maybe_bad(count()), maybe_bad(dim())]
        elif name in ("unsqueeze", "unbind", "squeeze"):
            args = [maybe_bad(dim())]
        else:
            args = []
        if name == "T":
            return "x.T", lambda: x.T
        return f"x.{name}(*{args})", lambda: getattr(x, name)(*args)

    @entry(3)
    def join(infos):
        ts = tensor_list(infos)
        name = rng.choice(["cat", "stack", "concat"])
        d = maybe_bad(dim(), 0.1)
        if rng.random() < 0.15:
            ts = tuple(ts) if rng.random() < 0.5 else (ts[0] if ts else None)
        return f"tg.{name}({len(ts) if isinstance(ts, (list, tuple)) else ts!r} tensors, {d!r})", lambda: getattr(tg, name)(ts, d)

    @entry(6)
    def getitem(infos):
        x = tensor(infos=infos)
        key = index_key(infos, list(x.shape))
        return f"x[{key!r}]", lambda: x[key]

    @entry(4, kind="mut")
    def setitem(infos):
        x = tensor(infos=infos)
        key = index_key(infos, list(x.shape))
        value = any_arg(infos, None)

        def run():
            x[key] = value
        return f"x[{key!r}] = value", run

    @entry(4)
    def index_ops(infos):
        x = tensor(infos=infos)
        name = rng.choice(["index_select", "gather", "scatter_add", "masked_fill", "index_put_",
                           "masked_fill_", "where", "where_method", "clamp", "clamp_"])
        idx = tensor(rng.choice([tg.int64, tg.int64, tg.int64, tg.bool, tg.float32]),
                     x.shape if rng.random() < 0.5 else None, infos)
        if name == "index_select":
            args = [maybe_bad(dim()), maybe_bad(idx, 0.1)]
        elif name == "gather":
            args = [maybe_bad(dim()), maybe_bad(idx, 0.1)]
        elif name == "scatter_add":
            args = [maybe_bad(dim()), maybe_bad(idx, 0.1), any_arg(infos, idx.shape)]
        elif name in ("masked_fill", "masked_fill_"):
            args = [tensor(tg.bool if rng.random() < 0.8 else tg.int64, x.shape if rng.random() < 0.7 else None, infos),
                    any_arg(infos, [])]
        elif name == "index_put_":
            args = [tuple(tensor(tg.int64, [rng.randrange(0, 3)], infos) for _ in range(rng.randrange(0, 3))),
                    any_arg(infos, None)]
            if rng.random() < 0.5:
                args.append(rng.choice([True, False]))
        elif name in ("where", "where_method"):
            cond = tensor(tg.bool if rng.random() < 0.8 else tg.float32, x.shape if rng.random() < 0.6 else None, infos)
            other = any_arg(infos, x.shape)
            if name == "where":
                return "tg.where(cond, x, other)", lambda: tg.where(cond, x, other)
            return "x.where(cond, other)", lambda: x.where(cond, other)
        else:
            lo, hi = rng.choice([None, any_arg(infos, x.shape)]), rng.choice([None, any_arg(infos, x.shape)])
            args = [lo, hi]
        kind = "mut" if name.endswith("_") else "pure"
        return f"x.{name}(*{args})", (lambda: getattr(x, name)(*args)), kind

    @entry(5, kind="mut")
    def inplace(infos):
        x = tensor(infos=infos)
        if rng.random() < 0.35:
            name = rng.choice(INPLACE)
            return f"x.{name}()", lambda: getattr(x, name)()
        name = rng.choice(INPLACE_BIN + ["uniform_", "normal_", "clamp_", "add_alpha"])
        if name in ("uniform_", "normal_", "clamp_"):
            a, b = maybe_bad(scalar()), maybe_bad(scalar())
            return f"x.{name}({a!r}, {b!r})", lambda: getattr(x, name)(a, b)
        other = any_arg(infos, x.shape)
        if name == "add_alpha":
            alpha = maybe_bad(scalar())
            return f"x.add_(other, alpha={alpha!r})", lambda: x.add_(other, alpha=alpha)
        return f"x.{name}(other)", lambda: getattr(x, name)(other)

    @entry(3)
    def creation(infos):
        name = rng.choice(["zeros", "ones", "empty", "rand", "randn", "full", "arange", "linspace",
                           "eye", "randint", "randperm", "zeros_like", "ones_like", "full_like",
                           "rand_like", "randn_like", "tensor", "from_numpy", "from_dlpack"])
        if name in ("zeros", "ones", "empty", "rand", "randn"):
            args, kw = size_args(), {"dtype": dtype_arg()} if rng.random() < 0.4 else {}
        elif name == "full":
            args, kw = [maybe_bad(tuple(size_args()[0]) if rng.random() < 0.5 else (2, 3)), maybe_bad(scalar())], {}
        elif name == "arange":
            args, kw = [maybe_bad(scalar(), 0.1) for _ in range(rng.randrange(1, 4))], {}
        elif name == "linspace":
            args, kw = [maybe_bad(scalar(), 0.1), maybe_bad(scalar(), 0.1), maybe_bad(count(), 0.1)], {}
        elif name == "eye":
            args, kw = [maybe_bad(count(), 0.1) for _ in range(rng.randrange(1, 3))], {}
        elif name == "randint":
            args, kw = [maybe_bad(count(), 0.1), maybe_bad(count(), 0.1), maybe_bad(tuple(size_args()[0]) if rng.random() < 0.3 else (3,), 0.1)], {}
        elif name == "randperm":
            args, kw = [maybe_bad(count(), 0.1)], {}
        elif name.endswith("_like"):
            args = [maybe_bad(tensor(infos=infos), 0.3)] + ([maybe_bad(scalar())] if name == "full_like" else [])
            kw = {"dtype": dtype_arg()} if rng.random() < 0.3 else {}
        elif name == "tensor":
            data = rng.choice([[1, 2], [[1, 2], [3]], "abc", None, [1.5, "a"], [[]], [], 3, 2 ** 70,
                               [2 ** 63], [True, 2.5], (1, 2), {1: 2}, numpy_input(), [tg.ones(2), tg.ones(2)],
                               float("nan")])
            args, kw = [data], {"dtype": dtype_arg()} if rng.random() < 0.3 else {}
        else:
            args, kw = [rng.choice([numpy_input(), numpy_input(), bad()])], {}
        return f"tg.{name}(*{args!r:.150}, **{kw})", lambda: getattr(tg, name)(*args, **kw)

    @entry(3, kind="graph")
    def autograd(infos):
        x = tensor(rng.choice([tg.float32, tg.float64, tg.float64, tg.int64]), infos=infos)
        r = rng.random()
        if r < 0.5:
            g = rng.choice([None, any_arg(infos, x.shape), tensor(x.dtype, x.shape, infos)])
            keep = rng.choice([True, False, None])
            return f"x.backward({g!r:.80}, retain_graph={keep})", lambda: x.backward(g, retain_graph=keep)
        y = tensor(tg.float64, infos=infos)
        outs = rng.choice([x, [x], [x, y], None, "x", [None]])
        ins = rng.choice([y, [y], [x], [], None, [1]])
        go = rng.choice([None, [None], [y], y, [1.0]])
        unused = rng.choice([True, False])
        return "tg.autograd.grad(...)", lambda: tg.autograd.grad(outs, ins, go, allow_unused=unused)

    @entry(4)
    def functional(infos):
        n, c = rng.choice([0, 1, 3]), rng.choice([1, 2, 4])
        x = tensor(rng.choice([tg.float32, tg.float64, tg.float32, tg.int64]),
                   [n, c] if rng.random() < 0.6 else None, infos)
        name = rng.choice(["cross_entropy", "nll_loss", "mse_loss", "l1_loss", "binary_cross_entropy",
                           "binary_cross_entropy_with_logits", "dropout", "softmax", "log_softmax",
                           "linear", "relu", "gelu", "leaky_relu", "silu", "smooth_l1_loss",
                           "huber_loss", "kl_div"])
        kw = {}
        if name in ("cross_entropy", "nll_loss"):
            tshape = [n] if rng.random() < 0.7 else None
            target = tensor(rng.choice([tg.int64, tg.int64, tg.float32, tg.bool]), tshape, infos)
            if target.dtype == tg.int64 and rng.random() < 0.7:
                target = tg.randint(-1, c + 1, tuple(target.shape)) if target.numel() else target
                infos.append(Info(target))
            args = [x, maybe_bad(target, 0.1)]
            if rng.random() < 0.3:
                kw["weight"] = rng.choice([None, tensor(x.dtype, [c], infos), tensor(infos=infos)])
            if rng.random() < 0.3:
                kw["ignore_index"] = rng.choice([-100, -1, 0, 1, 2 ** 62])
            if name == "cross_entropy" and rng.random() < 0.3:
                kw["label_smoothing"] = rng.choice([0.0, 0.1, 1.0, -0.5, 2.0, float("nan")])
        elif name in ("mse_loss", "l1_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
                      "smooth_l1_loss", "huber_loss", "kl_div"):
            args = [x, maybe_bad(tensor(rng.choice([x.dtype, tg.float64, tg.int64]), x.shape if rng.random() < 0.7 else None, infos), 0.1)]
            if name.startswith("binary") and rng.random() < 0.3:
                kw["weight"] = tensor(infos=infos)
            if name.endswith("logits") and rng.random() < 0.3:
                kw["pos_weight"] = tensor(infos=infos)
            if name == "smooth_l1_loss" and rng.random() < 0.5:
                kw["beta"] = maybe_bad(rng.choice([1.0, 0.0, 0.5, -1.0, float("nan"), float("inf")]))
            if name == "huber_loss" and rng.random() < 0.5:
                kw["delta"] = maybe_bad(rng.choice([1.0, 0.0, 2.5, -1.0, float("nan"), float("inf")]))
            if name == "huber_loss" and rng.random() < 0.2:
                kw["weight"] = rng.choice([tensor(x.dtype, x.shape, infos), tensor(infos=infos)])
            if name == "kl_div" and rng.random() < 0.5:
                kw["log_target"] = maybe_bad(rng.choice([True, False]))
        elif name == "dropout":
            args = [x, maybe_bad(rng.choice([0.0, 0.5, 1.0, -0.1, 1.5, float("nan")])), rng.choice([True, False])]
        elif name in ("softmax", "log_softmax"):
            args = [x, maybe_bad(rng.choice([dim(), None]))]
        elif name == "linear":
            w = tensor(rng.choice([x.dtype, tg.float64]), [rng.choice([0, 2, 3]), x.shape[-1] if x.ndim else 1] if rng.random() < 0.7 else None, infos)
            b = rng.choice([None, tensor(w.dtype, [w.shape[0]] if w.ndim else [], infos), tensor(infos=infos)])
            args = [x, w, b]
        elif name == "gelu":
            args, kw = [x], {"approximate": rng.choice(["none", "tanh", "x"])}
        else:
            args = [x] + ([maybe_bad(scalar())] if name == "leaky_relu" else [])
        if name in ("cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
                    "kl_div") and rng.random() < 0.3:
            kw["reduction"] = rng.choice(["mean", "sum", "none", "batchmean", "avg", None, 1])
        if name in ("relu", "leaky_relu", "silu", "dropout") and rng.random() < 0.3:
            kw["inplace"] = True  # writes x (recorded by autograd when x has a graph)
        return (f"F.{name}(..., {kw!r:.80})", lambda: getattr(F, name)(*args, **kw),
                "mut" if kw.get("inplace") else "pure")

    @entry(2, kind="graph")
    def convolution(infos):
        dims = rng.choice([1, 2])
        transposed = rng.random() < 0.3
        n, c, o = rng.choice([0, 1, 2]), rng.choice([0, 1, 2, 4]), rng.choice([1, 2, 4])
        spatial = [rng.choice([0, 1, 3, 5]) for _ in range(dims)]
        k = [rng.choice([1, 2, 3, 7]) for _ in range(dims)]
        dt = rng.choice([tg.float32, tg.float64, tg.float32, tg.int64, tg.bool])
        x = tensor(dt, ([n, c] if rng.random() < 0.8 else [c]) + spatial if rng.random() < 0.8 else None, infos)
        groups = maybe_bad(rng.choice([1, 1, 2, 4, 0, -1]), 0.1)
        wshape = ([c, o] if transposed else [o, max(c // 2, 1) if groups == 2 else c]) + k
        w = tensor(rng.choice([dt, dt, tg.float64]), wshape if rng.random() < 0.8 else None, infos)
        b = rng.choice([None, None, tensor(w.dtype, [o], infos), tensor(infos=infos)])
        ints = lambda *vals: maybe_bad(rng.choice(list(vals) + [tuple(rng.choice(vals) for _ in range(dims))]), 0.1)
        kw = {"stride": ints(1, 2, 3, 0, -1), "padding": ints(0, 1, 2, -1), "dilation": ints(1, 2, 0),
              "groups": groups}
        if transposed:
            kw["output_padding"] = ints(0, 1, 2)
            name = f"conv_transpose{dims}d"
        else:
            if rng.random() < 0.2:
                kw["padding"] = rng.choice(["same", "valid", "full"])
            name = f"conv{dims}d"
        backward = rng.random() < 0.3

        def run():
            out = getattr(F, name)(x, w, b, **kw)
            if backward and out.requires_grad:
                out.sum().backward()
            return out
        return f"F.{name}({list(x.shape)}, {list(w.shape)}, {kw!r:.80})", run
    @entry(3)
    def pooling(infos):
        name = rng.choice(["max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d",
                           "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d"])
        one_d = name.endswith("1d")
        shape = None
        if rng.random() < 0.7:
            shape = [rng.choice([0, 1, 2, 3])] * (rng.random() < 0.7) + [rng.choice([0, 1, 2]), *[rng.choice([0, 1, 3, 5]) for _ in range(1 if one_d else 2)]]
        x = tensor(rng.choice([tg.float32, tg.float64, tg.float32, tg.int64]), shape, infos)

        def ints(vals):
            v = rng.choice(vals)
            r = rng.random()
            if r < 0.6:
                return maybe_bad(v, 0.15)
            if r < 0.9:
                return tuple(maybe_bad(rng.choice(vals), 0.1) for _ in range(1 if one_d else 2))
            return tuple(rng.choice(vals) for _ in range(rng.randrange(0, 4)))

        kw = {}
        if name.startswith("adaptive"):
            size = ints([0, 1, 2, 3, 7, -1, 2 ** 40])
            if not one_d and rng.random() < 0.2:
                size = rng.choice([(None, 2), (2, None), (None, None)])
            args = [x, size]
            if "max" in name and rng.random() < 0.5:
                kw["return_indices"] = rng.choice([True, False])
        else:
            args = [x, ints([1, 2, 3, 0, -1, 2 ** 31, 2 ** 62])]
            if rng.random() < 0.7:
                kw["stride"] = rng.choice([None, ints([1, 2, 0, -2, 2 ** 40])])
            if rng.random() < 0.5:
                kw["padding"] = ints([0, 1, 2, -1, 2 ** 33])
            if name.startswith("max") and rng.random() < 0.4:
                kw["dilation"] = ints([1, 2, 3, 0, -1])
            if rng.random() < 0.3:
                kw["ceil_mode"] = maybe_bad(rng.choice([True, False]), 0.3)
            if name.startswith("max") and rng.random() < 0.3:
                kw["return_indices"] = rng.choice([True, False])
            if name.startswith("avg") and rng.random() < 0.3:
                kw["count_include_pad"] = maybe_bad(rng.choice([True, False]), 0.3)
            if name == "avg_pool2d" and rng.random() < 0.3:
                kw["divisor_override"] = maybe_bad(rng.choice([None, 1, 3, 0, -2, 2 ** 40]))
        if rng.random() < 0.5:
            return f"F.{name}(x {list(x.shape)}, {args[1:]!r:.60}, {kw!r:.100})", lambda: getattr(F, name)(*args, **kw)
        mod = {"max_pool1d": nn.MaxPool1d, "max_pool2d": nn.MaxPool2d, "avg_pool1d": nn.AvgPool1d,
               "avg_pool2d": nn.AvgPool2d, "adaptive_avg_pool1d": nn.AdaptiveAvgPool1d,
               "adaptive_avg_pool2d": nn.AdaptiveAvgPool2d, "adaptive_max_pool1d": nn.AdaptiveMaxPool1d,
               "adaptive_max_pool2d": nn.AdaptiveMaxPool2d}[name]
        return (f"nn.{mod.__name__}({args[1:]!r:.60}, {kw!r:.100})(x {list(x.shape)})",
                lambda: mod(*args[1:], **kw)(x))
    @entry(2)
    def padding(infos):
        x = tensor(infos=infos)
        k = rng.choice([0, 1, 1, 2, 2, 3, 4])
        pad = [rng.choice([0, 1, 1, 2, -1, -2, 4, -5]) for _ in range(2 * k)]
        if pad and rng.random() < 0.1:
            pad[rng.randrange(len(pad))] = rng.choice([2 ** 62, -(2 ** 63), 2 ** 63 - 1, 1.0, True, None])
        pad = maybe_bad(pad, 0.05)
        kw = {"mode": maybe_bad(rng.choice(["constant", "reflect", "replicate", "circular"]), 0.1)}
        if rng.random() < 0.3:
            kw["value"] = maybe_bad(scalar(), 0.2)
        return f"F.pad(x, {pad!r:.60}, **{kw!r:.60})", lambda: F.pad(x, pad, **kw)

    @entry(3)
    def sequence(infos):
        """tril/triu (and in place), cumsum/cumprod, sort/argsort/topk, repeat, roll, flip,
        multinomial."""
        x = tensor(infos=infos)
        op = rng.choice(["tril", "triu", "tril_", "triu_", "cumsum", "cumprod", "cumsum_", "cumprod_", "sort",
                         "argsort", "topk",
                         "repeat", "roll", "flip", "multinomial"])
        if op in ("tril", "triu"):
            diag = maybe_bad(rng.choice([0, 1, -1, 3, 2 ** 62, -(2 ** 63)]), 0.15)
            return f"tg.{op}(x, {diag!r})", lambda: getattr(tg, op)(x, diag)
        if op in ("tril_", "triu_"):
            diag = maybe_bad(rng.choice([0, 1, -1]), 0.15)
            return f"x.{op}({diag!r})", lambda: getattr(x, op)(diag), "mut"
        if op in ("cumsum_", "cumprod_"):
            kw = {"dtype": dtype_arg()} if rng.random() < 0.2 else {}
            d = maybe_bad(dim(), 0.1)
            return f"x.{op}({d!r}, **{kw!r})", lambda: getattr(x, op)(d, **kw), "mut"
        if op in ("cumsum", "cumprod"):
            kw = {"dtype": dtype_arg()} if rng.random() < 0.3 else {}
            d = maybe_bad(dim(), 0.1)
            return f"tg.{op}(x, {d!r}, **{kw!r})", lambda: getattr(tg, op)(x, d, **kw)
        if op in ("sort", "argsort"):
            d, desc = maybe_bad(dim(), 0.1), maybe_bad(rng.choice([True, False]), 0.1)
            kw = {"stable": maybe_bad(rng.choice([True, False]), 0.2)} if rng.random() < 0.3 else {}
            return f"tg.{op}(x, {d!r}, {desc!r}, **{kw!r})", lambda: getattr(tg, op)(x, d, desc, **kw)
        if op == "topk":
            k, d = maybe_bad(count(), 0.1), maybe_bad(dim(), 0.1)
            largest, srt = maybe_bad(rng.choice([True, False]), 0.1), rng.choice([True, False])
            return f"tg.topk(x, {k!r}, {d!r}, {largest!r}, {srt!r})", lambda: tg.topk(x, k, d, largest, srt)
        if op == "repeat":
            sizes = size_args()
            return f"x.repeat(*{sizes!r})", lambda: x.repeat(*sizes)
        if op == "roll":
            n = rng.randrange(0, 3)
            shifts = maybe_bad(rng.choice([rng.choice([1, -2, 0, 2 ** 62, -(2 ** 63)]),
                                           tuple(rng.choice([1, -1, 5]) for _ in range(n))]), 0.1)
            dims_ = rng.choice([None, dim(), tuple(dim() for _ in range(rng.randrange(0, 3)))])
            return f"tg.roll(x, {shifts!r}, {dims_!r})", lambda: tg.roll(x, shifts, dims_)
        if op == "flip":
            d = maybe_bad(tuple(dim() for _ in range(rng.randrange(0, 3))), 0.15)
            return f"tg.flip(x, {d!r})", lambda: tg.flip(x, d)
        p = tensor(rng.choice([tg.float32, tg.float64, tg.float64, tg.int64]),
                   [rng.choice([0, 1, 3])] * rng.choice([1, 2, 2, 3]) if rng.random() < 0.8 else None, infos)
        n, repl = maybe_bad(count(), 0.1), maybe_bad(rng.choice([True, False]), 0.1)
        return f"tg.multinomial(p, {n!r}, {repl!r})", lambda: tg.multinomial(p, n, repl)

    @entry(2)
    def resizing(infos):
        nd = rng.choice([2, 3, 3, 4, 4, 5, 6])
        shape = [rng.choice([0, 1, 2]), rng.choice([0, 1, 2])] + [rng.choice([0, 1, 2, 3]) for _ in range(nd - 2)]
        x = tensor(rng.choice([tg.float32, tg.float64, tg.float32, tg.int64]), shape if rng.random() < 0.8 else None,
                   infos)
        kw = {"mode": maybe_bad(rng.choice(["nearest", "nearest-exact", "linear", "bilinear", "bicubic"]), 0.1)}
        k = max(nd - 2, 1)
        if rng.random() < 0.5:
            kw["size"] = maybe_bad(rng.choice([2, 3, 0, -1] + [tuple(rng.choice([1, 2, 5]) for _ in range(k))]), 0.1)
        if "size" not in kw or rng.random() < 0.1:
            kw["scale_factor"] = maybe_bad(rng.choice([2, 0.5, 1.5, 3.0, 0.0, -1.0, 1e30, float("nan")]
                                                      + [tuple(rng.choice([0.5, 2.0, 1.7]) for _ in range(k))]), 0.1)
            if rng.random() < 0.3:
                kw["recompute_scale_factor"] = rng.choice([True, False, None])
        if rng.random() < 0.4:
            kw["align_corners"] = maybe_bad(rng.choice([True, False, None]), 0.1)
        return f"F.interpolate(x, **{kw!r:.80})", lambda: F.interpolate(x, **kw)

    @entry(2)
    def attention(infos):
        """F.scaled_dot_product_attention over random shapes, dtypes, masks and flags."""
        dt = rng.choice([tg.float32, tg.float64, tg.float32, tg.float64, tg.float32, tg.int64])
        nb = rng.choice([0, 1, 2, 2])
        batch = [rng.choice([0, 1, 2, 3]) for _ in range(nb)]
        L, S, E = rng.choice([0, 1, 2, 5]), rng.choice([0, 1, 3, 4]), rng.choice([0, 1, 2, 3])

        def operand(rows, cols):
            if rng.random() < 0.03:
                return tensor(infos=infos)
            b = [1 if rng.random() < 0.2 else d for d in batch][rng.randrange(0, nb + 1):]
            return tensor(dt if rng.random() < 0.95 else rng.choice(DTYPES), b + [rows, cols], infos)
        q, k = operand(L, E), operand(S, E if rng.random() < 0.95 else E + 1)
        v = operand(S if rng.random() < 0.95 else S + 1, rng.choice([1, 2, 3]))
        kw = {}
        r = rng.random()
        if r < 0.4:
            mshape = ([1 if rng.random() < 0.5 else d for d in batch] + [L, S])[rng.randrange(0, nb + 1):]
            if rng.random() < 0.15:
                mshape = small_shape()
            kw["attn_mask"] = tensor(rng.choice([tg.bool, tg.bool, dt, dt, tg.float64, tg.int64]), mshape, infos)
        elif r < 0.45:
            kw["attn_mask"] = bad()
        if rng.random() < 0.4:
            kw["is_causal"] = maybe_bad(rng.choice([True, False]), 0.1)
        if rng.random() < 0.3:
            kw["dropout_p"] = maybe_bad(rng.choice([0.0, 0.5, 1.0, -0.1, 1.5, float("nan")]), 0.1)
        if rng.random() < 0.3:
            kw["scale"] = maybe_bad(rng.choice([None, 0.5, 0.0, -1.0, float("inf"), float("nan")]), 0.1)
        if rng.random() < 0.2:
            kw["enable_gqa"] = maybe_bad(True, 0.1)
        return (f"F.scaled_dot_product_attention(q, k, v, **{kw!r:.80})",
                lambda: F.scaled_dot_product_attention(q, k, v, **kw))

    @entry(2, kind="mut")
    def modules(infos):
        r = rng.random()
        if r < 0.4:
            a, b = maybe_bad(rng.choice([0, 1, 3]), 0.15), maybe_bad(rng.choice([0, 2, 4]), 0.15)
            x = tensor(rng.choice([tg.float32, tg.float64]), None if rng.random() < 0.5 else [2, a if isinstance(a, int) else 3], infos)
            return f"nn.Linear({a!r}, {b!r})(x)", lambda: nn.Linear(a, b)(x)
        if r < 0.6:
            x = tensor(infos=infos)
            t = tensor(infos=infos)
            return "nn.CrossEntropyLoss()(x, t)", lambda: nn.CrossEntropyLoss()(x, t)
        if r < 0.8:
            lin = nn.Linear(3, 2)
            sd = {"weight": tensor(infos=infos), "bias": tensor(infos=infos)}
            if rng.random() < 0.3:
                sd["extra"] = bad()
            strict = rng.choice([True, False])
            return "Linear.load_state_dict(random)", lambda: lin.load_state_dict(sd, strict=strict)
        p = tg.tensor(np.ones((2, 2)), requires_grad=True)
        opt_name = rng.choice(["SGD", "Adam", "AdamW", "RMSprop", "Adadelta", "Adagrad", "LBFGS"])
        lr = maybe_bad(rng.choice([0.1, 0.0, -1.0, float("nan")]), 0.3)
        kw = {}
        if opt_name == "SGD":
            kw = {"momentum": rng.choice([0, 0.9, -1, 2])}
        elif opt_name.startswith("Adam") and opt_name != "Adadelta":
            # (a dict would raise KeyError, as in PyTorch, which indexes betas[0])
            kw = {"betas": rng.choice([(0.9, 0.999), (1.5, 0.9), (0.9,), "ab", None, (float("nan"), 0.9)])}
        elif opt_name == "Adadelta":
            kw = {"rho": maybe_bad(rng.choice([0.9, 0.0, 1.0, 1.5, -0.1, float("nan")]))}
        elif opt_name == "Adagrad":
            kw = {"lr_decay": maybe_bad(rng.choice([0, 0.1, -1])),
                  "initial_accumulator_value": maybe_bad(rng.choice([0, 0.5, -1, float("nan")]))}
        else:
            kw = {"max_iter": rng.choice([1, 3, 0]), "history_size": rng.choice([1, 5, 0]),
                  "line_search_fn": rng.choice([None, "strong_wolfe", "bad"])}
        grad = rng.choice([tg.ones(2, 2, dtype=tg.float64), tg.ones(2, 2, dtype=tg.float64), tg.ones(2, 2),
                           tg.ones(3, dtype=tg.float64)])

        def run():
            opt = getattr(optim, opt_name)([p], lr=lr, **kw)
            if opt_name == "LBFGS":
                def closure():
                    opt.zero_grad()
                    loss = ((p - 3.0) ** 2).sum()
                    loss.backward()
                    return loss
                opt.step(closure)
                return
            p.grad = grad
            opt.step()
            opt.step()
        return f"optim.{opt_name}(lr={lr!r}, {kw})", run

    @entry(2, kind="mut")
    def normalization(infos):
        """F.batch_norm (which writes its running stats on success), the BatchNorm modules and
        channel dropout."""
        r = rng.random()
        if r < 0.6:
            shape = None
            if rng.random() < 0.8:
                shape = [rng.choice([0, 1, 2, 3]), rng.choice([0, 1, 2, 3])] + \
                    [rng.choice([0, 1, 2, 3]) for _ in range(rng.randrange(0, 3))]
            x = tensor(rng.choice([tg.float32, tg.float64, tg.float32, tg.int64]), shape, infos)
            c = x.shape[1] if x.ndim > 1 else 3

            def channel():
                k = rng.random()
                if k < 0.25:
                    return None
                if k < 0.8:
                    return tensor(rng.choice([x.dtype, x.dtype, tg.float64]), [c], infos)
                if k < 0.9:
                    return tensor(infos=infos)
                return bad()
            rm = channel()
            rv = channel() if rng.random() < 0.9 else rm
            w, b = channel(), channel()
            training = maybe_bad(rng.choice([True, False]), 0.1)
            kw = {}
            if rng.random() < 0.3:
                kw["momentum"] = maybe_bad(rng.choice([0.1, None, 0.0, 1.0, -1.0, float("nan")]))
            if rng.random() < 0.3:
                kw["eps"] = maybe_bad(rng.choice([1e-5, 0.0, -1.0, float("nan"), float("inf")]))
            return (f"F.batch_norm(x, rm, rv, w, b, {training!r}, {kw})",
                    lambda: F.batch_norm(x, rm, rv, w, b, training, **kw))
        if r < 0.8:
            name = rng.choice(["BatchNorm1d", "BatchNorm2d", "BatchNorm3d"])
            nf = maybe_bad(rng.choice([1, 2, 3]), 0.1)
            kw = {k: rng.choice([True, False]) for k in ("affine", "track_running_stats") if rng.random() < 0.5}
            if rng.random() < 0.3:
                kw["momentum"] = rng.choice([None, 0.1, 1.0])
            x = tensor(rng.choice([tg.float32, tg.float64, tg.int64]),
                       [rng.choice([0, 1, 2]), nf if isinstance(nf, int) and 0 < nf < 5 else 2] +
                       [rng.choice([1, 2]) for _ in range(rng.randrange(0, 4))] if rng.random() < 0.8 else None, infos)
            train = rng.choice([True, False])
            return f"nn.{name}({nf!r}, {kw})(x)", lambda: getattr(nn, name)(nf, **kw).train(train)(x), "pure"
        name = rng.choice(["dropout1d", "dropout2d", "dropout3d"])
        x = tensor(rng.choice([tg.float32, tg.float64, tg.float32, tg.int64]), infos=infos)
        p = maybe_bad(rng.choice([0.0, 0.5, 1.0, -0.1, 1.5, float("nan")]))
        training = maybe_bad(rng.choice([True, False]), 0.1)
        return f"F.{name}(x, {p!r}, {training!r})", lambda: getattr(F, name)(x, p, training), "pure"

    @entry(2, kind="mut")
    def embedding_norm(infos):
        """F.embedding (max_norm renormalizes the weight in place on success), nn.Embedding,
        F.one_hot, F.layer_norm / group_norm / rms_norm with their modules, and the
        nn.utils gradient clipping."""
        def asserts(fn):
            """PyTorch itself checks padding_idx (and Embedding's shapes) with `assert`: an
            AssertionError is the expected refusal there, counted as a ValueError."""
            def run():
                try:
                    return fn()
                except AssertionError as e:
                    raise ValueError(f"AssertionError: {e}") from None
            return run

        r = rng.random()
        if r < 0.3:
            w = tensor(rng.choice([tg.float32, tg.float64, tg.float32, tg.int64]),
                       [rng.choice([0, 1, 3, 5]), rng.choice([0, 1, 2, 4])] if rng.random() < 0.8 else None, infos)
            idx = tensor(rng.choice([tg.int64, tg.int64, tg.int64, tg.float32, tg.bool]), infos=infos)
            if rng.random() < 0.1:
                idx = bad()
            kw = {}
            if rng.random() < 0.4:
                kw["padding_idx"] = maybe_bad(rng.choice([None, 0, 1, -1, 4, -6, 100]))
            if rng.random() < 0.3:
                kw["scale_grad_by_freq"] = maybe_bad(rng.choice([True, False]), 0.1)
            if rng.random() < 0.2:
                kw["max_norm"] = maybe_bad(rng.choice([1.0, 0.0, -1.0, float("nan")]), 0.1)
                kw["norm_type"] = rng.choice([2.0, 1.0, float("inf"), 0.0, -1.0])
            if rng.random() < 0.05:
                kw["sparse"] = maybe_bad(True, 0.3)
            kind = "mut" if kw.get("max_norm") is not None else "pure"
            return f"F.embedding(idx, w, **{kw})", asserts(lambda: F.embedding(idx, w, **kw)), kind
        if r < 0.4:
            n, d = maybe_bad(rng.choice([1, 3, 5]), 0.1), maybe_bad(rng.choice([0, 2]), 0.1)
            kw = {"padding_idx": maybe_bad(rng.choice([None, 0, -1, 5, -9]), 0.1)} if rng.random() < 0.5 else {}
            idx = tensor(rng.choice([tg.int64, tg.int64, tg.float32]), infos=infos)
            return f"nn.Embedding({n!r}, {d!r}, **{kw})(idx)", asserts(lambda: nn.Embedding(n, d, **kw)(idx)), "pure"
        if r < 0.5:
            x = tensor(rng.choice([tg.int64, tg.int64, tg.int64, tg.float32, tg.bool]), infos=infos)
            c = maybe_bad(rng.choice([-1, -1, 0, 1, 3, 5, -2, 2 ** 40]), 0.15)
            return f"F.one_hot(x, {c!r})", lambda: F.one_hot(x, c), "pure"
        if r < 0.8:
            x = tensor(rng.choice([tg.float32, tg.float64, tg.float32, tg.int64]), infos=infos)
            k = rng.choice([0, 1, 1, 2, 3])
            ns = list(x.shape[x.ndim - k:]) if k <= x.ndim else [2] * k
            if rng.random() < 0.2:
                ns = [rng.choice([0, 1, 2, 3, -1]) for _ in range(k)]
            if rng.random() < 0.1:
                ns = bad()

            def param():
                q = rng.random()
                if q < 0.3:
                    return None
                if q < 0.85 and isinstance(ns, list) and all(isinstance(s, int) and s >= 0 for s in ns):
                    return tensor(rng.choice([x.dtype, x.dtype, tg.float64]), ns, infos)
                return tensor(infos=infos) if q < 0.95 else bad()
            w, b = param(), param()
            eps = maybe_bad(rng.choice([1e-5, 0.0, -1.0, float("nan")]), 0.1)
            f = rng.random()
            if f < 0.6:
                return f"F.layer_norm(x, {ns!r}, w, b, {eps!r})", lambda: F.layer_norm(x, ns, w, b, eps), "pure"
            if f < 0.8:
                return f"F.rms_norm(x, {ns!r}, w, {eps!r})", lambda: F.rms_norm(x, ns, w, eps), "pure"
            g = maybe_bad(rng.choice([1, 2, 3, 0, -1]), 0.1)
            return f"F.group_norm(x, {g!r}, w, b, {eps!r})", lambda: F.group_norm(x, g, w, b, eps), "pure"
        if r < 0.9:
            x = tensor(rng.choice([tg.float32, tg.float64, tg.int64]), infos=infos)
            name = rng.choice(["LayerNorm", "RMSNorm", "GroupNorm"])
            a = maybe_bad(rng.choice([1, 2, 3, [2, 3], (3,)]), 0.1)
            if name == "GroupNorm":
                c = maybe_bad(rng.choice([1, 2, 3]), 0.1)
                return f"nn.GroupNorm({a!r}, {c!r})(x)", lambda: nn.GroupNorm(a, c)(x), "pure"
            return f"nn.{name}({a!r})(x)", lambda: getattr(nn, name)(a)(x), "pure"
        params = []
        for _ in range(rng.randrange(0, 4)):
            p = nn.Parameter(tg.tensor(array(small_shape(), rng.choice([tg.float32, tg.float64]))))
            if rng.random() < 0.8:
                p.grad = tg.tensor(array(list(p.shape), p.dtype))
            params.append(p)
        arg = maybe_bad(rng.choice([params, params, params[0] if params else params, iter(params)]), 0.1)
        if rng.random() < 0.5:
            mx = maybe_bad(rng.choice([1.0, 0.0, -1.0, 1e30]), 0.15)
            nt = maybe_bad(rng.choice([2.0, 1.0, "inf", float("inf"), 0.5, 0, -1.0]), 0.15)
            fin = rng.choice([True, False])
            return (f"clip_grad_norm_(params, {mx!r}, {nt!r}, {fin})",
                    lambda: nn.utils.clip_grad_norm_(arg, mx, nt, error_if_nonfinite=fin))
        v = maybe_bad(rng.choice([1.0, 0.0, -1.0, float("nan")]), 0.15)
        return f"clip_grad_value_(params, {v!r})", lambda: nn.utils.clip_grad_value_(arg, v)

    @entry(2)
    def recurrent(infos):
        """nn.RNN/LSTM/GRU and the cells on random (often wrong) shapes, dtypes and states,
        sometimes with backward."""
        cell = rng.random() < 0.3
        name = rng.choice(["RNNCell", "LSTMCell", "GRUCell"] if cell else ["RNN", "LSTM", "GRU"])
        i_size, h_size = rng.choice([1, 2, 3]), rng.choice([1, 2, 4])
        kw = {}
        if not cell:
            kw = {k: rng.choice([True, False]) for k in ("bidirectional", "batch_first", "bias") if rng.random() < 0.5}
            if rng.random() < 0.4:
                kw["num_layers"] = rng.choice([1, 2, 3])
            if rng.random() < 0.2:
                kw["dropout"] = rng.choice([0.0, 0.5, 1.0])
            if name == "LSTM" and rng.random() < 0.3:
                kw["proj_size"] = rng.choice([1, 2, 3])
        if rng.random() < 0.1:
            kw["bias"] = bad()
        mod_dtype = rng.choice([tg.float32, tg.float64])
        nd = rng.choice([1, 2, 2, 3, 3, 3, 4]) if not cell else rng.choice([0, 1, 2, 2, 3])
        shape = [rng.choice([0, 1, 2, 3]) for _ in range(nd)]
        if nd and rng.random() < 0.8:
            shape[-1] = i_size
        x = tensor(rng.choice([mod_dtype, mod_dtype, mod_dtype, tg.float32, tg.int64]),
                   shape if rng.random() < 0.9 else None, infos)
        D = 2 if kw.get("bidirectional") is True else 1
        L = kw.get("num_layers", 1)
        hx = None
        if rng.random() < 0.5:
            b = shape[1 if nd == 3 and not kw.get("batch_first") else 0] if nd >= 2 else 1
            hshape = ([b, h_size] if nd == 2 else [h_size]) if cell else \
                ([L * D, b, h_size] if nd == 3 else [L * D, h_size])
            if rng.random() < 0.2:
                hshape = [rng.choice([0, 1, 2, 3]) for _ in range(rng.choice([1, 2, 3]))]
            hx = tensor(rng.choice([mod_dtype, mod_dtype, tg.float64]), hshape, infos)
            if name.startswith("LSTM"):
                hx = maybe_bad((hx, tensor(mod_dtype, hshape, infos)), 0.1)
            else:
                hx = maybe_bad(hx, 0.05)
        backward = rng.random() < 0.3

        def run():
            m = getattr(nn, name)(i_size, h_size, **kw).to(mod_dtype)
            out = m(x, hx)
            if backward:
                o = out[0] if isinstance(out, tuple) else out
                o.sum().backward()
        return (f"nn.{name}({i_size}, {h_size}, {kw!r:.60})(x{shape}, hx)", run,
                "graph" if backward else "pure")  # backward frees the inputs' graphs

    @entry(1)
    def quantized_linear(infos):
        """tg.quantization.quantize_dynamic of a Linear, run on random (often wrong) inputs:
        shapes, dtypes, NaN/inf values (the int8 kernel of whichever ISA is in force)."""
        i_size, o_size = rng.choice([0, 1, 3, 5]), rng.choice([1, 2, 17])
        nd = rng.choice([0, 1, 2, 2, 3])
        shape = [rng.choice([0, 1, 2, 3]) for _ in range(nd)]
        if nd and rng.random() < 0.8:
            shape[-1] = i_size
        x = tensor(rng.choice([tg.float32, tg.float32, tg.float32, tg.float64, tg.int64]),
                   shape if rng.random() < 0.9 else None, infos)
        bias = rng.random() < 0.7
        spec = maybe_bad({nn.Linear}, 0.1)

        def run():
            q = tg.quantization.quantize_dynamic(nn.Sequential(nn.Linear(i_size, o_size, bias=bias)), spec)
            q(x)
        return f"quantize_dynamic(Linear({i_size}, {o_size}), {spec!r:.30})(x{shape})", run

    @entry(1, kind="mut")
    def grad_attr(infos):
        x = tensor(infos=infos)
        g = rng.choice([None, tensor(infos=infos), tensor(x.dtype, x.shape, infos), 1.0, "g"])

        def run():
            x.grad = g
        return "x.grad = g", run

    # ---- the loop -------------------------------------------------------------------------
    def same(info):
        t, snap = info.t, info.snap
        if (t.shape, t.stride(), t.dtype, t.requires_grad, t.is_leaf) != info.meta:
            return f"metadata changed from {info.meta} to {(t.shape, t.stride(), t.dtype, t.requires_grad, t.is_leaf)}"
        now = t.detach().numpy()
        if now.shape != snap.shape or not np.array_equal(now, snap, equal_nan=snap.dtype.kind == "f"):
            return "values changed"
        return None

    def usable(info):
        t = info.t
        c = t.detach().clone().numpy()
        if not np.array_equal(c, info.snap, equal_nan=c.dtype.kind == "f"):
            return "clone differs from the tensor"
        if t.dtype != tg.bool:
            s = t.detach().double().sum().item() if t.dtype != tg.int64 else t.detach().sum().item()
            ref = info.snap.astype(np.float64).sum() if t.dtype != tg.int64 else int(info.snap.sum())
            if t.dtype == tg.int64:
                if s != ref:
                    return f"sum {s} != {ref}"
            elif not (np.isnan(ref) and np.isnan(s)) and not np.isclose(s, ref, rtol=1e-9, atol=1e-9) and s != ref:
                return f"sum {s} != {ref}"
        if info.leaf is not None or (t.requires_grad and t.is_leaf):
            leaf = info.leaf if info.leaf is not None else t
            leaf.grad = None
            t.sum().backward()
            want = 2.0 if info.leaf is not None else 1.0
            g = leaf.grad.numpy()
            if g.shape != tuple(leaf.shape) or not np.all(g == want):
                return f"backward after the call gave grad {g!r:.100}"
        return None

    violations = 0
    stats = {}
    for i in range(n_cases):
        infos = []
        maker, kind = rng.choice(entries)
        try:
            made = maker(infos)
        except ALLOWED:  # the setup itself hit a (legitimate) error: e.g. randint(-1, 0, ...)
            continue
        desc, thunk = made[0], made[1]
        kind = made[2] if len(made) > 2 else kind
        grad_off = rng.random() < 0.2
        if i < first:
            continue
        say(f"case {i}: {maker.__name__}: {desc}"[:300].replace("\n", " ") + (" [no_grad]" if grad_off else ""))
        raised = None
        try:
            if grad_off:
                with tg.no_grad():
                    thunk()
            else:
                thunk()
        except ALLOWED as e:
            raised = e
        except OverflowError as e:
            if not desc.startswith("__int__"):  # int(tensor(inf)) is Python's own rule, as in PyTorch
                violations += 1
                say(f"VIOLATION case {i}: {maker.__name__}: {desc:.200}: raised OverflowError: {e}")
            raised = e
        except Exception as e:  # noqa: BLE001
            violations += 1
            say(f"VIOLATION case {i}: {maker.__name__}: {desc:.200}: raised {type(e).__name__}: {str(e)[:200]}")
            raised = e
        if raised is not None and str(raised) == "" and not isinstance(raised, (MemoryError, NotImplementedError)):
            violations += 1
            say(f"VIOLATION case {i}: {maker.__name__}: {desc:.200}: {type(raised).__name__} without a message")
        stats.setdefault(maker.__name__, Counter())[type(raised).__name__ if raised else "ok"] += 1
        check_values = raised is not None or kind == "pure"
        for info in infos:
            problem = same(info) if check_values else None
            try:
                if problem is None and (raised is not None or kind == "pure"):
                    problem = usable(info)
            except Exception as e:  # noqa: BLE001
                problem = f"unusable afterwards: {type(e).__name__}: {e}"
            if problem:
                violations += 1
                say(f"VIOLATION case {i}: {maker.__name__}: {desc:.200}: "
                    f"{'after raising ' + type(raised).__name__ if raised else 'after succeeding'}: "
                    f"input {info.meta[2]} {list(info.meta[0])}: {problem}")
                break
        if violations > 200:
            break
    for name, c in sorted(stats.items()):  # what the run exercised, for whoever reads it
        sys.stderr.write(f"{name}: {dict(c)}\n")
    say("DONE")


if __name__ == "__main__":
    _child_main(sys.argv[1:])
