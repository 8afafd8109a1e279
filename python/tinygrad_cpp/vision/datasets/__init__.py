"""torchvision.datasets' counterpart: MNIST and FashionMNIST."""
from .mnist import MNIST, DatasetNotFoundError, FashionMNIST

__all__ = ["MNIST", "FashionMNIST", "DatasetNotFoundError"]
