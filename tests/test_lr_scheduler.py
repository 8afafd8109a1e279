"""lr schedulers: the lr sequences equal PyTorch's (closed forms without torch)."""
import math
import warnings

import numpy as np
import pytest

import tinygrad_cpp as tg
import tinygrad_cpp.nn as nn
import tinygrad_cpp.optim as optim
from tinygrad_cpp.optim import lr_scheduler
from helpers import torch


def our_opt(lrs=(0.1,)):
    return optim.SGD([{"params": [nn.Parameter(tg.ones(1))], "lr": lr} for lr in lrs], lr=lrs[0])


def torch_opt(lrs=(0.1,)):
    return torch.optim.SGD([{"params": [torch.nn.Parameter(torch.ones(1))], "lr": lr} for lr in lrs],
                           lr=lrs[0])


def lr_sequence(opt, sched, steps):
    seq = [[g["lr"] for g in opt.param_groups]]
    for _ in range(steps):
        opt.step()
        sched.step()
        seq.append([g["lr"] for g in opt.param_groups])
        assert sched.get_last_lr() == seq[-1]
    return seq


class Halve:
    """A callable object, saved in LambdaLR's state_dict (functions are not)."""

    def __init__(self):
        self.factor = 0.5

    def __call__(self, epoch):
        return self.factor ** (epoch // 3)


SCHEDULERS = [
    ("StepLR", dict(step_size=3), dict(step_size=3)),
    ("StepLR", dict(step_size=2, gamma=0.5), dict(step_size=2, gamma=0.5)),
    ("CosineAnnealingLR", dict(T_max=10), dict(T_max=10)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.01), dict(T_max=7, eta_min=0.01)),
    ("LambdaLR", dict(lr_lambda=lambda e: 0.95 ** e), dict(lr_lambda=lambda e: 0.95 ** e)),
    ("LambdaLR", dict(lr_lambda=[lambda e: 1 / (e + 1), Halve()]),
     dict(lr_lambda=[lambda e: 1 / (e + 1), Halve()])),
    ("MultiStepLR", dict(milestones=[3, 3, 8], gamma=0.5), dict(milestones=[3, 3, 8], gamma=0.5)),
    ("ExponentialLR", dict(gamma=0.9), dict(gamma=0.9)),
]


@pytest.mark.parametrize("name,kw,tkw", SCHEDULERS, ids=[s[0] for s in SCHEDULERS])
def test_sequences_equal_torch(name, kw, tkw):
    pytest.importorskip("torch")
    lrs = (0.1, 0.03)
    opt, topt = our_opt(lrs), torch_opt(lrs)
    sched = getattr(lr_scheduler, name)(opt, **kw)
    tsched = getattr(torch.optim.lr_scheduler, name)(topt, **tkw)
    ours, theirs = lr_sequence(opt, sched, 30), lr_sequence(topt, tsched, 30)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
    assert sched.last_epoch == tsched.last_epoch == 30


def test_cosine_annealing_recursive_form_matches_closed_form_within_a_period():
    opt = our_opt((1.0,))
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=8, eta_min=0.1)
    seq = [l[0] for l in lr_sequence(opt, sched, 8)]
    closed = [0.1 + 0.9 * (1 + math.cos(math.pi * t / 8)) / 2 for t in range(9)]
    np.testing.assert_allclose(seq, closed, rtol=1e-12)


def test_cosine_annealing_composes_with_outside_lr_changes_like_torch():
    pytest.importorskip("torch")
    opt, topt = our_opt(), torch_opt()
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=6)
    tsched = torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=6)
    for step in range(12):
        if step == 4:
            opt.param_groups[0]["lr"] *= 3
            topt.param_groups[0]["lr"] *= 3
        opt.step(), topt.step()
        sched.step(), tsched.step()
        assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12)


def test_step_lr_closed_form_values():
    opt = our_opt((1.0,))
    sched = lr_scheduler.StepLR(opt, step_size=2, gamma=0.1)
    seq = [l[0] for l in lr_sequence(opt, sched, 6)]
    np.testing.assert_allclose(seq, [1, 1, 0.1, 0.1, 0.01, 0.01, 0.001])


def test_state_dict_round_trip():
    opt = our_opt()
    sched = lr_scheduler.StepLR(opt, step_size=2)
    for _ in range(3):
        opt.step()
        sched.step()
    sd = sched.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 3 and sd["step_size"] == 2
    opt2 = our_opt()
    sched2 = lr_scheduler.StepLR(opt2, step_size=5)
    sched2.load_state_dict(sd)
    assert sched2.step_size == 2 and sched2.last_epoch == 3 and sched2.get_last_lr() == sched.get_last_lr()


def test_lambda_lr_state_dict_saves_callable_objects_only():
    opt = our_opt((0.1, 0.2))
    fn = Halve()
    sched = lr_scheduler.LambdaLR(opt, [lambda e: 1.0, fn])
    sd = sched.state_dict()
    assert sd["lr_lambdas"][0] is None and sd["lr_lambdas"][1] == {"factor": 0.5}
    fn.factor = 0.9
    sched.load_state_dict(sd)
    assert fn.factor == 0.5
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        lr_scheduler.LambdaLR(opt, [lambda e: 1.0])


def test_scheduler_errors_and_resume():
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.StepLR(object(), step_size=1)
    opt = our_opt()
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(opt, step_size=1, last_epoch=3)
    lr_scheduler.StepLR(opt, step_size=1)
    assert opt.param_groups[0]["initial_lr"] == 0.1


def test_step_with_epoch_uses_closed_form_and_warns():
    opt = our_opt((1.0,))
    sched = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    with pytest.warns(UserWarning, match="epoch parameter"):
        sched.step(5)
    assert sched.get_last_lr() == [0.25]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched.step(0)
    assert sched.get_last_lr() == [1.0]
