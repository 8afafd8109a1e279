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
from helpers import ASAN_NO_FORK
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


# ----------------------------------------------------------------------------- geometry helpers

def _img(shape=(1, 6, 7), seed=0, dtype=np.float32):
    return np.random.default_rng(seed).integers(0, 256, shape).astype(dtype)


def _t(a):
    return tg.tensor(a)


def _pil_of(a2d):
    Image = _pil()
    return Image.fromarray(np.asarray(a2d, dtype=np.uint8))


def _all_transforms():
    return [transforms.RandomCrop(4), transforms.CenterCrop(3), transforms.Resize(3), transforms.Pad(1),
            transforms.RandomHorizontalFlip(), transforms.RandomVerticalFlip(), transforms.RandomRotation(10),
            transforms.RandomAffine(10)]


def test_geometry_rejects_arrays_and_non_images():
    for t in _all_transforms():
        with pytest.raises(TypeError, match="PIL Image or Tensor"):
            t(np.zeros((5, 5), np.uint8))
        with pytest.raises(TypeError):
            t([[0, 1], [2, 3]])
    with pytest.raises(TypeError, match="not a torch image"):
        transforms.CenterCrop(1)(tg.zeros(5))


# ----------------------------------------------------------------------------- flips

def test_flips():
    a = _img((2, 3, 4, 5))
    np.testing.assert_array_equal(F.hflip(_t(a)).numpy(), a[..., ::-1])
    np.testing.assert_array_equal(F.vflip(_t(a)).numpy(), a[..., ::-1, :])
    np.testing.assert_array_equal(transforms.RandomHorizontalFlip(p=1.0)(_t(a)).numpy(), a[..., ::-1])
    np.testing.assert_array_equal(transforms.RandomHorizontalFlip(p=0.0)(_t(a)).numpy(), a)
    np.testing.assert_array_equal(transforms.RandomVerticalFlip(p=1.0)(_t(a)).numpy(), a[..., ::-1, :])
    g = a[0, 0]
    np.testing.assert_array_equal(np.asarray(F.hflip(_pil_of(g))), g[:, ::-1])
    np.testing.assert_array_equal(np.asarray(F.vflip(_pil_of(g))), g[::-1])


def test_random_flip_is_seeded_and_fair():
    a = _t(_img((1, 3, 3)))
    flip = transforms.RandomHorizontalFlip()

    def draws():
        return [not np.array_equal(flip(a).numpy(), a.numpy()) for _ in range(400)]
    tg.manual_seed(123)
    first = draws()
    tg.manual_seed(123)
    assert draws() == first
    assert 150 < sum(first) < 250


# ----------------------------------------------------------------------------- pad, crops

@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric"])
@pytest.mark.parametrize("padding,ltrb", [(2, (2, 2, 2, 2)), ((1, 3), (1, 3, 1, 3)),
                                          ((1, 2, 0, 3), (1, 2, 0, 3)), ([2], (2, 2, 2, 2))])
def test_pad_matches_numpy(mode, padding, ltrb):
    a = _img((2, 5, 6))
    left, top, right, bottom = ltrb  # torchvision's order: (left/right, top/bottom), (l, t, r, b)
    kw = {"constant_values": 9} if mode == "constant" else {}
    ref = np.pad(a, [(0, 0), (top, bottom), (left, right)], mode=mode, **kw)
    np.testing.assert_array_equal(F.pad(_t(a), padding, fill=9, padding_mode=mode).numpy(), ref)
    pil = F.pad(_pil_of(a[0]), padding, fill=9, padding_mode=mode)
    np.testing.assert_array_equal(np.asarray(pil), ref[0])


@settings(max_examples=20, deadline=None)
@given(h=st.integers(2, 9), w=st.integers(2, 9), c=st.integers(1, 3), seed=st.integers(0, 2**16),
       ltrb=st.tuples(*[st.integers(0, 3)] * 4), mode=st.sampled_from(["constant", "edge", "symmetric"]),
       crop=st.tuples(st.integers(1, 12), st.integers(1, 12)))
