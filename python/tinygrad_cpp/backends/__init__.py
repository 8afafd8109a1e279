"""tg.backends: PyTorch's backend switches and queries that GPU-minded scripts touch
(`backends.mps.is_available()`, `backends.cudnn.benchmark = True`, ...). None of these
backends exists here: the queries say so and the flags are plain attributes with no effect."""
from . import cuda, cudnn, mps

__all__ = ["cuda", "cudnn", "mps"]
