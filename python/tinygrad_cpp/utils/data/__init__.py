"""Datasets, samplers and the DataLoader, with torch.utils.data's names and semantics.

Batching is vectorized: a sampler yields each epoch's whole index order as one int64
array (from `tg.randperm` when shuffling, so `tg.manual_seed` makes epochs
reproducible), and a dataset that can gather many items at once (TensorDataset, MNIST,
a Subset of either) implements `_get_batch(indices)`, which returns the collated batch
from one indexing call. Only other datasets fall back to one `__getitem__` per sample and
`default_collate`.

With `num_workers > 0` batches are made in that many forked worker processes, as in
PyTorch: each worker seeds tinygrad_cpp's generator, `random` and numpy's legacy RNG with
`base_seed + worker_id` (base_seed drawn from the loader's generator once per epoch),
runs `worker_init_fn(worker_id)`, and answers `get_worker_info()`; up to
`prefetch_factor * num_workers` batches are in flight, handed out in sampler order;
`persistent_workers` keeps the processes from one epoch to the next. Forking needs a
POSIX system.
"""
import bisect
import collections.abc
import itertools
import math
import operator
import os
import queue
import random
import traceback
import warnings

import numpy as np

import tinygrad_cpp as tg

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset",
           "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "BatchSampler",
           "DataLoader", "random_split", "default_collate", "default_convert", "get_worker_info",
           "WorkerInfo", "DistributedSampler"]


def _randperm(n, generator):
    return tg.randperm(n, generator=generator).numpy()


def _index_tensor(indices):
    return tg.from_numpy(np.ascontiguousarray(indices, dtype=np.int64))


# ----------------------------------------------------------------------------- datasets

class Dataset:
    """A map-style dataset: subclasses define `__getitem__` and `__len__`."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A dataset that is a stream: subclasses define `__iter__`."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")


class TensorDataset(Dataset):
    """Item i is `tuple(t[i] for t in tensors)`; all tensors share their first dimension."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        for t in tensors:
            if not isinstance(t, tg.Tensor):
                raise TypeError(f"TensorDataset takes tensors, got {type(t).__name__}")
            if t.ndim == 0:
                raise ValueError("TensorDataset can't index a 0-d tensor")
        sizes = [t.shape[0] for t in tensors]
        if any(s != sizes[0] for s in sizes):
            raise ValueError(f"Size mismatch between tensors: first dimensions {sizes}")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]

    def _get_batch(self, indices):
        return [t.index_select(0, indices) for t in self.tensors]


class Subset(Dataset):
    """The items of `dataset` at `indices`, in that order."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices
        if callable(getattr(dataset, "_get_batch", None)):
            self._get_batch = self._get_subset_batch

    @property
    def indices(self):
        return self._indices

    @indices.setter
    def indices(self, value):
        self._indices = value
        self._index_array = None

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self._indices[i] for i in idx]]
        return self.dataset[self._indices[idx]]

    def __len__(self):
        return len(self._indices)

    def _get_subset_batch(self, indices):
        if self._index_array is None:
            self._index_array = np.asarray(
                self._indices.numpy() if isinstance(self._indices, tg.Tensor) else self._indices,
                dtype=np.int64).reshape(-1)
        return self.dataset._get_batch(_index_tensor(self._index_array[indices.numpy()]))


class ConcatDataset(Dataset):
    """The datasets one after the other."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset needs at least one dataset")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        idx = operator.index(idx)
        if idx < 0:
            if -idx > len(self):
                raise IndexError(f"index {idx} is out of range for a dataset of length {len(self)}")
            idx += len(self)
        which = bisect.bisect_right(self.cumulative_sizes, idx)
        if which == len(self.datasets):
            raise IndexError(f"index {idx} is out of range for a dataset of length {len(self)}")
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][idx - start]