def test_pad_crop_resize_properties(h, w, c, seed, ltrb, mode, crop):
    a = _img((c, h, w), seed=seed)
    left, top, right, bottom = ltrb
    padded = F.pad(_t(a), list(ltrb), padding_mode=mode).numpy()
    np.testing.assert_array_equal(padded, np.pad(a, [(0, 0), (top, bottom), (left, right)], mode=mode))
    # a crop is the matching window of the zero-padded image, wherever it lies
    ch, cw = crop
    i, j = seed % (h + 2) - 1, (seed // 7) % (w + 2) - 1
    big = np.pad(a, [(0, 0), (13, 13), (13, 13)])
    np.testing.assert_array_equal(F.crop(_t(a), i, j, ch, cw).numpy(), big[:, 13 + i:13 + i + ch, 13 + j:13 + j + cw])
    # resizing keeps constant images constant and lands on the requested size
    const = np.full((c, h, w), 7.0, np.float32)
    for mode_ in (transforms.InterpolationMode.BILINEAR, transforms.InterpolationMode.NEAREST):
        out = F.resize(_t(const), [ch, cw], mode_).numpy()
        assert out.shape == (c, ch, cw)
        np.testing.assert_allclose(out, 7.0, rtol=1e-6)


def test_pad_negative_crops_and_errors():
    a = _img((1, 5, 6))
    np.testing.assert_array_equal(F.pad(_t(a), [-1, 2, 0, -2]).numpy(),
                                  np.pad(a, [(0, 0), (2, 0), (0, 0)])[:, :-2, 1:])
    Image = _pil()
    rgb = Image.fromarray(_img((3, 4, 3), dtype=np.uint8))
    out = np.asarray(F.pad(rgb, 1, fill=(1, 2, 3)))
    assert out.shape == (5, 6, 3) and out[0, 0].tolist() == [1, 2, 3]
    with pytest.raises(ValueError, match="1, 2, or 4 element"):
        F.pad(_t(a), (1, 2, 3))
    with pytest.raises(TypeError):
        F.pad(_t(a), 1.5)
    with pytest.raises(ValueError, match="Padding mode"):
        F.pad(_t(a), 1, padding_mode="wrap")
    with pytest.raises(ValueError, match="Padding mode"):
        transforms.RandomCrop(3, padding=1, padding_mode="wrap")
    with pytest.raises(TypeError):
        transforms.Pad("1")


def _windows(big, h, w):
    return [big[..., i:i + h, j:j + w] for i in range(big.shape[-2] - h + 1) for j in range(big.shape[-1] - w + 1)]


def test_random_crop():
    a = _img((1, 28, 28), seed=3)
    crop = transforms.RandomCrop(28, padding=4)
    tg.manual_seed(0)
    outs = [crop(_t(a)).numpy() for _ in range(5)]
    padded = np.pad(a, [(0, 0), (4, 4), (4, 4)])
    windows = _windows(padded, 28, 28)
    for o in outs:
        assert o.shape == (1, 28, 28) and any(np.array_equal(o, w) for w in windows)
    assert len({o.tobytes() for o in outs}) > 1
    tg.manual_seed(0)
    np.testing.assert_array_equal(np.stack([crop(_t(a)).numpy() for _ in range(5)]), np.stack(outs))
    # PIL images take the same offsets from the same seed
    tg.manual_seed(0)
    pil_outs = [np.asarray(crop(_pil_of(a[0]))) for _ in range(5)]
    np.testing.assert_array_equal(np.stack(pil_outs), np.stack(outs)[:, 0])
    np.testing.assert_array_equal(transforms.RandomCrop((28, 28))(_t(a)).numpy(), a)  # whole image
    np.testing.assert_array_equal(transforms.RandomCrop((2, 3))(_t(a)).numpy().shape, (1, 2, 3))


def test_random_crop_pad_if_needed_and_errors():
    a = _img((1, 5, 3))
    crop = transforms.RandomCrop((7, 6), pad_if_needed=True, fill=1)
    big = np.pad(a, [(0, 0), (2, 2), (3, 3)], constant_values=1)  # pads both sides by the shortfall
    for seed in range(4):
        tg.manual_seed(seed)
        out = crop(_t(a)).numpy()
        tg.manual_seed(seed)
        i, j, h, w = transforms.RandomCrop.get_params(_t(big), (7, 6))  # the same draws
        np.testing.assert_array_equal(out, big[:, i:i + h, j:j + w])
    with pytest.raises(ValueError, match="larger than input image size"):
        transforms.RandomCrop(6)(_t(a))
    with pytest.raises(ValueError, match="two dimensions"):
        transforms.RandomCrop((1, 2, 3))


def test_center_crop():
    a = _img((2, 7, 8))
    np.testing.assert_array_equal(transforms.CenterCrop(4)(_t(a)).numpy(), a[:, 2:6, 2:6])
    # torchvision rounds the offset: (7 - 2) / 2 = 2.5 -> 2 (round half to even), (8 - 3) / 2 -> 2
    np.testing.assert_array_equal(transforms.CenterCrop((2, 3))(_t(a)).numpy(), a[:, 2:4, 2:5])
    # larger than the image: zero padding around it
    out = transforms.CenterCrop((9, 11))(_t(a)).numpy()
    np.testing.assert_array_equal(out, np.pad(a, [(0, 0), (1, 1), (1, 2)]))
    np.testing.assert_array_equal(np.asarray(transforms.CenterCrop((2, 3))(_pil_of(a[0]))), a[0, 2:4, 2:5])
    np.testing.assert_array_equal(np.asarray(transforms.CenterCrop((9, 11))(_pil_of(a[0]))), out[0])


# ----------------------------------------------------------------------------- resize

@pytest.mark.parametrize("size", [(3, 4), (6, 11), (20, 30), (13, 5), 8])
def test_resize_bilinear_matches_pillow(size):
    Image = _pil()
    x = np.random.default_rng(0).random((13, 17)).astype(np.float32)
    out = transforms.Resize(size)(_t(x[None])).numpy()[0]
    ref = np.asarray(transforms.Resize(size)(Image.fromarray(x)))  # mode "F": no 8-bit rounding
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref, atol=1e-5)


