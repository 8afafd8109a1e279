"""torchvision.transforms.functional's counterpart: the image operations behind the
transform classes, on PIL images (through Pillow's own operations, as torchvision does)
and on tensors (..., C, H, W) or (..., H, W).

Tensor geometry is computed in numpy on the tensor's values (the result is a new tensor,
not connected to the autograd graph); the math follows torchvision's: resizing is
PyTorch's `interpolate` (align_corners=False, antialiased bilinear when downscaling),
rotations and affine maps sample the inverse-mapped pixel centres like `grid_sample`
with align_corners=False.
"""
import enum
import math
import numbers
import sys

import numpy as np

import tinygrad_cpp as tg


class InterpolationMode(enum.Enum):
    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


# Pillow's resampling filter numbers (Image.Resampling), without importing Pillow.
_PIL_FILTERS = {InterpolationMode.NEAREST: 0, InterpolationMode.NEAREST_EXACT: 0,
                InterpolationMode.BILINEAR: 2, InterpolationMode.BICUBIC: 3,
                InterpolationMode.BOX: 4, InterpolationMode.HAMMING: 5, InterpolationMode.LANCZOS: 1}
_FROM_PIL = {0: InterpolationMode.NEAREST, 2: InterpolationMode.BILINEAR, 3: InterpolationMode.BICUBIC,
             4: InterpolationMode.BOX, 5: InterpolationMode.HAMMING, 1: InterpolationMode.LANCZOS}


def _interpolation(mode):
    if isinstance(mode, InterpolationMode):
        return mode
    if isinstance(mode, int) and not isinstance(mode, bool) and mode in _FROM_PIL:
        return _FROM_PIL[mode]
    raise TypeError("Argument interpolation should be a InterpolationMode or a corresponding "
                    f"Pillow integer constant, got {mode!r}")


# ----------------------------------------------------------------------------- type checks

def _pil_module():
    """PIL.Image, or None when Pillow is not installed (checked on each call, so a test
    can hide it through sys.modules)."""
    try:
        from PIL import Image
    except ImportError:
        return None
    return Image


def _is_pil_image(img):
    # Only an already imported Pillow can have made `img`: no import needed to tell.
    image = sys.modules.get("PIL.Image")
    return image is not None and isinstance(img, image.Image)


def _is_tensor(img):
    return isinstance(img, tg.Tensor)


def _check_image(img, what="img"):
    if _is_pil_image(img):
        return "pil"
    if _is_tensor(img):
        if img.ndim < 2:
            raise TypeError(f"Tensor is not a torch image: it has {img.ndim} dimensions, expected (..., H, W)")
        return "tensor"
    extra = (" (a numpy array: convert it with ToTensor first)" if isinstance(img, np.ndarray) else "")
    raise TypeError(f"{what} should be PIL Image or Tensor. Got {type(img)}{extra}")


def get_dimensions(img):
    """[channels, height, width]."""
    if _check_image(img) == "pil":
        return [len(img.getbands()), img.size[1], img.size[0]]
    return [img.shape[-3] if img.ndim > 2 else 1, img.shape[-2], img.shape[-1]]


def get_image_size(img):
    """[width, height]."""
    _, h, w = get_dimensions(img)
    return [w, h]


def get_image_num_channels(img):
    return get_dimensions(img)[0]


# ----------------------------------------------------------------------------- conversion

def _tg_dtype_array(arr):
    """`arr` with a dtype tinygrad_cpp holds (float32, float64, int64, bool)."""
    k = arr.dtype.kind
    if k == "f":
        return arr if arr.dtype.itemsize in (4, 8) else arr.astype(np.float32)
    if k in "iu":
        return arr.astype(np.int64)
    if k == "b":
        return arr
    raise TypeError(f"can't convert an image of numpy dtype {arr.dtype} to a tensor")


