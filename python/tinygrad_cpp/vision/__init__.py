"""torchvision's counterpart: `datasets` (MNIST, FashionMNIST), `transforms` and `utils`
(make_grid, save_image). Porting a torchvision script is the rename `torchvision` ->
`tinygrad_cpp.vision`. Pillow is optional (`pip install "tinygrad_cpp[vision]"`):
without it datasets hand out uint8 arrays instead of PIL images, and save_image raises
ImportError."""
from . import datasets, transforms, utils

__all__ = ["datasets", "transforms", "utils"]
