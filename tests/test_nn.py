"""nn: Module semantics (registration, traversal order, state_dict, repr) against PyTorch,
Parameter, layers, activations, init and functional forms."""
import copy
import math
import warnings
from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_cpp as tg
import tinygrad_cpp.nn as nn
import tinygrad_cpp.nn.functional as F
import tinygrad_cpp.optim as optim
from helpers import check_grad, torch

rng = np.random.default_rng(0)


def mlp(lib):
    return lib.nn.Sequential(lib.nn.Flatten(), lib.nn.Linear(12, 8), lib.nn.ReLU(), lib.nn.Dropout(0.1),
                             lib.nn.Linear(8, 3))


def nested(lib):
    n = lib.nn

    class Block(n.Module):
        def __init__(self):
            super().__init__()
            self.fc = n.Linear(4, 4)
            self.act = n.GELU(approximate="tanh")
            self.register_buffer("running", lib.ones(4))
            self.register_buffer("scratch", lib.zeros(2), persistent=False)
            self.scale = n.Parameter(lib.ones(1))

        def forward(self, x):
            return self.act(self.fc(x)) * self.scale + self.running

    class Net(n.Module):
        def __init__(self):
            super().__init__()
            self.embed = n.Linear(3, 4, bias=False)
            self.blocks = n.ModuleList([Block(), Block()])
            self.head = n.Sequential(n.Linear(4, 2), n.LogSoftmax(dim=1))

        def forward(self, x):
            x = self.embed(x)
            for b in self.blocks:
                x = b(x)
            return self.head(x)

    return Net()


def copy_from_torch(model, tmodel):
    """Loads torch's parameters and buffers into model by state_dict key."""
    model.load_state_dict({k: tg.tensor(v.detach().numpy()) for k, v in tmodel.state_dict().items()})


# ---- Parameter -------------------------------------------------------------------------

def test_parameter_is_a_tensor_sharing_storage():
    t = tg.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    p = nn.Parameter(t)
    assert isinstance(p, tg.Tensor) and isinstance(p, nn.Parameter)
    assert p.requires_grad and p.is_leaf and p.grad_fn is None
    assert p.data_ptr() == t.data_ptr() and p.shape == (2, 3)
    assert not nn.Parameter(t, requires_grad=False).requires_grad
    assert repr(p) == "Parameter containing:\n" + repr(t.detach().requires_grad_(True))
    assert nn.Parameter().shape == (0,)
    with pytest.raises(TypeError):
        nn.Parameter([1.0, 2.0])


def test_parameter_ops_and_deepcopy():
    p = nn.Parameter(tg.ones(3))
    out = (p * 2).sum()
    assert type(p * 2) is tg.Tensor
    out.backward()
    np.testing.assert_allclose(p.grad.numpy(), [2.0, 2.0, 2.0])
    q = copy.deepcopy(p)
    assert isinstance(q, nn.Parameter) and q.requires_grad and q.data_ptr() != p.data_ptr()
    np.testing.assert_array_equal(q.detach().numpy(), p.detach().numpy())


# ---- registration and traversal --------------------------------------------------------

def test_named_parameters_order_and_state_dict_keys_equal_torch():
    pytest.importorskip("torch")
    for make in (mlp, nested):
        ours, theirs = make(tg), make(torch)
        assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
        assert list(ours.state_dict()) == list(theirs.state_dict())
        assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
        assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
        assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
        assert [tuple(p.shape) for p in ours.parameters()] == [tuple(p.shape) for p in theirs.parameters()]


