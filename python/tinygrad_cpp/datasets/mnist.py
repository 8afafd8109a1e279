"""MNIST, read from its four IDX files (gzipped or not), verified by sha256.

Memory: the images stay as the file's uint8 bytes (47 MB for the training set); an item
or a batch is converted to float32 when it is asked for. `.data` is the same pixels as
an int64 tensor (tinygrad_cpp has no uint8 dtype), built on first access only, because
it takes 8 bytes per pixel.
"""
import gzip
import hashlib
import operator
import os
import zlib

import numpy as np

import tinygrad_cpp as tg

from ..utils.data import Dataset
from . import _download

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
_IMAGES_MAGIC, _LABELS_MAGIC = 0x803, 0x801
_GZIP_MAGIC = b"\x1f\x8b"


def read_verified(path, name):
    """The uncompressed bytes of `path` (gzip detected by its magic bytes), checked
    against the sha256 of the MNIST file `name`."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise RuntimeError(f"MNIST file {path} is not a valid gzip file ({e})") from None
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


class MNIST(Dataset):
    """torchvision.datasets.MNIST's interface. Items are `(image, label)`: image a float32
    1x28x28 tensor in [0, 1] (then `transform(image)` if given), label an int (then
    `target_transform(label)`). Files are looked for in `root` and in torchvision's
    `root/MNIST/raw`, as `<name>` or `<name>.gz`; missing files are downloaded into `root`
    when `download` is true."""

    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
               "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine"]
    mirrors = MIRRORS

    def __init__(self, root, train=True, download=True, transform=None, target_transform=None):
        self.root = os.path.expanduser(os.fspath(root))
        self.train = train
        self.transform = transform
        self.target_transform = target_transform
        prefix = "train" if train else "t10k"
        images = self._load(f"{prefix}-images-idx3-ubyte", _IMAGES_MAGIC, download)
        labels = self._load(f"{prefix}-labels-idx1-ubyte", _LABELS_MAGIC, download)
        if images.shape[1:] != (28, 28) or images.shape[0] != labels.shape[0]:
            raise ValueError(f"MNIST files in {self.root} disagree: images {images.shape}, "
                             f"labels {labels.shape}")
        self._pixels = images
        self._data = None
        self.targets = tg.from_numpy(labels.astype(np.int64))

    @property
    def class_to_idx(self):
        return {c: i for i, c in enumerate(self.classes)}

    @property
    def data(self):
        """The images as an int64 N x 28 x 28 tensor of values 0..255 (built once, on
        first access: tinygrad_cpp has no uint8)."""
        if self._data is None:
            self._data = tg.from_numpy(self._pixels.astype(np.int64))
        return self._data

    @data.setter
    def data(self, value):  # e.g. `ds.data = ds.data[:1000]`, as with torchvision
        self._data = value if isinstance(value, tg.Tensor) else tg.tensor(value)
        self._pixels = self._data.detach().numpy()

    def _find(self, name):
        for folder in (self.root, os.path.join(self.root, "MNIST", "raw")):
            for fname in (name, name + ".gz"):
                path = os.path.join(folder, fname)
                if os.path.isfile(path):
                    return path
        return None

    def _load(self, name, magic, download):
        path = self._find(name)
        if path is None:
            dest = os.path.join(self.root, name + ".gz")
            if not download:
                raise FileNotFoundError(f"MNIST file {name} not found in {self.root} (looked for "
                                        f"{name} and {name}.gz, also under MNIST/raw); "
                                        "use download=True to fetch it")
            path = _download.fetch([m + name + ".gz" for m in self.mirrors], dest,
                                   verify=lambda p: read_verified(p, name))
        return parse_idx(read_verified(path, name), magic, path)

    def __len__(self):
        return len(self._pixels)

    def _images(self, index, shape):
        pixels = self._pixels[index].astype(np.float32) / np.float32(255)
        return tg.from_numpy(pixels.reshape(shape))

    def __getitem__(self, index):
        index = operator.index(index)
        image = self._images(index, (1, 28, 28))
        target = int(self.targets.numpy()[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def _get_batch(self, indices):
        """A collated batch for an int64 index tensor, gathered in one numpy call; only
        used without transforms (they work on single items)."""
        if self.transform is not None or self.target_transform is not None:
            return NotImplemented
        i = indices.numpy()
        return [self._images(i, (len(i), 1, 28, 28)), tg.from_numpy(self.targets.numpy()[i])]

    def __repr__(self):
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}",
                 f"    Root location: {self.root}", f"    Split: {'Train' if self.train else 'Test'}"]
        if self.transform is not None:
            lines.append(f"    Transform: {self.transform!r}")
        return "\n".join(lines)
