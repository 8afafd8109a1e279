"""A physics-informed neural network (PINN): an MLP u(x) learns the solution of the 1-D
Poisson problem

    u''(x) = -pi^2 sin(pi x) on [0, 1],   u(0) = u(1) = 0     (exact: u = sin(pi x))

from the equation alone, no samples of u. The loss penalises the residual u'' + pi^2
sin(pi x) at collocation points and the boundary values; u'' is the network's second
derivative with respect to its input, taken with autograd.grad(..., create_graph=True)
twice, so the optimizer differentiates through derivatives (double backward). Adam first,
then L-BFGS to polish, as PINN papers do. Prints the maximum error against sin(pi x) and,
with matplotlib installed, plots both to --plot.

    python examples/pinn.py [--adam-steps 2000] [--lbfgs-steps 200] [--plot pinn.png]
"""
import argparse
import math
import time

import numpy as np

import tinygrad_cpp as tg
import tinygrad_cpp.nn as nn


def make_model(width=32):
    return nn.Sequential(nn.Linear(1, width), nn.Tanh(), nn.Linear(width, width), nn.Tanh(), nn.Linear(width, 1))


def pde_loss(model, x, xb):
    """Mean squared residual of u'' + pi^2 sin(pi x) at x, plus the boundary values at xb."""
    x = x.detach().requires_grad_(True)
    u = model(x)
    (ux,) = tg.autograd.grad(u.sum(), x, create_graph=True)
    (uxx,) = tg.autograd.grad(ux.sum(), x, create_graph=True)
    residual = uxx + math.pi ** 2 * tg.sin(math.pi * x)
    return (residual ** 2).mean() + (model(xb) ** 2).mean()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=64, help="collocation points in (0, 1)")
    ap.add_argument("--adam-steps", type=int, default=2000)
    ap.add_argument("--lbfgs-steps", type=int, default=200, help="L-BFGS iterations after Adam (0: none)")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="tiny tensors: one thread is fastest")
    ap.add_argument("--plot", default=None, help="write a PNG of u and sin(pi x) here (needs matplotlib)")
    args = ap.parse_args(argv)

    tg.manual_seed(args.seed)
    tg.set_num_threads(args.threads)
    model = make_model().double()
    x = tg.linspace(0, 1, args.points + 2, dtype=tg.float64)[1:-1].reshape(-1, 1)
    xb = tg.tensor([[0.0], [1.0]], dtype=tg.float64)

    start = time.perf_counter()
    opt = tg.optim.Adam(model.parameters(), lr=args.lr)
    for step in range(1, args.adam_steps + 1):
        opt.zero_grad()
        loss = pde_loss(model, x, xb)
        loss.backward()
        opt.step()
        if step % 500 == 0 or step == args.adam_steps:
            print(f"adam step {step}: loss {loss.item():.3e}", flush=True)
    if args.lbfgs_steps:
        lbfgs = tg.optim.LBFGS(model.parameters(), lr=1.0, max_iter=args.lbfgs_steps, history_size=50,
                               line_search_fn="strong_wolfe")

        def closure():
            lbfgs.zero_grad()
            loss = pde_loss(model, x, xb)
            loss.backward()
            return loss
        lbfgs.step(closure)
        print(f"after L-BFGS: loss {pde_loss(model, x, xb).item():.3e}", flush=True)
    elapsed = time.perf_counter() - start

    xt = tg.linspace(0, 1, 1001, dtype=tg.float64).reshape(-1, 1)
    with tg.no_grad():
        u = model(xt).numpy().ravel()
    exact = np.sin(np.pi * xt.numpy().ravel())
    err = float(np.abs(u - exact).max())
    print(f"max |u - sin(pi x)| on [0, 1]: {err:.2e} ({elapsed:.1f} s)", flush=True)
    if args.plot:
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("matplotlib is not installed: no plot")
        else:
            fig, ax = plt.subplots(figsize=(6, 3.5))
            ax.plot(xt.numpy().ravel(), exact, label="sin(pi x)", lw=3, alpha=0.5)
            ax.plot(xt.numpy().ravel(), u, "--", label="PINN u(x)")
            ax.set_title(f"u'' = -pi^2 sin(pi x), max error {err:.1e}")
            ax.legend()
            fig.tight_layout()
            fig.savefig(args.plot)
            print(f"wrote {args.plot}")
    return err


if __name__ == "__main__":
    main()
