#!/usr/bin/env python3
"""Fit a noisy cubic y = 2x^3 - x + 0.5 + noise with a linear model on the features
(x, x^2, x^3) and MSELoss, printing the loss as it goes down and the fitted parameters.

    python examples/regression.py --steps 300
"""
import argparse

import tinygrad_cpp as tg
import tinygrad_cpp.nn as nn
import tinygrad_cpp.optim as optim

TRUE_WEIGHT = [-1.0, 0.0, 2.0]  # coefficients of x, x^2, x^3
TRUE_BIAS = 0.5


def make_data(n=256, noise=0.1):
    x = tg.rand(n, 1) * 2 - 1
    features = tg.cat([x, x ** 2, x ** 3], 1)
    y = features @ tg.tensor(TRUE_WEIGHT).reshape(3, 1) + TRUE_BIAS + noise * tg.randn(n, 1)
    return features, y


def fit(steps=300, lr=0.1, seed=0, log_every=50, log=print):
    """Full-batch training; returns (model, list of losses, one per step)."""
    tg.manual_seed(seed)
    features, y = make_data()
    model = nn.Linear(3, 1)
    loss_fn = nn.MSELoss()
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    losses = []
    for step in range(steps):
        opt.zero_grad()
        loss = loss_fn(model(features), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if log and (step % log_every == 0 or step == steps - 1):
            log(f"step {step:4d}  loss {losses[-1]:.5f}")
    return model, losses


def polynomial(weight, bias):
    terms = [f"{c:.3f}*x{'' if i == 0 else f'^{i + 1}'}" for i, c in enumerate(weight)] + [f"{bias:.3f}"]
    text = "y = " + terms[0]
    for t in terms[1:]:
        text += f" - {t[1:]}" if t.startswith("-") else f" + {t}"
    return text


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    model, losses = fit(args.steps, args.lr, args.seed)
    w = model.weight.detach().numpy().reshape(-1)
    b = model.bias.detach().numpy().item()
    print(f"fitted: {polynomial(w, b)}")
    print(f"truth:  {polynomial(TRUE_WEIGHT, TRUE_BIAS)}")
    return model, losses


if __name__ == "__main__":
    main()
