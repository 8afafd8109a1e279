"""In-place ops recorded by autograd, as PyTorch records them: every in-place op in a graph,
chains, in-place ops on views (CopySlices) and on other views of the same base, the version
counter, retain_graph, the refusals and the saved-tensor check, nn/functional inplace=True,
and a small residual model; gradients against PyTorch (same inputs) and finite differences."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_cpp as tg
import tinygrad_cpp.nn as tnn
import tinygrad_cpp.nn.functional as TF
from helpers import check_grad, torch

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is the oracle for these gradients")
RNG = np.random.default_rng(11)


def run(lib, fn, arrays, w=None):
    """fn(lib, *leaves) on leaves made from `arrays` (all requiring grad), backward of
    sum(out * w); returns the output's values, each leaf's grad (None if it got none) and
    the output's _version."""
    leaves = [lib.tensor(a, requires_grad=True) for a in arrays]
    out = fn(lib, *leaves)
    if w is None:
        w = np.random.default_rng(0).standard_normal(tuple(out.shape))
    (out * lib.tensor(w)).sum().backward()
    grads = [None if x.grad is None else x.grad.detach().numpy().copy() for x in leaves]
    return out.detach().numpy().copy(), grads, out._version


def assert_same_as_torch(fn, *arrays, atol=1e-10, rtol=1e-7):
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    out, grads, version = run(tg, fn, arrays)
    if torch is None:
        return out, grads
    t_out, t_grads, t_version = run(torch, fn, arrays)
    np.testing.assert_allclose(out, t_out, atol=atol, rtol=rtol)
    for i, (g, tgr) in enumerate(zip(grads, t_grads)):
        assert (g is None) == (tgr is None), f"leaf {i}: grad {g} vs torch {tgr}"
        if g is not None:
            np.testing.assert_allclose(g, tgr, atol=atol, rtol=rtol, err_msg=f"leaf {i}")
    assert version == t_version
    return out, grads


def pos(*shape):
    return RNG.uniform(0.3, 2.0, shape)


def signed(*shape):
    # away from 0, where relu/abs/clamp have kinks
    return RNG.uniform(0.2, 2.0, shape) * RNG.choice([-1.0, 1.0], shape)


