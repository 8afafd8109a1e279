"""Data-parallel training on MPI, with torch.distributed's names.

MPI (mpi4py over MPICH or Open MPI) is the engine: launch with `mpiexec -n N python
train.py`, then `init_process_group(backend="mpi")`. Collectives work in place on tensors
and hand MPI the tensor's own memory (no copy); a non-contiguous tensor goes through a
contiguous copy that is written back. The plain blocking `all_reduce` (default group, a
contiguous tensor, an op MPI reduces natively on its dtype) skips mpi4py's per-call work and
calls MPI_Allreduce from C++, through the libmpi and the handles mpi4py loaded
(`_allreduce_setup`); everything else goes through mpi4py.

`all_reduce(t, async_op=True)` starts a non-blocking MPI_Iallreduce and returns a `Work`;
`Work.wait()` finishes it (and, for AVG, divides; for a non-contiguous tensor, copies
back). MPI progresses a non-blocking collective inside MPI calls: `Work.is_completed()`
tests it (and so drives progress), and MPICH's `MPIR_CVAR_ASYNC_PROGRESS=1` adds a
progress thread.

On init each rank's default thread count becomes cores / ranks on this node (unless
TG_NUM_THREADS / OMP_NUM_THREADS is set or `set_num_threads` was called), and an
exception hook prints a failing rank's traceback and aborts the whole job
(MPI_Abort), so a rank that raises never leaves the others waiting in a collective.
"""
import enum
import importlib.util
import os
import sys
import time
import traceback
import warnings

import numpy as np

import tinygrad_cpp as tg
from tinygrad_cpp import _C

__all__ = ["init_process_group", "destroy_process_group", "is_initialized", "is_available",
           "is_mpi_available", "is_gloo_available", "is_nccl_available", "get_rank", "get_world_size",
           "get_backend", "barrier", "ReduceOp", "Work", "Backend", "GroupMember", "group", "all_reduce",
           "broadcast", "all_gather", "all_gather_into_tensor", "reduce", "reduce_scatter",
           "reduce_scatter_tensor"]


def is_available():
    """Whether the distributed package can be used (mpi4py is installed)."""
    return is_mpi_available()


def is_mpi_available():
    return importlib.util.find_spec("mpi4py") is not None


def is_gloo_available():
    return False


def is_nccl_available():
    return False


class Backend(str):
    """Backend names, as torch.distributed.Backend (only MPI is built in)."""
    UNDEFINED = "undefined"
    MPI = "mpi"

    def __new__(cls, name):
        if not isinstance(name, str):
            raise ValueError("Backend constructor parameter must be string-ish")
        value = getattr(Backend, name.upper(), Backend.UNDEFINED)
        return str.__new__(cls, name.lower() if value == Backend.UNDEFINED else value)


class ReduceOp:
    """Reduction operations: `ReduceOp.SUM AVG PRODUCT MIN MAX BAND BOR BXOR`."""

    class RedOpType(enum.IntEnum):
        SUM = 0
        AVG = 1
        PRODUCT = 2
        MIN = 3
        MAX = 4
        BAND = 5
        BOR = 6
        BXOR = 7
        PREMUL_SUM = 8
        UNUSED = 9

    SUM = RedOpType.SUM
    AVG = RedOpType.AVG
    PRODUCT = RedOpType.PRODUCT
    MIN = RedOpType.MIN
    MAX = RedOpType.MAX
    BAND = RedOpType.BAND
    BOR = RedOpType.BOR
    BXOR = RedOpType.BXOR
    PREMUL_SUM = RedOpType.PREMUL_SUM
    UNUSED = RedOpType.UNUSED


class ProcessGroup:
    """A group of ranks: here always the whole world (an MPI communicator)."""

    def __init__(self, comm):
        self._comm = comm

    def rank(self):
        return self._comm.Get_rank()

    def size(self):
        return self._comm.Get_size()

    def name(self):
        return "MPI"

    def __repr__(self):
        return f"<ProcessGroup MPI rank={self.rank()} size={self.size()}>"


class GroupMember:
    WORLD = None
    NON_GROUP_MEMBER = -100


class group:  # noqa: N801 (torch's name)
    WORLD = None


class _State:
    MPI = None
    comm = None          # our duplicate of COMM_WORLD
    size = 1
    rank = 0
    local_size = 1
    old_excepthook = None
    ops = None           # ReduceOp -> MPI op, for numbers
    bool_ops = None      # ReduceOp -> MPI op, for bool (logical)
    fast_ops = {}        # (ReduceOp, buffer format) -> MPI op: the reductions MPI does alone
    fast_allreduce = False  # whether all_reduce's C++ fast path is armed (_allreduce_setup)


