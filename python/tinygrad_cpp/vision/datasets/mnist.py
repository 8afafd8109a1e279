"""MNIST and FashionMNIST with torchvision's interface, read from their four IDX files
(gzipped or not).

Memory: the images stay as the file's uint8 bytes (47 MB for a training set); an item is
converted when it is asked for. `.data` is the same pixels as an int64 tensor
(tinygrad_cpp has no uint8 dtype), built on first access only: it takes 8 bytes a pixel.

Batching: a DataLoader gathers a whole batch through `_get_batch` when the transform is
ToTensor, optionally followed by Normalize (alone or in a Compose): one numpy expression
over the batch instead of a PIL image, a tensor and a Normalize per item, with the same
float32 values.
"""
import gzip
import hashlib
import operator
import os
import zlib

import numpy as np

import tinygrad_cpp as tg

from ...utils.data import Dataset
from . import _download

__all__ = ["MNIST", "FashionMNIST", "DatasetNotFoundError", "read_verified", "parse_idx"]

MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
]
# sha256 of the *uncompressed* files: mirrors recompress the .gz wrappers.
SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
FASHION_MIRRORS = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
# md5 of the .gz files as served by that one mirror (torchvision's checksums).
FASHION_MD5 = {
    "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310",
}
_IMAGES_MAGIC, _LABELS_MAGIC = 0x803, 0x801
_GZIP_MAGIC = b"\x1f\x8b"


class DatasetNotFoundError(FileNotFoundError, RuntimeError):
    """A dataset file is missing and download is off. torchvision raises RuntimeError
    here, tinygrad_cpp.datasets raised FileNotFoundError: this is both."""


def _read(path, label="MNIST"):
    """The file's bytes and its uncompressed bytes (gzip detected by its magic)."""
    with open(path, "rb") as f:
        file_bytes = f.read()
    raw = file_bytes
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise RuntimeError(f"{label} file {path} is not a valid gzip file ({e})") from None
    return file_bytes, raw


def read_verified(path, name):
    """The uncompressed bytes of `path` (gzip detected by its magic bytes), checked
    against the sha256 of the MNIST file `name`."""
    raw = _read(path)[1]
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SHA256[name]:
        raise RuntimeError(f"MNIST file {path} is corrupt or not {name}: its uncompressed "
                           f"sha256 is {digest}, expected {SHA256[name]}")
    return raw


def parse_idx(raw, magic, path):
    """An IDX file's unsigned bytes as a numpy array (a read-only view of `raw`)."""
    if len(raw) < 4:
        raise ValueError(f"IDX file {path} is truncated ({len(raw)} bytes)")
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        raise ValueError(f"IDX file {path} has magic number {found:#010x}, expected {magic:#010x}")
    ndim = magic & 0xFF
    start = 4 + 4 * ndim
    if len(raw) < start:
        raise ValueError(f"IDX file {path} is truncated inside its header")
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    if int(np.prod(dims, dtype=object)) != len(raw) - start:
        raise ValueError(f"IDX file {path} declares dims {dims} ({int(np.prod(dims, dtype=object))} "
                         f"bytes) but holds {len(raw) - start} bytes of data")
    return np.frombuffer(raw, dtype=np.uint8, offset=start).reshape(dims)


def _pil_image_module():
    try:
        from PIL import Image
    except ImportError:
        return None
    return Image