# (name, op(lib, y, w) writing y in place, w's shape or None, y's values)
OPS = [
    ("add_", lambda L, y, w: y.add_(w), (3, 4), signed),
    ("add_ alpha", lambda L, y, w: y.add_(w, alpha=-2.5), (4,), signed),
    ("sub_", lambda L, y, w: y.sub_(w), (3, 4), signed),
    ("sub_ alpha", lambda L, y, w: y.sub_(w, alpha=0.5), (1, 4), signed),
    ("mul_", lambda L, y, w: y.mul_(w), (3, 4), signed),
    ("mul_ broadcast", lambda L, y, w: y.mul_(w), (4,), signed),
    ("div_", lambda L, y, w: y.div_(w), (3, 4), pos),
    ("div_ broadcast", lambda L, y, w: y.div_(w), (3, 1), pos),
    ("pow_ scalar", lambda L, y, w: y.pow_(3), None, pos),
    ("pow_ tensor", lambda L, y, w: y.pow_(w), (3, 4), pos),
    ("iadd", lambda L, y, w: y.__iadd__(w), (3, 4), signed),
    ("isub", lambda L, y, w: y.__isub__(w), (4,), signed),
    ("imul", lambda L, y, w: y.__imul__(w), (3, 4), signed),
    ("itruediv", lambda L, y, w: y.__itruediv__(w), (3, 4), pos),
    ("ipow", lambda L, y, w: y.__ipow__(2), None, pos),
    ("neg_", lambda L, y, w: y.neg_(), None, signed),
    ("abs_", lambda L, y, w: y.abs_(), None, signed),
    ("exp_", lambda L, y, w: y.exp_(), None, signed),
    ("log_", lambda L, y, w: y.log_(), None, pos),
    ("sqrt_", lambda L, y, w: y.sqrt_(), None, pos),
    ("rsqrt_", lambda L, y, w: y.rsqrt_(), None, pos),
    ("reciprocal_", lambda L, y, w: y.reciprocal_(), None, pos),
    ("sigmoid_", lambda L, y, w: y.sigmoid_(), None, signed),
    ("tanh_", lambda L, y, w: y.tanh_(), None, signed),
    ("relu_", lambda L, y, w: y.relu_(), None, signed),
    ("clamp_", lambda L, y, w: y.clamp_(-0.5, 0.7), None, signed),
    ("clamp_ min tensor", lambda L, y, w: y.clamp_(min=w), (3, 4), signed),
    ("clamp_ max", lambda L, y, w: y.clamp_(max=0.3), None, signed),
    ("floor_", lambda L, y, w: y.floor_(), None, signed),
    ("ceil_", lambda L, y, w: y.ceil_(), None, signed),
    ("round_", lambda L, y, w: y.round_(), None, signed),
    ("copy_", lambda L, y, w: y.copy_(w), (3, 4), signed),
    ("copy_ broadcast", lambda L, y, w: y.copy_(w), (4,), signed),
    ("fill_ number", lambda L, y, w: y.fill_(2.5), None, signed),
    ("fill_ tensor", lambda L, y, w: y.fill_(w), (), signed),
    ("zero_", lambda L, y, w: y.zero_(), None, signed),
    ("masked_fill_", lambda L, y, w: y.masked_fill_(y > 0, 0.25), None, signed),
    ("masked_fill_ tensor", lambda L, y, w: y.masked_fill_(y < 0, w), (), signed),
    ("index_put_", lambda L, y, w: y.index_put_((L.tensor([0, 2]),), w), (2, 4), signed),
    ("index_put_ accumulate", lambda L, y, w: y.index_put_((L.tensor([0, 2, 0]), L.tensor([1, 1, 1])), w,
                                                            accumulate=True), (3,), signed),
    ("setitem int", lambda L, y, w: y.__setitem__(1, w), (4,), signed),
    ("setitem slice", lambda L, y, w: y.__setitem__((slice(None), slice(1, 3)), w), (3, 1), signed),
    ("setitem number", lambda L, y, w: y.__setitem__((0, 2), 7.0), None, signed),
    ("setitem mask", lambda L, y, w: y.__setitem__(y > 0.5, w), (), signed),
    ("setitem index", lambda L, y, w: y.__setitem__([2, 0], w), (2, 4), signed),
    ("setitem index broadcast", lambda L, y, w: y.__setitem__((slice(None), [3, 1]), w), (1, 2), signed),
    ("setitem leading ones", lambda L, y, w: y.__setitem__(0, w), (1, 1, 4), signed),
]


@needs_torch
@pytest.mark.parametrize("name,op,wshape,values", OPS, ids=[o[0] for o in OPS])
def test_inplace_op_in_a_graph_matches_torch(name, op, wshape, values):
    x = values(3, 4)
    arrays = [x] + ([signed(*wshape) if values is signed else pos(*wshape)] if wshape is not None else [])

    def fn(L, x, *w):
        y = x * 1.5  # not a leaf: the in-place op rebases its history
        before = y * 2  # y's old value, read before the write (nothing saved of y)
        r = op(L, y, w[0] if w else None)
        assert r is None or r is y  # ops return self (setitem returns None)
        return y * y + before

    assert_same_as_torch(fn, *arrays)


@pytest.mark.parametrize("name,fill", [("UniformBackward0", lambda t: t.uniform_(-1, 1)),
                                       ("NormalBackward0", lambda t: t.normal_(0, 2))])
def test_random_fills_in_place(name, fill):
    x = tg.ones(3, 4, requires_grad=True)
    y = x * 2
    assert fill(y[1:]) is not None and y.grad_fn.name() == "CopySlices"
    z = x * 3
    assert fill(z) is z and z.grad_fn.name() == name and z._version == 1
    (y.sum() + z.sum()).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[2] * 4, [0] * 4, [0] * 4])
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        fill(x)