def test_state_dict_names_for_sequential_mlp():
    m = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    assert list(m.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    sd = m.state_dict()
    assert not sd["0.weight"].requires_grad and sd["0.weight"].data_ptr() == m[0].weight.data_ptr()
    assert m.state_dict(keep_vars=True)["0.weight"] is m[0].weight


def test_registration_rules():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(tg.ones(2))
            self.sub = nn.Linear(2, 2)
            self.plain = tg.ones(2)  # a plain tensor attribute is not registered
            self.register_parameter("maybe", None)
            self.register_buffer("buf", tg.zeros(3))

    m = M()
    assert [n for n, _ in m.named_parameters()] == ["w", "sub.weight", "sub.bias"]
    assert list(m.state_dict()) == ["w", "buf", "sub.weight", "sub.bias"]
    assert m.maybe is None and [n for n, _ in m.named_buffers()] == ["buf"]
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'w'"):
        m.w = tg.ones(2)
    m.w = None
    assert [n for n, _ in m.named_parameters()] == ["sub.weight", "sub.bias"]
    with pytest.raises(TypeError, match="child module 'sub'"):
        m.sub = 3
    m.buf = tg.ones(3)
    np.testing.assert_array_equal(m.state_dict()["buf"].numpy(), [1.0, 1.0, 1.0])
    with pytest.raises(TypeError, match="buffer 'buf'"):
        m.buf = 3
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("plain", tg.ones(1))
    with pytest.raises(KeyError, match="contain"):
        m.register_parameter("a.b", nn.Parameter(tg.ones(1)))
    del m.sub
    assert [n for n, _ in m.named_children()] == []
    with pytest.raises(AttributeError, match="has no attribute 'sub'"):
        m.sub


def test_shared_modules_and_parameters_are_listed_once():
    lin = nn.Linear(2, 2)
    m = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(m.parameters())) == 2
    assert [n for n, _ in m.named_modules()] == ["", "0", "1"]
    assert len(list(m.children())) == 2
    assert list(m.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_train_eval_apply_requires_grad():
    m = nested(tg)
    assert m.training and all(x.training for x in m.modules())
    assert m.eval() is m and not any(x.training for x in m.modules())
    m.train()
    assert all(x.training for x in m.modules())
    with pytest.raises(ValueError, match="boolean"):
        m.train("yes")
    seen = []
    assert m.apply(lambda mod: seen.append(type(mod).__name__)) is m
    assert seen[-1] == "Net" and seen.count("Linear") == 4
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())


def test_apply_with_init_functions():
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))

    def init_weights(mod):
        if isinstance(mod, nn.Linear):
            nn.init.constant_(mod.weight, 0.5)
            nn.init.zeros_(mod.bias)

    m.apply(init_weights)
    np.testing.assert_array_equal(m[2].weight.detach().numpy(), np.full((2, 4), 0.5, np.float32))
    np.testing.assert_array_equal(m[0].bias.detach().numpy(), np.zeros(4, np.float32))
    assert m[0].weight.grad_fn is None and m[0].weight.requires_grad


def test_zero_grad():
    m = nn.Linear(3, 2)
    m(tg.ones(4, 3)).sum().backward()
    m.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(m.weight.grad.numpy(), np.zeros((2, 3), np.float32))
    m.zero_grad()
    assert m.weight.grad is None and m.bias.grad is None


def test_module_to_double_keeps_parameters_registered():
    m = nn.Sequential(nn.Linear(3, 2))
    w = m[0].weight.detach().numpy().copy()
    assert m.double() is m
    assert m[0].weight.dtype == tg.float64 and isinstance(m[0].weight, nn.Parameter)
    assert m[0].weight.requires_grad
    np.testing.assert_allclose(m[0].weight.detach().numpy(), w)
    assert m(tg.tensor(np.ones((1, 3)))).dtype == tg.float64
    m.float()
    assert m[0].bias.dtype == tg.float32
    with pytest.raises(RuntimeError, match="cpu"):
        m.to("cuda")


# ---- load_state_dict -------------------------------------------------------------------