def test_resize_sizes_and_nearest():
    a = _img((1, 4, 6))
    assert transforms.Resize(2)(_t(a)).shape == (1, 2, 3)  # smaller edge to 2, aspect kept
    assert transforms.Resize(8)(_t(a)).shape == (1, 8, 12)
    assert transforms.Resize(2, max_size=2 + 1)(_t(a)).shape == (1, 2, 3)
    assert transforms.Resize(4, max_size=5)(_t(a)).shape == (1, 3, 5)
    t = _t(a)
    assert transforms.Resize((4, 6))(t) is t  # the same size: unchanged
    near = transforms.InterpolationMode.NEAREST
    np.testing.assert_array_equal(transforms.Resize((8, 12), near)(_t(a)).numpy(), a.repeat(2, 1).repeat(2, 2))
    np.testing.assert_array_equal(transforms.Resize((2, 3), near)(_t(a)).numpy(), a[:, ::2, ::2])
    # bilinear upsampling by 2 (align_corners=False): interior = 3/4 near + 1/4 far
    up = transforms.Resize((8, 12), antialias=False)(_t(a)).numpy()
    np.testing.assert_allclose(up[0, 3, 5], 0.75 * (0.75 * a[0, 1, 2] + 0.25 * a[0, 1, 3])
                               + 0.25 * (0.75 * a[0, 2, 2] + 0.25 * a[0, 2, 3]), rtol=1e-6)
    # int images stay int (rounded), batches resize image by image
    ints = transforms.Resize((3, 3))(_t(a.astype(np.int64)))
    assert ints.dtype == tg.int64
    batch = _img((2, 3, 4, 6))
    np.testing.assert_allclose(transforms.Resize((3, 5))(_t(batch)).numpy()[1, 2],
                               transforms.Resize((3, 5))(_t(batch[1, 2][None])).numpy()[0], rtol=1e-6)
    with pytest.raises(TypeError):
        transforms.Resize("a")
    with pytest.raises(ValueError):
        transforms.Resize((1, 2, 3))
    with pytest.raises(ValueError, match="max_size"):
        transforms.Resize(4, max_size=4)(_t(a))


# ----------------------------------------------------------------------------- rotation, affine