def test_inplace_grad_fn_names_and_identity():
    x = tg.tensor(signed(3, 4), requires_grad=True)
    y = x * 1
    assert y.relu_() is y and y.grad_fn.name() == "ReluBackward0" and y._version == 1
    assert y.add_(1) is y and y.grad_fn.name() == "AddBackward0"
    y *= 2
    assert y.grad_fn.name() == "MulBackward0"
    assert y.grad_fn.next_functions[0][0].name() == "AddBackward0"  # the old history is its input
    y[0] = 1.0
    assert y.grad_fn.name() == "CopySlices" and y._version == 4
    if torch is not None:
        t = torch.tensor(x.detach().numpy(), requires_grad=True) * 1
        t.relu_(), t.add_(1), t.__imul__(2), t.__setitem__(0, 1.0)
        assert t._version == y._version


def test_operand_sharing_self_memory():
    # PyTorch refuses these in backward (the operand it saved was overwritten); the node here
    # saves a copy instead, and the gradients are the true ones
    check_grad(lambda x: (lambda y: (y.mul_(y), y)[1])(x * 1.0), signed(3, 4), torch_fn=lambda x: x * x)
    check_grad(lambda x: (lambda y: (y.div_(y[0]), y)[1])(x * 1.0), pos(3, 4), torch_fn=lambda x: x / x[0])
    check_grad(lambda x: (lambda y: (y.pow_(y.t()), y)[1])(x * 1.0), pos(3, 3), torch_fn=lambda x: x ** x.t())


def test_inplace_grad_matches_finite_differences():
    def f(x, w):
        y = x * 1.0
        y[:, 1:].mul_(w)
        y[0] += x[1]
        y.sigmoid_()
        return y

    check_grad(f, signed(3, 4), signed(3, 3))


@needs_torch
def test_chains_of_inplace_ops():
    def fn(L, x, w, b):
        y = x.matmul(w)
        z = y + 1  # read before the chain, saves nothing of y
        y.mul_(2).add_(b).pow_(2)
        y -= z.tanh()
        y.div_(b.exp()).clamp_(-0.3, 0.9).relu_()  # relu_ saves its result: the last write
        return y * z

    assert_same_as_torch(fn, signed(3, 5), signed(5, 4), signed(4))


@needs_torch
def test_operand_that_requires_grad_gives_a_buffer_history():
    def fn(L, x, w):
        buf = L.zeros(3, 4, dtype=L.float64)  # needs no grad until w is written into it
        buf.add_(x)
        buf[1] = w
        buf.mul_(x)
        return buf

    assert_same_as_torch(fn, signed(3, 4), signed(4))


# ---- views -----------------------------------------------------------------------------

VIEW_CASES = [
    ("slice mul_", lambda L, y, w: y[:, 0].mul_(2)),
    ("slice mul_ by w", lambda L, y, w: y[1:, ::2].mul_(w[1:, ::2])),
    ("transpose add_", lambda L, y, w: y.t().add_(w.t())),
    ("transpose relu_", lambda L, y, w: y.transpose(0, 1).relu_()),
    ("select iadd", lambda L, y, w: y[0].__iadd__(w[2])),
    ("select setitem", lambda L, y, w: y[1].__setitem__(slice(1, 3), w[0, :2])),
    ("mask setitem on a view", lambda L, y, w: y[1:].__setitem__(y[1:] > 0, 0.0)),
    ("mask setitem w", lambda L, y, w: y[:, 1:].__setitem__(y[:, 1:] < 0, w[0, 0])),
    ("index setitem on a view", lambda L, y, w: y.t().__setitem__([1, 3], w[:2, :3])),
    ("view relu_", lambda L, y, w: y.view(2, 6).relu_()),
    ("view of view sigmoid_", lambda L, y, w: y[1:].view(8)[2:6].sigmoid_()),
    ("unsqueeze exp_", lambda L, y, w: y.unsqueeze(0)[0, 1].exp_()),
    ("permute copy_", lambda L, y, w: y.permute(1, 0)[1:3].copy_(w.t()[:2])),
    ("narrow masked_fill_", lambda L, y, w: y.narrow(1, 1, 2).masked_fill_(y.narrow(1, 1, 2) > 0.5, 3.0)),
    ("flatten zero_", lambda L, y, w: y.flatten()[::3].zero_()),
    ("index_put_ on view", lambda L, y, w: y[:, 2].index_put_((L.tensor([0, 2]),), w[0, :2])),
    ("two writes", lambda L, y, w: (y[0].mul_(w[0]), y[:, 1].add_(w[:, 1]))),
]


