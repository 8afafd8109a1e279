"""Anomaly detection for the autograd engine, at torch.autograd.anomaly_mode's path.

While it is on, every graph node records the Python stack that created it, and backward
checks the gradients each node returns: a NaN raises RuntimeError ("Function 'MulBackward0'
returned nan values in its 0th output."), and any error in a node's backward is preceded by
a warning that shows where that node's forward ran. The flag is global (as PyTorch's);
off, the engine pays one flag check per node."""
import traceback
import warnings

from .. import _C

__all__ = ["detect_anomaly", "set_detect_anomaly"]


def _format_stack():
    # the frames up to the op that created the node (this function's own frame left out)
    return "".join(traceback.format_stack()[:-1])


def _report(name, stack):
    if stack is None:
        msg = (f"Error detected in {name}. No forward pass information available. "
               "Enable detect anomaly during forward pass for more information.")
    else:
        msg = f"Error detected in {name}. Traceback of forward call that caused the error:\n{stack}"
    warnings.warn(msg, stacklevel=2)


_C._set_anomaly_handlers(_format_stack, _report)


class detect_anomaly:
    """Context manager / decorator that turns anomaly detection on (warns that it is slow)."""

    def __init__(self, check_nan=True):
        self.prev = _C.is_anomaly_enabled()
        self.check_nan = check_nan
        self.prev_check_nan = _C.is_anomaly_check_nan_enabled()
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime "
                      "and should only be enabled for debugging.", stacklevel=2)

    def __enter__(self):
        _C._set_anomaly_enabled(True, self.check_nan)

    def __exit__(self, *args):
        _C._set_anomaly_enabled(self.prev, self.prev_check_nan)

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__(self.check_nan):
                return fn(*args, **kwargs)
        return wrapper


class set_detect_anomaly:
    """Turns anomaly detection on or off: as a function call, or as a context manager that
    restores the previous setting on exit."""

    def __init__(self, mode, check_nan=True):
        self.prev = _C.is_anomaly_enabled()
        self.prev_check_nan = _C.is_anomaly_check_nan_enabled()
        _C._set_anomaly_enabled(mode, check_nan)

    def __enter__(self):
        pass

    def __exit__(self, *args):
        _C._set_anomaly_enabled(self.prev, self.prev_check_nan)


def is_anomaly_enabled():
    return _C.is_anomaly_enabled()


def is_anomaly_check_nan_enabled():
    return _C.is_anomaly_check_nan_enabled()


def set_anomaly_enabled(enabled, check_nan=True):
    _C._set_anomaly_enabled(enabled, check_nan)
