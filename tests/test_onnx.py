"""tg.onnx.export: the example models (MNIST MLP and CNN, an LSTM, the char GPT) export,
pass onnx.checker (full_check) and give our outputs in onnxruntime to float32 tolerance,
with a dynamic batch axis traced at 4 and run at 1 and 1000."""
import io
import os
import subprocess
import sys

import numpy as np
import pytest

import tinygrad_cpp as tg
import tinygrad_cpp.nn as nn
import tinygrad_cpp.nn.functional as F
from tinygrad_cpp import _C

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
import char_lm  # noqa: E402
import mnist_cnn  # noqa: E402
import mnist_mlp  # noqa: E402

RTOL, ATOL = 1e-4, 1e-5


def export_bytes(model, args, **kw):
    buf = io.BytesIO()
    tg.onnx.export(model, args, buf, **kw)
    data = buf.getvalue()
    proto = onnx.load_from_string(data)
    onnx.checker.check_model(proto, full_check=True)
    return data, proto


def session(data):
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def ours(model, *args):
    model.eval()
    with tg.no_grad():
        out = model(*args)
    out = out if isinstance(out, (tuple, list)) else (out,)
    flat = []
    for o in out:
        if isinstance(o, (tuple, list)):
            flat += list(o)
        elif o is not None:
            flat.append(o)
    return [o.numpy() for o in flat]


def check_runs(data, model, feeds):
    """onnxruntime on `feeds` ({name: array}) against our forward."""
    sess = session(data)
    got = sess.run(None, feeds)
    want = ours(model, *[tg.from_numpy(np.ascontiguousarray(v)) for v in feeds.values()])
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL)


def images(n, seed=0):
    return np.random.default_rng(seed).standard_normal((n, 1, 28, 28)).astype(np.float32)


def tokens(n, t, vocab, seed=0):
    return np.random.default_rng(seed).integers(0, vocab, (n, t)).astype(np.int64)


DYN = {"input": {0: "batch"}, "output": {0: "batch"}}


# ---- the four models -----------------------------------------------------------------------

def test_mnist_mlp_dynamic_batch():
    tg.manual_seed(0)
    model = mnist_mlp.MLP().eval()
    data, proto = export_bytes(model, (tg.from_numpy(images(4)),), input_names=["input"],
                               output_names=["output"], dynamic_axes=DYN)
    assert [i.name for i in proto.graph.input] == ["input"]
    assert [o.name for o in proto.graph.output] == ["output"]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert proto.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert proto.opset_import[0].version == 17
    # parameters are initializers under their state_dict names, with their values
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in proto.graph.initializer}
    for name, p in model.state_dict().items():
        np.testing.assert_array_equal(inits[name], p.numpy())
    assert {n.op_type for n in proto.graph.node} >= {"Gemm", "Relu", "Reshape"}
    for n in (1, 1000):
        check_runs(data, model, {"input": images(n, n)})


def test_mnist_cnn_dynamic_batch():
    tg.manual_seed(0)
    model = mnist_cnn.Net().eval()
    data, proto = export_bytes(model, tg.from_numpy(images(4)), input_names=["input"], output_names=["output"],
                               dynamic_axes=DYN)
    ops = {n.op_type for n in proto.graph.node}
    assert {"Conv", "MaxPool", "LogSoftmax", "Gemm", "Relu"} <= ops
    assert "Dropout" not in ops  # evaluation mode: identity
    for n in (1, 1000):
        check_runs(data, model, {"input": images(n, n)})


