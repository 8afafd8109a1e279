"""cuDNN: not available; `enabled`, `benchmark`, `deterministic` and `allow_tf32` can be set
(scripts set them unconditionally) and change nothing."""

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available():
    return False


def version():
    return None