def random_split(dataset, lengths, generator=None):
    """Splits `dataset` into non-overlapping random Subsets of the given lengths, or of
    the given fractions of its length (summing to 1; leftover items go round-robin to
    the first splits, as in PyTorch)."""
    lengths = list(lengths)
    n = len(dataset)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        counts = []
        for i, frac in enumerate(lengths):
            if not 0 <= frac <= 1:
                raise ValueError(f"Fraction at index {i} is not between 0 and 1")
            counts.append(int(math.floor(n * frac)))
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        for i, c in enumerate(counts):
            if c == 0:
                warnings.warn(f"Length of split at index {i} is 0. This might result in an empty dataset.")
        lengths = counts
    for i, length in enumerate(lengths):
        if isinstance(length, bool) or not isinstance(length, int) or length < 0:
            raise ValueError(f"random_split lengths must be non-negative ints or fractions "
                             f"summing to 1, got {lengths[i]!r} at index {i}")
    if sum(lengths) != n:
        raise ValueError(f"Sum of input lengths {sum(lengths)} does not equal the length of "
                         f"the input dataset ({n})!")
    perm = _randperm(n, generator).tolist()
    return [Subset(dataset, perm[end - length:end])
            for end, length in zip(itertools.accumulate(lengths), lengths)]


# ----------------------------------------------------------------------------- samplers
# `_order()` gives one epoch's indices as an int64 array, so that batches are slices of
# it instead of Python lists built one index at a time.

class Sampler:
    """Iterates over dataset indices."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    def __init__(self, data_source):
        self.data_source = data_source

    def _order(self):
        return np.arange(len(self.data_source), dtype=np.int64)

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random permutation per epoch; with `replacement`, `num_samples` uniform draws."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got replacement={replacement}")
        self.data_source, self.replacement = data_source, replacement
        self._num_samples, self.generator = num_samples, generator
        if not isinstance(self.num_samples, int) or self.num_samples <= 0:  # PyTorch's test (True is 1)
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={self.num_samples}")

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def _order(self):
        n, k = len(self.data_source), self.num_samples
        if self.replacement:
            return tg.randint(0, n, (k,), generator=self.generator).numpy()
        parts = [_randperm(n, self.generator) for _ in range(k // n)]
        if k % n:
            parts.append(_randperm(n, self.generator)[:k % n])
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def __iter__(self):
        return iter(self._order().tolist())

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices, in a random order each epoch."""

    def __init__(self, indices, generator=None):
        self.indices, self.generator = indices, generator

    def _order(self):
        return np.asarray(self.indices, dtype=np.int64).reshape(-1)[_randperm(len(self.indices), self.generator)]

    def __iter__(self):
        return iter(self._order().tolist())

    def __len__(self):
        return len(self.indices)


class BatchSampler(Sampler):
    """Groups a sampler's indices into lists of `batch_size`."""

    def __init__(self, sampler, batch_size, drop_last):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def _batches(self):
        """Each batch as an int64 array."""
        bs = self.batch_size
        if hasattr(self.sampler, "_order"):
            order = self.sampler._order()
            stop = len(order) - len(order) % bs if self.drop_last else len(order)
            for start in range(0, stop, bs):
                yield order[start:start + bs]
            return
        it = iter(self.sampler)
        while True:
            batch = list(itertools.islice(it, bs))
            if not batch or (self.drop_last and len(batch) < bs):
                return
            yield np.asarray(batch, dtype=np.int64)

    def __iter__(self):
        return (b.tolist() for b in self._batches())

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


# ----------------------------------------------------------------------------- collate

def default_convert(data):
    """numpy arrays (also inside lists, tuples and dicts) become tensors."""
    if isinstance(data, np.ndarray) and data.dtype.kind in "biuf":
        return tg.tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, (list, tuple)):
        return type(data)(default_convert(d) for d in data)
    return data


def default_collate(batch):
    """Stacks a list of samples into a batch, like torch's default_collate: tensors and
    numpy arrays are stacked along a new first dim, Python ints become an int64 tensor,
    floats a float64 tensor, bools a bool tensor; dicts, tuples and lists are collated
    field by field (tuples give lists, as in PyTorch); strings stay a list."""
    elem = batch[0]
    if isinstance(elem, tg.Tensor):
        return tg.stack(list(batch), 0)
    if isinstance(elem, (np.ndarray, np.generic)):
        if elem.dtype.kind not in "biuf":
            raise TypeError(f"default_collate: can't batch numpy arrays of dtype {elem.dtype}")
        return tg.tensor(np.stack(batch) if isinstance(elem, np.ndarray) else np.array(batch))
    if isinstance(elem, float):
        return tg.tensor(batch, dtype=tg.float64)
    if isinstance(elem, int):  # bool included: a list of bools gives a bool tensor
        return tg.tensor(batch)
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        out = {k: default_collate([d[k] for d in batch]) for k in elem}
        try:
            return type(elem)(out)
        except TypeError:
            return out
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(b) != len(elem) for b in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        fields = [default_collate(list(s)) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return fields
        try:
            return type(elem)(fields)
        except TypeError:
            return fields
    raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, "
                    f"dicts or lists; found {type(elem).__name__}")