class ConvBN(nn.Module):
    """Conv2d, BatchNorm2d (running statistics), in-place ReLU, MaxPool2d, Dropout, view, Linear."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 6, 5, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(6)
        self.act = nn.ReLU(inplace=True)
        self.pool = nn.MaxPool2d(2, ceil_mode=True)
        self.drop = nn.Dropout(0.3)
        self.fc = nn.Linear(6 * 7 * 7, 10)

    def forward(self, x):
        x = self.drop(self.pool(self.act(self.bn(self.conv(x)))))
        return F.log_softmax(self.fc(x.view(x.size(0), -1)), dim=1)


def test_cnn_batchnorm_eval():
    tg.manual_seed(1)
    model = ConvBN()
    model.train()
    with tg.no_grad():  # running statistics that are not the defaults
        model(tg.from_numpy(images(16, 3)))
    data, proto = export_bytes(model, tg.from_numpy(images(4)), input_names=["input"], output_names=["output"],
                               dynamic_axes=DYN)
    assert model.training and model.bn.training  # export traced in eval mode and restored the modes
    ops = [n.op_type for n in proto.graph.node]
    assert "BatchNormalization" in ops and "Dropout" not in ops
    names = {i.name for i in proto.graph.initializer}
    assert {"bn.running_mean", "bn.running_var", "bn.weight", "bn.bias", "conv.weight", "fc.bias"} <= names
    for n in (1, 1000):
        check_runs(data, model.eval(), {"input": images(n, n)})


def test_char_lstm_batch_first():
    tg.manual_seed(0)
    model = char_lm.CharLSTM(vocab_size=30, hidden_size=32, num_layers=2).eval()
    data, proto = export_bytes(
        model, tg.from_numpy(tokens(4, 12, 30)), input_names=["idx"], output_names=["logits", "h_n", "c_n"],
        dynamic_axes={"idx": {0: "batch"}, "logits": {0: "batch"}, "h_n": {1: "batch"}, "c_n": {1: "batch"}})
    assert [n.op_type for n in proto.graph.node].count("LSTM") == 2
    assert [o.name for o in proto.graph.output] == ["logits", "h_n", "c_n"]
    assert "lstm.weight_ih_l0" in {i.name for i in proto.graph.initializer}
    for n in (1, 1000):
        check_runs(data, model, {"idx": tokens(n, 12, 30, n)})


class SeqLSTM(nn.Module):
    def __init__(self, bidirectional, batch_first, bias=True):
        super().__init__()
        self.lstm = nn.LSTM(5, 8, num_layers=2, bidirectional=bidirectional, batch_first=batch_first, bias=bias)
        self.head = nn.Linear(16 if bidirectional else 8, 3)

    def forward(self, x):
        out, (h, c) = self.lstm(x)
        return self.head(out).tanh(), h, c


@pytest.mark.parametrize("bidirectional,batch_first,bias", [(False, False, True), (True, False, True),
                                                           (True, True, False)])
def test_lstm_layouts(bidirectional, batch_first, bias):
    tg.manual_seed(2)
    model = SeqLSTM(bidirectional, batch_first, bias).eval()
    b = 0 if batch_first else 1
    x = np.random.default_rng(0).standard_normal((4, 7, 5) if batch_first else (7, 4, 5)).astype(np.float32)
    data, _ = export_bytes(model, tg.from_numpy(x), input_names=["x"], output_names=["y", "h", "c"],
                           dynamic_axes={"x": {b: "batch"}, "y": {b: "batch"}, "h": [1], "c": [1]})
    for n in (1, 1000):
        shape = (n, 7, 5) if batch_first else (7, n, 5)
        check_runs(data, model, {"x": np.random.default_rng(n).standard_normal(shape).astype(np.float32)})


def small_gpt():
    tg.manual_seed(0)
    return char_lm.GPT(vocab_size=40, block_size=16, n_layer=2, n_head=2, n_embd=32).eval()


@pytest.mark.parametrize("opset", [13, 17, 20])
def test_char_gpt_dynamic_batch(opset):
    model = small_gpt()
    data, proto = export_bytes(model, (tg.from_numpy(tokens(4, 16, 40)),), input_names=["idx"],
                               output_names=["logits"], opset_version=opset,
                               dynamic_axes={"idx": {0: "batch"}, "logits": {0: "batch"}})
    ops = {n.op_type for n in proto.graph.node}
    assert {"Gather", "MatMul", "Softmax", "Split", "Transpose", "Reshape"} <= ops
    assert ("LayerNormalization" in ops) == (opset >= 17)
    assert ("Gelu" in ops) == (opset >= 20) and ("Erf" in ops) == (opset < 20)
    assert "wte.weight" in {i.name for i in proto.graph.initializer}
    # no Reshape target holds the traced batch size
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in proto.graph.initializer}
    for n in proto.graph.node:
        if n.op_type == "Reshape" and n.input[1] in inits:
            assert inits[n.input[1]][0] in (0, -1), inits[n.input[1]]
    for n in (1, 1000):
        check_runs(data, model, {"idx": tokens(n, 16, 40, n)})


# ---- the API -----------------------------------------------------------------------------

def test_path_and_file_object_write_the_same(tmp_path):
    model = mnist_mlp.MLP().eval()
    x = tg.from_numpy(images(2))
    path = tmp_path / "mlp.onnx"
    tg.onnx.export(model, x, str(path))
    tg.onnx.export(model, x, path)  # os.PathLike
    with open(tmp_path / "f.onnx", "wb") as fh:
        tg.onnx.export(model, (x,), fh)
    assert path.read_bytes() == (tmp_path / "f.onnx").read_bytes()
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert [i.name for i in proto.graph.input] == ["input_0"] and [o.name for o in proto.graph.output] == ["output_0"]
    # no dynamic axes: the traced batch is static
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 2
    check_runs(path.read_bytes(), model, {"input_0": images(2, 5)})


def test_bad_arguments():
    model = mnist_mlp.MLP()
    x = tg.from_numpy(images(2))
    buf = io.BytesIO()
    with pytest.raises(TypeError):
        tg.onnx.export(lambda t: t, x, buf)
    with pytest.raises(TypeError):
        tg.onnx.export(model, images(2), buf)
    with pytest.raises(TypeError):
        tg.onnx.export(model, (x, 3), buf)
    with pytest.raises(TypeError):
        tg.onnx.export(model, x, 7)
    with pytest.raises(TypeError):
        tg.onnx.export(model, x, buf, input_names="input")
    with pytest.raises(TypeError):
        tg.onnx.export(model, x, buf, output_names=[1])
    with pytest.raises(TypeError):
        tg.onnx.export(model, x, buf, dynamic_axes=[0])
    with pytest.raises(TypeError):
        tg.onnx.export(model, x, buf, dynamic_axes={"input_0": "batch"})
    with pytest.raises(TypeError):
        tg.onnx.export(model, x, buf, opset_version="17")
    with pytest.raises(TypeError):
        tg.onnx.export(model, x, buf, export_params=1)
    with pytest.raises(ValueError):
        tg.onnx.export(model, x, buf, opset_version=9)
    with pytest.raises(ValueError):
        tg.onnx.export(model, x, buf, input_names=["a", "b"])
    assert buf.getvalue() == b""
    assert not _C._trace_active()


class Cumsum(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return self.fc(x).cumsum(1)


def test_unsupported_op_is_named():
    with pytest.raises(RuntimeError, match="ONNX export of cumsum is not supported"):
        tg.onnx.export(Cumsum(), tg.randn(2, 4), io.BytesIO())
    assert not _C._trace_active()  # the recorder is off again after a failed export


class Clamped(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 4)

    def forward(self, idx):
        return self.emb(idx.clamp(0, 5))  # clamp is not traced: on int64 it leaves no grad_fn either


def test_untraced_op_on_the_inputs_is_refused():
    idx = tg.from_numpy(np.arange(12).reshape(3, 4) % 10)
    with pytest.raises(RuntimeError, match="computed from the inputs by an op that is not traced"):
        tg.onnx.export(Clamped(), idx, io.BytesIO())


class BatchStats(nn.Module):
    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm1d(3, track_running_stats=False)

    def forward(self, x):
        return self.bn(x)


def test_unsupported_traced_op_is_named():
    with pytest.raises(RuntimeError, match=r"ONNX export of batch_norm with batch statistics .* is not supported"):
        tg.onnx.export(BatchStats(), tg.randn(5, 3), io.BytesIO())


class Recurrent(nn.Module):
    def __init__(self, kind, **kw):
        super().__init__()
        self.rnn = getattr(nn, kind)(4, 6, num_layers=2, **kw)

    def forward(self, x):
        out, h = self.rnn(x)
        return out, h


@pytest.mark.parametrize("kind,kw", [("GRU", {}), ("GRU", {"bidirectional": True, "batch_first": True}),
                                     ("RNN", {}), ("RNN", {"nonlinearity": "relu", "bidirectional": True})])
def test_gru_and_rnn(kind, kw):
    tg.manual_seed(3)
    model = Recurrent(kind, **kw).eval()
    b = 0 if kw.get("batch_first") else 1
    shape = [6, 6]
    shape[b] = 4
    x = np.random.default_rng(1).standard_normal(shape + [4]).astype(np.float32)
    data, proto = export_bytes(model, tg.from_numpy(x), input_names=["x"], output_names=["y", "h"],
                               dynamic_axes={"x": {b: "batch"}, "y": {b: "batch"}, "h": {1: "batch"}})
    assert [n.op_type for n in proto.graph.node].count(kind) == 2
    for n in (1, 1000):
        shape[b] = n
        check_runs(data, model, {"x": np.random.default_rng(n).standard_normal(shape + [4]).astype(np.float32)})


class StatefulLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(3, 5, num_layers=2)

    def forward(self, x, h0, c0):
        out, (h, c) = self.lstm(x, (h0, c0))
        return out, h, c


def test_lstm_with_initial_state_inputs():
    tg.manual_seed(4)
    model = StatefulLSTM().eval()
    rng = np.random.default_rng(0)

    def feeds(n):
        return {"x": rng.standard_normal((7, n, 3)).astype(np.float32),
                "h0": rng.standard_normal((2, n, 5)).astype(np.float32),
                "c0": rng.standard_normal((2, n, 5)).astype(np.float32)}

    f = feeds(4)
    data, proto = export_bytes(model, tuple(tg.from_numpy(v) for v in f.values()), input_names=["x", "h0", "c0"],
                               output_names=["y", "h", "c"],
                               dynamic_axes={k: {1: "batch"} for k in ("x", "h0", "c0", "y", "h", "c")})
    assert [i.name for i in proto.graph.input] == ["x", "h0", "c0"]
    for n in (1, 1000):
        check_runs(data, model, feeds(n))


class MoreOps(nn.Module):
    """avg/adaptive pooling, leaky_relu, silu, abs, log, sqrt, rsqrt, pow, mean/sum, a dtype
    conversion, permute, unsqueeze/squeeze, expand, cat, select and slicing."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.pool = nn.AvgPool2d(2)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4, 5)

    def forward(self, x):
        y = F.leaky_relu(self.conv(x), 0.1)
        y = F.silu(self.pool(y)) + F.adaptive_avg_pool2d(y, (2, 2)).mean(dim=(2, 3), keepdim=True)
        z = self.gap(y).flatten(1)
        z = self.fc(z) + z.abs().sum(1, keepdim=True).sqrt() * 0.5 + (z ** 2).mean(1).unsqueeze(1)
        w = (z.abs() + 1).log() + (z * z + 1).rsqrt()
        w = tg.cat([w, w[:, 1:3].double().float()], dim=1).unsqueeze(2).expand(-1, -1, 3)
        return w.permute(0, 2, 1)[:, 0, :].squeeze(1) - w.select(2, 1)


