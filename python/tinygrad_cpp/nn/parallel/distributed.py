"""DistributedDataParallel over MPI, at torch.nn.parallel.distributed's path.

How a step runs (PyTorch's Reducer, in Python over non-blocking MPI all-reduces):

- construction: every rank checks it holds the same parameter shapes, then rank 0's
  parameters and buffers are broadcast. The parameters that require grad are grouped into
  buckets of about `bucket_cap_mb` MiB (one dtype per bucket) in REVERSE registration
  order, the order backward produces their gradients; each gets a flat buffer.
- forward (grad enabled, outside `no_sync()`): rank 0's buffers are broadcast first
  (BatchNorm running statistics) when the previous forward was a synchronizing one, then
  the reducer is armed for the next backward.
- backward: a post-accumulate-grad hook per parameter marks it ready. When a bucket's
  last gradient is in, its gradients are copied (times 1/world_size, as PyTorch does)
  into its flat buffer and a non-blocking MPI all-reduce (SUM) of it starts, while
  backward goes on computing the earlier layers. Buckets start strictly in bucket order,
  so every rank issues its collectives in the same order (MPI matches collectives by
  order). MPICH progresses a non-blocking collective only inside MPI calls, so every
  later hook tests the outstanding all-reduces (MPI_Test drives progress).
- end of backward: the first hook of a backward queues a final callback with the
  autograd engine (`Variable._execution_engine.queue_callback`, as PyTorch's reducer
  does), which runs once backward has accumulated every gradient and before
  `backward()` returns. Finishing there, not in the hook that completes the last bucket,
  is what makes `find_unused_parameters=True` work: only once backward is over do we know
  which parameters got no gradient; their slots count as zero (or their existing .grad),
  the remaining buckets are reduced, and a small all-reduce of the "used" flags tells
  which parameters no rank used (their .grad stays None). The callback waits for every
  bucket and copies the averaged values into each `p.grad` (in place), so the optimizer
  step right after `backward()` sees the averaged gradients.
- with `find_unused_parameters=False` and a parameter that got no gradient, its bucket
  never completes: the callback waits for the buckets already started, leaves the
  gradients local, and the next forward raises PyTorch's "Expected to have finished
  reduction in the prior iteration..." RuntimeError.
"""
import contextlib
import warnings
import weakref

import numpy as np

import tinygrad_cpp as tg
from ... import distributed as dist
from ...autograd import Variable
from ..modules.module import Module

__all__ = ["DistributedDataParallel"]

_DEFAULT_BUCKET_CAP_MB = 25
_MB_TO_BYTES = 1024 * 1024


class _Bucket:
    __slots__ = ("index", "params", "slots", "flat", "tensor", "pending", "work", "nbytes")

    def __init__(self, index, params):
        self.index = index
        self.params = params  # indices into the reducer's parameter list
        self.slots = []       # per parameter: its part of `flat`, shaped like the parameter
        self.flat = None
        self.tensor = None
        self.pending = 0
        self.work = None
        self.nbytes = 0


class _State:
    """The reducer's per-iteration state (a plain object: Module.__setattr__ is slow)."""
    __slots__ = ("armed", "callback_queued", "arrived", "next_bucket", "unfinished")

    def __init__(self):
        self.armed = False           # a synchronizing forward ran: the next backward reduces
        self.callback_queued = False
        self.arrived = []            # per parameter: its gradient came in this backward
        self.next_bucket = 0         # buckets before it have started their all-reduce
        self.unfinished = None       # _NoGradients of the last backward, raised at next forward


class _NoGradients:
    """Which parameters a backward did not reach (for the error message)."""

    def __init__(self, indices, names):
        self.indices, self.names = indices, names


