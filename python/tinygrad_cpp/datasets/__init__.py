"""Datasets with torchvision's interface."""
from .mnist import MNIST

__all__ = ["MNIST"]
