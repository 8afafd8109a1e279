"""tinygrad_cpp.datasets.MNIST: the vision MNIST with this package's original API.

Differences from `tinygrad_cpp.vision.datasets.MNIST`: `download` is the third argument
and defaults to True; files are also read from, and downloaded into, `root` itself; an
item's image is a float32 1x28x28 tensor in [0, 1] (before `transform`), so that a
DataLoader batches it without any transform and gathers whole batches in one numpy call.
"""
import numpy as np

import tinygrad_cpp as tg

from ..vision.datasets import mnist as _vision
from ..vision.datasets.mnist import MIRRORS, SHA256, parse_idx, read_verified  # noqa: F401

__all__ = ["MNIST", "MIRRORS", "SHA256", "parse_idx", "read_verified"]


class MNIST(_vision.MNIST):
    """torchvision.datasets.MNIST's interface with tensor items: `(image, label)`, image
    a float32 1x28x28 tensor in [0, 1] (then `transform(image)` if given), label an int
    (then `target_transform(label)`). Files are looked for in `root` and in torchvision's
    `root/MNIST/raw`, as `<name>` or `<name>.gz`; missing files are downloaded into
    `root` when `download` is true."""

    def __init__(self, root, train=True, download=True, transform=None, target_transform=None):
        super().__init__(root, train=train, transform=transform, target_transform=target_transform,
                         download=download)

    def _folders(self):
        return (self.root, self.raw_folder)

    def _download_folder(self):
        return self.root

    def _images(self, index, shape):
        pixels = self._pixels[index].astype(np.float32) / np.float32(255)
        return tg.from_numpy(pixels.reshape(shape))

    def _image(self, index):
        return self._images(index, (1,) + self._pixels.shape[1:])

    def _get_batch(self, indices):
        """Without transforms, a batch is one numpy gather."""
        if self.transform is not None or self.target_transform is not None:
            return NotImplemented
        i = indices.numpy()
        return [self._images(i, (len(i), 1) + self._pixels.shape[1:]),
                tg.from_numpy(self._labels[i].astype(np.int64))]