def to_tensor(pic):
    """A PIL image or an H x W (x C) numpy array as a C x H x W tensor; uint8 data is
    scaled to float32 in [0, 1], other dtypes keep their values (as torchvision)."""
    if _is_pil_image(pic):
        mode_to_nptype = {"I": np.int32, "I;16" if sys.byteorder == "little" else "I;16B": np.int16,
                          "F": np.float32}
        arr = np.array(pic, mode_to_nptype.get(pic.mode, np.uint8), copy=True)
        if pic.mode == "1":
            arr = 255 * arr
        arr = arr.reshape(pic.size[1], pic.size[0], len(pic.getbands()))
    elif isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
        arr = pic[:, :, None] if pic.ndim == 2 else pic
    else:
        raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic)}")
    if arr.dtype == np.uint8:
        # division, not a multiply by 1/255: torchvision's exact values
        chw = arr.transpose(2, 0, 1).astype(np.float32) / np.float32(255)
    else:
        chw = np.ascontiguousarray(_tg_dtype_array(arr).transpose(2, 0, 1))
    return tg.from_numpy(chw)


def pil_to_tensor(pic):
    """A PIL image as a C x H x W int64 tensor of its raw values (tinygrad_cpp has no uint8)."""
    if not _is_pil_image(pic):
        raise TypeError(f"pic should be PIL Image. Got {type(pic)}")
    arr = np.array(pic, copy=True)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return tg.from_numpy(np.ascontiguousarray(_tg_dtype_array(arr).transpose(2, 0, 1)))


def to_pil_image(pic, mode=None):
    """A C x H x W tensor or H x W x C array as a PIL image; float data in [0, 1] is
    scaled to 0..255 (as torchvision: mul(255) then truncation to uint8)."""
    Image = _pil_module()
    if Image is None:
        raise ImportError('to_pil_image needs Pillow: pip install "tinygrad_cpp[vision]"')
    if _is_tensor(pic):
        if pic.ndim not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
        arr = pic.detach().numpy()
        arr = arr[None] if arr.ndim == 2 else arr
        if arr.shape[0] > 4:
            raise ValueError(f"pic should not have > 4 channels. Got {arr.shape[0]} channels.")
        arr = arr.transpose(1, 2, 0)
        if arr.dtype.kind == "f" and mode != "F":
            arr = (arr * 255).astype(np.uint8)
    elif isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
        arr = pic[:, :, None] if pic.ndim == 2 else pic
        if arr.shape[-1] > 4:
            raise ValueError(f"pic should not have > 4 channels. Got {arr.shape[-1]} channels.")
    else:
        raise TypeError(f"pic should be Tensor or ndarray. Got {type(pic)}.")
    if arr.shape[2] == 1:
        arr = arr[:, :, 0]
        if arr.dtype == np.int64:  # tensors hold 8-bit pixels as int64
            arr = arr.astype(np.int32)
    elif arr.dtype != np.uint8:
        arr = arr.astype(np.uint8)
    image = Image.fromarray(np.ascontiguousarray(arr))
    return image if mode is None else image.convert(mode)


def normalize(tensor, mean, std, inplace=False, _cache=None):
    """(tensor - mean) / std per channel of a float (..., C, H, W) tensor."""
    if not _is_tensor(tensor):
        raise TypeError(f"img should be Tensor Image. Got {type(tensor)}")
    if not tensor.is_floating_point():
        raise TypeError(f"Input tensor should be a float tensor. Got {tensor.dtype}.")
    if tensor.ndim < 3:
        raise ValueError("Expected tensor to be a tensor image of size (..., C, H, W). Got "
                         f"tensor.size() = {tuple(tensor.shape)}")
    key = _cache_key(mean, std, tensor.dtype) if _cache is not None else None
    if key is not None and key in _cache:
        mean_t, std_t = _cache[key]
    else:
        mean_t, std_t = _mean_std(mean, std, tensor.dtype)
        if key is not None:
            _cache.clear()
            _cache[key] = (mean_t, std_t)
    if inplace:
        return tensor.sub_(mean_t).div_(std_t)
    return (tensor - mean_t) / std_t


def _cache_key(mean, std, dtype):
    """A hashable key for numbers or flat sequences of numbers, else None (no caching)."""
    def flat(v):
        if isinstance(v, numbers.Number):
            return (v,)
        if isinstance(v, (list, tuple)) and all(isinstance(x, numbers.Number) for x in v):
            return tuple(v)
        return None
    m, s = flat(mean), flat(std)
    return None if m is None or s is None else (str(dtype), len(m), m, s)


