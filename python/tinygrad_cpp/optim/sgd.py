"""SGD with momentum, dampening, Nesterov momentum, weight decay and maximize."""
from .. import _C
from .optimizer import Optimizer, _check_lr


class SGD(Optimizer):
    """PyTorch's SGD: the momentum buffer starts as the first (decayed) gradient, without
    dampening; later steps do buf = momentum * buf + (1 - dampening) * grad."""

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False):
        _check_lr(lr)
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _update_group(self, group):
        params, grads = self._with_grad(group)
        momentum = group["momentum"]
        bufs = [self.state[p].get("momentum_buffer") for p in params] if momentum != 0 else []
        bufs = _C._sgd_step(params, grads, bufs, float(group["lr"]), float(momentum),
                            float(group["dampening"]), float(group["weight_decay"]),
                            bool(group["nesterov"]), bool(group["maximize"]))
        for p, b in zip(params, bufs):
            self.state[p]["momentum_buffer"] = b
