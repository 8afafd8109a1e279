"""DistributedSampler: each rank's share of a dataset, as torch.utils.data.distributed.

The partition is PyTorch's: the epoch's index order (a permutation drawn from a generator
seeded with `seed + epoch` when shuffling, else 0..n-1) is padded by repeating its head
until it divides evenly (or, with `drop_last`, its tail is cut), and rank r takes every
`num_replicas`-th index starting at r. The permutation itself comes from tinygrad_cpp's
generator, which is not PyTorch's: for the same seed the shuffled order differs from
torch's (the unshuffled partitions are identical), but it is the same on every rank, which
is what the partition needs.
"""
import math

import numpy as np

import tinygrad_cpp as tg

from . import Sampler

__all__ = ["DistributedSampler"]


class DistributedSampler(Sampler):
    """Restricts data loading to this rank's subset of `dataset`; call `set_epoch(e)` at the
    start of each epoch for a new shuffle."""

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        from tinygrad_cpp import distributed as dist
        if num_replicas is None:
            if not dist.is_available():
                raise RuntimeError("Requires distributed package to be available")
            num_replicas = dist.get_world_size()
        if rank is None:
            if not dist.is_available():
                raise RuntimeError("Requires distributed package to be available")
            rank = dist.get_rank()
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        if self.drop_last and len(self.dataset) % self.num_replicas != 0:
            self.num_samples = math.ceil((len(self.dataset) - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(len(self.dataset) / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def _order(self):
        n = len(self.dataset)
        if self.shuffle:
            g = tg.Generator()
            g.manual_seed(self.seed + self.epoch)
            indices = tg.randperm(n, generator=g).numpy()
        else:
            indices = np.arange(n, dtype=np.int64)
        if not self.drop_last:
            padding = self.total_size - n  # (PyTorch's branches, so odd arguments fail alike)
            if padding <= len(indices):
                indices = np.concatenate([indices, indices[:padding]])
            else:
                indices = np.concatenate([indices, np.tile(indices, math.ceil(padding / len(indices)))[:padding]])
        else:
            indices = indices[:self.total_size]
        if len(indices) != self.total_size:
            raise AssertionError(f"Number of indices ({len(indices)}) does not match total_size ({self.total_size})")
        indices = np.ascontiguousarray(indices[self.rank:self.total_size:self.num_replicas], dtype=np.int64)
        if len(indices) != self.num_samples:
            raise AssertionError(f"Number of subsampled indices ({len(indices)}) does not match "
                                 f"num_samples ({self.num_samples})")
        return indices

    def __iter__(self):
        return iter(self._order().tolist())

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Sets the epoch: with `shuffle=True`, each epoch then has its own order (the same on
        all ranks); without it, the next iteration repeats the previous order."""
        self.epoch = epoch
