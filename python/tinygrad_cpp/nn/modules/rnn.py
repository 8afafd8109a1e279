"""RNN, LSTM, GRU and their cells with PyTorch's constructor arguments, parameter names
(weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, ..._reverse), init, gate order,
argument checks and messages, so PyTorch state dicts load both ways.

Each layer (both directions) runs in C++ (_C._rnn_layer): one GEMM for the input
projection of the whole sequence, then per time step one GEMM and one fused gate kernel;
its backward runs through time inside one autograd node. Python only loops over layers
(dropout between them) and handles batch_first/unbatched shapes."""
import math
import numbers
import warnings

from ... import _C
from ..._creation import empty
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_Tensor = _C.Tensor
# PyTorch's scalar type names (its matmul dtype-mismatch message uses them)
_SCALAR = {"float32": "Float", "float64": "Double", "int64": "Long", "bool": "Bool"}


def _scalar(dtype):
    name = str(dtype).rsplit(".", 1)[-1]
    return _SCALAR.get(name, name)


def _check_tensor(name, value, what):
    if not isinstance(value, _Tensor):
        raise TypeError(f"{name}.forward(): argument '{what}' must be Tensor, not {type(value).__name__}")


class RNNBase(Module):
    """Base class of RNN, LSTM and GRU (PyTorch's RNNBase)."""

    __constants__ = ["mode", "input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout",
                     "bidirectional", "proj_size"]

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        if (not isinstance(dropout, numbers.Number) or isinstance(dropout, bool)
                or not 0 <= dropout <= 1):
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an "
                             "element being zeroed")
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        num_directions = 2 if bidirectional else 1
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and "
                          f"num_layers={num_layers}", stacklevel=2)
        if not isinstance(bias, bool):
            raise TypeError(f"bias should be of type bool, got: {type(bias).__name__}")
        if not isinstance(batch_first, bool):
            raise TypeError(f"batch_first should be of type bool, got: {type(batch_first).__name__}")
        if not isinstance(input_size, int):
            raise TypeError(f"input_size should be of type int, got: {type(input_size).__name__}")
        if input_size <= 0:
            raise ValueError("input_size must be greater than zero")
        if not isinstance(hidden_size, int):
            raise TypeError(f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if mode == "LSTM":
            gate_size = 4 * hidden_size
        elif mode == "GRU":
            gate_size = 3 * hidden_size
        elif mode in ("RNN_TANH", "RNN_RELU"):
            gate_size = hidden_size
        else:
            raise ValueError("Unrecognized RNN mode: " + mode)
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            for direction in range(num_directions):
                real_hidden_size = proj_size if proj_size > 0 else hidden_size
                layer_input_size = input_size if layer == 0 else real_hidden_size * num_directions
                params = [Parameter(empty(gate_size, int(layer_input_size), dtype=dtype, device=device)),
                          Parameter(empty(gate_size, int(real_hidden_size), dtype=dtype, device=device))]
                names = ["weight_ih_l{}{}", "weight_hh_l{}{}"]
                if bias:
                    params += [Parameter(empty(gate_size, dtype=dtype, device=device)),
                               Parameter(empty(gate_size, dtype=dtype, device=device))]
                    names += ["bias_ih_l{}{}", "bias_hh_l{}{}"]
                if proj_size > 0:
                    params.append(Parameter(empty(proj_size, int(hidden_size), dtype=dtype, device=device)))
                    names.append("weight_hr_l{}{}")
                suffix = "_reverse" if direction == 1 else ""
                names = [n.format(layer, suffix) for n in names]
                for name, p in zip(names, params):
                    setattr(self, name, p)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    @property
    def _flat_weights(self):
        """The parameters in PyTorch's flat order (always current, also after .to())."""
        return [getattr(self, n) if hasattr(self, n) else None for n in self._flat_weights_names]

    @property
    def all_weights(self):
        return [[getattr(self, w) for w in weights] for weights in self._all_weights]

    def flatten_parameters(self):
        """A no-op, as in PyTorch on the CPU (it packs weights for cuDNN)."""

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    # ---- checks, with PyTorch's messages -------------------------------------------------

    def check_input(self, input, batch_sizes=None):
        w0 = self._flat_weights[0]
        if input.dtype != w0.dtype:
            raise ValueError(f"RNN input dtype ({input.dtype}) does not match weight dtype ({w0.dtype}). "
                             f"Convert input: input.to({w0.dtype}), or convert model: model.to({input.dtype})")
        expected_input_dim = 2 if batch_sizes is not None else 3
        if input.dim() != expected_input_dim:
            raise RuntimeError(f"input must have {expected_input_dim} dimensions, got {input.dim()}")
        if self.input_size != input.size(-1):
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                               f"got {input.size(-1)}")

    def get_expected_hidden_size(self, input, batch_sizes=None):
        mini_batch = input.size(0) if self.batch_first else input.size(1)
        num_directions = 2 if self.bidirectional else 1
        return (self.num_layers * num_directions, mini_batch, self.proj_size if self.proj_size > 0
                else self.hidden_size)

    def check_hidden_size(self, hx, expected_hidden_size, msg="Expected hidden size {}, got {}"):
        if tuple(hx.size()) != tuple(expected_hidden_size):
            raise RuntimeError(msg.format(expected_hidden_size, list(hx.size())))

    def check_forward_args(self, input, hidden, batch_sizes=None):
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden, self.get_expected_hidden_size(input, batch_sizes))

    def permute_hidden(self, hx, permutation):
        return hx

    def extra_repr(self):
        s = "{input_size}, {hidden_size}"
        if self.proj_size != 0:
            s += ", proj_size={proj_size}"
        if self.num_layers != 1:
            s += ", num_layers={num_layers}"
        if self.bias is not True:
            s += ", bias={bias}"
        if self.batch_first is not False:
            s += ", batch_first={batch_first}"
        if self.dropout != 0:
            s += ", dropout={dropout}"
        if self.bidirectional is not False:
            s += ", bidirectional={bidirectional}"
        return s.format(**self.__dict__)

    # ---- the layers ------------------------------------------------------------------------

    def _run(self, input, hx, cx):
        """All layers over a batched input; hx/cx [L*D, B, H] or None. Returns
        (output, h_n) or (output, h_n, c_n)."""
        D = 2 if self.bidirectional else 1
        weights = self._flat_weights
        proj = self.proj_size > 0
        per = (4 if self.bias else 2) + proj
        hs, cs = [], []
        x = input
        for layer in range(self.num_layers):
            w = []  # per direction: w_ih, w_hh, b_ih, b_hh, w_hr (None where absent)
            for d in range(D):
                ws = weights[(layer * D + d) * per:(layer * D + d + 1) * per]
                w += ws[:2] + (ws[2:4] if self.bias else [None, None]) + ([ws[-1]] if proj else [None])
            h0 = hx[layer * D:(layer + 1) * D] if hx is not None and self.num_layers > 1 else hx
            c0 = cx[layer * D:(layer + 1) * D] if cx is not None and self.num_layers > 1 else cx
            res = _C._rnn_layer(self.mode, x, h0, c0, w, self.bidirectional, self.batch_first)
            x = res[0]
            hs.append(res[1])
            if len(res) > 2:
                cs.append(res[2])
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        h_n = hs[0] if len(hs) == 1 else _C.cat(hs, 0)
        if self.mode != "LSTM":
            return x, h_n
        return x, h_n, (cs[0] if len(cs) == 1 else _C.cat(cs, 0))


