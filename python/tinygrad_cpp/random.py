"""The default generator's state, at torch.random's path. The state is a 1-D int64 tensor
(seed, counter): tinygrad_cpp's generator is counter-based (Philox-like), so restoring it
replays the same numbers (what activation checkpointing relies on to recompute dropout)."""
import contextlib

from . import _C

__all__ = ["get_rng_state", "set_rng_state", "fork_rng", "manual_seed"]


def get_rng_state():
    """The random number generator state, as an int64 tensor."""
    seed, offset = _C._get_rng_state()
    return _C._tensor_from_numpy(__import__("numpy").array([seed, offset], dtype="int64"), _C.dtype.int64)


def set_rng_state(new_state):
    """Restores a state get_rng_state returned."""
    if not isinstance(new_state, _C.Tensor):
        raise TypeError(f"set_rng_state(): argument 'new_state' must be Tensor, not {type(new_state).__name__}")
    if new_state.dtype != _C.dtype.int64 or tuple(new_state.shape) != (2,):
        raise RuntimeError("RNG state must be an int64 tensor of 2 elements, as get_rng_state() returns")
    seed, offset = (int(v) for v in new_state.tolist())
    _C._set_rng_state(seed, offset)


def manual_seed(seed):
    _C.manual_seed(seed)


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True, _caller="fork_rng", _devices_kw="devices", device_type="cuda"):
    """Restores the RNG state on exit, so the block's draws do not advance it."""
    if not enabled:
        yield
        return
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)
