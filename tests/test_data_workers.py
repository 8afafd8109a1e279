"""DataLoader with worker processes (num_workers > 0): the same batches as in-process
loading, in sampler order; per-worker seeding, worker_init_fn and get_worker_info;
persistent workers; errors and dead workers surfacing in the main process."""
import os
import time

import numpy as np
import pytest

import tinygrad_cpp as tg
from helpers import ASAN_NO_FORK
from tinygrad_cpp.utils.data import (DataLoader, Dataset, IterableDataset, TensorDataset,
                                     get_worker_info)

pytestmark = [pytest.mark.skipif(not hasattr(os, "fork"), reason="worker processes are forked"),
              pytest.mark.skipif(ASAN_NO_FORK, reason="workers forked under AddressSanitizer can hang (helpers.py)")]


class Probe(Dataset):
    """Item i: (i, worker id, worker seed, pid, a draw from tg's generator)."""

    def __len__(self):
        return 24

    def __getitem__(self, i):
        info = get_worker_info()
        return (i, -1 if info is None else info.id, -1 if info is None else info.seed, os.getpid(),
                float(tg.rand(1).item()))


def _batches(loader):
    return [[b.numpy().tolist() if isinstance(b, tg.Tensor) else b for b in batch] for batch in loader]


def test_same_batches_as_in_process():
    x = tg.tensor(np.arange(50 * 3, dtype=np.float32).reshape(50, 3))
    y = tg.arange(50)
    ds = TensorDataset(x, y)
    ref = _batches(DataLoader(ds, batch_size=8))
    assert _batches(DataLoader(ds, batch_size=8, num_workers=2)) == ref
    assert _batches(DataLoader(ds, batch_size=8, num_workers=3, prefetch_factor=1)) == ref
    # per-item datasets and no auto-batching
    items = [b[0] for b in _batches(DataLoader(Probe(), batch_size=5, num_workers=2))]
    assert items == [list(range(i, min(i + 5, 24))) for i in range(0, 24, 5)]
    single = list(DataLoader(Probe(), batch_size=None, num_workers=2))
    assert [s[0] for s in single] == list(range(24))


def test_shuffle_is_seeded_and_complete():
    tg.manual_seed(5)
    a = [b[0] for b in _batches(DataLoader(Probe(), batch_size=4, shuffle=True, num_workers=2))]
    tg.manual_seed(5)
    b = [b[0] for b in _batches(DataLoader(Probe(), batch_size=4, shuffle=True, num_workers=2))]
    assert a == b and sorted(sum(a, [])) == list(range(24)) and sum(a, []) != list(range(24))


def test_worker_info_seeds_and_init_fn():
    assert get_worker_info() is None
    tg.manual_seed(11)
    batches = _batches(DataLoader(Probe(), batch_size=4, num_workers=2))
    workers = {w for b in batches for w in b[1]}
    assert workers == {0, 1}
    seeds = {(w, s) for b in batches for w, s in zip(b[1], b[2])}
    base = min(s for _, s in seeds)
    assert seeds == {(0, base), (1, base + 1)}
    assert os.getpid() not in {p for b in batches for p in b[3]}
    # workers draw from their own seeded generators: reproducible given the main seed
    tg.manual_seed(11)
    again = _batches(DataLoader(Probe(), batch_size=4, num_workers=2))
    assert [b[4] for b in again] == [b[4] for b in batches]
    draws = [d for b in batches for d in b[4]]
    assert len(set(draws)) == len(draws)  # no two workers repeat each other's numbers

    def init(worker_id):
        info = get_worker_info()
        assert info.id == worker_id and info.num_workers == 2
        tg.manual_seed(1000)  # e.g. a user's own seeding
    ds = Probe()
    first = _batches(DataLoader(ds, batch_size=12, num_workers=2, worker_init_fn=init))
    assert first[0][4] == first[1][4]  # both workers reseeded alike by the init function


class Failing(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 5:
            raise KeyError("no item five")
        return i


def test_worker_errors_reach_the_main_process():
    loader = DataLoader(Failing(), batch_size=2, num_workers=2)
    with pytest.raises(KeyError, match="in DataLoader worker process"):
        list(loader)

    def bad_init(worker_id):
        raise ValueError("init failed")
    with pytest.raises(ValueError, match="init failed"):
        list(DataLoader(Probe(), batch_size=4, num_workers=1, worker_init_fn=bad_init))


class Dying(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        os._exit(3)


def test_dead_worker_is_reported():
    with pytest.raises(RuntimeError, match="exited unexpectedly"):
        list(DataLoader(Dying(), batch_size=2, num_workers=1))


class Slow(Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        time.sleep(1.0)
        return i


def test_timeout():
    with pytest.raises(RuntimeError, match="timed out after 0.2 seconds"):
        list(DataLoader(Slow(), batch_size=1, num_workers=1, timeout=0.2))


def test_persistent_workers_keep_their_processes():
    loader = DataLoader(Probe(), batch_size=6, num_workers=2, persistent_workers=True)
    pids1 = {p for b in _batches(loader) for p in b[3]}
    it = iter(loader)
    next(it)  # an epoch abandoned part-way
    pids2 = {p for b in _batches(loader) for p in b[3]}
    assert pids1 == pids2 and len(pids1) == 2
    assert [b[0] for b in _batches(loader)] == [list(range(i, i + 6)) for i in range(0, 24, 6)]
    fresh = DataLoader(Probe(), batch_size=6, num_workers=2)
    assert {p for b in _batches(fresh) for p in b[3]}.isdisjoint({p for b in _batches(fresh) for p in b[3]})


class Stream(IterableDataset):
    def __init__(self, n, shard):
        self.n, self.shard = n, shard

    def __iter__(self):
        info = get_worker_info()
        if info is None or not self.shard:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))


def test_iterable_dataset_workers():
    out = [b.numpy().tolist() for b in DataLoader(Stream(10, True), batch_size=2, num_workers=2)]
    assert out == [[0, 2], [1, 3], [4, 6], [5, 7], [8], [9]]  # PyTorch's round-robin order
    dup = [b.numpy().tolist() for b in DataLoader(Stream(3, False), batch_size=3, num_workers=2)]
    assert dup == [[0, 1, 2], [0, 1, 2]]  # each worker has the whole stream, as in PyTorch


def test_worker_option_errors():
    with pytest.raises(ValueError, match="prefetch_factor"):
        DataLoader(Probe(), num_workers=0, prefetch_factor=2)
    with pytest.raises(ValueError, match="persistent_workers"):
        DataLoader(Probe(), num_workers=0, persistent_workers=True)
    with pytest.raises(ValueError, match="num_workers"):
        DataLoader(Probe(), num_workers=-1)
    assert DataLoader(Probe(), num_workers=2).prefetch_factor == 2
    with pytest.raises(ValueError, match="not supported"):
        DataLoader(Probe(), num_workers=2, multiprocessing_context="spawn")
    with pytest.raises(ValueError, match="num_workers > 0"):
        DataLoader(Probe(), multiprocessing_context="fork")
    import multiprocessing
    loader = DataLoader(Probe(), batch_size=12, num_workers=1, multiprocessing_context=multiprocessing.get_context("fork"))
    assert [b[0] for b in _batches(loader)] == [list(range(12)), list(range(12, 24))]