@needs_torch
@pytest.mark.parametrize("name,op", VIEW_CASES, ids=[c[0] for c in VIEW_CASES])
def test_inplace_on_view_matches_torch(name, op):
    def fn(L, x, w):
        y = x * 1.0
        op(L, y, w)
        return y * w

    assert_same_as_torch(fn, signed(3, 4), signed(3, 4))


@needs_torch
@pytest.mark.parametrize("name,op", VIEW_CASES, ids=[c[0] for c in VIEW_CASES])
def test_views_made_before_the_write_and_read_after(name, op):
    def fn(L, x, w):
        y = x * 1.0
        a, b, c = y[0], y[:, 1:3], y.t()  # views made before the write, read after it
        op(L, y, w)
        return L.cat([a * 2, b.flatten() * w[1, :2].sum(), c.flatten()]) + y.sum()

    assert_same_as_torch(fn, signed(3, 4), signed(3, 4))


@needs_torch
def test_inplace_on_the_view_itself_then_read_as_the_view():
    def fn(L, x, w):
        h = x.matmul(w)
        out = h.view(12)
        v = out[2:10]
        v.mul_(out[:8].tanh())
        out.relu_()
        return L.cat([out, h.flatten(), v])

    assert_same_as_torch(fn, signed(3, 5), signed(5, 4))


@needs_torch
def test_base_written_while_views_exist():
    def fn(L, x, w):
        y = x * 1.0
        col = y[:, 2]
        y.mul_(w)  # the base itself: col's history must now go through the mul
        y[1:].add_(1)
        return col * 3

    assert_same_as_torch(fn, signed(3, 4), signed(3, 4))


@needs_torch
def test_view_grad_fn_is_regenerated_and_requires_grad_follows_the_base():
    y = tg.zeros(3, 4)
    a, b = y[0], y[1:]
    assert not b.requires_grad
    w = tg.ones(4, requires_grad=True)
    a.copy_(w)
    assert a.grad_fn.name() == "AsStridedBackward0" and y.grad_fn.name() == "CopySlices"
    assert b.requires_grad and b.grad_fn.name() == "AsStridedBackward0"
    (b.sum() + a.sum()).backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.ones(4))


@needs_torch
def test_inplace_on_non_contiguous_base():
    def fn(L, w):
        buf = L.from_numpy(np.zeros((4, 3)).T)  # a base laid out column-major
        buf[1:, 1] = w[:2]
        buf[0].mul_(w[2])
        buf[:, 2:].add_(w[3])
        return buf

    assert_same_as_torch(fn, signed(4))


# ---- version counter -------------------------------------------------------------------

def _version_trace(L):
    a = L.zeros(3, 4)
    vs = []
    a.add_(1), vs.append(a._version)
    a[0] = 1.0
    vs.append(a._version)
    a[a > 0] = 2.0
    vs.append(a._version)
    a[0] += 1
    vs.append(a._version)
    a.masked_fill_(a > 1, 0.0), vs.append(a._version)
    a[[0, 1]] = 3.0
    vs.append(a._version)
    a[...] = 0.0
    vs.append(a._version)
    b = a[1]
    b.zero_(), vs.append((a._version, b._version))
    x = L.ones(3, requires_grad=True)
    y = x * 2
    y.relu_().mul_(3), vs.append(y._version)
    y[1:].sigmoid_(), vs.append(y._version)
    with L.no_grad():
        x.add_(1)
    vs.append((x._version, x.detach()._version))
    return vs


def test_version_counter():
    assert _version_trace(tg)[:3] == [1, 2, 3]
    if torch is not None:
        assert _version_trace(tg) == _version_trace(torch)


# ---- refusals and the saved-tensor check ------------------------------------------------

def _raises(fn, L):
    try:
        fn(L)
    except Exception as e:  # noqa: BLE001 - the type is what is compared
        return type(e), str(e)
    return None, ""


