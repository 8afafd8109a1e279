"""RMSprop, optionally centered and with momentum."""
from .. import _C
from .._creation import tensor, zeros_like
from .optimizer import Optimizer, _check_lr


class RMSprop(Optimizer):
    """PyTorch's RMSprop: square_avg = alpha * square_avg + (1 - alpha) * grad^2; centered
    subtracts the squared running mean of the gradient before the square root."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, *, maximize=False):
        _check_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _update_group(self, group):
        params, grads = self._with_grad(group)
        momentum, centered = group["momentum"], group["centered"]
        for p in params:
            state = self.state[p]
            if len(state) == 0:
                state["step"] = tensor(0.0)
                state["square_avg"] = zeros_like(p)
                if momentum > 0:
                    state["momentum_buffer"] = zeros_like(p)
                if centered:
                    state["grad_avg"] = zeros_like(p)
        states = [self.state[p] for p in params]
        _C._rmsprop_step(params, grads, [s["square_avg"] for s in states],
                         [s["grad_avg"] for s in states] if centered else [],
                         [s["momentum_buffer"] for s in states] if momentum > 0 else [],
                         [s["step"] for s in states], float(group["lr"]), float(group["alpha"]),
                         float(group["eps"]), float(group["weight_decay"]), float(momentum),
                         bool(centered), bool(group["maximize"]))