_S = _State()
_mpi_allreduce_inplace = _C._mpi_allreduce_inplace

_NOT_INIT = ("Default process group has not been initialized, please make sure to call "
             "init_process_group.")


def is_initialized():
    """Whether the default process group has been initialized."""
    return _S.comm is not None


def _comm(group=None):
    if _S.comm is None:
        raise ValueError(_NOT_INIT)
    if group is not None and group is not GroupMember.WORLD:
        if not isinstance(group, ProcessGroup):
            raise TypeError(f"group must be a ProcessGroup or None, but got {type(group).__name__}")
    return _S.comm


def _excepthook(exc_type, exc, tb):
    # The failing rank's traceback, then the end of the whole job: the other ranks may be
    # waiting in a collective for this one and would wait forever.
    try:
        sys.stderr.write(f"[rank {_S.rank}] uncaught exception, aborting the MPI job:\n"
                         + "".join(traceback.format_exception(exc_type, exc, tb)))
        sys.stderr.flush()
        # The launcher forwards our stderr from a pipe; MPI_Abort kills the job's processes
        # and can beat it to the last lines (seen in CI: rc 1, stderr empty). A moment for
        # the traceback to get out first.
        time.sleep(0.2)
    finally:
        _S.MPI.COMM_WORLD.Abort(1)


