"""Adadelta: per-element rates from running averages of squared gradients and updates."""
from .. import _C
from .._creation import tensor, zeros_like
from .optimizer import Optimizer, _check_lr, _check_not_differentiable


class Adadelta(Optimizer):
    """PyTorch's Adadelta: square_avg = rho * square_avg + (1 - rho) * grad^2;
    delta = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * grad;
    acc_delta = rho * acc_delta + (1 - rho) * delta^2; param -= lr * delta."""

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        _check_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        # foreach and capturable are accepted (and kept in the groups, as PyTorch does) for
        # signature compatibility: the fused kernel is the only implementation
        _check_not_differentiable(differentiable)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def _update_group(self, group):
        params, grads = self._with_grad(group)
        for p in params:
            state = self.state[p]
            if len(state) == 0:
                state["step"] = tensor(0.0)
                state["square_avg"] = zeros_like(p)
                state["acc_delta"] = zeros_like(p)
        states = [self.state[p] for p in params]
        _C._adadelta_step(params, grads, [s["square_avg"] for s in states],
                          [s["acc_delta"] for s in states], [s["step"] for s in states],
                          float(group["lr"]), float(group["rho"]), float(group["eps"]),
                          float(group["weight_decay"]), bool(group["maximize"]))