def test_load_state_dict_from_torch_gives_same_outputs():
    pytest.importorskip("torch")
    tmodel, model = nested(torch), nested(tg)
    with torch.no_grad():
        tmodel.blocks[1].running.mul_(3)
    copy_from_torch(model, tmodel)
    x = rng.standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(model(tg.tensor(x)).detach().numpy(),
                               tmodel(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_load_state_dict_copies_values():
    a, b = nn.Linear(3, 2), nn.Linear(3, 2)
    res = b.load_state_dict(a.state_dict())
    assert res.missing_keys == [] and res.unexpected_keys == []
    assert repr(res) == "<All keys matched successfully>"
    np.testing.assert_array_equal(b.weight.detach().numpy(), a.weight.detach().numpy())
    assert b.weight.data_ptr() != a.weight.data_ptr() and isinstance(b.weight, nn.Parameter)


def test_load_state_dict_errors_like_torch():
    m = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    sd = m.state_dict()
    bad = OrderedDict(sd)
    del bad["2.bias"]
    bad["1.weight"] = tg.ones(1)
    with pytest.raises(RuntimeError) as e:
        m.load_state_dict(bad)
    assert str(e.value) == ('Error(s) in loading state_dict for Sequential:\n\tMissing key(s) in '
                            'state_dict: "2.bias". \n\tUnexpected key(s) in state_dict: "1.weight". ')
    res = m.load_state_dict(bad, strict=False)
    assert res.missing_keys == ["2.bias"] and res.unexpected_keys == ["1.weight"]
    wrong = OrderedDict(sd)
    wrong["0.weight"] = tg.ones(2, 4)
    with pytest.raises(RuntimeError, match=r"size mismatch for 0.weight: copying a param with shape "
                                           r"\(2, 4\) from checkpoint, the shape in current model is \(2, 3\)"):
        m.load_state_dict(wrong, strict=False)
    with pytest.raises(TypeError, match="dict-like"):
        m.load_state_dict([1, 2])


def test_load_state_dict_error_text_matches_torch():
    pytest.importorskip("torch")
    tm = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU(), torch.nn.Linear(2, 1))
    m = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    tsd, sd = tm.state_dict(), m.state_dict()
    del tsd["0.bias"], sd["0.bias"]
    tsd["extra"], sd["extra"] = torch.ones(1), tg.ones(1)
    with pytest.raises(RuntimeError) as theirs:
        tm.load_state_dict(tsd)
    with pytest.raises(RuntimeError) as ours:
        m.load_state_dict(sd)
    assert str(ours.value) == str(theirs.value)


# ---- repr ------------------------------------------------------------------------------

def test_repr_equals_torch():
    pytest.importorskip("torch")
    for make in (mlp, nested, lambda lib: lib.nn.ModuleList([lib.nn.Linear(2, 2) for _ in range(3)] +
                                                           [lib.nn.ReLU()])):
        assert repr(make(tg)) == repr(make(torch))
    for name, args in [("Linear", (784, 128)), ("Linear", (3, 4, False)), ("ReLU", ()), ("Sigmoid", ()),
                       ("Tanh", ()), ("GELU", ()), ("GELU", ("tanh",)), ("Softmax", (1,)),
                       ("LogSoftmax", (-1,)), ("Softmax", ()), ("LeakyReLU", (0.2,)), ("SiLU", ()),
                       ("Flatten", ()), ("Flatten", (0, 2)), ("Dropout", ()), ("Dropout", (0.25,)),
                       ("Identity", ()), ("MSELoss", ()), ("L1Loss", ()), ("CrossEntropyLoss", ()),
                       ("NLLLoss", ()), ("BCELoss", ()), ("BCEWithLogitsLoss", ()), ("Sequential", ()),
                       ("ModuleList", ())]:
        assert repr(getattr(nn, name)(*args)) == repr(getattr(torch.nn, name)(*args)), name


def test_repr_literal():
    assert repr(nn.Linear(784, 128)) == "Linear(in_features=784, out_features=128, bias=True)"
    assert repr(nn.Sequential(nn.Linear(2, 3), nn.ReLU())) == (
        "Sequential(\n  (0): Linear(in_features=2, out_features=3, bias=True)\n  (1): ReLU()\n)")


# ---- containers ------------------------------------------------------------------------

def test_sequential_container_protocol():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    s = nn.Sequential(a, b)
    assert len(s) == 2 and s[0] is a and s[-1] is b and list(s) == [a, b]
    assert s.append(c) is s and len(s) == 3 and s[2] is c
    sl = s[1:]
    assert isinstance(sl, nn.Sequential) and list(sl) == [b, c] and list(sl._modules) == ["1", "2"]
    with pytest.raises(IndexError, match="out of range"):
        s[3]
    del s[0]
    assert list(s._modules) == ["0", "1"] and s[0] is b
    s.insert(0, a)
    assert list(s) == [a, b, c]
    s[1] = nn.Tanh()
    assert isinstance(s[1], nn.Tanh)
    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"] and named.fc is named[0]
    x = rng.standard_normal((4, 2)).astype(np.float32)
    out = nn.Sequential(a, nn.ReLU(), c)(tg.tensor(x))
    h = np.maximum(x @ a.weight.detach().numpy().T + a.bias.detach().numpy(), 0)
    np.testing.assert_allclose(out.detach().numpy(), h @ c.weight.detach().numpy().T + c.bias.detach().numpy(),
                               rtol=1e-5, atol=1e-6)


def test_module_list():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(2)])
    layers.append(nn.Linear(2, 3))
    layers.extend([nn.ReLU()])
    assert len(layers) == 4 and isinstance(layers[-1], nn.ReLU)
    assert [n for n, _ in layers.named_parameters()][:2] == ["0.weight", "0.bias"]
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    del layers[0]
    assert list(layers._modules) == ["0", "1", "2"]
    with pytest.raises(IndexError):
        layers[5]
    r = repr(nn.ModuleList([nn.ReLU(), nn.ReLU(), nn.Tanh()]))
    assert r == "ModuleList(\n  (0-1): 2 x ReLU()\n  (2): Tanh()\n)"