@pytest.mark.parametrize("opset", [13, 18])
def test_more_ops(opset):
    tg.manual_seed(5)
    model = MoreOps().eval()
    x = np.random.default_rng(2).standard_normal((4, 2, 8, 8)).astype(np.float32)
    data, proto = export_bytes(model, tg.from_numpy(x), input_names=["input"], output_names=["output"],
                               dynamic_axes=DYN, opset_version=opset)
    ops = {n.op_type for n in proto.graph.node}
    assert {"AveragePool", "GlobalAveragePool", "LeakyRelu", "ReduceMean", "ReduceSum", "Pow", "Cast"} <= ops
    for n in (1, 1000):
        check_runs(data, model, {"input": np.random.default_rng(n).standard_normal((n, 2, 8, 8)).astype(np.float32)})


class Decoder(nn.Module):
    """ConvTranspose2d, GroupNorm, ELU, Softplus(beta), constant/reflect/replicate pads,
    nearest and bilinear upsampling."""

    def __init__(self):
        super().__init__()
        self.up = nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1)
        self.gn = nn.GroupNorm(2, 4)
        self.act = nn.ELU(0.7)
        self.sp = nn.Softplus(beta=2.0)
        self.nearest = nn.Upsample(scale_factor=2, mode="nearest")
        self.bilinear = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.conv = nn.Conv2d(4, 2, 3)

    def forward(self, x):
        y = self.act(self.gn(self.up(x)))
        y = F.pad(y, (1, 2, 0, 1), value=0.5) + 0
        y = self.conv(F.pad(y, (1, 1, 1, 1), mode="reflect"))
        z = F.pad(self.sp(y), (1, 0, 2, 1), mode="replicate")
        return self.nearest(z) + self.bilinear(z)


