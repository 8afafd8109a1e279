"""PyTorch's MNIST RNN example (pytorch/examples mnist_rnn: each image as 28 steps of 28
pixels through nn.LSTM(28, 64, batch_first=True), the last output through BatchNorm1d(64),
Dropout2d, Linear(64, 32), relu, Dropout2d, Linear(32, 10), log_softmax + nll_loss, Adadelta)
at batch 64, tinygrad_cpp beside PyTorch 2.13:

  * ms per training step (forward, backward, optimizer step) at 1 and 2 threads;
  * the LSTM layer alone: forward (no grad) and forward + backward in ms.

    python bench/lstm.py [--threads 1 2] [--repeat 5] [--steps 30] [--isa avx2]

Each figure runs in a fresh subprocess with the same numpy-drawn weights and batches for both
libraries; medians over --repeat runs; ratio = tinygrad_cpp / PyTorch (below 1 is faster;
the target is <= 0.5 for the step). --isa avx2 puts both libraries on their AVX2 kernels."""
import argparse
import json
import os
import statistics
import sys
import warnings

import numpy as np

from common import median_ms, run_worker, torch_available, use_isa
from mnist_data import DEFAULT_DATA, load_mnist

BATCH = 64


def build(lib):
    nn, F = lib.nn, lib.nn.functional

    class Net(nn.Module):  # pytorch/examples mnist_rnn/main.py, verbatim but for the import
        def __init__(self):
            super().__init__()
            self.rnn = nn.LSTM(input_size=28, hidden_size=64, batch_first=True)
            self.batchnorm = nn.BatchNorm1d(64)
            self.dropout1 = nn.Dropout2d(0.25)
            self.dropout2 = nn.Dropout2d(0.5)
            self.fc1 = nn.Linear(64, 32)
            self.fc2 = nn.Linear(32, 10)

        def forward(self, input):
            input = input.reshape(-1, 28, 28)
            output, hidden = self.rnn(input)
            output = output[:, -1, :]
            output = self.batchnorm(output)
            output = self.dropout1(output)
            output = self.fc1(output)
            output = F.relu(output)
            output = self.dropout2(output)
            output = self.fc2(output)
            output = F.log_softmax(output, dim=1)
            return output

    model = Net()
    rng = np.random.default_rng(0)
    with lib.no_grad():  # one starting point for both libraries
        for p in model.parameters():
            bound = 1 / np.sqrt(p.shape[-1]) if p.dim() > 1 else 0.05
            p.copy_(lib.from_numpy(rng.uniform(-bound, bound, tuple(p.shape)).astype(np.float32)))
    return model


def worker(lib_name, threads, steps, data_dir):
    warnings.simplefilter("ignore")  # Dropout2d on 2-D input warns in PyTorch (the example does it)
    x_np, y_np = load_mnist(data_dir, test=False)
    x_np = ((x_np[:BATCH * 8] - 0.1307) / 0.3081).reshape(-1, 1, 28, 28)
    y_np = y_np[:BATCH * 8]
    lib = __import__("torch" if lib_name == "torch" else "tinygrad_cpp")
    use_isa(lib_name)
    lib.set_num_threads(threads)
    lib.manual_seed(0)
    F = lib.nn.functional
    model = build(lib)
    opt = lib.optim.Adadelta(model.parameters(), lr=1.0)
    batches = [(lib.from_numpy(x_np[i:i + BATCH].copy()), lib.from_numpy(y_np[i:i + BATCH].copy()))
               for i in range(0, len(x_np), BATCH)]

    def step(i=[0]):
        x, y = batches[i[0] % len(batches)]
        i[0] += 1
        opt.zero_grad()
        loss = F.nll_loss(model(x), y)
        loss.backward()
        opt.step()

    step_ms = median_ms(step, steps)
    x = batches[0][0].reshape(-1, 28, 28)
    rnn = model.rnn
    with lib.no_grad():
        fwd_ms = median_ms(lambda: rnn(x), steps)

    def fwd_bwd():
        out, _ = rnn(x)
        out[:, -1, :].sum().backward()
    print(json.dumps({"step_ms": step_ms, "lstm_fwd_ms": fwd_ms, "lstm_fwd_bwd_ms": median_ms(fwd_bwd, steps)}))


def measure(lib, threads, args):
    return run_worker(__file__, lib, threads, [args.steps, args.data_dir], isa=args.isa)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--steps", type=int, default=30, help="timed repetitions inside each run")
    ap.add_argument("--data-dir", default=os.environ.get("MNIST_DIR", DEFAULT_DATA))
    ap.add_argument("--isa", choices=["avx512", "avx2", "portable"], default=None,
                    help="force tinygrad_cpp's kernels (and PyTorch's, for avx2) to this instruction set")
    ap.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        lib, threads, steps, data_dir = args.worker
        worker(lib, int(threads), int(steps), data_dir)
        return 0
    libs = ["tinygrad_cpp", "torch"] if torch_available() else ["tinygrad_cpp"]
    print(f"MNIST RNN (pytorch/examples mnist_rnn: LSTM 28->64 over 28 steps), batch {BATCH}, Adadelta; "
          f"medians of {args.repeat} runs" + (f"; kernels on {args.isa}" if args.isa else ""))
    print(f"{'thr':>3} | {'tg ms/step':>10} {'torch':>7} {'ratio':>5} | {'LSTM fwd ms':>11} {'torch':>6} |"
          f" {'fwd+bwd ms':>10} {'torch':>6}")
    for threads in args.threads:
        res = {lib: [measure(lib, threads, args) for _ in range(args.repeat)] for lib in libs}
        med = {lib: {k: statistics.median(r[k] for r in runs) for k in runs[0]} for lib, runs in res.items()}
        tg_, th = med["tinygrad_cpp"], med.get("torch")
        f = (lambda k, fmt: format(th[k], fmt)) if th else (lambda k, fmt: "n/a")
        ratio = format(tg_["step_ms"] / th["step_ms"], ".2f") if th else "n/a"
        print(f"{threads:>3} | {tg_['step_ms']:>10.2f} {f('step_ms', '.2f'):>7} {ratio:>5} | "
              f"{tg_['lstm_fwd_ms']:>11.2f} {f('lstm_fwd_ms', '.2f'):>6} | {tg_['lstm_fwd_bwd_ms']:>10.2f} "
              f"{f('lstm_fwd_bwd_ms', '.2f'):>6}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