# ---- layers ----------------------------------------------------------------------------

def test_linear_default_init_bounds_and_forward():
    tg.manual_seed(0)
    m = nn.Linear(400, 50)
    w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
    bound = 1 / math.sqrt(400)  # kaiming_uniform_(a=sqrt(5)) gives the same bound as the bias
    assert w.shape == (50, 400) and b.shape == (50,)
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound  # uniform(-b, b) has std b/sqrt(3)
    assert abs(w.mean()) < 0.02 * bound
    x = rng.standard_normal((7, 400)).astype(np.float32)
    np.testing.assert_allclose(m(tg.tensor(x)).detach().numpy(), x @ w.T + b, rtol=1e-4, atol=1e-5)
    tg.manual_seed(0)
    np.testing.assert_array_equal(nn.Linear(400, 50).weight.detach().numpy(), w)  # reproducible
    assert nn.Linear(3, 2, bias=False).bias is None
    assert nn.Linear(3, 2, dtype=tg.float64).weight.dtype == tg.float64


def test_linear_gradients():
    w, b = rng.standard_normal((3, 4)), rng.standard_normal(3)
    x = rng.standard_normal((5, 4))
    check_grad(lambda xx, ww, bb: F.linear(xx, ww, bb), x, w, b,
               torch_fn=None if torch is None else lambda xx, ww, bb: torch.nn.functional.linear(xx, ww, bb))
    check_grad(lambda xx, ww: F.linear(xx, ww), x, w,
               torch_fn=None if torch is None else lambda xx, ww: torch.nn.functional.linear(xx, ww))


ACTIVATIONS = [
    ("ReLU", (), lambda x: np.maximum(x, 0)),
    ("Sigmoid", (), lambda x: 1 / (1 + np.exp(-x))),
    ("Tanh", (), np.tanh),
    ("SiLU", (), lambda x: x / (1 + np.exp(-x))),
    ("LeakyReLU", (0.2,), lambda x: np.where(x > 0, x, 0.2 * x)),
    ("GELU", (), None),
    ("GELU", ("tanh",), None),
    ("Softmax", (1,), lambda x: np.exp(x) / np.exp(x).sum(1, keepdims=True)),
    ("LogSoftmax", (0,), lambda x: x - np.log(np.exp(x).sum(0, keepdims=True))),
    ("Identity", (), lambda x: x),
]


