"""The first home of MNIST, kept as an alias of `tinygrad_cpp.vision.datasets` with its
original API: `MNIST(root, train=True, download=True, transform=None,
target_transform=None)` whose items are float32 1x28x28 tensors in [0, 1]. New code
should use `tinygrad_cpp.vision.datasets` (torchvision's signature and PIL items)."""
import sys

from ..vision.datasets import FashionMNIST, _download
from . import mnist
from .mnist import MNIST

# `tinygrad_cpp.datasets._download` is the module the downloads use (tests patch its urlopen).
sys.modules[__name__ + "._download"] = _download

__all__ = ["MNIST", "FashionMNIST"]
