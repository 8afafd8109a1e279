"""Grad mode switches. The flag itself is thread-local and lives in C++."""
import functools

from . import _C


class _GradMode:
    _mode = None

    def __enter__(self):
        self._prev = _C.is_grad_enabled()
        _C._set_grad_enabled(self._mode)
        return self

    def __exit__(self, *exc):
        _C._set_grad_enabled(self._prev)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradMode):
    """Context manager and decorator that turns graph recording off."""
    _mode = False


class enable_grad(_GradMode):
    """Context manager and decorator that turns graph recording on."""
    _mode = True


class set_grad_enabled(_GradMode):
    def __init__(self, mode):
        self._mode = bool(mode)
        self._prev = _C.is_grad_enabled()
        _C._set_grad_enabled(self._mode)  # also works as a plain function call

    def __enter__(self):
        return self

    def __call__(self, fn):
        mode = self._mode
        _C._set_grad_enabled(self._prev)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)
        return wrapper