@pytest.mark.parametrize("shape", [(1, 5, 5), (3, 6, 6), (2, 1, 4, 4)])
def test_rotation_by_90_is_rot90(shape):
    a = _img(shape, seed=1)
    for deg, k in ((90, 1), (-90, -1), (180, 2)):
        rot = transforms.RandomRotation((deg, deg))
        np.testing.assert_array_equal(rot(_t(a)).numpy(), np.rot90(a, k, axes=(-2, -1)))
        bil = transforms.RandomRotation((deg, deg), interpolation=transforms.InterpolationMode.BILINEAR)
        np.testing.assert_allclose(bil(_t(a)).numpy(), np.rot90(a, k, axes=(-2, -1)), atol=1e-3)
    g = a.reshape(-1, *shape[-2:])[0]
    np.testing.assert_array_equal(np.asarray(transforms.RandomRotation((90, 90))(_pil_of(g))), np.rot90(g))


def test_rotation_expand_fill_and_pillow_agreement():
    a = _img((1, 7, 9), seed=2)
    out = F.rotate(_t(a), 90, expand=True).numpy()
    np.testing.assert_array_equal(out, np.rot90(a, 1, axes=(1, 2)))
    rot = F.rotate(_t(a), 45, expand=True, fill=[-1.0]).numpy()
    pil = np.asarray(F.rotate(_pil_of(a[0]), 45, expand=True))
    assert rot.shape[1:] == pil.shape == (13, 13)
    assert rot[0, 0, 0] == -1.0 and rot[0, 6, 6] == a[0, 3, 4]  # corner is fill, centre stays
    for angle in (17.0, -63.0, 150.0):  # nearest sampling: ties may round differently from Pillow
        t = F.rotate(_t(a), angle, fill=[0.0]).numpy()[0]
        p = np.asarray(F.rotate(_pil_of(a[0]), angle))
        assert (t == p).mean() > 0.85
    assert F.rotate(_t(a.astype(np.int64)), 30.0).dtype == tg.int64


def test_rotation_fill_blends_by_coverage():
    """torchvision's tensor fill: bilinear output = sampled * m + (1 - m) * fill, the
    sample taken with zeros outside and m the sampled coverage of an all-ones image;
    nearest output = fill where m < 0.5."""
    a = _img((2, 6, 6), seed=8)
    bil = transforms.InterpolationMode.BILINEAR
    m = F.rotate(_t(np.ones((1, 6, 6), np.float32)), 30.0, bil).numpy()
    assert 0 < m.min() < 0.5 and m.max() == pytest.approx(1.0)
    zero_padded = F.rotate(_t(a), 30.0, bil).numpy()
    filled = F.rotate(_t(a), 30.0, bil, fill=[3.0, -4.0]).numpy()
    np.testing.assert_allclose(filled, zero_padded * m + (1 - m) * np.array([3.0, -4.0]).reshape(2, 1, 1), rtol=1e-5, atol=1e-4)
    near = F.rotate(_t(a), 30.0, fill=[3.0, -4.0]).numpy()
    mn = F.rotate(_t(np.ones((1, 6, 6), np.float32)), 30.0).numpy()
    np.testing.assert_array_equal(near, np.where(mn < 0.5, np.array([3.0, -4.0]).reshape(2, 1, 1),
                                                 F.rotate(_t(a), 30.0).numpy()))


def test_rotation_is_seeded():
    a = _t(_img((1, 8, 8)))
    rot = transforms.RandomRotation(45, interpolation=transforms.InterpolationMode.BILINEAR)
    tg.manual_seed(7)
    first = [rot(a).numpy() for _ in range(3)]
    tg.manual_seed(7)
    second = [rot(a).numpy() for _ in range(3)]
    np.testing.assert_array_equal(np.stack(first), np.stack(second))
    assert not np.array_equal(first[0], first[1])
    tg.manual_seed(7)
    angles = [transforms.RandomRotation.get_params([-45.0, 45.0]) for _ in range(200)]
    assert all(-45 <= x <= 45 for x in angles) and np.std(angles) > 20


