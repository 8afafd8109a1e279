from .linear import LinearPackedParams  # noqa: F401

__all__ = ["LinearPackedParams"]