# ----------------------------------------------------------------------------- loader

class DataLoader:
    """Iterates over `dataset` in batches, like torch.utils.data.DataLoader."""

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, pin_memory_device="", in_order=True):
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing."
                             "let num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        if prefetch_factor is not None and (isinstance(prefetch_factor, bool) or not isinstance(prefetch_factor, int)
                                            or prefetch_factor < 0):
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if multiprocessing_context is not None:
            # workers are always forked (they inherit the dataset without pickling it)
            method = (multiprocessing_context if isinstance(multiprocessing_context, str)
                      else getattr(multiprocessing_context, "get_start_method", lambda: None)())
            if num_workers == 0:
                raise ValueError("multiprocessing_context can only be used with multi-process loading "
                                 f"(num_workers > 0), but got num_workers={num_workers}")
            if method != "fork":
                raise ValueError(f"multiprocessing_context {multiprocessing_context!r} is not supported: "
                                 "tinygrad_cpp's DataLoader workers are forked ('fork')")
        if isinstance(dataset, IterableDataset):
            if shuffle:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle option, but got shuffle={shuffle}")
            if sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified sampler and batch_sampler options")
        else:
            if sampler is not None and shuffle:
                raise ValueError("sampler option is mutually exclusive with shuffle")
            if batch_sampler is not None:
                if batch_size != 1 or shuffle or sampler is not None or drop_last:
                    raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and drop_last")
                batch_size, drop_last = None, False
            elif batch_size is None and drop_last:
                raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with drop_last")
            if sampler is None:
                sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
            if batch_size is not None and batch_sampler is None:
                batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0):
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size}")
        self.dataset, self.batch_size, self.drop_last = dataset, batch_size, drop_last
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self.num_workers, self.collate_fn, self.pin_memory = num_workers, collate_fn, pin_memory
        self.timeout, self.worker_init_fn, self.generator = timeout, worker_init_fn, generator
        self.multiprocessing_context = multiprocessing_context
        # batches always come in sampler order (in_order=False allows, not requires, others)
        self.pin_memory_device, self.in_order = pin_memory_device, in_order
        self.prefetch_factor, self.persistent_workers = prefetch_factor, persistent_workers
        self._workers = None  # the persistent workers' iterator, kept between epochs

    def __len__(self):
        if isinstance(self.dataset, IterableDataset):
            n = len(self.dataset)  # TypeError when the stream has no length, as in PyTorch
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self.batch_sampler if self.batch_sampler is not None else self.sampler)

    def __iter__(self):
        if self.num_workers > 0:
            if not self.persistent_workers:
                return _WorkerIter(self)
            if self._workers is None:
                self._workers = _WorkerIter(self)
            else:
                self._workers._reset()
            return self._workers
        if isinstance(self.dataset, IterableDataset):
            return self._iter_stream()
        if self.batch_sampler is None:
            return self._iter_items()
        return self._iter_batches()

    def _index_batches(self):
        """Each task's indices: an int64 array of a batch, or one index without batching."""
        if self.batch_sampler is None:
            return iter(self.sampler)
        return (self.batch_sampler._batches() if hasattr(self.batch_sampler, "_batches")
                else (np.asarray(b, dtype=np.int64) for b in self.batch_sampler))

    def _fetch(self, indices):
        """One batch (or, without batching, one converted sample) for `indices`."""
        if self.batch_sampler is None:
            return (self.collate_fn or default_convert)(self.dataset[indices])
        gather = getattr(self.dataset, "_get_batch", None) if self.collate_fn is None else None
        if callable(gather):
            batch = gather(_index_tensor(indices))
            if batch is not NotImplemented:
                return batch
        getitems = getattr(self.dataset, "__getitems__", None)
        indices = indices.tolist()
        return self._collate(getitems(indices) if getitems else [self.dataset[i] for i in indices])

    def __del__(self):
        if getattr(self, "_workers", None) is not None:
            self._workers._shutdown()

    def _collate(self, samples):
        return (self.collate_fn or default_collate)(samples)

    def _iter_items(self):  # batch_size=None: samples one at a time, converted, not stacked
        convert = self.collate_fn or default_convert
        for i in self.sampler:
            yield convert(self.dataset[i])

    def _iter_batches(self):
        for indices in self._index_batches():
            yield self._fetch(indices)

    def _iter_stream(self):
        it = iter(self.dataset)
        if self.batch_size is None:
            convert = self.collate_fn or default_convert
            yield from (convert(s) for s in it)
            return
        while True:
            samples = list(itertools.islice(it, self.batch_size))
            if not samples or (self.drop_last and len(samples) < self.batch_size):
                return
            yield self._collate(samples)