def test_decoder_ops():
    tg.manual_seed(6)
    model = Decoder().eval()
    x = np.random.default_rng(3).standard_normal((4, 3, 5, 5)).astype(np.float32)
    data, proto = export_bytes(model, tg.from_numpy(x), input_names=["input"], output_names=["output"],
                               dynamic_axes=DYN)
    ops = {n.op_type for n in proto.graph.node}
    assert {"ConvTranspose", "InstanceNormalization", "Elu", "Softplus", "Pad", "Resize"} <= ops
    for n in (1, 1000):
        check_runs(data, model, {"input": np.random.default_rng(n).standard_normal((n, 3, 5, 5)).astype(np.float32)})


def test_example_script(tmp_path, capsys):
    import export_onnx
    out = str(tmp_path / "mlp.onnx")
    export_onnx.main(["--model", "mlp", "--out", out])
    text = capsys.readouterr().out
    assert "onnx.checker: ok" in text and "batch 64" in text
    assert os.path.getsize(out) > 400_000


def test_recorder_records_user_level_ops_only():
    x, w, b = tg.randn(3, 4), tg.randn(5, 4), tg.randn(5)
    assert not _C._trace_active()
    _C._trace_start()
    try:
        assert _C._trace_active()
        y = F.linear(x, w, b)
        parts = y.split(2, dim=1)
    finally:
        recs = _C._trace_stop()
    assert not _C._trace_active()
    assert [r[0] for r in recs] == ["linear", "split"]  # linear's matmul, split's slices: not recorded
    op, ins, outs, attrs = recs[1]
    assert _C._trace_id(ins[0]) == _C._trace_id(y) and len(outs) == len(parts) == 3 and attrs == {"dim": 1}
    assert [_C._trace_id(t) for t in recs[0][1]] == [_C._trace_id(t) for t in (x, w, b)]
    with pytest.raises(RuntimeError):
        _C._trace_start()
        _C._trace_start()
    _C._trace_stop()


