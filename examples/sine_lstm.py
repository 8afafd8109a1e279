"""PyTorch's time-sequence example (pytorch/examples time_sequence_prediction) after the
rename `torch` -> `tinygrad_cpp`: two stacked LSTMCells learn sine waves of random phase,
trained with LBFGS on whole sequences, then continue held-out waves on their own for
`--future` steps, each prediction fed back as the next input:

    python examples/sine_lstm.py [--steps 15] [--future 1000] [--plot sine_lstm.png]

Beyond the original: the data is made in the script (generate_sine_wave.py's recipe,
seeded), sizes and steps are options, and the plot is a PNG (when matplotlib is installed)
of the three test waves: what the model was given, solid, and what it predicted, dotted."""
import argparse
import time

import numpy as np

import tinygrad_cpp as torch
import tinygrad_cpp.nn as nn
import tinygrad_cpp.optim as optim


def sine_waves(n, length, period=20, seed=2):
    """n waves sin(t / period) of `length` steps, each shifted by a random phase."""
    rng = np.random.RandomState(seed)
    x = np.arange(length) + rng.randint(-4 * period, 4 * period, n).reshape(n, 1)
    return np.sin(x / 1.0 / period).astype("float64")


class Sequence(nn.Module):
    def __init__(self, hidden=51):
        super(Sequence, self).__init__()
        self.hidden = hidden
        self.lstm1 = nn.LSTMCell(1, hidden)
        self.lstm2 = nn.LSTMCell(hidden, hidden)
        self.linear = nn.Linear(hidden, 1)

    def forward(self, input, future=0):
        outputs = []
        h_t = torch.zeros(input.size(0), self.hidden, dtype=torch.double)
        c_t = torch.zeros(input.size(0), self.hidden, dtype=torch.double)
        h_t2 = torch.zeros(input.size(0), self.hidden, dtype=torch.double)
        c_t2 = torch.zeros(input.size(0), self.hidden, dtype=torch.double)

        for input_t in input.split(1, dim=1):
            h_t, c_t = self.lstm1(input_t, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        for i in range(future):  # the continuation: each output is the next input
            h_t, c_t = self.lstm1(output, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        outputs = torch.cat(outputs, dim=1)
        return outputs


def plot(path, given, predicted):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot")
        return
    n = given.shape[1]
    plt.figure(figsize=(15, 5))
    plt.title("Predict future values of sine waves\n(dotted: the model's own continuation)")
    plt.xlabel("t")
    plt.ylabel("y")
    for row, color in zip(range(predicted.shape[0]), "rgb"):
        plt.plot(np.arange(n), predicted[row, :n], color, linewidth=2.0)
        plt.plot(np.arange(n, predicted.shape[1]), predicted[row, n:], color + ":", linewidth=2.0)
    plt.savefig(path)
    plt.close()
    print(f"wrote {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description="LSTMCell sine-wave prediction (pytorch/examples)")
    parser.add_argument("--steps", type=int, default=15, help="LBFGS steps (default: 15)")
    parser.add_argument("--waves", type=int, default=100, help="sine waves made, 3 kept for testing")
    parser.add_argument("--length", type=int, default=1000, help="steps per wave (default: 1000)")
    parser.add_argument("--future", type=int, default=1000, help="steps predicted past each test wave")
    parser.add_argument("--plot", default="sine_lstm.png", help="PNG of the test predictions ('' for none)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    data = sine_waves(args.waves, args.length)
    input = torch.from_numpy(data[3:, :-1])
    target = torch.from_numpy(data[3:, 1:])
    test_input = torch.from_numpy(data[:3, :-1])
    test_target = torch.from_numpy(data[:3, 1:])

    seq = Sequence()
    seq.double()
    criterion = nn.MSELoss()
    optimizer = optim.LBFGS(seq.parameters(), lr=0.8)
    start = time.perf_counter()
    test_losses = []
    for i in range(args.steps):
        def closure():
            optimizer.zero_grad()
            out = seq(input)
            loss = criterion(out, target)
            loss.backward()
            return loss
        loss = optimizer.step(closure)
        with torch.no_grad():
            pred = seq(test_input, future=args.future)
            test_loss = criterion(pred[:, :-args.future] if args.future else pred, test_target)
        test_losses.append(test_loss.item())
        print(f"step {i}: train loss {loss.item():.6f}  test loss {test_loss.item():.6f}"
              f"  ({time.perf_counter() - start:.0f} s)")
    if args.plot:
        plot(args.plot, test_input.numpy(), pred.numpy())
    return test_losses


if __name__ == "__main__":
    main()