# ----------------------------------------------------------------------------- worker processes

class WorkerInfo:
    """What `get_worker_info()` returns inside a worker: id, num_workers, seed, dataset
    (the worker's own copy)."""

    def __init__(self, **kwargs):
        self.__dict__.update(kwargs)
        self._frozen = True

    def __setattr__(self, key, value):
        if getattr(self, "_frozen", False):
            raise RuntimeError(f"Cannot assign attributes to {type(self).__name__} objects")
        super().__setattr__(key, value)

    def __repr__(self):
        fields = ", ".join(f"{k}={self.__dict__[k]}" for k in ("id", "num_workers", "seed", "dataset"))
        return f"{type(self).__name__}({fields})"


_worker_info = None


def get_worker_info():
    """In a DataLoader worker process, its WorkerInfo; in the main process, None."""
    return _worker_info


class _ExceptionWrapper:
    """An exception raised in a worker, carried to the main process with its traceback."""

    def __init__(self, exc, where):
        self.exc_type = type(exc)
        self.msg = f"Caught {type(exc).__name__} {where}.\nOriginal " + "".join(
            traceback.format_exception(type(exc), exc, exc.__traceback__))

    def reraise(self):
        try:
            err = self.exc_type(self.msg)
        except Exception:  # an exception type that takes other arguments
            err = RuntimeError(self.msg)
        raise err


class _IterableEnd:
    """A worker's IterableDataset copy is exhausted."""


def _worker_loop(loader, index_queue, result_queue, base_seed, worker_id):
    global _worker_info
    seed = base_seed + worker_id
    random.seed(seed)
    tg.manual_seed(seed)
    np.random.seed(seed % 2**32)
    tg.set_num_threads(1)  # one process per core already
    _worker_info = WorkerInfo(id=worker_id, num_workers=loader.num_workers, seed=seed, dataset=loader.dataset)
    init_error = None
    try:
        if loader.worker_init_fn is not None:
            loader.worker_init_fn(worker_id)
    except Exception as e:
        init_error = _ExceptionWrapper(e, f"in DataLoader worker process {worker_id} (worker_init_fn)")
    stream = None
    while True:
        try:
            task = index_queue.get()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        if task is None:
            return
        epoch, idx, indices = task
        if init_error is not None:
            result_queue.put((epoch, idx, init_error))
            continue
        try:
            if isinstance(loader.dataset, IterableDataset):
                if stream is None or stream[0] != epoch:
                    stream = (epoch, iter(loader._iter_stream()))
                data = next(stream[1], _IterableEnd)
            else:
                data = loader._fetch(indices)
        except Exception as e:
            data = _ExceptionWrapper(e, f"in DataLoader worker process {worker_id}")
        result_queue.put((epoch, idx, data))


