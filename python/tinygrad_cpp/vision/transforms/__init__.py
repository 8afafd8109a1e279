"""torchvision.transforms' counterpart: `transforms.Compose([transforms.ToTensor(),
transforms.Normalize((0.1307,), (0.3081,))])` and the usual augmentations, on PIL images
and on tensors."""
from . import functional
from .functional import InterpolationMode
from .transforms import (CenterCrop, Compose, Lambda, Normalize, Pad, PILToTensor, RandomAffine,
                         RandomCrop, RandomHorizontalFlip, RandomRotation, RandomVerticalFlip, Resize,
                         ToPILImage, ToTensor)

__all__ = ["functional", "InterpolationMode", "Compose", "ToTensor", "PILToTensor", "ToPILImage",
           "Normalize", "Lambda", "Pad", "RandomCrop", "CenterCrop", "Resize", "RandomHorizontalFlip",
           "RandomVerticalFlip", "RandomRotation", "RandomAffine"]