def test_affine_identity_translate_scale():
    a = _img((2, 6, 7), seed=4)
    np.testing.assert_array_equal(F.affine(_t(a), 0.0, [0, 0], 1.0, [0.0, 0.0]).numpy(), a)
    np.testing.assert_array_equal(transforms.RandomAffine(0)(_t(a)).numpy(), a)
    np.testing.assert_array_equal(np.asarray(transforms.RandomAffine(0)(_pil_of(a[0]))), a[0])
    shifted = np.zeros_like(a)
    shifted[:, 2:, 1:] = a[:, :-2, :-1]  # right by 1, down by 2
    np.testing.assert_array_equal(F.affine(_t(a), 0.0, [1, 2], 1.0, 0.0).numpy(), shifted)
    np.testing.assert_array_equal(np.asarray(F.affine(_pil_of(a[0]), 0.0, [1, 2], 1.0, 0.0)), shifted[0])
    # angle turns clockwise (rotate counter-clockwise)
    sq = _img((1, 5, 5))
    np.testing.assert_array_equal(F.affine(_t(sq), 90.0, [0, 0], 1.0, 0.0).numpy(), np.rot90(sq, -1, axes=(1, 2)))
    # scale 2 about the centre of a 5x5: the centre pixel stays, its neighbour moves 2 out
    up = F.affine(_t(sq), 0.0, [0, 0], 2.0, 0.0).numpy()
    assert up[0, 2, 2] == sq[0, 2, 2] and up[0, 2, 4] == sq[0, 2, 3]


def test_affine_shear_displaces_rows():
    """A 45-degree x-shear about the centre moves each row sideways by its distance from
    the centre row: output(x, y) = input(x + (y - cy), y)."""
    a = _img((1, 5, 5), seed=7)
    expected = np.zeros_like(a)
    for i in range(5):
        for j in range(5):
            src = j + (i - 2)
            if 0 <= src < 5:
                expected[0, i, j] = a[0, i, src]
    np.testing.assert_array_equal(F.affine(_t(a), 0.0, [0, 0], 1.0, [45.0, 0.0]).numpy(), expected)
    np.testing.assert_array_equal(np.asarray(F.affine(_pil_of(a[0]), 0.0, [0, 0], 1.0, [45.0, 0.0])), expected[0])
    # a y-shear moves columns the same way
    np.testing.assert_array_equal(F.affine(_t(a.transpose(0, 2, 1).copy()), 0.0, [0, 0], 1.0, [0.0, 45.0]).numpy(),
                                  expected.transpose(0, 2, 1))


def test_random_affine_translate_is_whole_pixel_shift():
    a = _img((1, 10, 10), seed=5)
    aff = transforms.RandomAffine(0, translate=(0.2, 0.3))
    tg.manual_seed(1)
    for _ in range(5):
        out = aff(_t(a)).numpy()
        found = False
        for dx in range(-2, 3):
            for dy in range(-3, 4):
                ref = F.affine(_t(a), 0.0, [dx, dy], 1.0, 0.0).numpy()
                found |= np.array_equal(out, ref)
        assert found
    tg.manual_seed(9)
    params = [transforms.RandomAffine.get_params([-10, 10], (0.2, 0.3), (0.5, 1.5), [-5, 5, -3, 3], [10, 10])
              for _ in range(50)]
    for angle, (tx, ty), scale, (shx, shy) in params:
        assert -10 <= angle <= 10 and abs(tx) <= 2 and abs(ty) <= 3 and 0.5 <= scale <= 1.5
        assert -5 <= shx <= 5 and -3 <= shy <= 3
    tg.manual_seed(9)
    assert params[0] == transforms.RandomAffine.get_params([-10, 10], (0.2, 0.3), (0.5, 1.5), [-5, 5, -3, 3], [10, 10])


def test_random_affine_pillow_agreement_and_fill():
    a = _img((1, 12, 12), seed=6)
    aff = transforms.RandomAffine(30, translate=(0.1, 0.1), scale=(0.8, 1.2), shear=10, fill=5)
    tg.manual_seed(3)
    t = [aff(_t(a)).numpy()[0] for _ in range(4)]
    tg.manual_seed(3)
    p = [np.asarray(aff(_pil_of(a[0]))) for _ in range(4)]
    for x, y in zip(t, p):
        assert (x == y).mean() > 0.85
    out = transforms.RandomAffine((45, 45), fill=5)(_t(a)).numpy()
    assert out[0, 0, 0] == 5.0