def _mean_std(mean, std, dtype):
    """mean and std as tensors of `dtype` shaped to broadcast over (C, H, W)."""
    np_dtype = np.float32 if dtype == tg.float32 else np.float64
    m = _as_float_array(mean, "mean", np_dtype)
    s = _as_float_array(std, "std", np_dtype)
    if (s == 0).any():
        raise ValueError(f"std evaluated to zero after conversion to {dtype}, leading to division by zero.")
    m = m.reshape(-1, 1, 1) if m.ndim == 1 else m
    s = s.reshape(-1, 1, 1) if s.ndim == 1 else s
    return tg.from_numpy(np.ascontiguousarray(m)), tg.from_numpy(np.ascontiguousarray(s))


def _as_float_array(values, name, np_dtype):
    if _is_tensor(values):
        values = values.detach().numpy()
    try:
        arr = np.asarray(values, dtype=np_dtype)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number or a sequence of numbers, got {values!r}") from None
    return arr


# ----------------------------------------------------------------------------- numpy helpers

def _np_image(t):
    """A tensor's values as a float array (N, C, H, W), plus what undoes the reshape
    and the cast."""
    arr = t.detach().numpy()
    shape, dtype = arr.shape, arr.dtype
    arr = arr.reshape((-1,) + (shape[-3] if len(shape) > 2 else 1,) + shape[-2:])
    if dtype.kind != "f":
        arr = arr.astype(np.float32)

    def back(out):
        out = out.reshape(shape[:-2] + out.shape[-2:])
        if dtype.kind != "f":  # integer images: torchvision rounds the sampled values
            out = np.round(out)
        return tg.from_numpy(np.ascontiguousarray(out.astype(dtype, copy=False)))
    return arr, back


def _from_array(arr):
    return tg.from_numpy(np.ascontiguousarray(arr))


def _parse_fill(fill, img, name="fillcolor"):
    """Pillow's fill argument for `img`: a number for one band, a tuple per band."""
    if fill is None:
        fill = 0
    bands = len(img.getbands())
    if isinstance(fill, (int, float)) and bands > 1:
        fill = tuple([fill] * bands)
    if isinstance(fill, (list, tuple)):
        if len(fill) == 1:
            fill = fill * bands
        if len(fill) != bands:
            raise ValueError(f"The number of elements in 'fill' does not match the number of bands "
                             f"of the image ({len(fill)} != {bands})")
        fill = tuple(fill)
    if img.mode != "F":
        fill = tuple(int(f) for f in fill) if isinstance(fill, tuple) else int(fill)
    return {name: fill}


def _fill_values(fill, channels):
    """A tensor fill as a float array of one value per channel, or None."""
    if fill is None:
        return None
    if isinstance(fill, numbers.Number):
        return np.full(channels, float(fill))
    fill = [float(f) for f in fill]
    if len(fill) == 1:
        fill = fill * channels
    if len(fill) != channels:
        raise ValueError("The number of elements in 'fill' cannot broadcast to match the number of "
                         f"channels of the image ({len(fill)} != {channels})")
    return np.asarray(fill)


# ----------------------------------------------------------------------------- flips, crops, pads

def hflip(img):
    if _check_image(img) == "pil":
        return img.transpose(0)  # Image.Transpose.FLIP_LEFT_RIGHT
    return _from_array(img.detach().numpy()[..., ::-1])


def vflip(img):
    if _check_image(img) == "pil":
        return img.transpose(1)  # Image.Transpose.FLIP_TOP_BOTTOM
    return _from_array(img.detach().numpy()[..., ::-1, :])


def _pad_ltrb(padding):
    if isinstance(padding, bool) or not isinstance(padding, (numbers.Integral, tuple, list)):
        raise TypeError(f"Got inappropriate padding arg: {padding!r}")
    if isinstance(padding, (tuple, list)):
        if len(padding) not in (1, 2, 4):
            raise ValueError("Padding must be an int or a 1, 2, or 4 element tuple, not a "
                             f"{len(padding)} element tuple")
        for p in padding:
            if isinstance(p, bool) or not isinstance(p, numbers.Integral):
                raise TypeError(f"Got inappropriate padding arg: {padding!r}")
        padding = [int(p) for p in padding]
        if len(padding) == 1:
            return padding * 4
        if len(padding) == 2:
            return [padding[0], padding[1], padding[0], padding[1]]
        return padding
    return [int(padding)] * 4


