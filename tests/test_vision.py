"""tinygrad_cpp.vision: datasets in torchvision's layout (read from the shared MNIST files
and from small synthetic IDX files), transforms against numpy references and known
values, seeded reproducibility, make_grid/save_image, and the DataLoader's batched path.
torchvision is not installed here: its documented semantics are the reference."""
import gzip
import hashlib
import os
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygrad_cpp as tg
from test_mnist import FILES, TEST_FILES, _fake_opener, _raw, mnist_dir
from tinygrad_cpp.utils.data import DataLoader
from tinygrad_cpp.vision import datasets, transforms, utils
from tinygrad_cpp.vision.datasets import _download
from tinygrad_cpp.vision.datasets import mnist as vmnist
from tinygrad_cpp.vision.transforms import functional as F

MEAN, STD = 0.1307, 0.3081


def _pil():
    return pytest.importorskip("PIL.Image")


@pytest.fixture
def no_pil(monkeypatch):
    """Pillow hidden, as on an install without the vision extra."""
    for name in list(sys.modules):
        if name == "PIL" or name.startswith("PIL."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "PIL", None)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    def refuse(url, timeout=None):
        raise AssertionError(f"a test tried to download {url}")
    monkeypatch.setattr(_download, "urlopen", refuse)


def _test_images():
    return np.frombuffer(_raw("t10k-images-idx3-ubyte"), np.uint8, offset=16).reshape(-1, 28, 28)


def _test_labels():
    return np.frombuffer(_raw("t10k-labels-idx1-ubyte"), np.uint8, offset=8)


@pytest.fixture(scope="module")
def tv_root(tmp_path_factory):
    """torchvision's layout: root/MNIST/raw/<file>.gz (symlinks to the shared files)."""
    root = tmp_path_factory.mktemp("vision")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in FILES:
        os.symlink(os.path.join(mnist_dir(), name + ".gz"), raw / (name + ".gz"))
    return root


@pytest.fixture(scope="module")
def test_set(tv_root):
    return datasets.MNIST(tv_root, train=False)


# ----------------------------------------------------------------------------- datasets

def test_mnist_items_and_attributes(test_set):
    Image = _pil()
    ds, images, labels = test_set, _test_images(), _test_labels()
    assert len(ds) == 10000
    assert ds.targets.dtype == tg.int64 and ds.targets.numpy()[:5].tolist() == [7, 2, 1, 0, 4]
    np.testing.assert_array_equal(ds.targets.numpy(), labels)
    assert ds.data.shape == (10000, 28, 28)
    np.testing.assert_array_equal(ds.data.numpy(), images)
    assert ds.classes[7] == "7 - seven" and ds.class_to_idx["0 - zero"] == 0
    assert ds.raw_folder.endswith(os.path.join("MNIST", "raw"))
    for i in (0, 4321, -1):
        img, target = ds[i]
        assert isinstance(img, Image.Image) and img.mode == "L" and img.size == (28, 28)
        np.testing.assert_array_equal(np.asarray(img), images[i])
        assert type(target) is int and target == labels[i]
    with pytest.raises(IndexError):
        ds[10000]
    with pytest.raises(TypeError):
        ds[1.0]
    assert "Split: Test" in repr(ds)


def test_train_split_and_positional_signature(tv_root):
    t = transforms.ToTensor()
    ds = datasets.MNIST(str(tv_root), True, t, lambda y: y * 2, False)  # torchvision's order
    assert len(ds) == 60000 and ds.transform is t
    img, target = ds[0]
    assert img.shape == (1, 28, 28) and target == 10  # label 5, doubled


@pytest.mark.parametrize("folder,compress", [("", True), ("", False), ("MNIST/raw", False)])
def test_layouts(tmp_path, test_set, folder, compress):
    dest = tmp_path / folder
    dest.mkdir(parents=True, exist_ok=True)
    for name in TEST_FILES:
        if compress:
            os.symlink(os.path.join(mnist_dir(), name + ".gz"), dest / (name + ".gz"))
        else:
            (dest / name).write_bytes(_raw(name))
    ds = datasets.MNIST(tmp_path, train=False)
    np.testing.assert_array_equal(ds.targets.numpy(), test_set.targets.numpy())
    np.testing.assert_array_equal(ds.data.numpy()[17], test_set.data.numpy()[17])


def test_missing_files_raise_without_downloading(tmp_path):
    # torchvision raises RuntimeError, tinygrad_cpp.datasets FileNotFoundError: both hold
    with pytest.raises(RuntimeError, match="Dataset not found.*t10k-images-idx3-ubyte.*download=True"):
        datasets.MNIST(tmp_path, train=False)
    with pytest.raises(FileNotFoundError):
        datasets.FashionMNIST(tmp_path, train=False)
    assert os.listdir(tmp_path) == []


