"""nn.RNN / LSTM / GRU and their cells: outputs and every gradient (input, h0, c0, all
parameters) against PyTorch with the weights copied across, gradcheck in float64, state
dicts both ways, PyTorch's errors, dropout between layers."""
import itertools
import warnings

import numpy as np
import pytest

import tinygrad_cpp as tg
import tinygrad_cpp.nn as nn

torch = pytest.importorskip("torch")

KINDS = {"RNN": (nn.RNN, torch.nn.RNN), "LSTM": (nn.LSTM, torch.nn.LSTM), "GRU": (nn.GRU, torch.nn.GRU)}
CELLS = {"RNNCell": (nn.RNNCell, torch.nn.RNNCell), "LSTMCell": (nn.LSTMCell, torch.nn.LSTMCell),
         "GRUCell": (nn.GRUCell, torch.nn.GRUCell)}
TOL = {tg.float32: dict(rtol=2e-4, atol=2e-5), tg.float64: dict(rtol=1e-9, atol=1e-11)}


def to_tg(t, requires_grad=False):
    return tg.tensor(t.detach().numpy(), requires_grad=requires_grad)


def copy_weights(ours, theirs):
    res = ours.load_state_dict({k: to_tg(v) for k, v in theirs.state_dict().items()})
    assert not res.missing_keys and not res.unexpected_keys


def close(a, b, dtype, what):
    np.testing.assert_allclose(a.detach().numpy() if hasattr(a, "detach") else a, b.detach().numpy(),
                               err_msg=what, **TOL[dtype])


def flat(x):
    return list(x) if isinstance(x, tuple) else [x]


def run_parity(kind, dtype, *, num_layers=1, bidirectional=False, batch_first=False, unbatched=False,
               with_h0=True, bias=True, nonlinearity=None, proj_size=0, T=5, B=3, I=4, H=6, seed=0):
    ours_cls, theirs_cls = KINDS[kind]
    tdt = torch.float64 if dtype == tg.float64 else torch.float32
    kw = dict(num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first, bias=bias)
    if nonlinearity:
        kw["nonlinearity"] = nonlinearity
    if proj_size:
        kw["proj_size"] = proj_size
    torch.manual_seed(seed)
    theirs = theirs_cls(I, H, **kw).to(tdt)
    ours = ours_cls(I, H, **kw).to(dtype)
    copy_weights(ours, theirs)
    D = 2 if bidirectional else 1
    shape = (T, I) if unbatched else ((B, T, I) if batch_first else (T, B, I))
    hshapes = [(num_layers * D, w) if unbatched else (num_layers * D, B, w)
               for w in ([proj_size or H, H] if kind == "LSTM" else [H])]
    x_t = torch.randn(*shape, dtype=tdt, requires_grad=True)
    states_t = []
    if with_h0:
        states_t = [torch.randn(*hs, dtype=tdt, requires_grad=True) for hs in hshapes]
    x = to_tg(x_t, True)
    states = [to_tg(s, True) for s in states_t]
    hx_t = (tuple(states_t) if kind == "LSTM" else states_t[0]) if states_t else None
    hx = (tuple(states) if kind == "LSTM" else states[0]) if states else None
    out_t, hid_t = theirs(x_t, hx_t)
    out, hid = ours(x, hx)
    assert isinstance(hid, tuple) == isinstance(hid_t, tuple)
    close(out, out_t, dtype, "output")
    for a, b in zip(flat(hid), flat(hid_t)):
        assert tuple(a.shape) == tuple(b.shape)
        close(a, b, dtype, "h_n/c_n")
    # one backward through every output, with random output gradients
    outs_t = [out_t] + flat(hid_t)
    gs = [torch.randn_like(o) for o in outs_t]
    torch.autograd.backward(outs_t, gs)
    sum(((o * to_tg(g)).sum() for o, g in zip([out] + flat(hid), gs)), tg.zeros(())).backward()
    close(x.grad, x_t.grad, dtype, "grad input")
    for s, s_t in zip(states, states_t):
        close(s.grad, s_t.grad, dtype, "grad h0/c0")
    ours_p, theirs_p = dict(ours.named_parameters()), dict(theirs.named_parameters())
    assert list(ours_p) == list(theirs_p)
    for name, p_t in theirs_p.items():
        assert ours_p[name].grad is not None, name
        close(ours_p[name].grad, p_t.grad, dtype, "grad " + name)


