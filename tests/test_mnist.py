"""datasets.MNIST: reading the shared IDX files (gzipped, plain, torchvision's layout),
sha256 verification, errors that name the file, and the download path with the URL
opener replaced by local bytes (the tests never touch the network)."""
import gzip
import io
import os
import shutil
import time
import urllib.error

import numpy as np
import pytest

import helpers
import tinygrad_cpp as tg
from tinygrad_cpp.datasets import MNIST, _download, mnist as mnist_module
from tinygrad_cpp.utils.data import DataLoader

FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
TEST_FILES = FILES[2:]


def mnist_dir():
    """The shared MNIST files: helpers.MNIST_DIR, or $MNIST_DIR (for checkouts that do not
    sit next to the shared folder)."""
    for d in (helpers.MNIST_DIR, os.environ.get("MNIST_DIR", "")):
        if d and all(os.path.isfile(os.path.join(d, f + ".gz")) for f in FILES):
            return d
    pytest.skip("MNIST files not found (set MNIST_DIR)")


def _raw(name):
    """Independent oracle: the uncompressed IDX bytes."""
    with gzip.open(os.path.join(mnist_dir(), name + ".gz")) as f:
        return f.read()


@pytest.fixture(scope="module")
def test_set():
    return MNIST(mnist_dir(), train=False, download=False)


def test_shapes_dtypes_and_values(test_set):
    ds = test_set
    assert len(ds) == 10000
    images = np.frombuffer(_raw("t10k-images-idx3-ubyte"), np.uint8, offset=16).reshape(-1, 28, 28)
    labels = np.frombuffer(_raw("t10k-labels-idx1-ubyte"), np.uint8, offset=8)
    assert ds.targets.dtype == tg.int64 and ds.targets.shape == (10000,)
    np.testing.assert_array_equal(ds.targets.numpy(), labels)
    assert ds.targets.numpy()[:5].tolist() == [7, 2, 1, 0, 4]
    assert ds.data.dtype == tg.int64 and ds.data.shape == (10000, 28, 28)
    np.testing.assert_array_equal(ds.data.numpy(), images)
    for i in (0, 1234, 9999, -1):
        image, label = ds[i]
        assert image.dtype == tg.float32 and image.shape == (1, 28, 28)
        np.testing.assert_array_equal(image.numpy()[0], images[i].astype(np.float32) / np.float32(255))
        assert isinstance(label, int) and label == labels[i]
    assert ds[0][0].numpy().min() == 0.0 and ds[0][0].numpy().max() == 1.0
    with pytest.raises(IndexError):
        ds[10000]


