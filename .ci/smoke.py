"""Smoke test of an installed wheel, run by .ci/run in a fresh venv outside the source tree:
the package imports from site-packages, trains one step of a tiny MLP to the values numpy
computes, and show_config runs."""
import os
import subprocess
import sys

import numpy as np

import tinygrad_cpp as tg
import tinygrad_cpp.nn as nn
import tinygrad_cpp.optim as optim

assert "site-packages" in tg.__file__, f"not the installed package: {tg.__file__}"
if len(sys.argv) > 1:  # the source tree, which must not be what was imported
    assert not os.path.abspath(tg.__file__).startswith(os.path.abspath(sys.argv[1]) + os.sep), tg.__file__

rng = np.random.default_rng(0)
x = rng.standard_normal((8, 4)).astype(np.float32)
y = rng.integers(0, 3, 8)
w1, b1 = rng.standard_normal((5, 4)).astype(np.float32), rng.standard_normal(5).astype(np.float32)
w2, b2 = rng.standard_normal((3, 5)).astype(np.float32), rng.standard_normal(3).astype(np.float32)

model = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3))
with tg.no_grad():
    for p, v in zip(model.parameters(), (w1, b1, w2, b2)):
        p.copy_(tg.from_numpy(v.copy()))
opt = optim.SGD(model.parameters(), lr=0.1)
loss = nn.CrossEntropyLoss()(model(tg.from_numpy(x)), tg.from_numpy(y))
opt.zero_grad()
loss.backward()
opt.step()

# the same step in numpy (float64)
h = np.maximum(x @ w1.T.astype(np.float64) + b1, 0)
z = h @ w2.T + b2
z = z - z.max(1, keepdims=True)
p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
ref_loss = -np.log(p[np.arange(8), y]).mean()
dz = p.copy()
dz[np.arange(8), y] -= 1
dz /= 8
dw2 = dz.T @ h
assert abs(loss.item() - ref_loss) < 1e-5, (loss.item(), ref_loss)
new_w2 = model[2].weight.detach().numpy()
assert np.allclose(new_w2, w2 - 0.1 * dw2, atol=1e-5), np.abs(new_w2 - (w2 - 0.1 * dw2)).max()

out = subprocess.run([sys.executable, "-m", "tinygrad_cpp.show_config"], capture_output=True, text=True, check=True)
assert "gemm:" in out.stdout and "num_threads:" in out.stdout, out.stdout
print(f"smoke test passed: {tg.__file__}, loss {loss.item():.6f}, gemm {tg._C._gemm_isa()}")
