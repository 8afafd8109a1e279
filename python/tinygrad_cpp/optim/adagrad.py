"""Adagrad: per-element rates from the running sum of squared gradients."""
from .. import _C
from .._creation import full_like, tensor
from .optimizer import Optimizer, _check_lr, _check_not_differentiable


class Adagrad(Optimizer):
    """PyTorch's Adagrad: sum += grad^2; param -= clr * grad / (sqrt(sum) + eps) with
    clr = lr / (1 + (step - 1) * lr_decay). State is created at construction, as in
    PyTorch (so a fresh optimizer's state_dict already holds 'sum' and 'step')."""

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None):
        _check_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if fused and differentiable:
            raise RuntimeError("`fused` does not support `differentiable`")
        _check_not_differentiable(differentiable)
        if fused and foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                # the constructor's value for every group, as in PyTorch
                self._init_state(p, initial_accumulator_value)

    def _init_state(self, p, initial_accumulator_value):
        state = self.state[p]
        state["step"] = tensor(0.0)
        state["sum"] = full_like(p, initial_accumulator_value)

    def _update_group(self, group):
        params, grads = self._with_grad(group)
        for p in params:
            if len(self.state[p]) == 0:
                # a group added after construction: PyTorch reads the constructor's value
                self._init_state(p, self.defaults["initial_accumulator_value"])
        states = [self.state[p] for p in params]
        _C._adagrad_step(params, grads, [s["sum"] for s in states], [s["step"] for s in states],
                         float(group["lr"]), float(group["lr_decay"]), float(group["weight_decay"]),
                         float(group["eps"]), bool(group["maximize"]))
