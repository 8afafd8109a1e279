"""torchvision's counterpart: `datasets` (MNIST, FashionMNIST), `transforms` and `utils`
(make_grid, save_image). Porting a torchvision script is the rename `torchvision` ->
`tinygrad_cpp.vision`. Pillow is optional (`pip install "tinygrad_cpp[vision]"`):
without it datasets hand out uint8 arrays instead of PIL images, and save_image raises
ImportError."""
import importlib

__all__ = ["datasets", "transforms", "utils"]


def __getattr__(name):
    # Submodules load on first use: `import tinygrad_cpp` (whose `datasets` alias lives
    # here) does not pay for the transforms.
    if name in __all__:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