@pytest.mark.parametrize("name,args,ref", ACTIVATIONS, ids=[f"{a[0]}{a[1]}" for a in ACTIVATIONS])
def test_activation_modules(name, args, ref):
    x = rng.standard_normal((3, 4))
    x[0, 0] = 0.3  # keep clear of the kink at 0 for finite differences
    mod = getattr(nn, name)(*args)
    if ref is not None:
        np.testing.assert_allclose(mod(tg.tensor(x)).numpy(), ref(x), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(mod(tg.tensor(x.astype(np.float32))).numpy(), ref(x), rtol=1e-5, atol=1e-6)
    tmod = None if torch is None else getattr(torch.nn, name)(*args)
    check_grad(lambda a: mod(a), x, torch_fn=tmod)


def test_functional_activations_match_torch():
    pytest.importorskip("torch")
    x = rng.standard_normal((2, 5))
    tx = torch.tensor(x)
    tf = torch.nn.functional
    pairs = [(F.relu(tg.tensor(x)), tf.relu(tx)), (F.sigmoid(tg.tensor(x)), torch.sigmoid(tx)),
             (F.tanh(tg.tensor(x)), torch.tanh(tx)), (F.gelu(tg.tensor(x)), tf.gelu(tx)),
             (F.gelu(tg.tensor(x), approximate="tanh"), tf.gelu(tx, approximate="tanh")),
             (F.silu(tg.tensor(x)), tf.silu(tx)), (F.leaky_relu(tg.tensor(x), 0.1), tf.leaky_relu(tx, 0.1)),
             (F.softmax(tg.tensor(x), dim=-1), tf.softmax(tx, dim=-1)),
             (F.log_softmax(tg.tensor(x), 1), tf.log_softmax(tx, 1))]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-10, atol=1e-12)


def test_softmax_without_dim_warns_and_uses_legacy_dim():
    x = tg.tensor(rng.standard_normal((2, 3)))
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        out = nn.Softmax()(x)
    np.testing.assert_allclose(out.numpy().sum(1), [1.0, 1.0])
    with pytest.warns(UserWarning):
        F.log_softmax(tg.tensor(rng.standard_normal(3)))


def test_flatten():
    x = tg.tensor(rng.standard_normal((2, 3, 4, 5)))
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 2)(x).shape == (24, 5)
    assert nn.Flatten(2)(x).shape == (2, 3, 20)
    np.testing.assert_array_equal(nn.Flatten()(x).numpy(), x.numpy().reshape(2, 60))


def test_dropout():
    with pytest.raises(ValueError, match="between 0 and 1, but got 1.5"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="between 0 and 1, but got -0.1"):
        F.dropout(tg.ones(2), p=-0.1)
    x = tg.ones(100, 100)
    d = nn.Dropout(0.25)
    tg.manual_seed(3)
    out = d(x).numpy()
    kept = out != 0
    assert abs(kept.mean() - 0.75) < 0.02
    np.testing.assert_allclose(out[kept], 1 / 0.75, rtol=1e-6)
    d.eval()
    assert d(x) is x
    assert F.dropout(x, 0.5, training=False) is x
    assert np.all(nn.Dropout(1.0)(x).numpy() == 0)
    xg = tg.ones(50, requires_grad=True)
    tg.manual_seed(4)
    y = nn.Dropout(0.5)(xg)
    y.sum().backward()
    np.testing.assert_allclose(xg.grad.numpy(), y.detach().numpy())  # grad = mask / (1-p)


# ---- init ------------------------------------------------------------------------------