def pad(img, padding, fill=0, padding_mode="constant"):
    """Pads the borders: `padding` is an int (all sides), (left/right, top/bottom) or
    (left, top, right, bottom); negative values crop. `padding_mode` is constant
    (with `fill`), edge, reflect (without the edge pixel) or symmetric (with it)."""
    kind = _check_image(img)
    left, top, right, bottom = _pad_ltrb(padding)
    if not isinstance(fill, (numbers.Number, str, tuple, list)) and fill is not None:
        raise TypeError(f"Got inappropriate fill arg: {fill!r}")
    if not isinstance(padding_mode, str):
        raise TypeError("Got inappropriate padding_mode arg")
    if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
        raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")
    if kind == "pil":
        Image = _pil_module()
        if padding_mode == "constant":
            w, h = img.size
            out = Image.new(img.mode, (w + left + right, h + top + bottom),
                            **{"color": _parse_fill(fill, img)["fillcolor"]})
            if img.mode == "P":
                out.putpalette(img.getpalette())
            out.paste(img, (left, top))
            return out
        arr = np.asarray(img)
        widths = [(max(top, 0), max(bottom, 0)), (max(left, 0), max(right, 0))] + [(0, 0)] * (arr.ndim - 2)
        arr = np.pad(arr, widths, mode=padding_mode)
        arr = _crop_negative(arr, left, top, right, bottom, 0)
        out = Image.fromarray(np.ascontiguousarray(arr))
        if img.mode == "P":
            out.putpalette(img.getpalette())
        return out
    arr = img.detach().numpy()
    nd = arr.ndim
    widths = [(0, 0)] * (nd - 2) + [(max(top, 0), max(bottom, 0)), (max(left, 0), max(right, 0))]
    if padding_mode == "constant":
        value = 0 if fill is None else fill
        if not isinstance(value, numbers.Number):
            raise TypeError(f"fill for a tensor should be a number, got {fill!r}")
        out = np.pad(arr, widths, mode="constant", constant_values=value)
    else:
        h, w = arr.shape[-2:]
        if padding_mode == "reflect" and (max(top, bottom) >= h or max(left, right) >= w):
            raise RuntimeError(f"Padding size should be less than the corresponding input dimension, "
                               f"but got padding ({left}, {right}, {top}, {bottom}) for an input of size "
                               f"{tuple(arr.shape)}")
        out = np.pad(arr, widths, mode=padding_mode)
    return _from_array(_crop_negative(out, left, top, right, bottom, nd - 2))


def _crop_negative(arr, left, top, right, bottom, hdim):
    """Removes the rows/columns that negative paddings take away."""
    index = [slice(None)] * arr.ndim
    index[hdim] = slice(max(-top, 0), arr.shape[hdim] - max(-bottom, 0))
    index[hdim + 1] = slice(max(-left, 0), arr.shape[hdim + 1] - max(-right, 0))
    return arr[tuple(index)]


def crop(img, top, left, height, width):
    """The `height` x `width` region at (top, left); parts outside the image are zero."""
    if _check_image(img) == "pil":
        return img.crop((left, top, left + width, top + height))
    arr = img.detach().numpy()
    h, w = arr.shape[-2:]
    if top >= 0 and left >= 0 and top + height <= h and left + width <= w:
        return _from_array(arr[..., top:top + height, left:left + width])
    out = np.zeros(arr.shape[:-2] + (height, width), dtype=arr.dtype)
    y0, y1 = max(top, 0), min(top + height, h)
    x0, x1 = max(left, 0), min(left + width, w)
    if y0 < y1 and x0 < x1:
        out[..., y0 - top:y1 - top, x0 - left:x1 - left] = arr[..., y0:y1, x0:x1]
    return _from_array(out)


def _setup_size(size, error_msg="Please provide only two dimensions (h, w) for size."):
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        return int(size), int(size)
    if isinstance(size, (tuple, list)) and len(size) == 1:
        return int(size[0]), int(size[0])
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"size should be an int or a sequence of ints, got {type(size).__name__}")
    if len(size) != 2:
        raise ValueError(error_msg)
    return int(size[0]), int(size[1])