ERROR_CASES = [
    ("leaf", lambda L: L.ones(3, requires_grad=True).add_(1), "a leaf Variable that requires grad"),
    ("leaf relu_", lambda L: L.ones(3, requires_grad=True).relu_(), "a leaf Variable that requires grad"),
    ("leaf setitem index", lambda L: L.ones(3, requires_grad=True).__setitem__([0], 2.0),
     "a leaf Variable that requires grad"),
    ("view of leaf", lambda L: L.ones(3, 2, requires_grad=True)[0].mul_(2),
     "a view of a leaf Variable that requires grad"),
    ("view of leaf setitem", lambda L: L.ones(3, requires_grad=True).__setitem__(0, 2.0),
     "a view of a leaf Variable that requires grad"),
    ("view of leaf transpose", lambda L: L.ones(3, 2, requires_grad=True).t().zero_(),
     "a view of a leaf Variable"),
    ("split output", lambda L: (L.ones(4, requires_grad=True) * 1).split(2)[0].mul_(2),
     "This view is the output of a function that returns multiple views"),
    ("unbind output", lambda L: (L.ones(2, 2, requires_grad=True) * 1).unbind()[1].add_(1),
     "returns multiple views"),
]


def _no_grad_view(L):
    y = L.ones(3, requires_grad=True) * 1
    with L.no_grad():
        v = y[1:]
    v.mul_(2)


def _relu_twice(L):
    x = L.tensor(np.arange(12.0).reshape(3, 4) - 5, dtype=L.float32, requires_grad=True)
    y = x * 1
    y.relu_()
    y.relu_()
    y.sum().backward()


def _saved_input(L):
    x = L.ones(3, 4, requires_grad=True)
    y = x * 2
    z = y * y
    y.add_(1)
    z.sum().backward()


def _saved_leaf(L):
    x = L.ones(2, 3, dtype=L.float64, requires_grad=True)
    z = x * x
    with L.no_grad():
        x.mul_(2)
    z.sum().backward()


def _saved_through_view(L):
    x = L.ones(3, 4, requires_grad=True)
    z = x.sigmoid()  # saves its output z
    z.t()[1].add_(1)
    z.sum().backward()


def _leaky_negative_slope(L):
    y = L.ones(3, requires_grad=True) * -1
    L.nn.functional.leaky_relu(y, -0.5, inplace=True).sum().backward()


ERROR_CASES += [
    ("no_grad view", _no_grad_view, "A view was created in no_grad mode and is being modified inplace"),
    ("relu twice", _relu_twice,
     "modified by an inplace operation: [{}.FloatTensor [3, 4]], which is output 0 of Relu, is at version 2; "
     "expected version 1 instead"),
    ("saved input", _saved_input, "which is output 0 of Add, is at version 1; expected version 0 instead"),
    ("saved leaf", _saved_leaf, "[{}.DoubleTensor [2, 3]] is at version 1; expected version 0 instead"),
    ("saved through a view", _saved_through_view, "output 0 of Sigmoid, is at version 1; expected version 0"),
    ("leaky_relu_ negative slope", _leaky_negative_slope, "In-place leakyReLu backward calculation is triggered"
                                                          " with a negative slope"),
]


