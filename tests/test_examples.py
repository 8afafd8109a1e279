"""The example scripts, run in-process: one epoch of the MNIST MLP learns (and its
checkpoint reloads), the regression fit converges, the optimizer comparison runs."""
import math
import os
import sys

import numpy as np
import pytest

import tinygrad_cpp as tg
from test_mnist import mnist_dir

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
import mnist_cnn  # noqa: E402
import mnist_mlp  # noqa: E402
import optimizers  # noqa: E402
import regression  # noqa: E402
import sine_lstm  # noqa: E402


def test_mnist_mlp_one_epoch_learns_and_checkpoint_reloads(tmp_path, capsys):
    path = str(tmp_path / "mlp.safetensors")
    accuracy = mnist_mlp.main(["--epochs", "1", "--data-dir", mnist_dir(), "--save", path, "--no-download"])
    out = capsys.readouterr().out
    assert "epoch 1/1" in out and "samples/s" in out and "test accuracy" in out
    assert accuracy >= 0.95

    state = tg.load(path)
    assert set(state) == {"layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias",
                          "layers.4.weight", "layers.4.bias"}
    assert state["layers.0.weight"].shape == (128, 784) and state["layers.4.bias"].shape == (10,)
    model = mnist_mlp.MLP()
    model.load_state_dict(state)
    _, test_loader = mnist_mlp.make_loaders(mnist_dir(), download=False)
    assert mnist_mlp.evaluate(model, test_loader) == accuracy


def test_regression_loss_decreases_and_fits():
    model, losses = regression.main(["--steps", "200"])
    assert losses[-1] < 0.1 * losses[0]
    assert losses[-1] < 0.02  # the noise floor is 0.01
    np.testing.assert_allclose(model.weight.detach().numpy().reshape(-1), regression.TRUE_WEIGHT, atol=0.2)
    assert abs(model.bias.item() - regression.TRUE_BIAS) < 0.1


def test_optimizers_comparison_runs(capsys):
    results = optimizers.main(["--steps", "5", "--data-dir", mnist_dir(), "--plot", "", "--no-download"])
    assert list(results) == ["SGD", "SGD+momentum", "Adam", "RMSprop"]
    for loss, accuracy, seconds in results.values():
        assert math.isfinite(loss) and 0.0 <= accuracy <= 1.0
    table = capsys.readouterr().out
    assert "final loss" in table and "RMSprop" in table


def test_optimizers_plot(tmp_path):
    pytest.importorskip("matplotlib")
    assert optimizers.plot({"a": [3.0, 2.0, 1.0]}, str(tmp_path / "c.png"), window=2)
    assert (tmp_path / "c.png").stat().st_size > 0


def test_mnist_cnn_learns_in_a_hundred_batches(tmp_path, capsys):
    # PyTorch's example as it stands, cut to 100 batches of one epoch: already > 90%
    path = str(tmp_path / "cnn.pt")
    accuracy = mnist_cnn.main(["--epochs", "1", "--limit-batches", "100", "--data-dir", mnist_dir(),
                               "--quiet", "--save-model", "--model-path", path])
    out = capsys.readouterr().out
    assert "Test set: Average loss" in out and "Accuracy" in out
    assert accuracy > 90.0
    model = mnist_cnn.Net()
    model.load_state_dict(tg.load(path))
    assert model.conv2.weight.shape == (64, 32, 3, 3)


def test_saliency_map_png(tmp_path):
    pytest.importorskip("PIL")
    import saliency
    out = str(tmp_path / "saliency.png")
    maps, pred, labels = saliency.main(["--model", str(tmp_path / "none.pt"), "--train-batches", "60",
                                        "--count", "6", "--out", out, "--data-dir", mnist_dir()])
    assert maps.shape == (6, 1, 28, 28)
    m = maps.numpy()
    assert m.min() >= 0 and np.allclose(m.reshape(6, -1).max(axis=1), 1.0)
    # the map is brightest on the digit's strokes, not on the empty border
    assert m[:, :, :3, :].mean() < m[:, :, 8:20, 8:20].mean()
    from PIL import Image
    with Image.open(out) as img:
        assert img.size == (6 * 30 + 2, 2 * 30 + 2)


def test_sine_lstm_learns_the_waves(tmp_path):
    # two LSTMCells under LBFGS (PyTorch's time-sequence example), on short waves
    png = tmp_path / "sine.png"
    losses = sine_lstm.main(["--steps", "3", "--waves", "8", "--length", "120", "--future", "30",
                             "--plot", str(png)])
    assert len(losses) == 3 and losses[-1] < 0.2 * losses[0] and losses[-1] < 1e-3
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