def test_train_split_and_metadata():
    t0 = time.perf_counter()
    ds = MNIST(mnist_dir(), train=True, download=False)
    elapsed = time.perf_counter() - t0
    assert elapsed < 3.0  # ~0.2 s on one core; generous for a shared machine
    assert len(ds) == 60000 and ds.targets.shape == (60000,)
    assert ds.targets.numpy()[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert np.bincount(ds.targets.numpy()).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert ds.classes[3] == "3 - three" and ds.class_to_idx["9 - nine"] == 9
    assert "Number of datapoints: 60000" in repr(ds) and "Split: Train" in repr(ds)


def test_transforms(test_set):
    ds = MNIST(mnist_dir(), train=False, download=False,
               transform=lambda x: x.reshape(784), target_transform=lambda y: y + 100)
    image, label = ds[0]
    assert image.shape == (784,) and label == 107
    np.testing.assert_array_equal(image.numpy(), test_set[0][0].numpy().reshape(784))


def test_dataloader_batches_equal_items(test_set):
    loader = DataLoader(test_set, batch_size=100)
    assert len(loader) == 100
    x, y = next(iter(loader))
    assert x.shape == (100, 1, 28, 28) and x.dtype == tg.float32
    assert y.shape == (100,) and y.dtype == tg.int64
    for i in (0, 57, 99):
        np.testing.assert_array_equal(x.numpy()[i], test_set[i][0].numpy())
        assert y.numpy()[i] == test_set[i][1]
    batches = list(DataLoader(test_set, batch_size=4096))
    assert [b[0].shape[0] for b in batches] == [4096, 4096, 1808]


def test_data_can_be_replaced(test_set):
    ds = MNIST(mnist_dir(), train=False, download=False)
    ds.data, ds.targets = tg.tensor(ds.data.numpy()[:10]), tg.tensor(ds.targets.numpy()[:10])
    assert len(ds) == 10
    np.testing.assert_array_equal(ds[9][0].numpy(), test_set[9][0].numpy())


def _copy(tmp_path, compress, folder=""):
    dest = tmp_path / folder
    dest.mkdir(parents=True, exist_ok=True)
    for name in TEST_FILES:
        if compress:
            shutil.copy(os.path.join(mnist_dir(), name + ".gz"), dest / (name + ".gz"))
        else:
            (dest / name).write_bytes(_raw(name))
    return dest


@pytest.mark.parametrize("compress,folder", [(False, ""), (True, "MNIST/raw"), (False, "MNIST/raw")])
def test_layouts(tmp_path, test_set, compress, folder):
    _copy(tmp_path, compress, folder)
    ds = MNIST(tmp_path, train=False, download=False)
    np.testing.assert_array_equal(ds.targets.numpy(), test_set.targets.numpy())
    np.testing.assert_array_equal(ds[5][0].numpy(), test_set[5][0].numpy())


def test_missing_file_without_download(tmp_path):
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte"):
        MNIST(tmp_path, train=False, download=False)
    _copy(tmp_path, True)
    os.remove(tmp_path / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        MNIST(tmp_path, train=False, download=False)


def test_corrupt_files_are_named(tmp_path):
    _copy(tmp_path, False)
    labels = tmp_path / "t10k-labels-idx1-ubyte"
    data = bytearray(labels.read_bytes())
    data[100] ^= 1
    labels.write_bytes(bytes(data))
    with pytest.raises(RuntimeError, match="t10k-labels-idx1-ubyte.*sha256"):
        MNIST(tmp_path, train=False, download=False)
    labels.write_bytes(bytes(data[:5000]))  # truncated
    with pytest.raises(RuntimeError, match="t10k-labels-idx1-ubyte"):
        MNIST(tmp_path, train=False, download=False)
    labels.write_bytes(_raw("train-labels-idx1-ubyte"))  # the wrong file
    with pytest.raises(RuntimeError, match="t10k-labels-idx1-ubyte"):
        MNIST(tmp_path, train=False, download=False)
    os.remove(labels)
    gz = tmp_path / "t10k-labels-idx1-ubyte.gz"
    gz.write_bytes(gzip.compress(_raw("t10k-labels-idx1-ubyte"))[:-100])  # truncated gzip
    with pytest.raises(RuntimeError, match="t10k-labels-idx1-ubyte.gz.*gzip"):
        MNIST(tmp_path, train=False, download=False)


def test_parse_idx_checks_magic_and_size():
    good = (0x801).to_bytes(4, "big") + (3).to_bytes(4, "big") + bytes([1, 2, 3])
    np.testing.assert_array_equal(mnist_module.parse_idx(good, 0x801, "f"), [1, 2, 3])
    with pytest.raises(ValueError, match="somefile.*magic"):
        mnist_module.parse_idx(good, 0x803, "somefile")
    with pytest.raises(ValueError, match="somefile.*dims"):
        mnist_module.parse_idx(good[:-1], 0x801, "somefile")
    with pytest.raises(ValueError, match="somefile.*truncated"):
        mnist_module.parse_idx(good[:6], 0x801, "somefile")
    huge = (0x803).to_bytes(4, "big") + b"\xff" * 12
    with pytest.raises(ValueError, match="somefile.*dims"):
        mnist_module.parse_idx(huge, 0x803, "somefile")


# ----------------------------------------------------------------------------- download

class _Response(io.BytesIO):
    def __init__(self, data):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}


def _fake_opener(behaviour, calls):
    """Serves the shared .gz files; behaviour(mirror_index, data) can alter or refuse."""
    def urlopen(url, timeout=None):
        calls.append(url)
        mirror = next(i for i, m in enumerate(MNIST.mirrors) if url.startswith(m))
        with open(os.path.join(mnist_dir(), url.rsplit("/", 1)[1]), "rb") as f:
            data = f.read()
        return _Response(behaviour(mirror, data))
    return urlopen


def test_download(tmp_path, monkeypatch, capsys, test_set):
    calls = []
    monkeypatch.setattr(_download, "urlopen", _fake_opener(lambda m, d: d, calls))
    ds = MNIST(tmp_path / "new", train=False, download=True)
    assert calls == [MNIST.mirrors[0] + f + ".gz" for f in TEST_FILES]
    assert sorted(os.listdir(tmp_path / "new")) == [f + ".gz" for f in TEST_FILES]
    err = capsys.readouterr().err  # the tqdm progress bar, one per file
    assert err.count("100%|") == len(TEST_FILES) and "t10k-images-idx3-ubyte.gz" in err
    np.testing.assert_array_equal(ds.targets.numpy(), test_set.targets.numpy())
    calls.clear()
    MNIST(tmp_path / "new", train=False, download=True)  # present now: no download
    assert calls == []


def test_download_falls_back_to_next_mirror(tmp_path, monkeypatch, test_set):
    calls = []

    def behaviour(mirror, data):
        if mirror == 0:
            raise urllib.error.URLError("mirror down")
        return gzip.compress(gzip.decompress(data), compresslevel=1)  # a different wrapper
    monkeypatch.setattr(_download, "urlopen", _fake_opener(behaviour, calls))
    ds = MNIST(tmp_path, train=False, download=True)
    assert len(calls) == 4 and all(c.startswith(MNIST.mirrors[1]) for c in calls[1::2])
    np.testing.assert_array_equal(ds[3][0].numpy(), test_set[3][0].numpy())


def test_corrupt_download_is_rejected_and_not_kept(tmp_path, monkeypatch, test_set):
    def corrupt(mirror, data):
        raw = bytearray(gzip.decompress(data))
        raw[-1] ^= 0xFF
        return gzip.compress(bytes(raw), compresslevel=1)
    monkeypatch.setattr(_download, "urlopen", _fake_opener(corrupt, []))
    with pytest.raises(RuntimeError, match="t10k-images-idx3-ubyte.*sha256"):
        MNIST(tmp_path, train=False, download=True)
    assert os.listdir(tmp_path) == []  # no partial or temporary file
    monkeypatch.setattr(_download, "urlopen", _fake_opener(lambda m, d: d[: len(d) // 2], []))
    with pytest.raises(RuntimeError, match="t10k-images-idx3-ubyte"):
        MNIST(tmp_path, train=False, download=True)
    assert os.listdir(tmp_path) == []
    # a corrupt first mirror does not stop a good second one
    monkeypatch.setattr(_download, "urlopen",
                        _fake_opener(lambda m, d: corrupt(m, d) if m == 0 else d, []))
    ds = MNIST(tmp_path, train=False, download=True)
    np.testing.assert_array_equal(ds.targets.numpy(), test_set.targets.numpy())
    assert sorted(os.listdir(tmp_path)) == [f + ".gz" for f in TEST_FILES]
