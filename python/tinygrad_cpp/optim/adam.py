"""Adam and AdamW (decoupled weight decay), with amsgrad and maximize."""
from .. import _C
from .._creation import tensor, zeros_like
from .optimizer import Optimizer, _check_lr


class Adam(Optimizer):
    """PyTorch's Adam: bias-corrected first and second moments; weight_decay adds
    weight_decay * param to the gradient (L2), unless decoupled_weight_decay (AdamW)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, maximize=False, decoupled_weight_decay=False):
        _check_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _update_group(self, group):
        params, grads = self._with_grad(group)
        amsgrad = group["amsgrad"]
        for p in params:
            state = self.state[p]
            if len(state) == 0:
                state["step"] = tensor(0.0)
                state["exp_avg"] = zeros_like(p)
                state["exp_avg_sq"] = zeros_like(p)
                if amsgrad:
                    state["max_exp_avg_sq"] = zeros_like(p)
        states = [self.state[p] for p in params]
        beta1, beta2 = group["betas"]
        _C._adam_step(params, grads, [s["exp_avg"] for s in states],
                      [s["exp_avg_sq"] for s in states],
                      [s["max_exp_avg_sq"] for s in states] if amsgrad else [],
                      [s["step"] for s in states], float(group["lr"]), float(beta1), float(beta2),
                      float(group["eps"]), float(group["weight_decay"]), bool(amsgrad),
                      bool(group["maximize"]), bool(group["decoupled_weight_decay"]))


class AdamW(Adam):
    """Adam with decoupled weight decay: param *= 1 - lr * weight_decay before the update."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)
