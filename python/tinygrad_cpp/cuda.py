"""tg.cuda: PyTorch's queries for a CUDA backend, answered for a library without one, so
that `tg.device("cuda" if tg.cuda.is_available() else "cpu")` picks the CPU. Seeding
calls are accepted and do nothing (PyTorch ignores them too when CUDA is absent); calls
that need a GPU raise RuntimeError."""

__all__ = ["is_available", "device_count", "is_initialized", "manual_seed", "manual_seed_all",
           "seed", "seed_all", "empty_cache", "current_device", "synchronize", "get_device_name",
           "is_bf16_supported"]


def _no_cuda():
    raise RuntimeError("tinygrad_cpp has no CUDA backend (tg.cuda.is_available() is False)")


def is_available():
    return False


def device_count():
    return 0


def is_initialized():
    return False


def is_bf16_supported(including_emulation=True):
    return False


def manual_seed(seed):
    """Does nothing: there are no CUDA generators to seed."""


def manual_seed_all(seed):
    """Does nothing: there are no CUDA generators to seed."""


def seed():
    """Does nothing: there are no CUDA generators to seed."""


def seed_all():
    """Does nothing: there are no CUDA generators to seed."""


def empty_cache():
    """Does nothing: there is no CUDA memory to release."""


def current_device():
    _no_cuda()


def synchronize(device=None):
    _no_cuda()


def get_device_name(device=None):
    _no_cuda()