def _forward_plain(self, name, input, hx):
    """RNN and GRU forward: PyTorch's checks, then the layers."""
    _check_tensor(name, input, "input")
    if hx is not None:
        _check_tensor(name, hx, "hx")
    if input.dim() not in (2, 3):
        raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.dim()}D "
                         + ("tensor instead" if name == "RNN" else "instead"))
    is_batched = input.dim() == 3
    batch_dim = 0 if self.batch_first else 1
    if not is_batched:
        input = input.unsqueeze(batch_dim)
        if hx is not None:
            if hx.dim() != 2:
                raise RuntimeError(f"For unbatched 2-D input, hx should also be 2-D but got {hx.dim()}-D tensor")
            hx = hx.unsqueeze(1)
    elif hx is not None and hx.dim() != 3:
        raise RuntimeError(f"For batched 3-D input, hx should also be 3-D but got {hx.dim()}-D tensor")
    if hx is None:
        self.check_input(input)
    else:
        self.check_forward_args(input, hx)
    output, hidden = self._run(input, hx, None)
    if not is_batched:
        output = output.squeeze(batch_dim)
        hidden = hidden.squeeze(1)
    return output, hidden


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu)."""

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            self.nonlinearity = args[3]
            args = args[:3] + args[4:]
        else:
            self.nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if self.nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif self.nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__(mode, *args, **kwargs)

    def forward(self, input, hx=None):
        return _forward_plain(self, "RNN", input, hx)


class GRU(RNNBase):
    """Gated recurrent unit, PyTorch's gate order r, z, n with n = tanh(W_in x + b_in +
    r * (W_hn h + b_hn))."""

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)

    def forward(self, input, hx=None):
        return _forward_plain(self, "GRU", input, hx)


class LSTM(RNNBase):
    """Long short-term memory, PyTorch's gate order i, f, g, o; with proj_size > 0 each
    h_t is projected by weight_hr (h_t = W_hr (o_t * tanh(c_t))), as in PyTorch."""

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)

    def get_expected_cell_size(self, input, batch_sizes=None):
        mini_batch = input.size(0) if self.batch_first else input.size(1)
        num_directions = 2 if self.bidirectional else 1
        return (self.num_layers * num_directions, mini_batch, self.hidden_size)

    def check_forward_args(self, input, hidden, batch_sizes=None):
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden[0], self.get_expected_hidden_size(input, batch_sizes),
                               "Expected hidden[0] size {}, got {}")
        self.check_hidden_size(hidden[1], self.get_expected_cell_size(input, batch_sizes),
                               "Expected hidden[1] size {}, got {}")

    def forward(self, input, hx=None):
        _check_tensor("LSTM", input, "input")
        if input.dim() not in (2, 3):
            raise ValueError(f"LSTM: Expected input to be 2D or 3D, got {input.dim()}D instead")
        is_batched = input.dim() == 3
        batch_dim = 0 if self.batch_first else 1
        if not is_batched:
            input = input.unsqueeze(batch_dim)
        if hx is None:
            self.check_input(input)
            h0 = c0 = None
        else:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError("LSTM.forward(): argument 'hx' must be a tuple of two Tensors")
            _check_tensor("LSTM", hx[0], "hx[0]")
            _check_tensor("LSTM", hx[1], "hx[1]")
            if is_batched:
                if hx[0].dim() != 3 or hx[1].dim() != 3:
                    raise RuntimeError("For batched 3-D input, hx and cx should also be 3-D but got "
                                       f"({hx[0].dim()}-D, {hx[1].dim()}-D) tensors")
            else:
                if hx[0].dim() != 2 or hx[1].dim() != 2:
                    raise RuntimeError("For unbatched 2-D input, hx and cx should also be 2-D but got "
                                       f"({hx[0].dim()}-D, {hx[1].dim()}-D) tensors")
                hx = (hx[0].unsqueeze(1), hx[1].unsqueeze(1))
            self.check_forward_args(input, hx)
            h0, c0 = hx
        output, h_n, c_n = self._run(input, h0, c0)
        if not is_batched:
            output = output.squeeze(batch_dim)
            h_n, c_n = h_n.squeeze(1), c_n.squeeze(1)
        return output, (h_n, c_n)


# ---- cells -------------------------------------------------------------------------------


class RNNCellBase(Module):
    """Base class of the cells: weight_ih, weight_hh, bias_ih, bias_hh."""

    __constants__ = ["input_size", "hidden_size", "bias"]

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        # (sizes go through the strict parser of empty(); PyTorch's also takes bools as ints)
        gates, i_size, h_size = [int(v) if isinstance(v, bool) else v
                                 for v in (num_chunks * hidden_size, input_size, hidden_size)]
        self.weight_ih = Parameter(empty(gates, i_size, dtype=dtype, device=device))
        self.weight_hh = Parameter(empty(gates, h_size, dtype=dtype, device=device))
        if bias:
            self.bias_ih = Parameter(empty(gates, dtype=dtype, device=device))
            self.bias_hh = Parameter(empty(gates, dtype=dtype, device=device))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self):
        s = "{input_size}, {hidden_size}"
        if "bias" in self.__dict__ and self.bias is not True:
            s += ", bias={bias}"
        if "nonlinearity" in self.__dict__ and self.nonlinearity != "tanh":
            s += ", nonlinearity={nonlinearity}"
        return s.format(**self.__dict__)

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _check_cell(self, input, states):
        """PyTorch's check_rnn_cell_forward_input/hidden messages (input and states 2-D)."""
        if input.size(1) != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.size(1)} expected {self.input_size}")
        for i, h in enumerate(states):
            if input.size(0) != h.size(0):
                raise RuntimeError(f"Input batch size {input.size(0)} doesn't match hidden{i} batch size {h.size(0)}")
            if h.size(1) != self.hidden_size:
                raise RuntimeError(f"hidden{i} has inconsistent hidden_size: got {h.size(1)}, "
                                   f"expected {self.hidden_size}")
        w = self.weight_ih
        for t in (input,) + tuple(states):
            if t.dtype != w.dtype:
                raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got {_scalar(t.dtype)} and "
                                   f"{_scalar(w.dtype)}")

    def _step(self, mode, input, hx, cx):
        w = [self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, None]
        return _C._rnn_layer(mode, input.unsqueeze(0), None if hx is None else hx.unsqueeze(0),
                             None if cx is None else cx.unsqueeze(0), w, False, False)