class MNIST(Dataset):
    """torchvision.datasets.MNIST. Items are `(image, target)`: image a 28x28 PIL image
    (mode "L") when Pillow is installed, else a 28x28 uint8 numpy array, then
    `transform(image)`; target an int, then `target_transform(target)`. Files are looked
    for in `root/<ClassName>/raw` and in `root`, as `<name>` or `<name>.gz`; missing ones
    are downloaded into `root/<ClassName>/raw` when `download` is true."""

    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
               "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine"]
    mirrors = MIRRORS
    training_file_prefix, test_file_prefix = "train", "t10k"

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        if isinstance(root, (str, bytes, os.PathLike)):
            root = os.path.expanduser(os.fsdecode(root))
        self.root = root
        self.train = train
        self.transform = transform
        self.target_transform = target_transform
        prefix = "train" if train else "t10k"
        images = self._load(f"{prefix}-images-idx3-ubyte", _IMAGES_MAGIC, download)
        labels = self._load(f"{prefix}-labels-idx1-ubyte", _LABELS_MAGIC, download)
        if images.ndim != 3 or images.shape[0] != labels.shape[0]:
            raise ValueError(f"{type(self).__name__} files in {self.root} disagree: images "
                             f"{images.shape}, labels {labels.shape}")
        self._pixels = images
        self._data = None
        self.targets = tg.from_numpy(labels.astype(np.int64))

    # --------------------------------------------------------------- torchvision's attributes

    @property
    def raw_folder(self):
        return os.path.join(self.root, type(self).__name__, "raw")

    @property
    def class_to_idx(self):
        return {c: i for i, c in enumerate(self.classes)}

    @property
    def data(self):
        """The images as an int64 N x H x W tensor of values 0..255 (built once, on first
        access: tinygrad_cpp has no uint8)."""
        if self._data is None:
            self._data = tg.from_numpy(self._pixels.astype(np.int64))
        return self._data

    @data.setter
    def data(self, value):  # e.g. `ds.data = ds.data[:1000]`, as with torchvision
        self._data = value if isinstance(value, tg.Tensor) else tg.tensor(value)
        pixels = self._data.detach().numpy()
        if pixels.ndim != 3:
            raise ValueError(f"data must be an N x H x W tensor, got shape {tuple(pixels.shape)}")
        self._pixels = np.ascontiguousarray(np.clip(pixels, 0, 255).astype(np.uint8))

    @property
    def targets(self):
        return self._targets

    @targets.setter
    def targets(self, value):
        self._targets = value if isinstance(value, tg.Tensor) else tg.tensor(value)
        self._labels = self._targets.detach().numpy().reshape(-1)

    # --------------------------------------------------------------- files

    def _folders(self):
        return (self.raw_folder, self.root)

    def _download_folder(self):
        return self.raw_folder

    def _find(self, name):
        for folder in self._folders():
            for fname in (name, name + ".gz"):
                path = os.path.join(folder, fname)
                if os.path.isfile(path):
                    return path
        return None

    def _verified(self, path, name):
        """The uncompressed bytes of the local file `path`, checked to be `name`."""
        return read_verified(path, name)

    def _verify_download(self, path, name):
        read_verified(path, name)

    def _load(self, name, magic, download):
        path = self._find(name)
        if path is None:
            if not download:
                folders = " and ".join(self._folders())
                raise DatasetNotFoundError(
                    f"Dataset not found: {type(self).__name__} file {name} is not in {folders} "
                    f"(looked for {name} and {name}.gz). You can use download=True to download it")
            dest = os.path.join(self._download_folder(), name + ".gz")
            path = _download.fetch([m + name + ".gz" for m in self.mirrors], dest,
                                   verify=lambda p: self._verify_download(p, name))
        return parse_idx(self._verified(path, name), magic, path)

    # --------------------------------------------------------------- items

    def __len__(self):
        return len(self._pixels)

    def _image(self, index):
        """What torchvision hands the transform: a PIL image, or without Pillow a uint8
        array."""
        pixels = self._pixels[index]
        Image = _pil_image_module()
        if Image is None:
            return np.array(pixels)  # a writable copy, not a view of the file's bytes
        return Image.fromarray(pixels)

    def __getitem__(self, index):
        index = operator.index(index)
        image = self._image(index)
        target = int(self._labels[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def _get_batch(self, indices):
        """A collated batch for an int64 index tensor, or NotImplemented when the
        transforms must run item by item."""
        if self.target_transform is not None or self.transform is None:
            return NotImplemented
        from ..transforms.transforms import _batch_fn
        run = _batch_fn(self.transform)
        if run is None:
            return NotImplemented
        i = indices.numpy()
        images = run(self._pixels[i][:, None])
        if images is None:
            return NotImplemented
        return [images, tg.from_numpy(self._labels[i].astype(np.int64))]

    def __repr__(self):
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}",
                 f"    Root location: {self.root}", f"    Split: {'Train' if self.train else 'Test'}"]
        if self.transform is not None:
            lines.append("    StandardTransform")
            lines.append("Transform: " + repr(self.transform).replace("\n", "\n           "))
        if self.target_transform is not None:
            lines.append(f"Target transform: {self.target_transform!r}")
        return "\n".join(lines)


class FashionMNIST(MNIST):
    """torchvision.datasets.FashionMNIST: Zalando's 28x28 grey images of 10 kinds of
    clothing, in MNIST's format, under `root/FashionMNIST/raw`. Downloads are checked
    against the .gz files' md5 (torchvision's); local files by their IDX headers and by
    not being MNIST's files, which have the same names."""

    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]
    mirrors = FASHION_MIRRORS

    def _verified(self, path, name):
        raw = _read(path, type(self).__name__)[1]
        if hashlib.sha256(raw).hexdigest() == SHA256[name]:
            raise RuntimeError(f"FashionMNIST file {path} holds MNIST's {name}, not FashionMNIST's")
        return raw

    def _verify_download(self, path, name):
        file_bytes = _read(path, type(self).__name__)[0]
        digest = hashlib.md5(file_bytes, usedforsecurity=False).hexdigest()
        if digest != FASHION_MD5[name]:
            raise RuntimeError(f"FashionMNIST download {path} is corrupt: md5 {digest}, "
                               f"expected {FASHION_MD5[name]}")