@pytest.mark.parametrize("name,fn,message", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_errors_as_torch(name, fn, message):
    kind, msg = _raises(fn, tg)
    assert kind is RuntimeError, (name, kind, msg)
    assert message.format("tinygrad_cpp") in msg
    if torch is not None:
        t_kind, t_msg = _raises(fn, torch)
        assert t_kind is RuntimeError, (name, t_kind)
        assert message.format("torch") in t_msg


def test_refused_op_changes_nothing():
    x = tg.ones(3, 2, requires_grad=True)
    v = x[0]
    with pytest.raises(RuntimeError):
        v.mul_(2)
    assert x._version == 0 and x.is_leaf and x.grad_fn is None
    np.testing.assert_array_equal(x.detach().numpy(), np.ones((3, 2)))
    with tg.no_grad():  # allowed there, as in PyTorch
        v = x[0]
        v.mul_(2)
        x[1] = 5.0
    assert x.is_leaf and x.grad_fn is None
    np.testing.assert_array_equal(x.detach().numpy(), [[2, 2], [5, 5], [1, 1]])


def test_detach_in_place_refuses_views():
    y = tg.ones(3, requires_grad=True) * 2
    v = y[1:]
    with pytest.raises(RuntimeError, match="Can't detach views in-place"):
        v.detach_()
    assert y.detach_() is y and not y.requires_grad and y.grad_fn is None


def test_detached_alias_is_not_recorded_but_counts_versions():
    x = tg.ones(3, requires_grad=True)
    y = x.exp()
    d = y.detach()
    d.mul_(2)  # no history through d; y's saved output changed
    assert y.grad_fn.name() == "ExpBackward0" and y._version == 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


# ---- retain_graph ----------------------------------------------------------------------

@needs_torch
@pytest.mark.parametrize("on_view", [False, True])
def test_retain_graph_with_inplace(on_view):
    def fn(L, x, w):
        y = x * w
        y.add_(w)
        (y[1:] if on_view else y).relu_()
        out = (y * y).sum()
        out.backward(retain_graph=True)
        return out * 1  # run() backwards once more through the same graph

    assert_same_as_torch(fn, signed(3, 4), signed(3, 4))


def test_second_backward_without_retain_graph_raises():
    x = tg.ones(3, requires_grad=True)
    y = x * 2
    y[1:].mul_(x[1:])
    out = y.sum()
    out.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        out.backward()


# ---- nn and functional -----------------------------------------------------------------

INPLACE_FUNCTIONAL = [
    ("F.relu", lambda F, y: F.relu(y, inplace=True)),
    ("F.relu_", lambda F, y: F.relu_(y)),
    ("F.leaky_relu", lambda F, y: F.leaky_relu(y, 0.2, inplace=True)),
    ("F.leaky_relu_", lambda F, y: F.leaky_relu_(y)),
    ("F.silu", lambda F, y: F.silu(y, inplace=True)),
    ("nn.ReLU", lambda F, y: (tnn if F is TF else torch.nn).ReLU(inplace=True)(y)),
]


@needs_torch
@pytest.mark.parametrize("name,f", INPLACE_FUNCTIONAL, ids=[c[0] for c in INPLACE_FUNCTIONAL])
def test_functional_inplace_returns_input_with_torch_gradients(name, f):
    def fn(L, x):
        y = x * 1.0
        F = TF if L is tg else torch.nn.functional
        r = f(F, y)
        assert r is y
        return y * x

    assert_same_as_torch(fn, signed(4, 5))
    y = tg.tensor(signed(4, 5)) * 1.0
    assert f(TF, y) is y  # also without autograd


@pytest.mark.parametrize("make", [lambda y: TF.dropout(y, 0.4, inplace=True),
                                  lambda y: tnn.Dropout(0.4, inplace=True)(y)])
def test_dropout_inplace(make):
    tg.manual_seed(3)
    x = tg.tensor(pos(50, 40), requires_grad=True)
    y = x * 1.0
    assert make(y) is y and y.grad_fn.name() == "MulBackward0" and y._version == 1
    kept = y.detach().numpy() != 0
    assert 0.5 < kept.mean() < 0.7
    np.testing.assert_allclose(y.detach().numpy()[kept], x.detach().numpy()[kept] / 0.6, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), kept / 0.6, rtol=1e-6)
    with tg.no_grad():
        z = tg.ones(4)
        assert TF.dropout(z, 0.5, training=False, inplace=True) is z


class _Block(tnn.Module):
    """torchvision's BasicBlock with Linear layers: ReLU(inplace=True) and out += identity."""

    def __init__(self, nn, width):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(width, width), nn.Linear(width, width)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        identity = x
        out = self.relu(self.fc1(x))
        out = self.fc2(out)
        out += identity
        return self.relu(out)


def _model(nn, width):
    return nn.Sequential(nn.Linear(6, width), nn.ReLU(inplace=True), _Block(nn, width), _Block(nn, width),
                         nn.Dropout(0.0, inplace=True), nn.Linear(width, 3))