def test_download_goes_to_raw_folder(tmp_path, monkeypatch, test_set):
    calls = []
    monkeypatch.setattr(_download, "urlopen", _fake_opener(lambda m, d: d, calls))
    ds = datasets.MNIST(tmp_path, train=False, download=True)
    assert calls == [datasets.MNIST.mirrors[0] + f + ".gz" for f in TEST_FILES]
    assert sorted(os.listdir(tmp_path / "MNIST" / "raw")) == [f + ".gz" for f in TEST_FILES]
    np.testing.assert_array_equal(ds.targets.numpy(), test_set.targets.numpy())


def test_items_without_pillow_are_uint8_arrays(test_set, no_pil):
    images = _test_images()
    img, target = test_set[3]
    assert type(img) is np.ndarray and img.dtype == np.uint8 and img.shape == (28, 28)
    np.testing.assert_array_equal(img, images[3])
    img[0, 0] = 255  # a copy, not a view of the dataset's read-only bytes
    assert test_set._pixels[3, 0, 0] == images[3, 0, 0]
    ds = datasets.MNIST(test_set.root, train=False,
                        transform=transforms.Compose([transforms.ToTensor(), transforms.Normalize((MEAN,), (STD,))]))
    x, _ = ds[3]
    expected = (images[3].astype(np.float32) / np.float32(255) - np.float32(MEAN)) / np.float32(STD)
    np.testing.assert_array_equal(x.numpy()[0], expected)