def center_crop(img, output_size):
    crop_height, crop_width = _setup_size(output_size)
    _, image_height, image_width = get_dimensions(img)
    if crop_width > image_width or crop_height > image_height:
        padding_ltrb = [
            (crop_width - image_width) // 2 if crop_width > image_width else 0,
            (crop_height - image_height) // 2 if crop_height > image_height else 0,
            (crop_width - image_width + 1) // 2 if crop_width > image_width else 0,
            (crop_height - image_height + 1) // 2 if crop_height > image_height else 0,
        ]
        img = pad(img, padding_ltrb, fill=0)
        _, image_height, image_width = get_dimensions(img)
        if crop_width == image_width and crop_height == image_height:
            return img
    crop_top = int(round((image_height - crop_height) / 2.0))
    crop_left = int(round((image_width - crop_width) / 2.0))
    return crop(img, crop_top, crop_left, crop_height, crop_width)


# ----------------------------------------------------------------------------- resize

def _compute_resized_output_size(image_size, size, max_size=None):
    h, w = image_size
    short, long = (w, h) if w <= h else (h, w)
    if size is None:
        if max_size is None:
            raise ValueError("If size is None, then max_size must be given")
        new_short, new_long = int(max_size * short / long), max_size
        new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
        return [new_h, new_w]
    if len(size) == 1:  # smaller edge matched, aspect kept
        requested_new_short = size[0]
        new_short, new_long = requested_new_short, int(requested_new_short * long / short)
        if max_size is not None:
            if max_size <= requested_new_short:
                raise ValueError(f"max_size = {max_size} must be strictly greater than the requested "
                                 f"size for the smaller edge size = {size}")
            if new_long > max_size:
                new_short, new_long = int(max_size * new_short / new_long), max_size
        new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
        return [new_h, new_w]
    return [size[0], size[1]]


