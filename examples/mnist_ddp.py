#!/usr/bin/env python3
"""Train the MNIST MLP (or CNN) on several MPI ranks with DistributedDataParallel.

    mpiexec -n 2 python examples/mnist_ddp.py                 # MLP, 5 epochs, about 97%
    mpiexec -n 2 python examples/mnist_ddp.py --model cnn --epochs 3
    mpiexec -n 8 -hostfile hosts python examples/mnist_ddp.py # several machines

Each rank trains on its own share of every epoch (DistributedSampler) with --batch-size
samples per step; DDP averages the gradients, so N ranks train as one process with a
batch of N * --batch-size (the global batch), and reach the accuracy of that single-process
run. The test set is split across the ranks too; rank 0 prints the accuracy after each
epoch. The models and hyper-parameters are those of examples/mnist_mlp.py (SGD with
momentum, cosine annealing) and examples/mnist_cnn.py (Adadelta, StepLR).
"""
import argparse
import os
import sys
import time

import tinygrad_cpp as tg
import tinygrad_cpp.distributed as dist
import tinygrad_cpp.nn as nn
import tinygrad_cpp.nn.functional as F
import tinygrad_cpp.optim as optim
from tinygrad_cpp.datasets import MNIST
from tinygrad_cpp.nn.parallel import DistributedDataParallel as DDP
from tinygrad_cpp.utils.data import DataLoader, Subset
from tinygrad_cpp.utils.data.distributed import DistributedSampler

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mnist_cnn  # noqa: E402  (the models of the single-process examples)
import mnist_mlp  # noqa: E402


class CNN(mnist_cnn.Net):
    """PyTorch's MNIST CNN, with the Normalize transform folded into forward."""

    def forward(self, x):
        return super().forward((x - mnist_mlp.MNIST_MEAN) / mnist_mlp.MNIST_STD)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    p.add_argument("--data-dir", default=mnist_mlp.default_data_dir(), help="folder with the MNIST IDX files")
    p.add_argument("--epochs", type=int, default=None, help="default: 5 (mlp), 3 (cnn)")
    p.add_argument("--batch-size", type=int, default=64, help="per rank (the global batch is ranks times this)")
    p.add_argument("--lr", type=float, default=None, help="default: 0.01 (mlp, SGD), 1.0 (cnn, Adadelta)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit-batches", type=int, default=0, help="train on this many batches per epoch (0: all)")
    p.add_argument("--bucket-cap-mb", type=float, default=None, help="DDP bucket size (default: 25)")
    p.add_argument("--save", default="", help="rank 0 writes the trained weights here (safetensors)")
    p.add_argument("--no-download", action="store_true", help="fail instead of downloading missing files")
    args = p.parse_args(argv)
    epochs = args.epochs or (5 if args.model == "mlp" else 3)

    dist.init_process_group(backend="mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    # rank 0 downloads missing files first; the others then read them
    if rank == 0:
        train_set = MNIST(args.data_dir, train=True, download=not args.no_download)
    dist.barrier()
    if rank != 0:
        train_set = MNIST(args.data_dir, train=True, download=False)
    test_set = MNIST(args.data_dir, train=False, download=False)

    tg.manual_seed(args.seed)  # the same initial weights everywhere (DDP broadcasts rank 0's anyway)
    model = mnist_mlp.MLP() if args.model == "mlp" else CNN()
    ddp = DDP(model, bucket_cap_mb=args.bucket_cap_mb)
    if args.model == "mlp":
        opt = optim.SGD(ddp.parameters(), lr=args.lr or 0.01, momentum=0.9)
        scheduler = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
        loss_fn = nn.CrossEntropyLoss()
    else:
        opt = optim.Adadelta(ddp.parameters(), lr=args.lr or 1.0)
        scheduler = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
        loss_fn = lambda out, y: F.nll_loss(out, y)  # noqa: E731 (the CNN ends in log_softmax)

    sampler = DistributedSampler(train_set, shuffle=True, seed=args.seed)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, sampler=sampler)
    test_loader = DataLoader(Subset(test_set, range(rank, len(test_set), world)), batch_size=1000)
    if rank == 0:
        print(f"{world} ranks x batch {args.batch_size} = global batch {world * args.batch_size}, "
              f"{args.model}, {tg.get_num_threads()} threads per rank", flush=True)

    accuracy = 0.0
    for epoch in range(1, epochs + 1):
        sampler.set_epoch(epoch)  # a new shuffle each epoch, the same on every rank
        ddp.train()
        start, total_loss, seen = time.perf_counter(), 0.0, 0
        for i, (x, y) in enumerate(train_loader):
            if args.limit_batches and i >= args.limit_batches:
                break
            opt.zero_grad()
            loss = loss_fn(ddp(x), y)
            loss.backward()  # the gradients are averaged across the ranks when this returns
            opt.step()
            total_loss += loss.item() * len(y)
            seen += len(y)
        scheduler.step()
        elapsed = time.perf_counter() - start
        # test accuracy: each rank counts its share, the counts are summed
        model.eval()
        counts = tg.zeros(3, dtype=tg.float64)
        with tg.no_grad():
            for x, y in test_loader:
                counts += tg.tensor([(model(x).argmax(1) == y).sum().item(), len(y), 0.0], dtype=tg.float64)
        counts[2] = total_loss
        seen_all = tg.tensor([float(seen)], dtype=tg.float64)
        dist.all_reduce(counts)
        dist.all_reduce(seen_all)
        correct, total, loss_sum = counts.tolist()
        accuracy = correct / total
        if rank == 0:
            n = seen_all.item()
            print(f"epoch {epoch}/{epochs}  loss {loss_sum / max(n, 1):.4f}  test accuracy {100 * accuracy:.2f}%  "
                  f"{n / elapsed:,.0f} samples/s  ({elapsed:.1f} s)", flush=True)
    if args.save and rank == 0:
        tg.save(model.state_dict(), args.save)
        print(f"saved the model to {args.save}", flush=True)
    dist.destroy_process_group()
    return accuracy


if __name__ == "__main__":
    main()