class DistributedDataParallel(Module):
    """Data parallelism across the ranks of an MPI job: each rank runs `module` on its own
    part of the batch; backward averages the gradients across ranks, bucket by bucket,
    overlapping communication with the rest of backward. N ranks with batch B train as one
    process with batch N*B.

    `device_ids`/`output_device` must be None (CPU modules), as PyTorch requires for CPU;
    `dim`, `static_graph`, `batched_grad_copy` and `check_reduction` are accepted and change
    nothing here; `mixed_precision`, `device_mesh`, `delay_all_reduce_named_params`,
    `bucket_cap_mb_list` and `skip_all_reduce_unused_params` raise NotImplementedError.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=None,
                 init_sync=True, process_group=None, bucket_cap_mb=None, find_unused_parameters=False,
                 check_reduction=False, gradient_as_bucket_view=False, static_graph=False,
                 delay_all_reduce_named_params=None, param_to_hook_all_reduce=None, mixed_precision=None,
                 device_mesh=None, skip_all_reduce_unused_params=False, bucket_cap_mb_list=None,
                 batched_grad_copy=False, forward_sync_buffers=None):
        super().__init__()
        if bool(delay_all_reduce_named_params is not None) != bool(param_to_hook_all_reduce is not None):
            raise ValueError("delay_all_reduce_named_params and param_to_hook_all_reduce "
                             "need to be set at the same time.")
        if process_group and device_mesh is not None:
            raise RuntimeError("Cannot specify both process_group and device_mesh arguments.")
        for name, val in (("delay_all_reduce_named_params", delay_all_reduce_named_params),
                          ("mixed_precision", mixed_precision), ("device_mesh", device_mesh),
                          ("bucket_cap_mb_list", bucket_cap_mb_list or None),
                          ("skip_all_reduce_unused_params", skip_all_reduce_unused_params or None)):
            if val is not None:
                raise NotImplementedError(f"DistributedDataParallel: {name} is not supported")
        dist._comm(process_group)  # PyTorch's ValueError when there is no default group
        self.process_group = process_group if process_group is not None else dist.GroupMember.WORLD
        if not isinstance(module, Module):
            # (PyTorch fails later with an AttributeError; a wrong type is a TypeError here)
            raise TypeError(f"DistributedDataParallel: module must be a tinygrad_cpp.nn.Module, "
                            f"but got {type(module).__name__}")
        if bucket_cap_mb is not None and not isinstance(bucket_cap_mb, (int, float)):
            raise TypeError(f"DistributedDataParallel: bucket_cap_mb must be a number, got {bucket_cap_mb!r}")
        for name, val in (("find_unused_parameters", find_unused_parameters),
                          ("gradient_as_bucket_view", gradient_as_bucket_view), ("static_graph", static_graph),
                          ("broadcast_buffers", broadcast_buffers), ("forward_sync_buffers", forward_sync_buffers)):
            # PyTorch hands these to C++ as bools: numbers (and None) convert, nothing else does
            if val is not None and not isinstance(val, (int, float, np.bool_)):
                raise TypeError(f"DistributedDataParallel: {name} must be a bool, got {type(val).__name__}")
        if hasattr(module, "_ddp_params_and_buffers_to_ignore"):
            self.parameters_to_ignore = set(module._ddp_params_and_buffers_to_ignore)
        else:
            self.parameters_to_ignore = set()
        named = [(n, p) for n, p in module.named_parameters() if n not in self.parameters_to_ignore]
        if not any(p.requires_grad for _, p in named):
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any "
                               "parameter that requires a gradient.")
        if device_ids is not None and len(device_ids) > 1:
            raise ValueError("device_ids can only be None or contain a single element.")
        if device_ids or output_device:
            devices = {str(p.device) for _, p in named}
            raise ValueError("DistributedDataParallel device_ids and output_device arguments only work with "
                             "single-device/multiple-device GPU modules or CPU modules, but got device_ids "
                             f"{device_ids}, output_device {output_device}, and module parameters {devices}.")
        self.device_ids = None
        self.output_device = None
        self.dim = dim
        self.module = module
        self.static_graph = bool(static_graph)
        if broadcast_buffers is not None:
            if forward_sync_buffers is not None:
                warnings.warn("Both `broadcast_buffers` and `forward_sync_buffers` were specified. "
                              "`broadcast_buffers` is deprecated and its value is ignored when "
                              "`forward_sync_buffers` is provided.", FutureWarning, stacklevel=2)
            else:
                warnings.warn("`broadcast_buffers` is deprecated. Use `forward_sync_buffers` instead. "
                              "IMPORTANT: unlike `broadcast_buffers=False`, `forward_sync_buffers=False` "
                              "still syncs buffers at init. If you rely on buffers NOT being synced at "
                              "init (e.g. rank-local buffers), keep using `broadcast_buffers=False` until "
                              "`init_sync_buffers` is available.", FutureWarning, stacklevel=2)
        if forward_sync_buffers is not None:
            self.forward_sync_buffers = bool(forward_sync_buffers)
            init_sync_buffers = True
        else:
            effective = broadcast_buffers if broadcast_buffers is not None else True
            self.forward_sync_buffers = bool(effective)
            init_sync_buffers = bool(effective)
        self.broadcast_buffers = self.forward_sync_buffers
        self.find_unused_parameters = bool(find_unused_parameters)
        if check_reduction:
            warnings.warn("The `check_reduction` argument in `DistributedDataParallel` module is deprecated. "
                          "Please avoid using it.", FutureWarning, stacklevel=2)
        self.gradient_as_bucket_view = bool(gradient_as_bucket_view)
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        cap_mb = bucket_cap_mb if bucket_cap_mb is not None else _DEFAULT_BUCKET_CAP_MB
        self.bucket_bytes_cap = int(cap_mb * _MB_TO_BYTES)

        self._world = dist.get_world_size(process_group)
        self._rank = dist.get_rank(process_group)
        self._param_names = [n for n, p in named if p.requires_grad]
        self._params = [p for _, p in named if p.requires_grad]
        if init_sync:
            self._verify_param_shapes()
            with tg.no_grad():
                for _, p in named:
                    dist.broadcast(p, 0)
                if init_sync_buffers:
                    for b in self._module_buffers():
                        dist.broadcast(b, 0)
        self._build_buckets()
        self.modules_buffers = self._module_buffers()
        self._st = _State()
        self._hook_handles = []
        ref = weakref.ref(self)
        for i, p in enumerate(self._params):
            def hook(param, i=i):
                ddp = ref()
                if ddp is not None:
                    ddp._grad_ready(i)
            self._hook_handles.append(p.register_post_accumulate_grad_hook(hook))

    def __del__(self):
        for h in self.__dict__.get("_hook_handles", ()):
            h.remove()

    # ------------------------------------------------------------------ setup

    def _module_buffers(self):
        return [b for n, b in self.module.named_buffers() if n not in self.parameters_to_ignore]

    def _verify_param_shapes(self):
        comm = dist._comm(self.process_group)
        mine = [(tuple(p.shape), str(p.dtype)) for p in self._params]
        for r, theirs in enumerate(comm.allgather(mine)):
            if len(theirs) != len(mine):
                raise RuntimeError(f"DDP expects same model across all ranks, but Rank {self._rank} has "
                                   f"{len(mine)} params, while rank {r} has inconsistent {len(theirs)} params.")
            for i, (a, b) in enumerate(zip(mine, theirs)):
                if a != b:
                    raise RuntimeError(f"DDP expects same model across all ranks, but Rank {self._rank}'s "
                                       f"parameter {i} ({self._param_names[i]}) has shape {list(a[0])} "
                                       f"{a[1]}, while rank {r} has {list(b[0])} {b[1]}.")

    def _build_buckets(self):
        """Buckets of about bucket_bytes_cap bytes, one dtype each, filled in reverse
        registration order; a bucket closes once it reaches the cap."""
        open_by_dtype, buckets = {}, []
        for i in reversed(range(len(self._params))):
            p = self._params[i]
            key = str(p.dtype)
            cur = open_by_dtype.get(key)
            if cur is None:
                cur = open_by_dtype[key] = [[], 0, len(buckets)]  # members, bytes, order key
                buckets.append(cur)
            cur[0].append(i)
            cur[1] += p.numel() * p.element_size()
            if cur[1] >= self.bucket_bytes_cap:
                del open_by_dtype[key]
        self._buckets = []
        self._bucket_of = [None] * len(self._params)
        for k, (members, nbytes, _) in enumerate(buckets):
            np_dtype = self._params[members[0]].detach().numpy().dtype
            b = _Bucket(k, members)
            total = sum(self._params[i].numel() for i in members)
            b.flat = np.zeros(total, dtype=np_dtype)
            b.tensor = tg.from_numpy(b.flat)
            b.nbytes = nbytes
            off = 0
            for i in members:
                p = self._params[i]
                n = p.numel()
                b.slots.append(b.flat[off:off + n].reshape(tuple(p.shape)))
                self._bucket_of[i] = (b, len(b.slots) - 1)
                off += n
            self._buckets.append(b)

    def _bucket_sizes(self):
        """[(parameter names, bytes)] per bucket, in the order they are reduced."""
        return [([self._param_names[i] for i in b.params], b.nbytes) for b in self._buckets]

    # ------------------------------------------------------------------ forward

    def _prior_reduction_error(self):
        nog = self._st.unfinished
        msg = ("Expected to have finished reduction in the prior iteration before starting a new one. "
               "This error indicates that your module has parameters that were not used in producing loss. ")
        if not self.find_unused_parameters:
            msg += ("You can enable unused parameter detection by passing the keyword argument "
                    "`find_unused_parameters=True` to `torch.nn.parallel.DistributedDataParallel`, and by \n")
        msg += ("making sure all `forward` function outputs participate in calculating loss. \n"
                "If you already have done the above, then the distributed data parallel module wasn't able "
                "to locate the output tensors in the return value of your module's `forward` function. Please "
                "include the loss function and the structure of the return value of `forward` of your module "
                "when reporting this issue (e.g. list, dict, iterable).\n"
                f"Parameter indices which did not receive grad for rank {self._rank}: "
                + " ".join(str(i) for i in nog.indices)
                + f"\nParameters which did not receive grad for rank {self._rank}: " + ", ".join(nog.names))
        return RuntimeError(msg)

    def _sync_buffers(self):
        self.modules_buffers = self._module_buffers()  # (buffers may have been reassigned)
        with tg.no_grad():
            for b in self.modules_buffers:
                dist.broadcast(b, 0)

    def _pre_forward(self):
        if tg.is_grad_enabled() and self._st.unfinished is not None:
            raise self._prior_reduction_error()
        if self.require_forward_param_sync and self.forward_sync_buffers and self.modules_buffers:
            self._sync_buffers()

    def _post_forward(self):
        if tg.is_grad_enabled() and self.require_backward_grad_sync:
            self.require_forward_param_sync = True
            self._arm()
        else:
            self.require_forward_param_sync = False

    def forward(self, *inputs, **kwargs):
        self._pre_forward()
        output = self.module(*inputs, **kwargs)
        self._post_forward()
        return output

    def train(self, mode=True):
        super().train(mode)
        return self

    @contextlib.contextmanager
    def no_sync(self):
        """Gradients accumulate locally inside this context (forward included); the first
        forward+backward outside it averages the accumulated gradients across ranks."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    # ------------------------------------------------------------------ backward

    def _arm(self):
        self._st.armed = True
        self._st.callback_queued = False
        self._st.arrived = [False] * len(self._params)
        for b in self._buckets:
            b.pending = len(b.params)
            b.work = None
        self._st.next_bucket = 0

    def _grad_ready(self, i):
        if not self._st.armed:
            return  # a backward not preceded by a synchronizing forward (no_sync, eval)
        if self._st.arrived[i]:
            raise RuntimeError(
                "Expected to mark a variable ready only once. This error is caused by one of the following "
                "reasons: 1) Use of a module parameter outside the `forward` function. Please make sure model "
                "parameters are not shared across multiple concurrent forward-backward passes. or try to use "
                "_set_static_graph() as a workaround if this module graph does not change during training loop."
                "2) Reused parameters in multiple reentrant backward passes. For example, if you use multiple "
                "`checkpoint` functions to wrap the same part of your model, it would result in the same set of "
                "parameters been used by different reentrant backward passes multiple times, and hence marking a "
                "variable ready multiple times. DDP does not support such use cases in default. You can try to use "
                "_set_static_graph() as a workaround if your module graph does not change over iterations.\n"
                f"Parameter at index {i} with name {self._param_names[i]} has been marked as ready twice. This "
                "means that multiple autograd engine  hooks have fired for this particular parameter during this "
                "iteration.")
        self._st.arrived[i] = True
        if not self._st.callback_queued:
            Variable._execution_engine.queue_callback(self._finalize_backward)
            self._st.callback_queued = True
        b, _ = self._bucket_of[i]
        b.pending -= 1
        self._poll()
        if b.pending == 0:
            self._launch_ready()

    def _poll(self):
        # MPI_Test on the all-reduces in flight: MPICH moves them on only inside MPI calls
        for b in self._buckets[:self._st.next_bucket]:
            if b.work is not None and not b.work._done:
                b.work.is_completed()

    def _launch_ready(self):
        while self._st.next_bucket < len(self._buckets) and self._buckets[self._st.next_bucket].pending == 0:
            self._launch(self._buckets[self._st.next_bucket])
            self._st.next_bucket += 1

    def _launch(self, b):
        scale = 1.0 / self._world
        for i, slot in zip(b.params, b.slots):
            g = self._params[i].grad
            if g is None:
                slot[...] = 0
                continue
            if self.gradient_as_bucket_view and g.data_ptr() == slot.ctypes.data:
                np.multiply(slot, scale, out=slot)
                continue
            np.multiply(g.detach().numpy(), scale, out=slot, casting="unsafe")
        b.work = dist.all_reduce(b.tensor, dist.ReduceOp.SUM, group=self.process_group, async_op=True)

    def _finalize_backward(self):
        """The engine's final callback: every gradient of this backward is accumulated."""
        if not self._st.armed:
            return
        self._st.armed = False
        missing = [i for i, got in enumerate(self._st.arrived) if not got]
        if missing and self.find_unused_parameters:
            for i in missing:
                self._bucket_of[i][0].pending -= 1
            self._launch_ready()
        if self._st.next_bucket < len(self._buckets):
            # a parameter got no gradient and find_unused_parameters is off: finish the
            # all-reduces started, keep the gradients local, raise at the next forward
            for b in self._buckets[:self._st.next_bucket]:
                b.work.wait()
            self._st.unfinished = _NoGradients(missing, [self._param_names[i] for i in missing])
            return
        self._st.unfinished = None
        globally_unused = set()
        if self.find_unused_parameters:
            # every rank takes part, whether or not it missed a gradient itself
            used = np.array(self._st.arrived, dtype=np.uint8)
            dist._comm(self.process_group).Allreduce(dist._S.MPI.IN_PLACE, used, dist._S.MPI.MAX)
            globally_unused = {i for i in missing if not used[i]}
        for b in self._buckets:
            b.work.wait()
            for i, slot in zip(b.params, b.slots):
                p = self._params[i]
                g = p.grad
                if self.gradient_as_bucket_view:
                    if g is None and i in globally_unused:
                        continue
                    if g is None or g.data_ptr() != slot.ctypes.data:
                        p.grad = tg.from_numpy(slot)  # .grad becomes a view of the bucket
                    continue
                if g is None:
                    if i not in globally_unused:
                        p.grad = tg.from_numpy(slot.copy())
                    continue
                g.detach().numpy()[...] = slot