def _resize_matrix(n_in, n_out, mode, antialias):
    """The (n_out, n_in) weights that resample one axis as torch's interpolate does."""
    scale = n_in / n_out
    m = np.zeros((n_out, n_in))
    rows = np.arange(n_out)
    if mode is InterpolationMode.NEAREST:
        src = np.minimum(np.floor(rows * scale).astype(np.int64), n_in - 1)
        m[rows, src] = 1.0
        return m
    if mode is InterpolationMode.NEAREST_EXACT:
        src = np.minimum(np.floor((rows + 0.5) * scale).astype(np.int64), n_in - 1)
        m[rows, src] = 1.0
        return m
    if antialias and scale > 1:
        # PIL's (and torch's antialiased) triangle filter stretched over `scale` inputs
        support = scale
        for i in range(n_out):
            center = scale * (i + 0.5)
            xmin = max(int(center - support + 0.5), 0)
            xmax = min(int(center + support + 0.5), n_in)
            xs = np.arange(xmin, xmax)
            wts = np.maximum(0.0, 1.0 - np.abs((xs - center + 0.5) / scale))
            total = wts.sum()
            m[i, xmin:xmax] = wts / total if total > 0 else wts
        return m
    src = np.maximum(scale * (rows + 0.5) - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    lam = src - i0
    np.add.at(m, (rows, i0), 1.0 - lam)
    np.add.at(m, (rows, i1), lam)
    return m


def resize(img, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias=True):
    """Resizes to `size` (h, w), or, for an int, so that the smaller edge is `size`."""
    interpolation = _interpolation(interpolation)
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        size = [int(size)]
    elif isinstance(size, (list, tuple)):
        if len(size) not in (1, 2):
            raise ValueError(f"Size must be an int or a 1 or 2 element tuple/list, not a {len(size)} element tuple/list")
        size = list(size)
    elif size is not None:
        raise TypeError(f"Size should be int or sequence. Got {type(size)}")
    if max_size is not None and size is not None and len(size) != 1:
        raise ValueError("max_size should only be passed if size specifies the length of the smaller edge")
    kind = _check_image(img)
    _, h, w = get_dimensions(img)
    out_h, out_w = _compute_resized_output_size((h, w), size, max_size)
    if out_h <= 0 or out_w <= 0:
        raise ValueError(f"resize to a size of {(out_h, out_w)} is empty")
    if [h, w] == [out_h, out_w]:
        return img
    if kind == "pil":
        return img.resize((out_w, out_h), _PIL_FILTERS[interpolation])
    if interpolation not in (InterpolationMode.NEAREST, InterpolationMode.NEAREST_EXACT,
                             InterpolationMode.BILINEAR):
        raise ValueError(f"resize of tensors supports nearest, nearest-exact and bilinear "
                         f"interpolation, got {interpolation.value}")
    arr, back = _np_image(img)
    wh = _resize_matrix(h, out_h, interpolation, antialias)
    ww = _resize_matrix(w, out_w, interpolation, antialias)
    out = np.einsum("oh,nchw,pw->ncop", wh, arr, ww, optimize=True)
    return back(out.astype(arr.dtype, copy=False))


# ----------------------------------------------------------------------------- rotate, affine

def _get_inverse_affine_matrix(center, angle, translate, scale, shear):
    """The 2x3 matrix that maps output pixels to input pixels, as Pillow's AFFINE wants
    it: the inverse of T * C * RotateScaleShear * C^-1 (torchvision's formula)."""
    rot = math.radians(angle)
    sx, sy = math.radians(shear[0]), math.radians(shear[1])
    cx, cy = center
    tx, ty = translate
    a = math.cos(rot - sy) / math.cos(sy)
    b = -math.cos(rot - sy) * math.tan(sx) / math.cos(sy) - math.sin(rot)
    c = math.sin(rot - sy) / math.cos(sy)
    d = -math.sin(rot - sy) * math.tan(sx) / math.cos(sy) + math.cos(rot)
    matrix = [x / scale for x in (d, -b, 0.0, -c, a, 0.0)]
    matrix[2] += matrix[0] * (-cx - tx) + matrix[1] * (-cy - ty)
    matrix[5] += matrix[3] * (-cx - tx) + matrix[4] * (-cy - ty)
    matrix[2] += cx
    matrix[5] += cy
    return matrix


def _affine_output_size(matrix, w, h):
    """(w, h) of the box that holds the whole transformed image (rotate's expand)."""
    # float32 as torchvision computes it: its rounding decides the size at 90 degrees
    f32 = np.float32
    pts = np.array([[-0.5 * w, -0.5 * h, 1.0], [-0.5 * w, 0.5 * h, 1.0],
                    [0.5 * w, 0.5 * h, 1.0], [0.5 * w, -0.5 * h, 1.0]], dtype=f32)
    theta = np.asarray(matrix, dtype=f32).reshape(2, 3)
    new_pts = pts @ theta.T
    # shifted to [0, w] x [0, h] so that ceil/floor round as Pillow's rotate(expand=True) does
    halfs = np.array([0.5 * w, 0.5 * h], dtype=f32)
    min_vals, max_vals = new_pts.min(0) + halfs, new_pts.max(0) + halfs
    tol = f32(1e-4)  # so that 90-degree rotations do not grow by a pixel from rounding
    inv_tol = f32(1.0 / 1e-4)
    cmax = np.ceil(np.trunc(max_vals * inv_tol) * tol)
    cmin = np.floor(np.trunc(min_vals * inv_tol) * tol)
    size = cmax - cmin
    return int(size[0]), int(size[1])


def _warp(arr, matrix, out_w, out_h, interpolation, fill):
    """Samples `arr` (N, C, H, W) at the inverse-mapped output pixels. Coordinates are
    relative to the image centres, as torchvision's affine grid with align_corners=False;
    outside the image is zero, then `fill` (one value per channel) is blended in by the
    sampled coverage mask, as torchvision does."""
    n, c, h, w = arr.shape
    m = np.asarray(matrix, dtype=np.float64)
    xo = np.arange(out_w) - (out_w - 1) / 2.0
    yo = np.arange(out_h) - (out_h - 1) / 2.0
    gx, gy = np.meshgrid(xo, yo)
    sx = m[0] * gx + m[1] * gy + m[2] + (w - 1) / 2.0
    sy = m[3] * gx + m[4] * gy + m[5] + (h - 1) / 2.0
    flat = arr.reshape(n, c, h * w)
    if interpolation is InterpolationMode.NEAREST:
        ix, iy = np.rint(sx).astype(np.int64), np.rint(sy).astype(np.int64)
        valid = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
        idx = np.where(valid, iy * w + ix, 0)
        out = flat[:, :, idx] * valid
        mask = valid.astype(arr.dtype)
    elif interpolation is InterpolationMode.BILINEAR:
        x0, y0 = np.floor(sx), np.floor(sy)
        fx, fy = sx - x0, sy - y0
        x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
        out = np.zeros((n, c, out_h, out_w), dtype=np.float64)
        mask = np.zeros((out_h, out_w), dtype=np.float64)
        for dy, wy in ((0, 1 - fy), (1, fy)):
            for dx, wx in ((0, 1 - fx), (1, fx)):
                xi, yi = x0 + dx, y0 + dy
                valid = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
                wgt = wx * wy * valid
                out += flat[:, :, np.where(valid, yi * w + xi, 0)] * wgt
                mask += wgt
    else:
        raise ValueError(f"rotate/affine of tensors supports nearest and bilinear interpolation, "
                         f"got {interpolation.value}")
    if fill is not None:
        fill_img = _fill_values(fill, c).reshape(1, c, 1, 1)
        if interpolation is InterpolationMode.NEAREST:
            out = np.where(mask < 0.5, fill_img, out)
        else:
            out = out * mask + (1.0 - mask) * fill_img
    return out.astype(arr.dtype, copy=False)


def rotate(img, angle, interpolation=InterpolationMode.NEAREST, expand=False, center=None, fill=None):
    """Rotates counter-clockwise by `angle` degrees about `center` (default: the image
    centre); `expand` grows the output to hold the whole rotated image."""
    interpolation = _interpolation(interpolation)
    if not isinstance(angle, (int, float)) or isinstance(angle, bool):
        raise TypeError("Argument angle should be int or float")
    if center is not None and not isinstance(center, (list, tuple)):
        raise TypeError("Argument center should be a sequence")
    if _check_image(img) == "pil":
        opts = _parse_fill(fill, img)
        return img.rotate(angle, _PIL_FILTERS[interpolation], expand, center, **opts)
    _, h, w = get_dimensions(img)
    center_f = [0.0, 0.0]
    if center is not None:
        center_f = [1.0 * (cc - s * 0.5) for cc, s in zip(center, [w, h])]
    # torchvision's tensor path: the affine matrix turns clockwise, rotate counter-clockwise
    matrix = _get_inverse_affine_matrix(center_f, -angle, [0.0, 0.0], 1.0, [0.0, 0.0])
    ow, oh = _affine_output_size(matrix, w, h) if expand else (w, h)
    arr, back = _np_image(img)
    return back(_warp(arr, matrix, ow, oh, interpolation, fill))


def affine(img, angle, translate, scale, shear, interpolation=InterpolationMode.NEAREST, fill=None,
           center=None):
    """Rotation (clockwise, degrees), translation (pixels), scale and shear (degrees)
    about `center`, the output keeping the input's size."""
    interpolation = _interpolation(interpolation)
    if not isinstance(angle, (int, float)) or isinstance(angle, bool):
        raise TypeError("Argument angle should be int or float")
    if not isinstance(translate, (list, tuple)):
        raise TypeError("Argument translate should be a sequence")
    if len(translate) != 2:
        raise ValueError("Argument translate should be a sequence of length 2")
    if not isinstance(scale, (int, float)) or isinstance(scale, bool):
        raise TypeError("Argument scale should be int or float")
    if scale <= 0.0:
        raise ValueError("Argument scale should be positive")
    if not isinstance(shear, (numbers.Number, list, tuple)):
        raise TypeError("Shear should be either a single value or a sequence of two values")
    if isinstance(shear, numbers.Number):
        shear = [shear, 0.0]
    shear = list(shear)
    if len(shear) == 1:
        shear = [shear[0], shear[0]]
    if len(shear) != 2:
        raise ValueError(f"Shear should be a sequence containing two values. Got {shear}")
    if center is not None and not isinstance(center, (list, tuple)):
        raise TypeError("Argument center should be a sequence")
    _, h, w = get_dimensions(img)
    if _check_image(img) == "pil":
        if center is None:
            center = [w * 0.5, h * 0.5]
        matrix = _get_inverse_affine_matrix(center, angle, translate, scale, shear)
        return img.transform(img.size, 0, matrix, _PIL_FILTERS[interpolation],  # 0: Image.AFFINE
                             **_parse_fill(fill, img))
    center_f = [0.0, 0.0]
    if center is not None:
        center_f = [1.0 * (cc - s * 0.5) for cc, s in zip(center, [w, h])]
    matrix = _get_inverse_affine_matrix(center_f, angle, [1.0 * t for t in translate], scale, shear)
    arr, back = _np_image(img)
    return back(_warp(arr, matrix, w, h, interpolation, fill))
