"""tg.accelerator: PyTorch's device-agnostic accelerator queries. The CPU is not an
accelerator, and this library has no other device, so none is available."""

__all__ = ["is_available", "device_count", "current_accelerator"]


def is_available():
    return False


def device_count():
    return 0


def current_accelerator(check_available=False):
    """None: there is no accelerator (PyTorch's answer on a machine without one)."""
    return None
