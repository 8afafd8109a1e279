"""PyTorch's torch/nn/modules/utils.py helpers: the layers' `int or tuple` arguments.

As in PyTorch, anything iterable becomes a tuple as it is (a list of two ints, but also a
string or a list of strings, checked later where the values are used) and anything else is
repeated n times; a 0-d tensor is iterable but cannot be iterated, a TypeError."""
import collections.abc
from itertools import repeat

__all__ = []


def _ntuple(n, name="parse"):
    def parse(x):
        if isinstance(x, collections.abc.Iterable):
            return tuple(x)
        return tuple(repeat(x, n))

    parse.__name__ = name
    return parse


_single = _ntuple(1, "_single")
_pair = _ntuple(2, "_pair")
_triple = _ntuple(3, "_triple")
_quadruple = _ntuple(4, "_quadruple")


def _reverse_repeat_tuple(t, n):
    """(1, 2) with n=2 -> (2, 2, 1, 1): F.pad's order (last dim first) from a padding tuple."""
    return tuple(x for x in reversed(t) for _ in range(n))