@needs_torch
def test_residual_model_with_inplace_relu_matches_torch():
    class TBlock(torch.nn.Module):
        forward = _Block.forward

        def __init__(self, width):
            torch.nn.Module.__init__(self)
            self.fc1, self.fc2 = torch.nn.Linear(width, width), torch.nn.Linear(width, width)
            self.relu = torch.nn.ReLU(inplace=True)

    width = 8
    ours = tnn.Sequential(tnn.Linear(6, width), tnn.ReLU(inplace=True), _Block(tnn, width), _Block(tnn, width),
                          tnn.Dropout(0.0, inplace=True), tnn.Linear(width, 3))
    theirs = torch.nn.Sequential(torch.nn.Linear(6, width), torch.nn.ReLU(inplace=True), TBlock(width),
                                 TBlock(width), torch.nn.Dropout(0.0, inplace=True), torch.nn.Linear(width, 3))
    with torch.no_grad():
        for (name, p), (tname, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
            assert name == tname
            tp.copy_(torch.from_numpy(p.detach().numpy()))
    x = signed(5, 6).astype(np.float32)
    target = np.array([0, 2, 1, 1, 0])
    xt, xtt = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    loss = tnn.CrossEntropyLoss()(ours(xt), tg.tensor(target))
    tloss = torch.nn.CrossEntropyLoss()(theirs(xtt), torch.tensor(target))
    loss.backward()
    tloss.backward()
    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-5)
    np.testing.assert_allclose(xt.grad.numpy(), xtt.grad.numpy(), rtol=1e-4, atol=1e-6)
    for (name, p), tp in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=name)


# ---- property test ---------------------------------------------------------------------

STEPS = [
    lambda L, v, w: v.mul_(w),
    lambda L, v, w: v.add_(w, alpha=0.5),
    lambda L, v, w: v.relu_(),
    lambda L, v, w: v.sigmoid_(),
    lambda L, v, w: v.copy_(w * 2),
    lambda L, v, w: v.masked_fill_(v > 0.5, 1.0),
    lambda L, v, w: v.clamp_(-1.0, 1.0),
    lambda L, v, w: v.__setitem__(v < -0.5, w.sum()),
]


def _views(y, kind, k):
    n, m = y.shape
    return [y, y[k % n], y[:, k % m], y.t(), y[k % n:], y[:, ::2], y.view(-1)[k % (n * m):]][kind]


@needs_torch
@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 4), m=st.integers(1, 5), seed=st.integers(0, 2**16),
       plan=st.lists(st.tuples(st.integers(0, 6), st.integers(0, 7), st.integers(0, 9)), min_size=1, max_size=4))
def test_random_inplace_sequences_on_views_match_torch(n, m, seed, plan):
    rng = np.random.default_rng(seed)
    x, w = rng.uniform(-2, 2, (n, m)), rng.uniform(-2, 2, (n, m))

    def fn(L, x, w):
        y = x * 1.0
        early = y.t()  # a view read after all the writes
        for kind, step, k in plan:
            v = _views(y, kind, k)
            STEPS[step](L, v, _views(w, kind, k))
        return y * 2 + early.t()

    try:
        out, _ = assert_same_as_torch(fn, x, w)
    except RuntimeError as e:
        # a write over what an earlier op saved (relu_ then mul_): PyTorch refuses it too
        assert "modified by an inplace operation" in str(e)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            run(torch, fn, [x, w])
        return
    # the values against numpy: the same steps applied to an array
    def np_view(a, kind, k):
        return [a, a[k % n], a[:, k % m], a.T, a[k % n:], a[:, ::2], a.reshape(-1)[k % (n * m):]][kind]

    y = x * 1.0
    for kind, step, k in plan:
        v, wv = np_view(y, kind, k), np_view(w, kind, k)
        if step == 0:
            v *= wv
        elif step == 1:
            v += 0.5 * wv
        elif step == 2:
            np.maximum(v, 0, out=v)
        elif step == 3:
            v[...] = 1 / (1 + np.exp(-v))
        elif step == 4:
            v[...] = wv * 2
        elif step == 5:
            v[v > 0.5] = 1.0
        elif step == 6:
            np.clip(v, -1.0, 1.0, out=v)
        else:
            v[v < -0.5] = wv.sum()
    np.testing.assert_allclose(out, y * 2 + y, rtol=1e-12, atol=1e-12)
