"""nn.Parameter: a tensor that a Module registers as one of its parameters."""
from .. import _C
from .._creation import empty


class Parameter(_C.Tensor):
    """A leaf tensor that requires grad by default and shares storage with `data`.

    Assigning a Parameter as a Module attribute registers it, so it shows up in
    `parameters()` and `state_dict()`."""

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = empty(0)
        if not isinstance(data, _C.Tensor):
            raise TypeError(f"Parameter data must be a Tensor, not {type(data).__name__}")
        super().__init__(data)  # an alias of data's storage, with no history
        self.requires_grad_(requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + _C.Tensor.__repr__(self)

    def __deepcopy__(self, memo):
        if id(self) not in memo:
            memo[id(self)] = Parameter(self.detach().clone(), self.requires_grad)
        return memo[id(self)]

    def __reduce_ex__(self, protocol):
        return (Parameter, (self.detach().clone(), self.requires_grad))
