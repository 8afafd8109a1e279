#!/usr/bin/env python3
"""Compare SGD, SGD with momentum, Adam and RMSprop on the MNIST MLP of mnist_mlp.py:
the same initial weights and the same batches for each, a fixed number of steps, then a
table of the final training loss and the test accuracy. With matplotlib installed, the
loss curves also go to a PNG (--plot).

    python examples/optimizers.py --steps 1000 --plot optimizers.png
"""
import argparse
import itertools
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tinygrad_cpp as tg  # noqa: E402
import tinygrad_cpp.nn as nn  # noqa: E402
import tinygrad_cpp.optim as optim  # noqa: E402
from mnist_mlp import MLP, default_data_dir, evaluate, make_loaders  # noqa: E402

OPTIMIZERS = {
    "SGD": lambda params: optim.SGD(params, lr=0.1),
    "SGD+momentum": lambda params: optim.SGD(params, lr=0.01, momentum=0.9),
    "Adam": lambda params: optim.Adam(params, lr=1e-3),
    "RMSprop": lambda params: optim.RMSprop(params, lr=1e-3),
}


def train_steps(make_optimizer, train_loader, steps, seed):
    """Trains a fresh MLP (initialised from `seed`) for `steps` batches; returns the
    model and the loss of every step."""
    tg.manual_seed(seed)  # same initial weights and batch order for every optimizer
    model = MLP()
    opt = make_optimizer(model.parameters())
    loss_fn = nn.CrossEntropyLoss()
    batches = itertools.chain.from_iterable(itertools.repeat(train_loader))
    losses = []
    model.train()
    for x, y in itertools.islice(batches, steps):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model, losses


def smooth(values, window):
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def plot(curves, path, window):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot written")
        return False
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, losses in curves.items():
        ax.plot(smooth(losses, window), label=name)
    ax.set(xlabel="step", ylabel=f"training loss (mean of {window} steps)", yscale="log",
           title="MNIST MLP: optimizers compared")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"loss curves written to {path}")
    return True


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=default_data_dir(), help="folder with the MNIST IDX files (default: %(default)s)")
    p.add_argument("--steps", type=int, default=1000, help="training steps (batches) per optimizer")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plot", default="optimizers.png", help="PNG path for the loss curves ('' to skip)")
    p.add_argument("--no-download", action="store_true", help="fail instead of downloading missing files")
    args = p.parse_args(argv)

    train_loader, test_loader = make_loaders(args.data_dir, args.batch_size, download=not args.no_download)
    window = max(1, min(50, args.steps // 10))
    results, curves = {}, {}
    for name, make_optimizer in OPTIMIZERS.items():
        start = time.perf_counter()
        model, losses = train_steps(make_optimizer, train_loader, args.steps, args.seed)
        curves[name] = losses
        results[name] = (sum(losses[-window:]) / len(losses[-window:]), evaluate(model, test_loader),
                         time.perf_counter() - start)
        print(f"{name}: done in {results[name][2]:.1f} s", file=sys.stderr, flush=True)

    print(f"\n{args.steps} steps of batch {args.batch_size}; loss = mean over the last {window} steps")
    print(f"{'optimizer':<14}{'final loss':>12}{'test accuracy':>16}{'time (s)':>10}")
    for name, (loss, accuracy, seconds) in results.items():
        print(f"{name:<14}{loss:>12.4f}{100 * accuracy:>15.2f}%{seconds:>10.1f}")
    if args.plot:
        plot(curves, args.plot, window)
    return results


if __name__ == "__main__":
    main()