def test_import_does_not_import_onnx():
    code = "import sys, tinygrad_cpp; assert 'onnx' not in sys.modules and 'onnxruntime' not in sys.modules"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_recorder_is_per_thread():
    import threading
    x = tg.randn(3)
    _C._trace_start()
    try:
        t = threading.Thread(target=lambda: x.relu())
        t.start()
        t.join()
        x.tanh()
    finally:
        recs = _C._trace_stop()
    assert [r[0] for r in recs] == ["tanh"]


class PassThrough(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        y = self.fc(x)
        return x, y, y


def test_outputs_that_are_inputs_or_repeated():
    model = PassThrough().eval()
    data, proto = export_bytes(model, tg.randn(4, 3), input_names=["x"], output_names=["a", "b", "c"],
                               dynamic_axes={"x": {0: "n"}, "a": {0: "n"}, "b": {0: "n"}, "c": {0: "n"}})
    assert [o.name for o in proto.graph.output] == ["a", "b", "c"]
    for n in (1, 1000):
        check_runs(data, model, {"x": np.random.default_rng(n).standard_normal((n, 3)).astype(np.float32)})


def test_export_params_false_makes_parameters_inputs():
    model = mnist_mlp.MLP().eval()
    data, proto = export_bytes(model, tg.from_numpy(images(2)), input_names=["input"], export_params=False)
    names = [i.name for i in proto.graph.input]
    assert names[0] == "input" and set(names[1:]) == set(model.state_dict())
    assert not {i.name for i in proto.graph.initializer} & set(model.state_dict())
    feeds = {"input": images(2, 9)}
    feeds.update({k: v.numpy() for k, v in model.state_dict().items()})
    got = session(data).run(None, feeds)[0]
    np.testing.assert_allclose(got, ours(model, tg.from_numpy(images(2, 9)))[0], rtol=RTOL, atol=ATOL)


def test_verbose_prints_the_graph(capsys):
    tg.onnx.export(mnist_mlp.MLP(), tg.from_numpy(images(2)), io.BytesIO(), verbose=True)
    assert "Gemm" in capsys.readouterr().out