class _WorkerIter:
    """Batches made by `loader.num_workers` forked processes, yielded in sampler order."""

    def __init__(self, loader):
        import multiprocessing  # only loaders with workers pay for importing it

        self.loader = loader
        ctx = multiprocessing.get_context("fork")
        self.result_queue = ctx.Queue()
        self.index_queues, self.workers = [], []
        self.epoch = -1
        self.base_seed = self._draw_seed()
        for wid in range(loader.num_workers):
            iq = ctx.Queue()
            w = ctx.Process(target=_worker_loop, args=(loader, iq, self.result_queue, self.base_seed, wid),
                            daemon=True)
            w.start()
            self.index_queues.append(iq)
            self.workers.append(w)
        self._reset(first=True)

    def _draw_seed(self):
        return int(tg.randint(0, 2**62, (1,), generator=self.loader.generator).item())

    def _reset(self, first=False):
        """A new epoch: the sampler's new order, the same processes."""
        if not first:
            self._drain()
        self.epoch += 1
        self.iterable = isinstance(self.loader.dataset, IterableDataset)
        self.tasks = None if self.iterable else self.loader._index_batches()
        self.active = list(range(len(self.workers)))  # workers with data left (IterableDataset)
        self.next_worker = 0
        self.send_idx = self.rcvd_idx = 0
        self.outstanding = {}  # task idx -> worker id
        self.reorder = {}
        self.finished = False
        for _ in range(self.loader.prefetch_factor * len(self.workers)):
            if not self._send():
                break

    def _send(self):
        if self.iterable:
            if not self.active:
                return False
            wid = self.active[self.next_worker % len(self.active)]
            self.next_worker += 1
            indices = None
        else:
            indices = next(self.tasks, None)
            if indices is None:
                return False
            wid = self.send_idx % len(self.workers)
        self.index_queues[wid].put((self.epoch, self.send_idx, indices))
        self.outstanding[self.send_idx] = wid
        self.send_idx += 1
        return True

    def __iter__(self):
        return self

    def __len__(self):
        return len(self.loader)

    def _get(self):
        timeout = self.loader.timeout if self.loader.timeout > 0 else None
        waited = 0.0
        while True:
            try:
                return self.result_queue.get(timeout=min(timeout, 1.0) if timeout else 1.0)
            except queue.Empty:
                waited += min(timeout, 1.0) if timeout else 1.0
                dead = [w for w in self.workers if not w.is_alive()]
                if dead:
                    self._shutdown(force=True)
                    raise RuntimeError(f"DataLoader worker (pid(s) {', '.join(str(w.pid) for w in dead)}) "
                                       f"exited unexpectedly with exit code {dead[0].exitcode}") from None
                if timeout and waited >= timeout:
                    self._shutdown(force=True)
                    raise RuntimeError(f"DataLoader timed out after {timeout} seconds") from None

    def __next__(self):
        while True:
            if self.rcvd_idx in self.reorder:
                data = self.reorder.pop(self.rcvd_idx)
                self.rcvd_idx += 1
                if data is _IterableEnd or isinstance(data, _IterableEnd):
                    continue
                self._send()
                return data
            if self.rcvd_idx >= self.send_idx or self.finished:
                self.finished = True
                if not self.loader.persistent_workers:
                    self._shutdown()
                raise StopIteration
            epoch, idx, data = self._get()
            if epoch != self.epoch:  # left over from an epoch abandoned part-way
                continue
            wid = self.outstanding.pop(idx)
            if isinstance(data, _ExceptionWrapper):
                self._shutdown(force=True)
                data.reraise()
            if data is _IterableEnd and wid in self.active:
                self.active.remove(wid)
                self._send()  # the task goes to a worker that still has data
            self.reorder[idx] = data

    def _drain(self):
        """Waits for the tasks still out, so that the next epoch starts clean."""
        while self.outstanding and self.workers:
            epoch, idx, _ = self._get()
            if epoch == self.epoch:
                self.outstanding.pop(idx, None)

    def _shutdown(self, force=False):
        """Stops the workers: asked to finish, or, after an error, terminated (they may be
        stuck in the dataset)."""
        workers, self.workers = self.workers, []
        for iq in self.index_queues:
            try:
                iq.put(None)
            except (OSError, ValueError):
                pass
        for w in workers:
            if force:
                w.terminate()
            w.join(timeout=5)
            if w.is_alive():
                w.terminate()
                w.join()
        for q in self.index_queues + [self.result_queue]:
            q.cancel_join_thread()
            q.close()
        self.index_queues = []

    def __del__(self):
        if getattr(self, "workers", None):
            self._shutdown()


from .distributed import DistributedSampler  # noqa: E402 (needs Sampler above)