def _default_threads(MPI):
    local = MPI.COMM_WORLD.Split_type(MPI.COMM_TYPE_SHARED)
    try:
        _S.local_size = local.Get_size()
    finally:
        local.Free()
    user_set = (_C._num_threads_set() or os.environ.get("TG_NUM_THREADS", "").strip()
                or os.environ.get("OMP_NUM_THREADS", "").strip())
    if not user_set:
        tg.set_num_threads(max(1, _C._available_cpus() // _S.local_size))


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1, store=None,
                       group_name="", pg_options=None, device_id=None):
    """Joins the MPI job as its default process group.

    Only the "mpi" backend exists (None means it). As in PyTorch's MPI backend, rank and
    world size come from the MPI runtime: `world_size`/`rank` are ignored (with a
    warning), as are `init_method`, `timeout` and `store`.
    """
    if _S.comm is not None:
        raise ValueError("trying to initialize the default process group twice!")
    if init_method is not None and store is not None:
        raise AssertionError("Cannot specify both init_method and store.")
    name = Backend("mpi" if backend is None else backend)
    if name != Backend.MPI:
        raise AssertionError(f"Unknown backend type {name}")
    if world_size != -1 or rank != -1:
        warnings.warn(f"For MPI backend, world_size ({world_size}) and rank ({rank}) are ignored "
                      "since they are assigned by the MPI runtime.", UserWarning, stacklevel=2)
    if not is_mpi_available():
        raise RuntimeError("Distributed package doesn't have MPI: install mpi4py and an MPI "
                           "(pip install \"tinygrad_cpp[distributed]\")")
    from mpi4py import MPI  # initializes MPI (mpi4py finalizes it at exit)
    _S.MPI = MPI
    _S.ops = {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD, ReduceOp.MIN: MPI.MIN,
              ReduceOp.MAX: MPI.MAX, ReduceOp.BAND: MPI.BAND, ReduceOp.BOR: MPI.BOR, ReduceOp.BXOR: MPI.BXOR}
    # bool as NCCL/Gloo reduce it: SUM and MAX are a logical or, PRODUCT and MIN an and
    _S.bool_ops = {ReduceOp.SUM: MPI.LOR, ReduceOp.PRODUCT: MPI.LAND, ReduceOp.MIN: MPI.LAND,
                   ReduceOp.MAX: MPI.LOR, ReduceOp.BAND: MPI.LAND, ReduceOp.BOR: MPI.LOR, ReduceOp.BXOR: MPI.LXOR}
    # (op, buffer format) -> MPI op, for the reductions MPI does alone on that dtype
    _S.fast_ops = {(op, fmt): mop for op, mop in _S.ops.items() if op != ReduceOp.AVG for fmt in "fdqBbhi"
                   if fmt in "qBbhi" or op not in (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR)}
    _S.fast_ops.update({(op, "?"): mop for op, mop in _S.bool_ops.items()})
    comm = MPI.COMM_WORLD.Dup()
    _S.rank, _S.size = comm.Get_rank(), comm.Get_size()
    _default_threads(MPI)
    _S.comm = comm
    _S.fast_allreduce = _allreduce_setup(MPI, comm)
    pg = ProcessGroup(comm)
    GroupMember.WORLD = group.WORLD = pg
    _S.old_excepthook = sys.excepthook
    sys.excepthook = _excepthook


def _allreduce_setup(MPI, comm):
    """Arms all_reduce's C++ fast path (`_C._mpi_allreduce_inplace`): MPI_Allreduce called
    directly on the tensor's memory, without mpi4py's per-call buffer parsing (most of the
    cost of a small all-reduce). The function comes from the libmpi mpi4py loaded, and every
    handle is mpi4py's: this communicator, and for each (ReduceOp, dtype) the MPI op of
    `_S.fast_ops` and the datatype mpi4py itself picks for the memoryview format the mpi4py
    path hands it, so both paths make the same MPI call. Returns whether it is armed
    (False, and all_reduce keeps to mpi4py, where mpi4py's internals are not as expected or
    the handles are neither ints nor pointers)."""
    mask = (1 << 64) - 1  # handles and MPI_IN_PLACE as their 64 bits (C++ narrows int handles)
    try:
        sizes = {MPI._sizeof(MPI.Comm), MPI._sizeof(MPI.Op), MPI._sizeof(MPI.Datatype)}
        if len(sizes) != 1:
            return False
        formats = {}
        for dt in (tg.bool, tg.int64, tg.float32, tg.float64, tg.uint8, tg.int8, tg.int16, tg.int32):
            formats[_C._mpi_buffer(tg.empty(0, dtype=dt)).format] = dt
        table = [(int(op), formats[fmt], MPI._handleof(MPI._typedict[fmt]) & mask, MPI._handleof(mop) & mask)
                 for (op, fmt), mop in _S.fast_ops.items()]
        return _C._mpi_allreduce_setup(MPI.__file__, sizes.pop(), int(MPI.IN_PLACE) & mask,
                                       MPI._handleof(comm) & mask, table)
    except (AttributeError, KeyError, TypeError):
        return False


def destroy_process_group(group=None):
    """Leaves the default process group (MPI itself stays initialized until exit)."""
    comm = _comm(group)
    _C._mpi_allreduce_setup(None, 0, 0, 0, [])  # disarms the fast path before the handle dies
    _S.fast_allreduce = False
    _S.comm = None
    GroupMember.WORLD = globals()["group"].WORLD = None
    if sys.excepthook is _excepthook:
        sys.excepthook = _S.old_excepthook
    comm.Free()


def get_rank(group=None):
    return _comm(group).Get_rank()


def get_world_size(group=None):
    return _comm(group).Get_size()


def get_backend(group=None):
    _comm(group)
    return Backend.MPI


def barrier(group=None, async_op=False, device_ids=None):
    comm = _comm(group)
    if async_op:
        return Work(comm.Ibarrier())
    comm.Barrier()
    return None


class Work:
    """A collective in flight (torch.distributed's Work). `wait()` finishes it."""

    __slots__ = ("_req", "_finish", "_done")

    def __init__(self, req, finish=None):
        self._req, self._finish, self._done = req, finish, False

    def _complete(self):
        self._done = True
        finish, self._finish = self._finish, None
        if finish is not None:
            finish()

    def wait(self, timeout=None):
        if not self._done:
            if self._req is not None:
                self._req.Wait()
            self._complete()
        return True

    def is_completed(self):
        if not self._done and (self._req is None or self._req.Test()):
            self._complete()
        return self._done

    def is_success(self):
        return self.is_completed()

    def exception(self):
        return None

    def result(self):
        self.wait()
        return []


# ----------------------------------------------------------------------------- helpers

def _check_tensor(t, name="tensor"):
    if not isinstance(t, tg.Tensor):
        raise TypeError(f"Invalid function argument. Expected parameter `{name}` of type "
                        f"tinygrad_cpp.Tensor but got {type(t)} instead.")


def _check_tensor_list(ts, name):
    if not isinstance(ts, (list, tuple)) or not all(isinstance(t, tg.Tensor) for t in ts):
        raise TypeError(f"Invalid function argument. Expected parameter `{name}` of type "
                        f"List[tinygrad_cpp.Tensor] but got {type(ts)} instead.")


def _check_rank(r, what):
    if isinstance(r, bool) or not isinstance(r, int):
        raise TypeError(f"{what} must be an int, but got {type(r).__name__}")
    if not 0 <= r < _S.size:
        raise ValueError(f"Invalid {what} rank {r}: the world size is {_S.size}")


def _mpi_op(op, t):
    is_bool = t.dtype == tg.bool
    try:
        mop = (_S.bool_ops if is_bool else _S.ops)[op]
    except (KeyError, TypeError):
        if op == ReduceOp.AVG and is_bool:
            raise RuntimeError("Cannot use ReduceOp.AVG with boolean inputs") from None
        raise ValueError(f"Unsupported ReduceOp {op!r} for the MPI backend") from None
    if op in (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR) and t.dtype.is_floating_point:
        raise RuntimeError(f"Cannot use ReduceOp.{ReduceOp.RedOpType(op).name} with floating point inputs")
    return mop


def _buffer(t, own=False):
    """(MPI buffer, write-back) for tensor t: its own memory when contiguous, else a
    contiguous copy and the function that copies it back into t. With `own` the buffer
    holds the tensor's storage alive (a numpy view), for a non-blocking call whose Request
    may outlive every other reference."""
    if t.dtype in (tg.float16, tg.bfloat16):
        # MPI has no half-precision reductions: the values go as float32 and come back rounded
        tmp = t.detach().float().contiguous().numpy().reshape(-1)

        def back_half():
            with tg.no_grad():
                t.copy_(tg.from_numpy(tmp).reshape(t.shape))
        return tmp, back_half
    if own:
        view = t.detach().numpy()
        if view.flags.c_contiguous:
            return view.reshape(-1), None
    else:
        buf = _C._mpi_buffer(t)
        if buf is not None:
            return buf, None
        view = t.detach().numpy()
    tmp = np.ascontiguousarray(view).reshape(-1)

    def back():
        view[...] = tmp.reshape(view.shape)
    return tmp, back


def _avg_finish(buf, n):
    a = np.asarray(buf)
    if a.dtype.kind == "f":
        np.divide(a, n, out=a)
    else:  # integers: truncating division, as NCCL's avg
        np.copyto(a, (np.abs(a) // n) * np.sign(a))


def _run(req, finishers, async_op):
    def finish():
        for f in finishers:
            f()
    if async_op:
        return Work(req, finish)
    if req is not None:
        req.Wait()
    finish()
    return None


# ----------------------------------------------------------------------------- collectives

def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduces `tensor` across all ranks in place; every rank gets the result.

    With `async_op=True` the reduction is started (MPI_Iallreduce) and a `Work` is
    returned; the tensor must not be touched until `Work.wait()` returns.
    """
    # the fast path (the default group, blocking, a contiguous tensor, an op MPI does itself
    # on that dtype): one MPI_Allreduce from C++; False where it is not that case (or not
    # initialized), and the general path below handles it and raises the errors
    if group is None and not async_op and _mpi_allreduce_inplace(tensor, op):
        return None
    comm = _comm(group)
    _check_tensor(tensor)
    mop = _mpi_op(op, tensor)
    buf, back = _buffer(tensor, own=async_op)
    finishers = []
    if op == ReduceOp.AVG:
        finishers.append(lambda: _avg_finish(buf, _S.size))
    if back is not None:
        finishers.append(back)
    if async_op:
        req = comm.Iallreduce(_S.MPI.IN_PLACE, buf, mop)
        finishers.append(lambda: tensor)  # keeps the tensor (and its memory) alive until done
        return _run(req, finishers, True)
    comm.Allreduce(_S.MPI.IN_PLACE, buf, mop)
    return _run(None, finishers, False)


def broadcast(tensor, src=None, group=None, async_op=False, group_src=None):
    """Copies rank `src`'s tensor into `tensor` on every other rank."""
    comm = _comm(group)
    _check_tensor(tensor)
    if src is None:
        src = group_src if group_src is not None else 0
    _check_rank(src, "src")
    buf, back = _buffer(tensor, own=async_op)
    if async_op:
        return _run(comm.Ibcast(buf, root=src), [back or (lambda: tensor)], True)
    comm.Bcast(buf, root=src)
    return _run(None, [back] if back else [], False)


def reduce(tensor, dst=None, op=ReduceOp.SUM, group=None, async_op=False, group_dst=None):
    """Reduces `tensor` across ranks into rank `dst`'s tensor (the others keep theirs)."""
    comm = _comm(group)
    _check_tensor(tensor)
    if dst is None:
        dst = group_dst if group_dst is not None else 0
    _check_rank(dst, "dst")
    mop = _mpi_op(op, tensor)
    buf, back = _buffer(tensor, own=async_op)
    root = _S.rank == dst
    finishers = []
    if root:
        if op == ReduceOp.AVG:
            finishers.append(lambda: _avg_finish(buf, _S.size))
        if back is not None:
            finishers.append(back)
    send, recv = (_S.MPI.IN_PLACE, buf) if root else (buf, None)
    if async_op:
        finishers.append(lambda: tensor)
        return _run(comm.Ireduce(send, recv, mop, root=dst), finishers, True)
    comm.Reduce(send, recv, mop, root=dst)
    return _run(None, finishers, False)


def _same_shape(a, b, what):
    if a.dtype != b.dtype:
        raise RuntimeError(f"{what}: expected dtype {b.dtype}, but got {a.dtype}")
    if a.numel() != b.numel():
        raise RuntimeError(f"{what}: expected {b.numel()} elements (shape {list(b.shape)}), "
                           f"but got shape {list(a.shape)}")


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """Fills `tensor_list[i]` with rank i's `tensor`, on every rank."""
    comm = _comm(group)
    _check_tensor_list(tensor_list, "tensor_list")
    _check_tensor(tensor)
    if len(tensor_list) != _S.size:
        raise ValueError(f"tensor_list must hold world_size ({_S.size}) tensors, got {len(tensor_list)}")
    for out in tensor_list:
        _same_shape(out, tensor, "all_gather")
    send, _ = _buffer(tensor, own=async_op)
    recv = np.empty((_S.size, tensor.numel()), dtype=np.asarray(send).dtype)

    def scatter_back():
        with tg.no_grad():  # copy_ casts back where the buffer went as float32 (half types)
            for i, out in enumerate(tensor_list):
                out.copy_(tg.from_numpy(recv[i]).reshape(out.shape))
    if async_op:
        return _run(comm.Iallgather(send, recv), [scatter_back], True)
    comm.Allgather(send, recv)
    return _run(None, [scatter_back], False)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """Rank i's `input_tensor` becomes the i-th chunk of `output_tensor` (along dim 0)."""
    comm = _comm(group)
    _check_tensor(output_tensor, "output_tensor")
    _check_tensor(input_tensor, "input_tensor")
    if output_tensor.dtype != input_tensor.dtype or output_tensor.numel() != input_tensor.numel() * _S.size:
        raise ValueError("output tensor size must be equal to world_size times input tensor size "
                         f"(and of the same dtype): got {list(output_tensor.shape)} {output_tensor.dtype} and "
                         f"{list(input_tensor.shape)} {input_tensor.dtype}")
    send, _ = _buffer(input_tensor, own=async_op)
    recv, back = _buffer(output_tensor, own=async_op)
    finishers = [back] if back else []
    if async_op:
        finishers.append(lambda: (input_tensor, output_tensor))
        return _run(comm.Iallgather(send, recv), finishers, True)
    comm.Allgather(send, recv)
    return _run(None, finishers, False)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduces `input` across ranks and gives rank i the i-th chunk (along dim 0) in `output`."""
    comm = _comm(group)
    _check_tensor(output, "output")
    _check_tensor(input, "input")
    if output.dtype != input.dtype or input.numel() != output.numel() * _S.size:
        raise ValueError("input tensor must be the same size as output size times world size "
                         f"(and of the same dtype): got {list(input.shape)} {input.dtype} and "
                         f"{list(output.shape)} {output.dtype}")
    mop = _mpi_op(op, output)
    send, _ = _buffer(input, own=async_op)
    recv, back = _buffer(output, own=async_op)
    finishers = []
    if op == ReduceOp.AVG:
        finishers.append(lambda: _avg_finish(recv, _S.size))
    if back:
        finishers.append(back)
    if async_op:
        finishers.append(lambda: (input, output))
        return _run(comm.Ireduce_scatter_block(send, recv, mop), finishers, True)
    comm.Reduce_scatter_block(send, recv, mop)
    return _run(None, finishers, False)


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduces `input_list[i]` across ranks into rank i's `output`."""
    _comm(group)
    _check_tensor(output, "output")
    _check_tensor_list(input_list, "input_list")
    if len(input_list) != _S.size:
        raise ValueError(f"input_list must hold world_size ({_S.size}) tensors, got {len(input_list)}")
    for t in input_list:
        _same_shape(t, output, "reduce_scatter")
    flat = tg.from_numpy(np.concatenate([np.ascontiguousarray(t.detach().numpy()).reshape(-1)
                                         for t in input_list]))
    return reduce_scatter_tensor(output, flat, op, group, async_op)