def _cell_plain(self, name, mode, input, hx):
    _check_tensor(name, input, "input")
    if hx is not None:
        _check_tensor(name, hx, "hx")
    if input.dim() not in (1, 2):
        raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
    if hx is not None and hx.dim() not in (1, 2):
        raise ValueError(f"{name}: Expected hidden to be 1D or 2D, got {hx.dim()}D instead")
    is_batched = input.dim() == 2
    if not is_batched:
        input = input.unsqueeze(0)
        if hx is not None:
            hx = hx.unsqueeze(0)
    self._check_cell(input, () if hx is None else (hx,))
    ret = self._step(mode, input, hx, None)[1].squeeze(0)
    return ret if is_batched else ret.squeeze(0)


class RNNCell(RNNCellBase):
    """One Elman RNN step: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu)."""

    __constants__ = ["input_size", "hidden_size", "bias", "nonlinearity"]

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        if self.nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif self.nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        return _cell_plain(self, "RNNCell", mode, input, hx)


class GRUCell(RNNCellBase):
    """One GRU step (gate order r, z, n)."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        return _cell_plain(self, "GRUCell", "GRU", input, hx)


class LSTMCell(RNNCellBase):
    """One LSTM step (gate order i, f, g, o); returns (h', c')."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        _check_tensor("LSTMCell", input, "input")
        if input.dim() not in (1, 2):
            raise ValueError(f"LSTMCell: Expected input to be 1D or 2D, got {input.dim()}D instead")
        if hx is not None:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError("LSTMCell.forward(): argument 'hx' must be a tuple of two Tensors")
            for idx, value in enumerate(hx):
                _check_tensor("LSTMCell", value, f"hx[{idx}]")
                if value.dim() not in (1, 2):
                    raise ValueError(f"LSTMCell: Expected hx[{idx}] to be 1D or 2D, got {value.dim()}D instead")
        is_batched = input.dim() == 2
        if not is_batched:
            input = input.unsqueeze(0)
        h0 = c0 = None
        if hx is not None:
            h0, c0 = hx if is_batched else (hx[0].unsqueeze(0), hx[1].unsqueeze(0))
        self._check_cell(input, () if hx is None else (h0, c0))
        _, h, c = self._step("LSTM", input, h0, c0)
        h, c = h.squeeze(0), c.squeeze(0)
        if not is_batched:
            h, c = h.squeeze(0), c.squeeze(0)
        return h, c
