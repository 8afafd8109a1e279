#!/usr/bin/env python3
"""Train a 784-128-64-10 MLP on MNIST, written exactly as it would be in PyTorch.

    python examples/mnist_mlp.py                      # 5 epochs, about 98% test accuracy
    python examples/mnist_mlp.py --epochs 1 --save '' # quick run, no checkpoint

The MNIST files are read from --data-dir, which defaults to $MNIST_DIR when set, else to
`shared/data/mnist` next to the repository checkout when it exists, else to `data/mnist`
inside the checkout (downloaded there on first use). The trained weights are written with
`tg.save(model.state_dict(), path)` as a safetensors file (--save).
"""
import argparse
import os
import sys
import time

from tqdm import tqdm

import tinygrad_cpp as tg
import tinygrad_cpp.nn as nn
import tinygrad_cpp.optim as optim
from tinygrad_cpp.datasets import MNIST
from tinygrad_cpp.utils.data import DataLoader

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def default_data_dir():
    if os.environ.get("MNIST_DIR"):
        return os.environ["MNIST_DIR"]
    shared = os.path.join(os.path.dirname(REPO), "shared", "data", "mnist")
    return shared if os.path.isdir(shared) else os.path.join(REPO, "data", "mnist")


# Mean and standard deviation of the training pixels: standardized inputs train faster.
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.layers = nn.Sequential(
            nn.Linear(28 * 28, 128), nn.ReLU(),
            nn.Linear(128, 64), nn.ReLU(),
            nn.Linear(64, 10),
        )

    def forward(self, x):
        return self.layers(self.flatten((x - MNIST_MEAN) / MNIST_STD))


def make_loaders(data_dir, batch_size=64, download=True):
    train = MNIST(data_dir, train=True, download=download)
    test = MNIST(data_dir, train=False, download=download)
    return (DataLoader(train, batch_size=batch_size, shuffle=True),
            DataLoader(test, batch_size=1000))


def train_epoch(model, loader, loss_fn, opt, label="train"):
    """One pass over `loader`; returns (mean loss, samples per second)."""
    model.train()
    total_loss, seen, start = 0.0, 0, time.perf_counter()
    # On a terminal only (disable=None); `leave=False`: the epoch summary line replaces it.
    with tqdm(total=len(loader.dataset), desc=label, unit="img", leave=False, disable=None,
              file=sys.stderr, mininterval=0.1) as bar:
        for x, y in loader:
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            value = loss.item()
            total_loss += value * len(y)
            seen += len(y)
            bar.update(len(y))
            bar.set_postfix(loss=f"{value:.4f}", refresh=False)
    return total_loss / seen, seen / (time.perf_counter() - start)


def evaluate(model, loader):
    """Accuracy (0..1) of `model` over `loader`."""
    model.eval()
    correct = total = 0
    with tg.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
            total += len(y)
    return correct / total


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=default_data_dir(), help="folder with the MNIST IDX files (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save", default="mnist_mlp.safetensors", help="checkpoint path ('' to skip)")
    p.add_argument("--no-download", action="store_true", help="fail instead of downloading missing files")
    args = p.parse_args(argv)

    tg.manual_seed(args.seed)
    train_loader, test_loader = make_loaders(args.data_dir, args.batch_size, download=not args.no_download)
    model = MLP()
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    # Annealing the learning rate to zero over the run settles the weights at the end.
    scheduler = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)

    accuracy = 0.0
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        loss, rate = train_epoch(model, train_loader, loss_fn, opt, label=f"epoch {epoch}/{args.epochs}")
        scheduler.step()
        accuracy = evaluate(model, test_loader)
        print(f"epoch {epoch}/{args.epochs}  loss {loss:.4f}  test accuracy {100 * accuracy:.2f}%  "
              f"{rate:,.0f} samples/s  ({time.perf_counter() - start:.1f} s)", flush=True)
    if args.save:
        tg.save(model.state_dict(), args.save)
        print(f"saved the model to {args.save}")
    return accuracy


if __name__ == "__main__":
    main()
