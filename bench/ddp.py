"""DistributedDataParallel overhead: one training step of the MNIST MLP (784-128-64-10,
SGD, cross entropy, synthetic inputs) with a per-rank batch of B, 1 thread per rank.

  * plain    - the model alone, no communication (on 1 rank: the baseline);
  * ddp      - DistributedDataParallel, default buckets (25 MiB: one bucket here);
  * ddp-small- DistributedDataParallel with --small-bucket-mb buckets (several buckets:
               the later layers' all-reduces start while backward computes the first
               layer's gradient, overlapping communication with compute);
  * sync     - no DDP: after backward, all gradients copied into one flat buffer, one
               blocking all_reduce, divided and copied back (no overlap at all).

Each variant runs on 1 rank and on --np ranks (weak scaling: every rank does the same
work as the single rank). efficiency = plain step on 1 rank / variant step on N ranks
(1.0: communication and synchronization cost nothing); overlap gain = sync / ddp-small.
Per-step time: the median (--stat min: the best) over --rounds rounds of --steps steps (rounds alternate the
variants; the slowest rank's time counts).

    python bench/ddp.py [--batch 64] [--steps 30] [--rounds 5] [--np 2] [--json out.json]

It relaunches itself under `mpiexec -n 1` and `mpiexec -n NP` (the venv's mpiexec, else
PATH's) with FI_TCP_IFACE=lo and TG_NUM_THREADS=1."""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

VARIANTS = ["plain", "ddp", "ddp-small", "sync"]


def mpiexec_path():
    cand = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return cand if os.access(cand, os.X_OK) else shutil.which("mpiexec")


def run_ranks(n, args):
    env = dict(os.environ, TG_BENCH_DDP_CHILD="1", FI_TCP_IFACE="lo", FI_SOCKETS_IFACE="lo", TG_NUM_THREADS="1")
    out = subprocess.run([mpiexec_path(), "-n", str(n), sys.executable, os.path.abspath(__file__)] + sys.argv[1:],
                         env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{n}-rank run failed:\n{out.stderr}")
    return json.loads([l for l in out.stdout.splitlines() if l.startswith("{")][-1])


def child(args):
    import numpy as np
    import tinygrad_cpp as tg
    import tinygrad_cpp.distributed as dist
    from tinygrad_cpp import nn, optim
    from tinygrad_cpp.nn.parallel import DistributedDataParallel as DDP
    dist.init_process_group("mpi")
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    world = dist.get_world_size()

    def mlp():
        tg.manual_seed(0)
        return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))

    rng = np.random.default_rng(dist.get_rank())
    x = tg.from_numpy(rng.standard_normal((args.batch, 784)).astype(np.float32))
    y = tg.from_numpy(rng.integers(0, 10, args.batch).astype(np.int64))
    loss_fn = nn.CrossEntropyLoss()

    def sync_allreduce(model):
        ps = list(model.parameters())
        flat = tg.zeros(sum(p.numel() for p in ps))
        views = [flat.numpy()[o:o + p.numel()].reshape(tuple(p.shape))
                 for o, p in zip(np.cumsum([0] + [p.numel() for p in ps]), ps)]

        def reduce():
            for v, p in zip(views, ps):
                v[...] = p.grad.numpy()
            dist.all_reduce(flat)
            for v, p in zip(views, ps):
                np.divide(v, world, out=p.grad.numpy())
        return reduce

    steps = {}
    for name in VARIANTS:
        model = mlp()
        net = model
        after = None
        if name == "ddp":
            net = DDP(model)
        elif name == "ddp-small":
            net = DDP(model, bucket_cap_mb=args.small_bucket_mb)
        elif name == "sync":
            after = sync_allreduce(model)
        opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

        def step(net=net, opt=opt, after=after):
            opt.zero_grad()
            loss_fn(net(x), y).backward()
            if after is not None:
                after()
            opt.step()
        steps[name] = step
        if name == "ddp-small" and dist.get_rank() == 0:
            nbuckets = len(net._bucket_sizes())
    for s in steps.values():
        for _ in range(3):
            s()
    times = {name: [] for name in VARIANTS}
    for _ in range(args.rounds):
        for name in VARIANTS:
            comm.Barrier()
            t0 = time.perf_counter()
            for _ in range(args.steps):
                steps[name]()
            dt = comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)
            times[name].append(1e3 * dt / args.steps)
    if dist.get_rank() == 0:
        nparams = sum(p.numel() for p in mlp().parameters())
        stat = min if args.stat == "min" else statistics.median
        print(json.dumps({"world": world, "ms": {k: stat(v) for k, v in times.items()},
                          "buckets_small": nbuckets, "param_bytes": 4 * nparams}), flush=True)
    dist.destroy_process_group()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=64, help="per-rank batch")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--stat", choices=["min", "median"], default="median",
                   help="per-step time of the rounds: their median, or the best round (on a busy machine)")
    p.add_argument("--np", type=int, default=2)
    p.add_argument("--small-bucket-mb", type=float, default=0.03)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    if os.environ.get("TG_BENCH_DDP_CHILD") == "1":
        child(args)
        return
    if mpiexec_path() is None:
        sys.exit("no mpiexec: pip install \"tinygrad_cpp[distributed]\"")
    one, many = run_ranks(1, args), run_ranks(args.np, args)
    base = one["ms"]["plain"]
    print(f"DDP step, MNIST MLP ({one['param_bytes'] / 1024:.0f} KiB of gradients all-reduced per step), "
          f"batch {args.batch} per rank, 1 thread per rank, {args.stat} of {args.rounds} rounds x {args.steps} steps; "
          f"ddp-small: {many['buckets_small']} buckets of <= {args.small_bucket_mb} MiB")
    print(f"{'variant':>10} {'1 rank ms':>10} {f'{args.np} ranks ms':>11} {'efficiency':>11}")
    rows = []
    for name in VARIANTS:
        t1, tn = one["ms"][name], many["ms"][name]
        rows.append({"variant": name, "ms_1": t1, f"ms_{args.np}": tn, "efficiency": base / tn})
        print(f"{name:>10} {t1:10.3f} {tn:11.3f} {base / tn:11.3f}")
    print(f"overlap gain (sync / ddp-small on {args.np} ranks): {many['ms']['sync'] / many['ms']['ddp-small']:.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "one": one, "many": many}, f, indent=1)


if __name__ == "__main__":
    main()
