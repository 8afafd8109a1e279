"""tinygrad_cpp: a small deep-learning library with a C++ engine and PyTorch's API."""
from . import _C
from ._C import Tensor, from_numpy, is_grad_enabled, set_num_threads, get_num_threads
from ._interop import from_dlpack
from ._C import dtype
from ._tensor import install as _install
from ._creation import (tensor, zeros, ones, empty, full, zeros_like, ones_like, full_like,
                        empty_like, rand, randn, randint, randperm, rand_like, randn_like, arange,
                        linspace, eye)
from ._device import device, get_default_device, set_default_device
from .grad_mode import no_grad, enable_grad, set_grad_enabled
from . import autograd
from .autograd.anomaly_mode import set_anomaly_enabled
from .random import get_rng_state, set_rng_state
from .serialization import save, load

float32 = getattr(dtype, "float32")
float64 = getattr(dtype, "float64")
int64 = getattr(dtype, "int64")
bool = getattr(dtype, "bool")  # noqa: A001  (PyTorch's name)
uint8 = getattr(dtype, "uint8")
int8 = getattr(dtype, "int8")
int16 = getattr(dtype, "int16")
int32 = getattr(dtype, "int32")
float16 = getattr(dtype, "float16")
bfloat16 = getattr(dtype, "bfloat16")
float = float32  # noqa: A001
double = float64
long = int64
half = float16
short = int16
int = int32  # noqa: A001
from ._dtype_info import finfo, iinfo, promote_types, result_type, can_cast  # noqa: E402

_install()

# Every op that exists as a `tg.` function in C++ (add, sum, matmul, ...) is re-exported.
globals().update({k: v for k, v in vars(_C).items() if not k.startswith("_") and k not in globals()})
from . import utils, datasets  # noqa: E402  (they use the names above)
utils.hooks.install(Tensor)  # register_hook, register_post_accumulate_grad_hook, grad_fn hooks
from . import accelerator, backends, cuda  # noqa: E402
from . import special  # noqa: E402

__version__ = "0.1.0"


def show_config(mode="stdout"):
    """What a bug report needs: version, build, the SIMD paths chosen at run time, threads,
    optional extras (also `python -m tinygrad_cpp.show_config`). Imported on first call:
    reading package metadata costs tens of milliseconds that `import tinygrad_cpp` does
    not pay."""
    from ._config import show_config as _show_config
    return _show_config(mode)


from . import nn, optim  # noqa: E402  (they use the names above)
from . import distributed  # noqa: E402  (mpi4py is imported only by init_process_group)
from . import onnx  # noqa: E402  (the onnx package is imported only by tg.onnx.export)
from ._quantized import (qint8, quint8, qint32, per_tensor_affine, per_channel_affine,  # noqa: E402
                         per_tensor_symmetric, per_channel_symmetric, quantize_per_tensor,
                         quantize_per_channel)
from . import ao, quantization  # noqa: E402  (int8 dynamic quantization; uses nn)
