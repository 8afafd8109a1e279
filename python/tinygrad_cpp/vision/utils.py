"""torchvision.utils' counterpart: make_grid and save_image."""
import math

import numpy as np

import tinygrad_cpp as tg

__all__ = ["make_grid", "save_image"]

_PILLOW_HINT = 'pip install "tinygrad_cpp[vision]"'


def make_grid(tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False,
              pad_value=0.0):
    """A batch of images (B, C, H, W), or a list of (C, H, W) images, tiled into one
    (3 or C, rows, cols) image with `nrow` images a row and `padding` pixels of
    `pad_value` between them; one-channel images become three-channel. `normalize`
    rescales to [0, 1] by `value_range` (default: the min and max, of each image with
    `scale_each`)."""
    if not isinstance(tensor, tg.Tensor):
        if isinstance(tensor, list):
            for t in tensor:
                if not isinstance(t, tg.Tensor):
                    raise TypeError(f"tensor or list of tensors expected, got a list containing {type(t)}")
        else:
            raise TypeError(f"tensor or list of tensors expected, got {type(tensor)}")
    if isinstance(nrow, bool) or not isinstance(nrow, int) or nrow <= 0:
        raise ValueError(f"nrow must be a positive int, got {nrow!r}")
    if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
        raise ValueError(f"padding must be a non-negative int, got {padding!r}")
    if isinstance(tensor, list):
        if not tensor:
            raise ValueError("make_grid got an empty list of images")
        arr = np.stack([t.detach().numpy() for t in tensor], 0)
    else:
        arr = tensor.detach().numpy()
    if arr.ndim == 2:  # a single H x W image
        arr = arr[None]
    if arr.ndim == 3:  # a single image
        if arr.shape[0] == 1:
            arr = np.concatenate((arr, arr, arr), 0)
        arr = arr[None]
    if arr.ndim != 4:
        raise ValueError(f"make_grid expects a 2-, 3- or 4-dimensional tensor, got {arr.ndim} dimensions")
    if arr.shape[1] == 1:  # single-channel images
        arr = np.concatenate((arr, arr, arr), 1)
    if normalize is True:
        if value_range is not None and not isinstance(value_range, tuple):
            raise TypeError("value_range has to be a tuple (min, max) if specified. min and max are numbers")
        arr = arr.astype(arr.dtype if arr.dtype.kind == "f" else np.float32, copy=True)

        def norm_range(img):
            low, high = (value_range if value_range is not None
                         else (float(img.min()), float(img.max())))
            np.clip(img, low, high, out=img)
            img -= low
            img /= max(high - low, 1e-5)

        if scale_each is True:
            for img in arr:
                norm_range(img)
        else:
            norm_range(arr)
    if arr.shape[0] == 1:
        return tg.from_numpy(np.ascontiguousarray(arr[0]))
    nmaps = arr.shape[0]
    xmaps = min(nrow, nmaps)
    ymaps = int(math.ceil(float(nmaps) / xmaps))
    height, width = arr.shape[2] + padding, arr.shape[3] + padding
    grid = np.full((arr.shape[1], height * ymaps + padding, width * xmaps + padding), pad_value, dtype=arr.dtype)
    for k in range(nmaps):
        y, x = divmod(k, xmaps)
        grid[:, y * height + padding:(y + 1) * height, x * width + padding:(x + 1) * width] = arr[k]
    return tg.from_numpy(grid)


def save_image(tensor, fp, format=None, **kwargs):
    """Writes `make_grid(tensor, **kwargs)` (values in [0, 1]) as an 8-bit image file,
    PNG unless `fp`'s extension or `format` says otherwise. Needs Pillow."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(f"save_image needs Pillow, which is not installed: {_PILLOW_HINT}") from None
    grid = make_grid(tensor, **kwargs).detach().numpy()
    # torchvision's rounding: x * 255 + 0.5, clamped, truncated
    ndarr = np.clip(grid * 255 + 0.5, 0, 255).astype(np.uint8)
    ndarr = ndarr.transpose(1, 2, 0) if ndarr.ndim == 3 else ndarr
    if ndarr.ndim == 3 and ndarr.shape[2] == 1:
        ndarr = ndarr[:, :, 0]
    Image.fromarray(np.ascontiguousarray(ndarr)).save(fp, format=format)