LAYOUTS = [dict(batch_first=False), dict(batch_first=True), dict(unbatched=True),
           dict(unbatched=True, batch_first=True)]


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("layout", range(len(LAYOUTS)))
def test_parity_float32(kind, num_layers, bidirectional, layout):
    run_parity(kind, tg.float32, num_layers=num_layers, bidirectional=bidirectional, **LAYOUTS[layout])


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("num_layers,bidirectional,batch_first",
                         [(1, False, False), (2, True, True), (2, False, False), (1, True, False)])
def test_parity_float64(kind, num_layers, bidirectional, batch_first):
    run_parity(kind, tg.float64, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("bias", [True, False])
def test_parity_without_h0_and_bias(kind, bias):
    run_parity(kind, tg.float64, num_layers=2, bidirectional=True, with_h0=False, bias=bias)


def test_rnn_relu_parity():
    run_parity("RNN", tg.float64, num_layers=2, bidirectional=True, nonlinearity="relu")
    run_parity("RNN", tg.float32, nonlinearity="relu", batch_first=True)


@pytest.mark.parametrize("kind", list(KINDS))
def test_one_step_and_one_batch(kind):
    run_parity(kind, tg.float64, T=1, B=1, num_layers=2, bidirectional=True)


@pytest.mark.parametrize("kind", list(KINDS))
def test_empty_batch(kind):
    run_parity(kind, tg.float64, B=0, num_layers=2, bidirectional=True)


def test_bigger_float32_lstm():
    # long enough that the gate kernels split rows over threads and the GEMMs block
    run_parity("LSTM", tg.float32, T=12, B=40, I=28, H=64, num_layers=2)


def test_only_some_outputs_used():
    torch.manual_seed(1)
    theirs = torch.nn.LSTM(3, 5, num_layers=2)
    ours = nn.LSTM(3, 5, num_layers=2)
    copy_weights(ours, theirs)
    x_t = torch.randn(4, 2, 3, requires_grad=True)
    x = to_tg(x_t, True)
    theirs(x_t)[1][1].sum().backward()  # only c_n
    ours(x)[1][1].sum().backward()
    close(x.grad, x_t.grad, tg.float32, "grad input via c_n")
    for (n, p), (_, p_t) in zip(ours.named_parameters(), theirs.named_parameters()):
        close(p.grad, p_t.grad, tg.float32, n)


def test_noncontiguous_input_and_weights():
    torch.manual_seed(2)
    theirs = torch.nn.GRU(4, 3, batch_first=True).double()
    ours = nn.GRU(4, 3, batch_first=True).double()
    copy_weights(ours, theirs)
    base = torch.randn(5, 2, 4, dtype=torch.float64)
    x_t = base.transpose(0, 1)  # batch-first view of a time-major tensor
    x = to_tg(base).transpose(0, 1)
    close(ours(x)[0], theirs(x_t)[0], tg.float64, "output")
    with tg.no_grad():
        ours.weight_hh_l0.copy_(to_tg(theirs.weight_hh_l0.detach().t().contiguous()).t())
    close(ours(x)[0], theirs(x_t)[0], tg.float64, "output, transposed weight storage")


# ---- cells ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("with_h0", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_cell_parity(kind, dtype, batched, with_h0, bias):
    ours_cls, theirs_cls = CELLS[kind]
    tdt = torch.float64 if dtype == tg.float64 else torch.float32
    torch.manual_seed(3)
    theirs = theirs_cls(4, 5, bias=bias).to(tdt)
    ours = ours_cls(4, 5, bias=bias).to(dtype)
    copy_weights(ours, theirs)
    x_t = torch.randn(*((3, 4) if batched else (4,)), dtype=tdt, requires_grad=True)
    hshape = (3, 5) if batched else (5,)
    states_t = [torch.randn(*hshape, dtype=tdt, requires_grad=True)
                for _ in range(2 if kind == "LSTMCell" else 1)] if with_h0 else []
    x = to_tg(x_t, True)
    states = [to_tg(s, True) for s in states_t]
    hx_t = (tuple(states_t) if kind == "LSTMCell" else states_t[0]) if states_t else None
    hx = (tuple(states) if kind == "LSTMCell" else states[0]) if states else None
    outs_t, outs = flat(theirs(x_t, hx_t)), flat(ours(x, hx))
    assert len(outs) == len(outs_t)
    for a, b in zip(outs, outs_t):
        assert tuple(a.shape) == tuple(b.shape)
        close(a, b, dtype, "cell output")
    gs = [torch.randn_like(o) for o in outs_t]
    torch.autograd.backward(outs_t, gs)
    sum(((o * to_tg(g)).sum() for o, g in zip(outs, gs)), tg.zeros(())).backward()
    close(x.grad, x_t.grad, dtype, "grad input")
    for s, s_t in zip(states, states_t):
        close(s.grad, s_t.grad, dtype, "grad state")
    for (n, p), (_, p_t) in zip(ours.named_parameters(), theirs.named_parameters()):
        close(p.grad, p_t.grad, dtype, n)


def test_rnn_cell_relu():
    torch.manual_seed(4)
    theirs = torch.nn.RNNCell(3, 4, nonlinearity="relu").double()
    ours = nn.RNNCell(3, 4, nonlinearity="relu").double()
    copy_weights(ours, theirs)
    x_t = torch.randn(5, 3, dtype=torch.float64)
    close(ours(to_tg(x_t)), theirs(x_t), tg.float64, "relu cell")
    assert repr(ours) == repr(theirs).replace("torch", "tinygrad_cpp")


# ---- gradcheck in float64 -----------------------------------------------------------------


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("bidirectional,batch_first", [(False, False), (True, True)])
def test_gradcheck(kind, bidirectional, batch_first):
    tg.manual_seed(5)
    m = KINDS[kind][0](2, 3, num_layers=2, bidirectional=bidirectional, batch_first=batch_first).double()
    D = 2 if bidirectional else 1
    x = tg.randn(2, 2, 2, dtype=tg.float64, requires_grad=True)  # T = B = 2
    h = tg.randn(2 * D, 2, 3, dtype=tg.float64, requires_grad=True)
    c = tg.randn(2 * D, 2, 3, dtype=tg.float64, requires_grad=True)
    params = list(m.parameters())

    def f(x, h, c, *ps):
        out, hid = m(x, (h, c) if kind == "LSTM" else h)
        return (out,) + tuple(flat(hid))

    assert tg.autograd.gradcheck(f, (x, h, c, *params), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("kind", list(CELLS))
def test_cell_gradcheck(kind):
    tg.manual_seed(6)
    m = CELLS[kind][0](3, 2).double()
    x = tg.randn(2, 3, dtype=tg.float64, requires_grad=True)
    h = tg.randn(2, 2, dtype=tg.float64, requires_grad=True)
    c = tg.randn(2, 2, dtype=tg.float64, requires_grad=True)

    def f(x, h, c, *ps):
        return m(x, (h, c)) if kind == "LSTMCell" else m(x, h)

    assert tg.autograd.gradcheck(f, (x, h, c, *m.parameters()), eps=1e-6, atol=1e-5)


# ---- modules: names, init, state dicts, repr ---------------------------------------------


@pytest.mark.parametrize("kind", list(KINDS))
def test_state_dict_both_ways_and_names(kind):
    kw = dict(num_layers=2, bidirectional=True, bias=True)
    theirs = KINDS[kind][1](3, 4, **kw)
    ours = KINDS[kind][0](3, 4, **kw)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for (n, p), (n_t, p_t) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        assert tuple(p.shape) == tuple(p_t.shape), n
    # ours -> torch
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    x_t = torch.randn(4, 2, 3)
    with tg.no_grad():
        close(ours(to_tg(x_t))[0], theirs(x_t)[0], tg.float32, "after loading ours into torch")
    assert ours._flat_weights_names == theirs._flat_weights_names
    assert [[tuple(p.shape) for p in ws] for ws in ours.all_weights] == \
        [[tuple(p.shape) for p in ws] for ws in theirs.all_weights]
    assert all(a is b for a, b in zip(ours._flat_weights, ours.parameters()))
    ours.flatten_parameters()


@pytest.mark.parametrize("args,kwargs", [
    ((3, 4), {}), ((3, 4, 2), dict(bias=False, batch_first=True, dropout=0.5, bidirectional=True)),
])
def test_repr(args, kwargs):
    for kind, (ours_cls, theirs_cls) in KINDS.items():
        assert repr(ours_cls(*args, **kwargs)) == repr(theirs_cls(*args, **kwargs))
    assert repr(nn.RNN(3, 4, nonlinearity="relu")) == repr(torch.nn.RNN(3, 4, nonlinearity="relu"))
    for kind, (ours_cls, theirs_cls) in CELLS.items():
        assert repr(ours_cls(3, 4, bias=False)) == repr(theirs_cls(3, 4, bias=False))


def test_init_bounds_and_dtype():
    m = nn.LSTM(10, 16, dtype=tg.float64)
    bound = 1 / 16 ** 0.5
    for p in m.parameters():
        assert p.dtype == tg.float64
        a = p.detach().numpy()
        assert np.abs(a).max() <= bound and np.abs(a).max() > bound * 0.8
    assert m.weight_ih_l0.shape == (64, 10) and m.weight_hh_l0.shape == (64, 16)
    assert nn.GRUCell(3, 5).weight_ih.shape == (15, 3)


def test_to_dtype_keeps_flat_weights_current():
    m = nn.GRU(3, 4).double()
    assert all(w.dtype == tg.float64 for w in m._flat_weights)
    out, h = m(tg.randn(2, 1, 3, dtype=tg.float64))
    assert out.dtype == tg.float64 and h.shape == (1, 1, 4)


# ---- dropout between layers -------------------------------------------------------------


def test_dropout_between_layers():
    tg.manual_seed(7)
    m = nn.LSTM(4, 8, num_layers=2, dropout=0.5)
    x = tg.randn(6, 3, 4)
    m.eval()
    a, b = m(x)[0].detach().numpy(), m(x)[0].detach().numpy()
    np.testing.assert_array_equal(a, b)  # eval: deterministic, no dropout
    m.train()
    c, d = m(x)[0].detach().numpy(), m(x)[0].detach().numpy()
    assert not np.allclose(c, d) and not np.allclose(a, c)  # train: masks differ
    # dropout=1 zeroes the second layer's input: its output depends on no input
    m1 = nn.GRU(4, 8, num_layers=2, dropout=1.0)
    y1, y2 = m1(x)[0].detach().numpy(), m1(tg.randn(6, 3, 4))[0].detach().numpy()
    np.testing.assert_allclose(y1, y2)
    # with one layer dropout never applies (and PyTorch warns)
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        m2 = nn.RNN(4, 8, dropout=0.5)
    np.testing.assert_array_equal(m2(x)[0].detach().numpy(), m2(x)[0].detach().numpy())


def test_dropout_gradient_flows_in_training():
    m = nn.GRU(3, 4, num_layers=2, dropout=0.3)
    x = tg.randn(5, 2, 3, requires_grad=True)
    m(x)[0].sum().backward()
    assert x.grad is not None and all(p.grad is not None for p in m.parameters())


# ---- errors as PyTorch --------------------------------------------------------------------


def _both(fn_ours, fn_theirs):
    with pytest.raises(Exception) as e_t:
        fn_theirs()
    with pytest.raises(Exception) as e_o:
        fn_ours()
    assert type(e_o.value).__name__ == type(e_t.value).__name__, (e_o.value, e_t.value)
    assert str(e_o.value) == str(e_t.value).replace("torch.", "tinygrad_cpp.")


ERROR_CASES = [
    ("LSTM", (10, 20), lambda T: (T.randn(5, 3, 7),)),                          # input size
    ("GRU", (10, 20), lambda T: (T.randn(5, 3, 7),)),
    ("RNN", (10, 20), lambda T: (T.randn(5, 3, 10), T.randn(1, 4, 20))),        # hidden size
    ("GRU", (10, 20), lambda T: (T.randn(5, 3, 10), T.randn(2, 3, 20))),
    ("LSTM", (10, 20), lambda T: (T.randn(5, 3, 10), (T.randn(1, 3, 20), T.randn(1, 3, 21)))),
    ("LSTM", (10, 20), lambda T: (T.randn(5, 3, 10), (T.randn(1, 2, 20), T.randn(1, 3, 20)))),
    ("RNN", (10, 20), lambda T: (T.randn(5, 3, 4, 10),)),                       # input rank
    ("LSTM", (10, 20), lambda T: (T.randn(10),)),
    ("GRU", (10, 20), lambda T: (T.randn(2, 3, 4, 10),)),
    ("RNN", (10, 20), lambda T: (T.randn(5, 3, 10), T.randn(1, 20))),           # hx rank
    ("RNN", (10, 20), lambda T: (T.randn(5, 10), T.randn(1, 3, 20))),
    ("LSTM", (10, 20), lambda T: (T.randn(5, 3, 10), (T.randn(1, 20), T.randn(1, 3, 20)))),
    ("LSTM", (10, 20), lambda T: (T.randn(5, 10), (T.randn(1, 3, 20), T.randn(1, 20)))),
    ("LSTM", (10, 20), lambda T: (T.randn(5, 3, 10, dtype=T.float64),)),        # dtype
    ("GRU", (10, 20), lambda T: (T.randn(5, 3, 10), T.zeros(1, 3, 20, dtype=T.float64))),  # hx dtype
    ("RNN", (10, 20), lambda T: (T.randn(5, 3, 10), T.zeros(1, 3, 20, dtype=T.float64))),
    ("GRU", (10, 20), lambda T: (T.randn(0, 3, 10),)),                          # empty sequence
    ("RNN", (10, 20), lambda T: (T.randn(0, 10),)),
]


@pytest.mark.parametrize("case", range(len(ERROR_CASES)))
def test_errors_like_torch(case):
    kind, args, make = ERROR_CASES[case]
    ours, theirs = KINDS[kind][0](*args), KINDS[kind][1](*args)
    _both(lambda: ours(*make(tg)), lambda: theirs(*make(torch)))


CELL_ERRORS = [
    ("RNNCell", lambda T: (T.randn(2, 7),)),
    ("RNNCell", lambda T: (T.randn(2, 3), T.randn(3, 4))),
    ("GRUCell", lambda T: (T.randn(2, 3), T.randn(2, 5))),
    ("LSTMCell", lambda T: (T.randn(2, 3), (T.randn(2, 4), T.randn(2, 5)))),
    ("LSTMCell", lambda T: (T.randn(2, 3), (T.randn(3, 4), T.randn(2, 4)))),
    ("GRUCell", lambda T: (T.randn(2, 2, 3),)),
    ("LSTMCell", lambda T: (T.randn(2, 3), (T.randn(1, 2, 4), T.randn(2, 4)))),
    ("RNNCell", lambda T: (T.randn(3), T.randn(2, 3, 4))),
    ("GRUCell", lambda T: (T.randn(2, 3), T.zeros(2, 4, dtype=T.float64))),
    ("LSTMCell", lambda T: (T.randn(2, 3, dtype=T.float64),)),
]


@pytest.mark.parametrize("case", range(len(CELL_ERRORS)))
def test_cell_errors_like_torch(case):
    kind, make = CELL_ERRORS[case]
    ours, theirs = CELLS[kind][0](3, 4), CELLS[kind][1](3, 4)
    _both(lambda: ours(*make(tg)), lambda: theirs(*make(torch)))


@pytest.mark.parametrize("kwargs", [
    dict(dropout=1.5), dict(dropout=True), dict(dropout="x"), dict(bias=1), dict(batch_first=None),
    dict(hidden_size=0), dict(input_size=0), dict(num_layers=0), dict(hidden_size=2.0),
    dict(input_size="3"), dict(nonlinearity="sigmoid"), dict(proj_size=2),
])
def test_constructor_errors_like_torch(kwargs):
    kw = dict(input_size=3, hidden_size=4)
    kw.update(kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _both(lambda: nn.RNN(**kw), lambda: torch.nn.RNN(**kw))


def test_lstm_proj_size_errors():
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="proj_size should be a positive integer"):
        nn.LSTM(3, 4, proj_size=-1)
    with pytest.raises(ValueError, match="only supported for LSTM"):
        nn.GRU(3, 4, proj_size=2)
    ours, theirs = nn.LSTM(10, 20, proj_size=5), torch.nn.LSTM(10, 20, proj_size=5)
    for make in (lambda T: (T.randn(4, 3, 10), (T.randn(1, 3, 20), T.randn(1, 3, 20))),
                 lambda T: (T.randn(4, 3, 10), (T.randn(1, 3, 5), T.randn(1, 3, 5)))):
        _both(lambda: ours(*make(tg)), lambda: theirs(*make(torch)))


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
@pytest.mark.parametrize("num_layers,bidirectional,layout", [(1, False, 0), (2, True, 1), (2, False, 2), (1, True, 3)])
@pytest.mark.parametrize("dtype", [tg.float32, tg.float64])
def test_lstm_proj_size_parity(num_layers, bidirectional, layout, dtype):
    run_parity("LSTM", dtype, proj_size=4, num_layers=num_layers, bidirectional=bidirectional, **LAYOUTS[layout])
    run_parity("LSTM", dtype, proj_size=2, num_layers=num_layers, bidirectional=bidirectional, with_h0=False,
               bias=False, **LAYOUTS[layout])


def test_lstm_proj_size_gradcheck_and_state_dict():
    tg.manual_seed(8)
    m = nn.LSTM(2, 4, num_layers=2, bidirectional=True, proj_size=3).double()
    theirs = torch.nn.LSTM(2, 4, num_layers=2, bidirectional=True, proj_size=3)
    assert list(m.state_dict()) == list(theirs.state_dict())
    assert [tuple(v.shape) for v in m.state_dict().values()] == [tuple(v.shape) for v in theirs.state_dict().values()]
    assert repr(m) == repr(theirs)
    x = tg.randn(3, 2, 2, dtype=tg.float64, requires_grad=True)
    h = tg.randn(4, 2, 3, dtype=tg.float64, requires_grad=True)
    c = tg.randn(4, 2, 4, dtype=tg.float64, requires_grad=True)

    def f(x, h, c, *ps):
        out, (hn, cn) = m(x, (h, c))
        return out, hn, cn

    assert tg.autograd.gradcheck(f, (x, h, c, *m.parameters()), eps=1e-6, atol=1e-5)


def test_no_grad_records_nothing_and_node_name():
    m = nn.LSTM(3, 4)
    x = tg.randn(2, 1, 3)
    with tg.no_grad():
        out, (h, c) = m(x)
    assert out.grad_fn is None and not out.requires_grad
    out, (h, c) = m(x)
    assert type(out.grad_fn).__name__ == "MkldnnRnnLayerBackward0" or out.grad_fn.name() == "MkldnnRnnLayerBackward0"


def test_training_loop_reduces_loss():
    tg.manual_seed(0)
    m = nn.GRU(2, 8, batch_first=True)
    head = nn.Linear(8, 1)
    opt = tg.optim.Adam(list(m.parameters()) + list(head.parameters()), lr=0.03)
    x = tg.randn(16, 6, 2)
    y = x.sum(dim=(1, 2)).unsqueeze(1)
    losses = []
    for _ in range(60):
        opt.zero_grad()
        out, _ = m(x)
        loss = ((head(out[:, -1]) - y) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]


def test_many_shapes_against_torch():
    rng = np.random.default_rng(0)
    for kind, i in itertools.product(KINDS, range(3)):
        T, B, I, H = (int(v) for v in rng.integers(1, 6, size=4))
        run_parity(kind, tg.float64, T=T, B=B, I=I, H=H, num_layers=int(rng.integers(1, 3)),
                   bidirectional=bool(rng.integers(0, 2)), batch_first=bool(rng.integers(0, 2)), seed=i)


@pytest.mark.parametrize("isa", ["portable", "avx2", "avx512"])
def test_every_instruction_set(isa):
    """The float32 gate loops have one build per instruction set (chosen like vec_unary's)."""
    before = tg._C._vec_isa()
    try:
        tg._C._set_vec_isa(isa)
    except ValueError:
        pytest.skip(f"this CPU cannot run {isa}")
    try:
        assert tg._C._vec_isa() == isa
        for kind in KINDS:
            run_parity(kind, tg.float32, H=21, num_layers=2, bidirectional=True, batch_first=True)  # H: a tail
        run_parity("RNN", tg.float32, H=21, nonlinearity="relu")
    finally:
        tg._C._set_vec_isa(before)


def _penalty_grads(lib, module, x_np, h_np, c_np, batch_first):
    """A gradient penalty through the layer: |d sum(out * u) / d(x, h0)|^2, differentiated with
    respect to everything (double backward)."""
    x = lib.tensor(x_np, requires_grad=True)
    h0 = lib.tensor(h_np, requires_grad=True)
    state = (h0, lib.tensor(c_np, requires_grad=True)) if c_np is not None else h0
    out, hn = module(x, state)
    states = [hn] if c_np is None else list(hn)
    u = lib.tensor(np.linspace(-1, 1, out.numel()).reshape(tuple(out.shape)))
    y = (out * u).sum() + sum((s * s).sum() for s in states)
    gx, gh = lib.autograd.grad(y, (x, h0), create_graph=True)
    penalty = (gx * gx).sum() + (gh * gh).sum()
    penalty.backward()
    leaves = [x, h0] + ([state[1]] if c_np is not None else []) + list(module.parameters())
    return [penalty.item()] + [p.grad.numpy() for p in leaves]


@pytest.mark.parametrize("kind,extra", [("LSTM", {}), ("LSTM", {"proj_size": 3}), ("GRU", {}),
                                        ("RNN", {}), ("RNN", {"nonlinearity": "relu"})])
@pytest.mark.parametrize("bidirectional,batch_first", [(False, False), (True, True)])
def test_double_backward_against_torch(kind, extra, bidirectional, batch_first):
    """Gradients of an input-gradient penalty through 2 layers (float64), as PyTorch's native RNN
    path gives them: the backward recomputed in public ops under create_graph."""
    ours_cls, theirs_cls = KINDS[kind]
    torch.manual_seed(0)
    theirs = theirs_cls(4, 5, num_layers=2, bidirectional=bidirectional, batch_first=batch_first,
                        **extra).double()
    ours = ours_cls(4, 5, num_layers=2, bidirectional=bidirectional, batch_first=batch_first, **extra).double()
    copy_weights(ours, theirs)
    rng = np.random.default_rng(1)
    D = 2 if bidirectional else 1
    P = extra.get("proj_size", 0) or 5
    x = rng.standard_normal((3, 4, 4))
    h = rng.standard_normal((2 * D, 3 if batch_first else 4, P)) * 0.5
    c = rng.standard_normal((2 * D, h.shape[1], 5)) * 0.5 if kind == "LSTM" else None
    a = _penalty_grads(tg, ours, x, h, c, batch_first)
    b = _penalty_grads(torch, theirs, x, h, c, batch_first)
    assert a[0] == pytest.approx(b[0], rel=1e-10)
    for k, (u, v) in enumerate(zip(a[1:], b[1:])):
        np.testing.assert_allclose(u, v, rtol=1e-8, atol=1e-10, err_msg=f"leaf {k}")


@pytest.mark.parametrize("kind,extra", [("LSTM", {}), ("LSTM", {"proj_size": 5}), ("GRU", {}),
                                        ("RNN", {"nonlinearity": "relu"})])
@pytest.mark.parametrize("B", [32, 50, 64])
def test_row_blocks_on_threads(kind, extra, B):
    """With threads, blocks of batch rows run the whole recurrence each (ops/rnn.cpp,
    over_row_blocks): the same values as one thread and as torch, every gradient included,
    uneven blocks (B = 50), both directions, batch-first, a projection."""
    before = tg.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 3):
            tg.set_num_threads(threads)
            results.append(_rows_run(kind, extra, B))
            if threads > 1:
                run_parity(kind, tg.float64, T=7, B=B, I=5, H=9, num_layers=2, bidirectional=True,
                           batch_first=True, seed=B, **({"proj_size": extra["proj_size"]} if extra.get("proj_size")
                                                        else {"nonlinearity": extra["nonlinearity"]} if extra else {}))
        for other in results[1:]:
            for a, b in zip(results[0], other):
                np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    finally:
        tg.set_num_threads(before)


def _rows_run(kind, extra, B):
    rng = np.random.default_rng(B)
    layer = getattr(nn, kind)(6, 8, num_layers=2, bidirectional=True, batch_first=True, **extra)
    with tg.no_grad():
        for p in layer.parameters():
            p.copy_(tg.tensor(rng.uniform(-0.4, 0.4, tuple(p.shape)).astype(np.float32)))
    x = tg.tensor(rng.standard_normal((B, 9, 6)).astype(np.float32), requires_grad=True)
    out, hn = layer(x)
    states = list(hn) if isinstance(hn, tuple) else [hn]
    u = tg.tensor(rng.standard_normal(tuple(out.shape)).astype(np.float32))
    ((out * u).sum() + sum((s * s).sum() for s in states)).backward()
    return [out.detach().numpy()] + [s.detach().numpy() for s in states] + [x.grad.numpy()] + \
        [p.grad.numpy() for p in layer.parameters()]