def test_rotation_affine_errors():
    with pytest.raises(ValueError, match="must be positive"):
        transforms.RandomRotation(-1)
    with pytest.raises(ValueError, match="len 2|length 2"):
        transforms.RandomRotation((1, 2, 3))
    with pytest.raises(TypeError):
        transforms.RandomRotation(10, fill=object())
    with pytest.raises(ValueError, match="between 0 and 1"):
        transforms.RandomAffine(0, translate=(1.5, 0))
    with pytest.raises(ValueError, match="positive"):
        transforms.RandomAffine(0, scale=(-1, 1))
    with pytest.raises(ValueError):
        transforms.RandomAffine(0, shear=(1, 2, 3))
    with pytest.raises(TypeError):
        transforms.RandomAffine(0, translate=0.1)
    with pytest.raises(TypeError, match="InterpolationMode"):
        transforms.RandomRotation(10, interpolation="bilinear")
    with pytest.raises(TypeError):
        F.rotate(_t(_img()), "90")
    with pytest.raises(ValueError, match="fill"):
        F.rotate(_t(_img((3, 4, 4))), 10.0, fill=[1.0, 2.0])


# ----------------------------------------------------------------------------- utils

def test_make_grid_known_values():
    imgs = np.arange(3 * 4, dtype=np.float32).reshape(3, 1, 2, 2)
    grid = utils.make_grid(_t(imgs), nrow=2, padding=1, pad_value=0.5).numpy()
    assert grid.shape == (3, 2 * 3 + 1, 2 * 3 + 1)  # one-channel images become RGB
    p = 0.5
    expected = np.array([[p, p, p, p, p, p, p],
                         [p, 0, 1, p, 4, 5, p],
                         [p, 2, 3, p, 6, 7, p],
                         [p, p, p, p, p, p, p],
                         [p, 8, 9, p, p, p, p],
                         [p, 10, 11, p, p, p, p],
                         [p, p, p, p, p, p, p]], dtype=np.float32)
    for c in range(3):
        np.testing.assert_array_equal(grid[c], expected)
    # a list of CHW tensors is stacked; padding 0 gives plain concatenation
    rgb = _img((4, 3, 2, 3), seed=1)
    g = utils.make_grid([_t(x) for x in rgb], nrow=4, padding=0).numpy()
    np.testing.assert_array_equal(g, np.concatenate(list(rgb), axis=2))
    single = utils.make_grid(_t(rgb[0]))
    np.testing.assert_array_equal(single.numpy(), rgb[0])


def test_make_grid_normalize():
    rng = np.random.default_rng(2)
    imgs = rng.uniform(-3, 5, (3, 3, 4, 4)).astype(np.float32)
    g = utils.make_grid(_t(imgs), nrow=3, padding=0, normalize=True).numpy()
    np.testing.assert_allclose(g, np.concatenate(list((imgs - imgs.min()) / (imgs.max() - imgs.min())), 2),
                               rtol=1e-5, atol=1e-6)
    each = utils.make_grid(_t(imgs), nrow=3, padding=0, normalize=True, scale_each=True).numpy()
    ref = [(x - x.min()) / (x.max() - x.min()) for x in imgs]
    np.testing.assert_allclose(each, np.concatenate(ref, 2), rtol=1e-5, atol=1e-6)
    clipped = utils.make_grid(_t(imgs), nrow=3, padding=0, normalize=True, value_range=(0.0, 2.0)).numpy()
    np.testing.assert_allclose(clipped, np.concatenate(list(np.clip(imgs, 0, 2) / 2), 2), rtol=1e-6)
    np.testing.assert_array_equal(utils.make_grid(_t(imgs), padding=0).numpy()[:, :, :4], imgs[0])  # input untouched
    with pytest.raises(TypeError, match="value_range"):
        utils.make_grid(_t(imgs), normalize=True, value_range=[0, 1])
    with pytest.raises(TypeError, match="tensor or list of tensors"):
        utils.make_grid(imgs)
    with pytest.raises(TypeError, match="list containing"):
        utils.make_grid([imgs[0]])


