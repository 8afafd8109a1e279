"""All-reduce throughput of tinygrad_cpp.distributed against raw mpi4py, 2 ranks:

  * float32 tensors of 4 KB .. 64 MB (powers of 4), ReduceOp.SUM, in place;
  * `tg.distributed.all_reduce(t)` on a tinygrad_cpp tensor beside
    `comm.Allreduce(MPI.IN_PLACE, a, MPI.SUM)` on a numpy array of the same size;
  * each size: rounds that alternate the two (raw first, then ours), --iters calls per round
    (fewer for big sizes), --rounds rounds; per-call time = the best round (--stat median
    for the median; on a busy machine two spinning ranks get preempted, and the best round
    is the one that was not); ratio = raw time / our time (1.0: no overhead of ours; the
    target is >= 0.95).

    python bench/allreduce.py [--rounds 30] [--iters 20] [--np 2] [--stat min|median] [--json out.json]

Run as is, it relaunches itself under `mpiexec -n 2` (the venv's mpiexec, else PATH's),
with FI_TCP_IFACE=lo so MPI stays on this machine. Each rank uses 1 thread (the
all-reduce itself is MPI's, not ours)."""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

SIZES = [4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20, 64 << 20]


def launch(args):
    mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if not os.access(mpiexec, os.X_OK):
        mpiexec = shutil.which("mpiexec")
    if mpiexec is None:
        sys.exit("no mpiexec: pip install \"tinygrad_cpp[distributed]\"")
    env = dict(os.environ, TG_BENCH_ALLREDUCE_CHILD="1", FI_TCP_IFACE="lo", FI_SOCKETS_IFACE="lo",
               TG_NUM_THREADS="1")
    sys.exit(subprocess.call([mpiexec, "-n", str(args.np), sys.executable, os.path.abspath(__file__)] + sys.argv[1:],
                             env=env))


def child(args):
    import numpy as np
    import tinygrad_cpp as tg
    import tinygrad_cpp.distributed as dist
    dist.init_process_group("mpi")
    from mpi4py import MPI
    comm = MPI.COMM_WORLD.Dup()
    rank = comm.Get_rank()
    rows = []
    for nbytes in SIZES:
        n = nbytes // 4
        a = np.ones(n, dtype=np.float32)
        t = tg.ones(n)
        iters = max(2, min(args.iters, int(args.iters * (1 << 20) / nbytes)))

        def raw():
            for _ in range(iters):
                comm.Allreduce(MPI.IN_PLACE, a, MPI.SUM)

        def ours():
            for _ in range(iters):
                dist.all_reduce(t)
        raw(), ours()  # warm up
        traw, tours = [], []
        for _ in range(args.rounds):
            for f, out in ((raw, traw), (ours, tours)):
                comm.Barrier()
                t0 = time.perf_counter()
                f()
                dt = time.perf_counter() - t0
                dt = comm.allreduce(dt, op=MPI.MAX)  # the slower rank decides
                out.append(dt / iters)
            a[:] = 1
            t.fill_(1.0)
        stat = min if args.stat == "min" else statistics.median
        r, o = stat(traw), stat(tours)
        rows.append({"bytes": nbytes, "iters": iters, "mpi4py_us": r * 1e6, "tg_us": o * 1e6,
                     "mpi4py_GBps": nbytes / r / 1e9, "tg_GBps": nbytes / o / 1e9, "ratio": r / o})
    if rank == 0:
        print(f"all_reduce float32 SUM, {comm.Get_size()} ranks, {args.stat} of {args.rounds} rounds, {MPI.Get_library_version().splitlines()[0].strip()}")
        print(f"{'size':>8} {'mpi4py us':>10} {'tg us':>10} {'mpi4py GB/s':>12} {'tg GB/s':>9} {'ratio':>6}")
        for row in rows:
            size = row["bytes"]
            label = f"{size >> 20} MB" if size >= 1 << 20 else f"{size >> 10} KB"
            print(f"{label:>8} {row['mpi4py_us']:10.1f} {row['tg_us']:10.1f} {row['mpi4py_GBps']:12.2f} "
                  f"{row['tg_GBps']:9.2f} {row['ratio']:6.3f}")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(rows, f, indent=1)
    dist.destroy_process_group()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--stat", choices=["min", "median"], default="min")
    p.add_argument("--np", type=int, default=2)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    if os.environ.get("TG_BENCH_ALLREDUCE_CHILD") == "1":
        child(args)
    else:
        launch(args)


if __name__ == "__main__":
    main()
