"""What the MNIST benchmarks share (bench/mnist_mlp.py, bench/contention.py, bench/cnn.py): the data,
read with numpy before either library is imported, and one starting point for the
reference MLP drawn with numpy, so both libraries train from the same weights."""
import gzip
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.join(os.path.dirname(os.path.dirname(HERE)), "shared", "data", "mnist")


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_mnist(data_dir, test=True):
    """(x_train, y_train, x_test, y_test) as float32 rows in [0, 1] and int64 labels; the
    test half only with test=True (else just the training pair)."""
    def find(name):
        for candidate in (name + ".gz", name):
            if os.path.exists(os.path.join(data_dir, candidate)):
                return os.path.join(data_dir, candidate)
        raise FileNotFoundError(f"{name} not found in {data_dir}")
    parts = ("train", "t10k") if test else ("train",)
    out = []
    for part in parts:
        out.append(read_idx(find(f"{part}-images-idx3-ubyte")).reshape(-1, 784).astype(np.float32) / 255.0)
        out.append(read_idx(find(f"{part}-labels-idx1-ubyte")).astype(np.int64))
    return tuple(out)


def equal_init(lib, model, rng):
    """PyTorch's default init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), drawn with numpy for
    every Linear of `model` (a Sequential), so that both libraries start alike: with their
    own generators their accuracies differ by seed noise."""
    with lib.no_grad():
        for layer in model:
            if hasattr(layer, "in_features"):
                bound = 1 / np.sqrt(layer.in_features)
                for p in (layer.weight, layer.bias):
                    p.copy_(lib.from_numpy(rng.uniform(-bound, bound, tuple(p.shape)).astype(np.float32)))