def test_calculate_gain():
    assert nn.init.calculate_gain("linear") == 1 and nn.init.calculate_gain("sigmoid") == 1
    assert nn.init.calculate_gain("conv2d") == 1
    assert nn.init.calculate_gain("tanh") == 5.0 / 3
    assert nn.init.calculate_gain("relu") == math.sqrt(2.0)
    assert nn.init.calculate_gain("leaky_relu") == math.sqrt(2.0 / (1 + 0.01 ** 2))
    assert nn.init.calculate_gain("leaky_relu", 0.2) == math.sqrt(2.0 / 1.04)
    assert nn.init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        nn.init.calculate_gain("swish")
    with pytest.raises(ValueError, match="not a valid number"):
        nn.init.calculate_gain("leaky_relu", True)
    if torch is not None:
        for nl, p in [("leaky_relu", None), ("leaky_relu", 3), ("tanh", None), ("relu", None)]:
            assert nn.init.calculate_gain(nl, p) == torch.nn.init.calculate_gain(nl, p)


@pytest.mark.parametrize("fn,kw,bound,std", [
    ("xavier_uniform_", dict(gain=2.0), 2.0 * math.sqrt(6 / (200 + 300)), None),
    ("xavier_normal_", {}, None, math.sqrt(2 / (200 + 300))),
    ("kaiming_uniform_", dict(nonlinearity="relu"), math.sqrt(2) * math.sqrt(3 / 300), None),
    ("kaiming_uniform_", dict(mode="fan_out", a=0.1), math.sqrt(2 / 1.01) * math.sqrt(3 / 200), None),
    ("kaiming_normal_", dict(nonlinearity="relu"), None, math.sqrt(2 / 300)),
    ("kaiming_normal_", dict(mode="fan_out", nonlinearity="tanh"), None, 5 / 3 / math.sqrt(200)),
])
def test_init_distributions(fn, kw, bound, std):
    tg.manual_seed(1)
    w = nn.Parameter(tg.empty(200, 300))
    out = getattr(nn.init, fn)(w, **kw)
    assert out is w and w.grad_fn is None and w.requires_grad
    a = w.detach().numpy()
    if bound is not None:
        assert np.abs(a).max() <= bound and np.abs(a).max() > 0.99 * bound
        std = bound / math.sqrt(3)
    assert abs(a.std() - std) < 0.02 * std and abs(a.mean()) < 0.02 * std


def test_init_fans_with_receptive_field_and_basic_fills():
    w = tg.empty(4, 3, 5, 5)
    assert nn.init._calculate_fan_in_and_fan_out(w) == (75, 100)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.xavier_uniform_(tg.empty(5))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        nn.init.kaiming_uniform_(tg.empty(3, 3), mode="fan_avg")
    t = tg.empty(2, 3)
    assert nn.init.ones_(t) is t and np.all(t.numpy() == 1)
    nn.init.zeros_(t)
    assert np.all(t.numpy() == 0)
    nn.init.constant_(t, 0.25)
    assert np.all(t.numpy() == 0.25)
    tg.manual_seed(2)
    nn.init.uniform_(t, -3.0, -2.0)
    assert np.all((t.numpy() >= -3) & (t.numpy() < -2))
    nn.init.normal_(tg.empty(3), 1.0, 0.5)
    with pytest.warns(UserWarning, match="zero-element"):
        nn.init.kaiming_uniform_(tg.empty(0, 3))


# ---- end to end ------------------------------------------------------------------------

def test_mlp_training_matches_torch():
    pytest.importorskip("torch")
    torch.manual_seed(0)
    tmodel = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 4))
    copy_from_torch(model, tmodel)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.1, momentum=0.9)
    loss_fn, tloss_fn = nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    data = np.random.default_rng(3)
    for step in range(10):
        x = data.standard_normal((8, 6)).astype(np.float32)
        y = data.integers(0, 4, 8)
        opt.zero_grad(), topt.zero_grad()
        loss, tloss = loss_fn(model(tg.tensor(x)), tg.tensor(y)), tloss_fn(tmodel(torch.tensor(x)), torch.tensor(y))
        loss.backward(), tloss.backward()
        opt.step(), topt.step()
        np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-5)
        for (k, v), (tk, tv) in zip(model.state_dict().items(), tmodel.state_dict().items()):
            assert k == tk
            np.testing.assert_allclose(v.numpy(), tv.numpy(), rtol=1e-4, atol=1e-6)