def test_save_image_round_trip(tmp_path):
    Image = _pil()
    imgs = np.random.default_rng(3).random((5, 3, 4, 6)).astype(np.float32)
    path = tmp_path / "grid.png"
    utils.save_image(_t(imgs), str(path), nrow=3, padding=1)
    grid = utils.make_grid(_t(imgs), nrow=3, padding=1).numpy()
    with Image.open(path) as im:
        assert im.format == "PNG" and im.mode == "RGB"
        back = np.asarray(im)
    np.testing.assert_array_equal(back, np.clip(grid * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0))


def test_save_image_without_pillow(tmp_path, no_pil):
    with pytest.raises(ImportError, match=r'pip install "tinygrad_cpp\[vision\]"'):
        utils.save_image(tg.zeros(1, 2, 2), str(tmp_path / "x.png"))
    assert not (tmp_path / "x.png").exists()
    with pytest.raises(ImportError, match="Pillow"):
        transforms.ToPILImage()(tg.zeros(1, 2, 2))


def test_to_pil_image_round_trip():
    _pil()
    a = _img((3, 4, 5), dtype=np.uint8)
    x = transforms.ToTensor()(a.transpose(1, 2, 0))
    np.testing.assert_array_equal(np.asarray(transforms.ToPILImage()(x)), a.transpose(1, 2, 0))
    np.testing.assert_array_equal(transforms.PILToTensor()(transforms.ToPILImage()(x)).numpy(), a)


# ----------------------------------------------------------------------------- the PyTorch example

@pytest.mark.skipif(ASAN_NO_FORK, reason="workers forked under AddressSanitizer can hang (helpers.py)")
def test_pytorch_mnist_example_data_pipeline(tv_root):
    """pytorch/examples mnist/main.py's data code after the renames torchvision ->
    tinygrad_cpp.vision and torch -> tinygrad_cpp (files present: download does nothing)."""
    import tinygrad_cpp as torch
    from tinygrad_cpp.vision import datasets as vdatasets, transforms as vtransforms
    train_kwargs = {'batch_size': 64}
    test_kwargs = {'batch_size': 1000}
    cuda_kwargs = {'num_workers': 1, 'pin_memory': True, 'shuffle': True}
    train_kwargs.update(cuda_kwargs)
    test_kwargs.update(cuda_kwargs)
    transform = vtransforms.Compose([
        vtransforms.ToTensor(),
        vtransforms.Normalize((0.1307,), (0.3081,))
    ])
    dataset1 = vdatasets.MNIST(str(tv_root), train=True, download=True, transform=transform)
    dataset2 = vdatasets.MNIST(str(tv_root), train=False, transform=transform)
    train_loader = torch.utils.data.DataLoader(dataset1, **train_kwargs)
    test_loader = torch.utils.data.DataLoader(dataset2, **test_kwargs)
    assert len(train_loader) == 938 and len(test_loader) == 10
    for batch_idx, (data, target) in enumerate(test_loader):
        assert data.shape == (1000, 1, 28, 28) and target.shape == (1000,)
        assert abs(float(data.mean())) < 0.2  # standardized
        if batch_idx == 1:
            break
    data, target = next(iter(train_loader))
    assert data.shape == (64, 1, 28, 28) and target.dtype == tg.int64


@pytest.mark.skipif(ASAN_NO_FORK, reason="workers forked under AddressSanitizer can hang (helpers.py)")
def test_augmentation_in_workers_is_seeded(test_set):
    ds = datasets.MNIST(test_set.root, train=False, transform=transforms.Compose(
        [transforms.RandomCrop(28, padding=2), transforms.ToTensor(), transforms.Normalize((MEAN,), (STD,))]))
    sub = tg.utils.data.Subset(ds, list(range(64)))

    def epoch():
        return [x.numpy() for x, _ in DataLoader(sub, batch_size=16, num_workers=2)]
    tg.manual_seed(4)
    a = epoch()
    tg.manual_seed(4)
    b = epoch()
    np.testing.assert_array_equal(np.stack(a), np.stack(b))
    plain = np.stack([x.numpy() for x, _ in DataLoader(datasets.MNIST(test_set.root, train=False, transform=_mnist_transform()), batch_size=16)][:4])
    assert not np.array_equal(np.stack(a), plain)  # the crops moved some images
