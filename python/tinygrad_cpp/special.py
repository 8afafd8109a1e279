"""torch.special's names for the special functions tinygrad_cpp has (the same ops as the
top-level ones)."""
from . import _C

__all__ = ["erf", "expm1", "log1p", "logsumexp"]

erf = _C.erf
expm1 = _C.expm1
log1p = _C.log1p
logsumexp = _C.logsumexp
