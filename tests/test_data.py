"""utils.data: datasets, samplers, collation, DataLoader batching and shuffling, and
random_split, with PyTorch's behaviour as the reference where it is importable."""
import collections

import numpy as np
import pytest

import tinygrad_cpp as tg
from tinygrad_cpp.utils.data import (BatchSampler, ConcatDataset, DataLoader, Dataset, IterableDataset,
                                     RandomSampler, SequentialSampler, Subset, SubsetRandomSampler,
                                     TensorDataset, default_collate, random_split)

try:
    import torch
    import torch.utils.data as tud
except ImportError:
    torch = None


def _xy(n=10):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n, dtype=np.int64) * 10
    return x, y, TensorDataset(tg.tensor(x), tg.tensor(y))


class Squares(Dataset):
    """A generic map-style dataset: items come one at a time from __getitem__."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return {"x": np.array([i, i * i], dtype=np.float32), "y": i, "w": i / 2, "name": f"s{i}"}


def _no_getitem(monkeypatch, cls):
    def refuse(self, i):
        raise AssertionError("the batched path must not fetch items one by one")
    monkeypatch.setattr(cls, "__getitem__", refuse)


# ----------------------------------------------------------------------------- datasets

def test_tensor_dataset():
    x, y, ds = _xy()
    assert len(ds) == 10
    xi, yi = ds[3]
    np.testing.assert_array_equal(xi.numpy(), x[3])
    assert yi.item() == 30
    with pytest.raises(ValueError, match="Size mismatch"):
        TensorDataset(tg.zeros(3, 2), tg.zeros(4))
    with pytest.raises(ValueError):
        TensorDataset()
    with pytest.raises(ValueError):
        TensorDataset(tg.tensor(1.0))


def test_subset_and_concat():
    x, y, ds = _xy()
    sub = Subset(ds, [7, 2, 5])
    assert len(sub) == 3 and sub[1][1].item() == 20
    subsub = Subset(sub, [2, 0])
    assert [int(subsub[i][1].item()) for i in range(2)] == [50, 70]
    both = ds + Squares(4)
    assert isinstance(both, ConcatDataset) and len(both) == 14
    assert both[10]["y"] == 0 and both[-1]["y"] == 3 and both[9][1].item() == 90
    with pytest.raises(IndexError):
        both[14]
    with pytest.raises(IndexError):
        both[-15]


# ----------------------------------------------------------------------------- loader

@pytest.mark.parametrize("batch_size,drop_last,sizes", [(4, False, [4, 4, 2]), (4, True, [4, 4]),
                                                        (10, False, [10]), (32, False, [10]), (1, False, [1] * 10)])
def test_sequential_batches(batch_size, drop_last, sizes):
    x, y, ds = _xy()
    loader = DataLoader(ds, batch_size=batch_size, drop_last=drop_last)
    batches = list(loader)
    assert len(loader) == len(sizes) and [b[0].shape[0] for b in batches] == sizes
    start = 0
    for bx, by in batches:
        n = bx.shape[0]
        assert bx.dtype == tg.float32 and by.dtype == tg.int64
        np.testing.assert_array_equal(bx.numpy(), x[start:start + n])
        np.testing.assert_array_equal(by.numpy(), y[start:start + n])
        start += n


def test_tensor_dataset_batches_are_gathered_not_fetched(monkeypatch):
    x, y, ds = _xy(100)
    _no_getitem(monkeypatch, TensorDataset)
    got = np.concatenate([b.numpy() for _, b in DataLoader(ds, batch_size=7, shuffle=True)])
    assert sorted(got.tolist()) == y.tolist()
    sub = Subset(ds, list(range(50, 100)))
    got = np.concatenate([b.numpy() for _, b in DataLoader(sub, batch_size=8)])
    np.testing.assert_array_equal(got, y[50:])


def test_shuffle_is_a_reproducible_permutation():
    x, y, ds = _xy(50)
    loader = DataLoader(ds, batch_size=8, shuffle=True)

    def epoch():
        xs, ys = zip(*[(bx.numpy(), by.numpy()) for bx, by in loader])
        return np.concatenate(xs), np.concatenate(ys)
    tg.manual_seed(123)
    ex1, ey1 = epoch()
    ex2, ey2 = epoch()
    assert sorted(ey1.tolist()) == y.tolist()
    np.testing.assert_array_equal(ex1, x[ey1 // 10])  # rows stay paired with their labels
    assert not np.array_equal(ey1, ey2) and not np.array_equal(ey1, y)
    tg.manual_seed(123)
    np.testing.assert_array_equal(epoch()[1], ey1)
    np.testing.assert_array_equal(epoch()[1], ey2)


def test_generator_argument():
    _, _, ds = _xy(30)

    def order(seed):
        g = tg.Generator().manual_seed(seed)
        return np.concatenate([b.numpy() for _, b in DataLoader(ds, batch_size=4, shuffle=True, generator=g)])
    np.testing.assert_array_equal(order(5), order(5))
    assert not np.array_equal(order(5), order(6))


def test_generic_dataset_collation():
    loader = DataLoader(Squares(5), batch_size=2)
    batches = list(loader)
    assert len(loader) == 3 and len(batches) == 3
    b = batches[0]
    assert set(b) == {"x", "y", "w", "name"}
    assert b["x"].dtype == tg.float32 and b["x"].shape == (2, 2)
    np.testing.assert_array_equal(b["x"].numpy(), [[0, 0], [1, 1]])
    assert b["y"].dtype == tg.int64 and b["y"].tolist() == [0, 1]
    assert b["w"].dtype == tg.float64 and b["w"].tolist() == [0.0, 0.5]
    assert b["name"] == ["s0", "s1"]
    assert batches[2]["y"].tolist() == [4]


def test_default_collate_matches_torch():
    Point = collections.namedtuple("Point", "a b")
    samples = [(tg.tensor([1.0, 2.0]), 3, True, Point(1, 2.5), [4, 5]),
               (tg.tensor([3.0, 4.0]), 6, False, Point(3, 0.5), [6, 7])]
    out = default_collate(samples)
    assert isinstance(out, list) and len(out) == 5  # tuples collate to lists, as in PyTorch
    np.testing.assert_array_equal(out[0].numpy(), [[1, 2], [3, 4]])
    assert out[1].dtype == tg.int64 and out[1].tolist() == [3, 6]
    assert out[2].dtype == tg.bool and out[2].tolist() == [True, False]
    assert isinstance(out[3], Point) and out[3].a.tolist() == [1, 3] and out[3].b.dtype == tg.float64
    assert isinstance(out[4], list) and out[4][0].tolist() == [4, 6] and out[4][1].tolist() == [5, 7]
    if torch is not None:
        ref = tud.default_collate([(torch.tensor([1.0, 2.0]), 3, True, Point(1, 2.5), [4, 5]),
                                   (torch.tensor([3.0, 4.0]), 6, False, Point(3, 0.5), [6, 7])])
        assert type(ref) is type(out) and ref[2].dtype == torch.bool and ref[3].b.dtype == torch.float64
        assert ref[1].tolist() == out[1].tolist() and ref[4][0].tolist() == out[4][0].tolist()
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(TypeError):
        default_collate([object(), object()])


def test_batch_size_none_and_custom_collate():
    _, y, ds = _xy(4)
    items = list(DataLoader(ds, batch_size=None))
    assert len(items) == 4 and items[2][1].item() == 20
    assert list(DataLoader(Squares(3), batch_size=None))[1]["x"].dtype == tg.float32  # numpy converted
    seen = []

    def collate(samples):
        seen.append(len(samples))
        return len(samples)
    assert list(DataLoader(ds, batch_size=3, collate_fn=collate)) == [3, 1] and seen == [3, 1]


def test_samplers_and_batch_samplers():
    _, y, ds = _xy(10)
    assert list(SequentialSampler(ds)) == list(range(10))
    tg.manual_seed(0)
    perm = list(RandomSampler(ds))
    assert sorted(perm) == list(range(10))
    draws = list(RandomSampler(ds, replacement=True, num_samples=25))
    assert len(draws) == 25 and all(0 <= d < 10 for d in draws)
    long_run = list(RandomSampler(ds, num_samples=23))
    assert len(long_run) == 23 and sorted(long_run[:10]) == list(range(10))
    assert sorted(SubsetRandomSampler([3, 5, 7])) == [3, 5, 7]
    bs = BatchSampler(SequentialSampler(ds), 4, drop_last=False)
    assert list(bs) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]] and len(bs) == 3
    assert len(BatchSampler(range(10), 4, drop_last=True)) == 2
    assert list(BatchSampler(range(10), 4, drop_last=True)) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    loader = DataLoader(ds, sampler=[9, 0, 3], batch_size=2)
    assert [b[1].tolist() for b in loader] == [[90, 0], [30]]
    loader = DataLoader(ds, batch_sampler=[[1, 2, 3], [8]])
    assert [b[1].tolist() for b in loader] == [[10, 20, 30], [80]] and len(loader) == 2


@pytest.mark.parametrize("kwargs", [dict(batch_size=0), dict(batch_size=-1), dict(batch_size=2.0),
                                    dict(sampler=[0], shuffle=True), dict(batch_sampler=[[0]], batch_size=2),
                                    dict(batch_sampler=[[0]], drop_last=True), dict(batch_size=None, drop_last=True),
                                    dict(num_workers=-1)])
def test_loader_argument_errors(kwargs):
    _, _, ds = _xy(4)
    with pytest.raises(ValueError):
        DataLoader(ds, **kwargs)


class Stream(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


def test_iterable_dataset():
    loader = DataLoader(Stream(7), batch_size=3)
    assert [b.tolist() for b in loader] == [[0, 1, 2], [3, 4, 5], [6]] and len(loader) == 3
    assert [b.tolist() for b in DataLoader(Stream(7), batch_size=3, drop_last=True)] == [[0, 1, 2], [3, 4, 5]]
    with pytest.raises(ValueError):
        DataLoader(Stream(3), shuffle=True)


# ----------------------------------------------------------------------------- random_split

def test_random_split_lengths():
    _, y, ds = _xy(10)
    tg.manual_seed(0)
    parts = random_split(ds, [3, 7])
    assert [len(p) for p in parts] == [3, 7]
    got = sorted(int(p[i][1].item()) // 10 for p in parts for i in range(len(p)))
    assert got == list(range(10))  # disjoint and complete
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(ds, [3, 6])
    with pytest.raises(ValueError):
        random_split(ds, [11, -1])


@pytest.mark.parametrize("n,fracs", [(10, [0.33, 0.33, 0.34]), (7, [0.5, 0.5]), (101, [0.8, 0.1, 0.1]),
                                     (5, [1.0]), (3, [0.1, 0.1, 0.8])])
@pytest.mark.filterwarnings("ignore:Length of split at index")  # (3, [.1, .1, .8]) has an empty split
def test_random_split_fractions_like_torch(n, fracs):
    _, _, ds = _xy(n)
    lengths = [len(p) for p in random_split(ds, fracs)]
    assert sum(lengths) == n
    if torch is not None:
        assert lengths == [len(p) for p in tud.random_split(range(n), fracs)]


def test_random_split_is_reproducible():
    _, _, ds = _xy(20)

    def split(seed):
        return [p.indices for p in random_split(ds, [0.5, 0.5], generator=tg.Generator().manual_seed(seed))]
    assert split(1) == split(1) and split(1) != split(2)
    tg.manual_seed(4)
    a = [p.indices for p in random_split(ds, [5, 15])]
    tg.manual_seed(4)
    assert a == [p.indices for p in random_split(ds, [5, 15])]