def _idx_bytes(arr, magic):
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def _write_fashion(folder, n=12, seed=0):
    """Synthetic FashionMNIST test-split files (.gz); returns (images, labels, md5s)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    md5 = {}
    for name, arr, magic in ((TEST_FILES[0], images, 0x803), (TEST_FILES[1], labels, 0x801)):
        data = gzip.compress(_idx_bytes(arr, magic), mtime=0)
        (folder / (name + ".gz")).write_bytes(data)
        md5[name] = hashlib.md5(data).hexdigest()
    return images, labels, md5


def test_fashion_mnist(tmp_path):
    Image = _pil()
    images, labels, _ = _write_fashion(tmp_path / "FashionMNIST" / "raw")
    ds = datasets.FashionMNIST(tmp_path, train=False, transform=transforms.ToTensor())
    assert len(ds) == 12 and ds.classes[9] == "Ankle boot" and ds.class_to_idx["Trouser"] == 1
    np.testing.assert_array_equal(ds.targets.numpy(), labels)
    x, y = ds[5]
    np.testing.assert_array_equal(x.numpy()[0], images[5] / np.float32(255))
    assert y == labels[5]
    assert isinstance(datasets.FashionMNIST(tmp_path, train=False)[0][0], Image.Image)
    # MNIST's files have the same names: they are not taken for FashionMNIST's
    mixed = tmp_path / "mixed" / "FashionMNIST" / "raw"
    mixed.mkdir(parents=True)
    for name in TEST_FILES:
        os.symlink(os.path.join(mnist_dir(), name + ".gz"), mixed / (name + ".gz"))
    with pytest.raises(RuntimeError, match="MNIST's t10k-images-idx3-ubyte"):
        datasets.FashionMNIST(tmp_path / "mixed", train=False)


def test_fashion_mnist_download_checks_md5(tmp_path, monkeypatch):
    src = tmp_path / "served"
    images, labels, md5 = _write_fashion(src, seed=1)

    def urlopen(url, timeout=None):
        assert url.startswith(datasets.FashionMNIST.mirrors[0])
        from test_mnist import _Response
        return _Response((src / url.rsplit("/", 1)[1]).read_bytes())
    monkeypatch.setattr(_download, "urlopen", urlopen)
    with pytest.raises(RuntimeError, match="md5"):  # not the real files: torchvision's md5 rejects them
        datasets.FashionMNIST(tmp_path / "a", train=False, download=True)
    assert not os.listdir(tmp_path / "a" / "FashionMNIST" / "raw")
    monkeypatch.setattr(vmnist, "FASHION_MD5", md5)
    ds = datasets.FashionMNIST(tmp_path / "a", train=False, download=True)
    assert sorted(os.listdir(tmp_path / "a" / "FashionMNIST" / "raw")) == [f + ".gz" for f in TEST_FILES]
    np.testing.assert_array_equal(ds.data.numpy(), images)


def test_legacy_alias_keeps_tensor_items(tv_root, test_set):
    from tinygrad_cpp import datasets as legacy
    assert issubclass(legacy.MNIST, datasets.MNIST) and legacy.FashionMNIST is datasets.FashionMNIST
    old = legacy.MNIST(tv_root, train=False, download=False)
    img, target = old[8]
    assert isinstance(img, tg.Tensor) and img.shape == (1, 28, 28)
    np.testing.assert_array_equal(img.numpy(), transforms.ToTensor()(test_set[8][0]).numpy())
    assert target == test_set[8][1]


# ----------------------------------------------------------------------------- ToTensor

def test_to_tensor_ndarray():
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (5, 7), dtype=np.uint8)
    x = transforms.ToTensor()(gray)
    assert x.dtype == tg.float32 and x.shape == (1, 5, 7)
    np.testing.assert_array_equal(x.numpy()[0], gray.astype(np.float32) / np.float32(255))
    rgb = rng.integers(0, 256, (4, 6, 3), dtype=np.uint8)
    np.testing.assert_array_equal(transforms.ToTensor()(rgb).numpy(),
                                  rgb.transpose(2, 0, 1).astype(np.float32) / np.float32(255))
    # other dtypes keep their values and dtype (torchvision scales only uint8)
    f = rng.standard_normal((3, 2, 2))
    y = transforms.ToTensor()(f)
    assert y.dtype == tg.float64
    np.testing.assert_array_equal(y.numpy(), f.transpose(2, 0, 1))
    assert transforms.ToTensor()(np.arange(6, dtype=np.int32).reshape(2, 3)).dtype == tg.int64


def test_to_tensor_pil_modes():
    Image = _pil()
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)
    x = transforms.ToTensor()(Image.fromarray(rgb))
    np.testing.assert_array_equal(x.numpy(), rgb.transpose(2, 0, 1) / np.float32(255))
    f = rng.standard_normal((3, 4)).astype(np.float32)
    y = transforms.ToTensor()(Image.fromarray(f))  # mode "F": values as they are
    assert y.dtype == tg.float32
    np.testing.assert_array_equal(y.numpy()[0], f)
    bits = Image.fromarray(np.array([[True, False], [False, True]]))  # mode "1"
    np.testing.assert_array_equal(transforms.ToTensor()(bits).numpy()[0], [[1.0, 0.0], [0.0, 1.0]])


def test_to_tensor_errors():
    with pytest.raises(TypeError, match="pic should be PIL Image or ndarray"):
        transforms.ToTensor()(tg.zeros(1, 2, 2))
    with pytest.raises(TypeError):
        transforms.ToTensor()([[1, 2], [3, 4]])
    with pytest.raises(ValueError, match="2/3 dimensional"):
        transforms.ToTensor()(np.zeros((1, 2, 2, 1), np.uint8))
    with pytest.raises(ValueError, match="2/3 dimensional"):
        transforms.ToTensor()(np.zeros(3, np.uint8))


# ----------------------------------------------------------------------------- Normalize

def _normalize_ref(x, mean, std):
    dt = x.dtype
    m = np.asarray(mean, dt).reshape(-1, 1, 1)
    s = np.asarray(std, dt).reshape(-1, 1, 1)
    return (x - m) / s


@settings(max_examples=25, deadline=None)
@given(c=st.integers(1, 4), h=st.integers(1, 5), w=st.integers(1, 5), batch=st.integers(0, 2),
       seed=st.integers(0, 2**16), double=st.booleans())
def test_normalize_matches_numpy(c, h, w, batch, seed, double):
    rng = np.random.default_rng(seed)
    dt = np.float64 if double else np.float32
    x = rng.standard_normal((2,) * batch + (c, h, w)).astype(dt)
    mean = rng.standard_normal(c).tolist()
    std = rng.uniform(0.1, 2.0, c).tolist()
    out = transforms.Normalize(mean, std)(tg.tensor(x))
    assert out.dtype == (tg.float64 if double else tg.float32)
    np.testing.assert_allclose(out.numpy(), _normalize_ref(x, mean, std), rtol=1e-6 if not double else 1e-12)


def test_normalize_inplace_and_not():
    x = tg.tensor(np.arange(12, dtype=np.float32).reshape(3, 2, 2))
    before = x.numpy().copy()
    out = transforms.Normalize((1.0, 2.0, 3.0), (2.0, 2.0, 4.0))(x)
    np.testing.assert_array_equal(x.numpy(), before)  # not in place by default
    ref = _normalize_ref(before, (1.0, 2.0, 3.0), (2.0, 2.0, 4.0))
    np.testing.assert_array_equal(out.numpy(), ref)
    out2 = transforms.Normalize((1.0, 2.0, 3.0), (2.0, 2.0, 4.0), inplace=True)(x)
    assert out2 is x
    np.testing.assert_array_equal(x.numpy(), ref)
    # scalar mean/std broadcast over channels; tensors are accepted too
    np.testing.assert_array_equal(transforms.Normalize(0.5, 0.25)(tg.tensor(before)).numpy(), (before - 0.5) / 0.25)
    np.testing.assert_array_equal(transforms.Normalize(tg.tensor([1.0, 2.0, 3.0]), [2.0, 2.0, 4.0])(tg.tensor(before)).numpy(), ref)


def test_normalize_keeps_autograd():
    x = tg.tensor(np.ones((1, 2, 2)), requires_grad=True)
    transforms.Normalize((0.5,), (0.25,))(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full((1, 2, 2), 4.0))


def test_normalize_errors():
    x = tg.zeros(1, 2, 2)
    with pytest.raises(ValueError, match="std evaluated to zero"):
        transforms.Normalize((0.5,), (0.0,))(x)
    with pytest.raises(ValueError, match="std evaluated to zero"):  # underflows float32
        transforms.Normalize((0.5,), (1e-50,))(x)
    transforms.Normalize((0.5,), (1e-50,))(tg.zeros(1, 2, 2, dtype=tg.float64))  # float64 holds it
    with pytest.raises(TypeError, match="Tensor Image"):
        transforms.Normalize((0.5,), (0.5,))(np.zeros((1, 2, 2), np.float32))
    with pytest.raises(TypeError, match="float tensor"):
        transforms.Normalize((0.5,), (0.5,))(tg.zeros(1, 2, 2, dtype=tg.int64))
    with pytest.raises(ValueError, match=r"\(\.\.\., C, H, W\)"):
        transforms.Normalize((0.5,), (0.5,))(tg.zeros(2, 2))
    with pytest.raises(RuntimeError):  # 2 means for 3 channels: broadcasting fails, as in torch
        transforms.Normalize((0.5, 0.5), (0.5, 0.5))(tg.zeros(3, 2, 2))


# ----------------------------------------------------------------------------- Compose, Lambda

def test_compose_and_lambda():
    seen = []
    t = transforms.Compose([transforms.Lambda(lambda v: seen.append("a") or v + 1),
                            transforms.Lambda(lambda v: seen.append("b") or v * 10)])
    assert t(1) == 20 and seen == ["a", "b"]
    assert repr(transforms.Compose([transforms.ToTensor(), transforms.Normalize((MEAN,), (STD,))])) == (
        "Compose(\n    ToTensor()\n    Normalize(mean=(0.1307,), std=(0.3081,))\n)")
    with pytest.raises(TypeError, match="lambd should be callable"):
        transforms.Lambda(3)


# ----------------------------------------------------------------------------- DataLoader

def _mnist_transform():
    return transforms.Compose([transforms.ToTensor(), transforms.Normalize((MEAN,), (STD,))])


def test_loader_batched_path_equals_items(test_set):
    ds = datasets.MNIST(test_set.root, train=False, transform=_mnist_transform())
    x, y = next(iter(DataLoader(ds, batch_size=64)))
    assert x.shape == (64, 1, 28, 28) and x.dtype == tg.float32 and y.dtype == tg.int64
    items = [ds[i] for i in range(64)]
    np.testing.assert_array_equal(x.numpy(), np.stack([im.numpy() for im, _ in items]))
    assert y.numpy().tolist() == [t for _, t in items]
    # a transform the batched path does not know runs item by item, same values
    slow = datasets.MNIST(test_set.root, train=False, transform=transforms.Compose(
        [transforms.ToTensor(), transforms.Lambda(lambda v: v), transforms.Normalize((MEAN,), (STD,))]))
    assert slow._get_batch(tg.arange(3)) is NotImplemented
    xs, ys = next(iter(DataLoader(slow, batch_size=64)))
    np.testing.assert_array_equal(xs.numpy(), x.numpy())
    # target_transform also goes item by item
    tt = datasets.MNIST(test_set.root, train=False, transform=_mnist_transform(), target_transform=lambda v: -v)
    assert next(iter(DataLoader(tt, batch_size=4)))[1].numpy().tolist() == [-7, -2, -1, 0]


def test_loader_without_pillow(test_set, no_pil):
    ds = datasets.MNIST(test_set.root, train=False, transform=_mnist_transform())
    slow = datasets.MNIST(test_set.root, train=False, transform=transforms.Compose(
        [transforms.ToTensor(), transforms.Lambda(lambda v: v), transforms.Normalize((MEAN,), (STD,))]))
    a = next(iter(DataLoader(ds, batch_size=8)))[0]
    b = next(iter(DataLoader(slow, batch_size=8)))[0]
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_batched_path_leaves_errors_to_items(test_set):
    bad = datasets.MNIST(test_set.root, train=False, transform=transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((0.5,), (0.0,))]))
    with pytest.raises(ValueError, match="std evaluated to zero"):
        next(iter(DataLoader(bad, batch_size=4)))
    wrong_order = datasets.MNIST(test_set.root, train=False, transform=transforms.Compose(
        [transforms.Normalize((0.5,), (0.5,)), transforms.ToTensor()]))
    with pytest.raises(TypeError):
        next(iter(DataLoader(wrong_order, batch_size=4)))
