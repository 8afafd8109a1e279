"""Images per second of the DataLoader alone (no model), batch 64, shuffled, over the
60,000 MNIST training images:

  raw tensors        TensorDataset of the float32 images and labels (the ceiling)
  vision MNIST       tinygrad_cpp.vision.datasets.MNIST + ToTensor + Normalize (the
                     PyTorch MNIST example's pipeline; batched numpy path)
  + augmentation     the same with RandomRotation(10) first (item by item, through PIL)

each with num_workers=0 and with worker processes. A training step of a small CNN at
batch 64 takes about 2-5 ms, i.e. it consumes 13,000-32,000 images/s: a loader well
above that is not the bottleneck.

    python bench/loader.py [--data-dir DIR] [--workers 0 2] [--epochs 1] [--aug-images 12800]
"""
import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from mnist_data import DEFAULT_DATA  # noqa: E402

import tinygrad_cpp as tg  # noqa: E402
from tinygrad_cpp.utils.data import DataLoader, Subset, TensorDataset  # noqa: E402
from tinygrad_cpp.vision import datasets, transforms  # noqa: E402


def rate(loader, epochs):
    """Images per second over `epochs` passes (the first batch included: worker start-up
    is part of what a training run pays)."""
    seen, start = 0, time.perf_counter()
    for _ in range(epochs):
        for x, y in loader:
            seen += len(y)
    return seen / (time.perf_counter() - start)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=os.environ.get("MNIST_DIR", DEFAULT_DATA))
    p.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--aug-images", type=int, default=12800, help="images for the (slow) augmented pipeline")
    args = p.parse_args(argv)

    tg.manual_seed(0)
    normalize = [transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))]
    mnist = datasets.MNIST(args.data_dir, train=True, transform=transforms.Compose(normalize))
    x = tg.from_numpy(mnist._pixels.reshape(-1, 1, 28, 28).astype("float32") / 255)
    raw = TensorDataset(x, mnist.targets)
    aug = datasets.MNIST(args.data_dir, train=True,
                         transform=transforms.Compose([transforms.RandomRotation(10)] + normalize))
    aug = Subset(aug, list(range(min(args.aug_images, len(aug)))))
    print(f"{'dataset':<34}{'workers':>8}{'images/s':>14}")
    for name, ds in (("raw tensors", raw), ("vision MNIST + ToTensor/Normalize", mnist),
                     ("+ RandomRotation (per item)", aug)):
        for w in args.workers:
            loader = DataLoader(ds, batch_size=args.batch_size, shuffle=True, num_workers=w)
            print(f"{name:<34}{w:>8}{rate(loader, args.epochs):>14,.0f}", flush=True)


if __name__ == "__main__":
    main()
