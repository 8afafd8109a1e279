"""The symbolic op table: one function per traced op kind (csrc/autograd/trace.h records
them under these names) that emits its ONNX nodes, as torch.onnx's symbolic_opset files.
Each takes the Graph and a Record (op, inputs, outputs, attrs)."""
import math

import numpy as np

from ._graph import unsupported

_INT64_MAX = np.iinfo(np.int64).max


def _wrap(d, n):
    return d % n if n else 0


# ---- linear algebra ----------------------------------------------------------------------

def linear(g, r):
    x, w, b = r.inputs
    (y,) = r.outputs
    if x.dim() == 2:  # Gemm: y = x @ w^T + b
        g.node("Gemm", [g.name(x), g.name(w)] + ([g.name(b)] if b is not None else []), [y], transB=1)
        return
    wt = g.node("Transpose", [g.name(w)], perm=[1, 0])
    if b is None:
        g.node("MatMul", [g.name(x), wt], [y])
    else:
        g.node("Add", [g.node("MatMul", [g.name(x), wt]), g.name(b)], [y])


def matmul(g, r):
    a, b = r.inputs
    g.node("MatMul", [g.name(a), g.name(b)], r.outputs)


# ---- elementwise -------------------------------------------------------------------------

def _binary(op):
    def h(g, r):
        a, b = r.inputs
        (y,) = r.outputs
        dt = g.dtype(y)
        g.node(op, [g.cast(a, dt), g.cast(b, dt)], [y])
    return h


def _add_sub(op):
    def h(g, r):
        a, b = r.inputs
        (y,) = r.outputs
        dt = g.dtype(y)
        bn = g.cast(b, dt)
        alpha = r.attrs.get("alpha", 1.0)
        if alpha != 1:
            bn = g.node("Mul", [bn, g.const(np.asarray(alpha, dtype=dt))])
        g.node(op, [g.cast(a, dt), bn], [y])
    return h


def div(g, r):
    a, b = r.inputs
    (y,) = r.outputs
    mode = r.attrs.get("rounding_mode", "")
    dt = g.dtype(y)
    if mode == "":
        g.node("Div", [g.cast(a, dt), g.cast(b, dt)], [y])
    elif mode == "floor" and np.issubdtype(dt, np.floating):
        g.node("Floor", [g.node("Div", [g.cast(a, dt), g.cast(b, dt)])], [y])
    else:
        raise unsupported(f"div with rounding_mode='{mode}'")


def _unary(op):
    def h(g, r):
        g.node(op, [g.name(r.inputs[0])], r.outputs)
    return h


def leaky_relu(g, r):
    g.node("LeakyRelu", [g.name(r.inputs[0])], r.outputs, alpha=float(r.attrs["negative_slope"]))


def silu(g, r):
    x = g.name(r.inputs[0])
    g.node("Mul", [x, g.node("Sigmoid", [x])], r.outputs)


def elu(g, r):
    g.node("Elu", [g.name(r.inputs[0])], r.outputs, alpha=float(r.attrs["alpha"]))


def softplus(g, r):
    """log(1 + e^(beta x)) / beta (PyTorch's threshold, above which it returns x, differs
    from this by under 1e-8 at its default of 20)."""
    (x,) = r.inputs
    beta = float(r.attrs["beta"])
    if beta == 1.0:
        g.node("Softplus", [g.name(x)], r.outputs)
        return
    c = g.const(np.asarray(beta, dtype=g.dtype(x)))
    g.node("Div", [g.node("Softplus", [g.node("Mul", [g.name(x), c])]), c], r.outputs)


def rsqrt(g, r):
    g.node("Reciprocal", [g.node("Sqrt", [g.name(r.inputs[0])])], r.outputs)


def to_dtype(g, r):
    (y,) = r.outputs
    g.node("Cast", [g.name(r.inputs[0])], [y], to=g.onnx_type(g.dtype(y)))


def sum_mean(g, r):
    (x,) = r.inputs
    (y,) = r.outputs
    dims = [_wrap(d, x.dim()) for d in r.attrs["dims"]] or list(range(x.dim()))
    keep = r.attrs["keepdim"]
    xn = g.cast(x, g.dtype(y))
    if r.attrs["mean"] and g.opset < 18:
        g.node("ReduceMean", [xn], [y], axes=dims, keepdims=keep)
    else:
        g.node("ReduceMean" if r.attrs["mean"] else "ReduceSum", [xn, g.ints(dims)], [y], keepdims=keep)


def gelu(g, r):
    (x,) = r.inputs
    (y,) = r.outputs
    approx = r.attrs.get("approximate", "none")
    if g.opset >= 20:
        g.node("Gelu", [g.name(x)], [y], approximate=approx)
        return
    dt = g.dtype(x)
    c = lambda v: g.const(np.asarray(v, dtype=dt))  # noqa: E731
    xn = g.name(x)
    if approx == "tanh":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        x3 = g.node("Mul", [g.node("Mul", [xn, xn]), xn])
        inner = g.node("Mul", [g.node("Add", [xn, g.node("Mul", [x3, c(0.044715)])]), c(math.sqrt(2 / math.pi))])
        t = g.node("Add", [g.node("Tanh", [inner]), c(1.0)])
    else:  # 0.5 x (1 + erf(x / sqrt 2))
        t = g.node("Add", [g.node("Erf", [g.node("Div", [xn, c(math.sqrt(2.0))])]), c(1.0)])
    g.node("Mul", [g.node("Mul", [xn, t]), c(0.5)], [y])


def _softmax(op):
    def h(g, r):
        (x,) = r.inputs
        (y,) = r.outputs
        g.node(op, [g.cast(x, g.dtype(y))], [y], axis=_wrap(r.attrs["dim"], x.dim()))
    return h


# ---- shapes ------------------------------------------------------------------------------

def reshape(g, r):
    """view/reshape/flatten/squeeze/unsqueeze: the output shape, with each dynamic dim as 0
    (copy the input's dim) when the input has it at the same place, else the one -1, else
    read from Shape(input)."""
    (x,) = r.inputs
    (y,) = r.outputs
    ins, outs = g.shape(x), g.shape(y)
    dyn_in, dyn_out = g.dyn_dims(x), g.dyn_dims(y)
    target, unresolved = [], []
    for d, s in enumerate(outs):
        if d not in dyn_out:
            target.append(s)
        elif d < len(ins) and d in dyn_in and ins[d] == s:
            target.append(0)
        else:
            target.append(-1)
            unresolved.append(d)
    if len(unresolved) <= 1:
        g.node("Reshape", [g.name(x), g.ints(target)], [y])
        return
    # several dynamic dims moved: gather each from the input's shape
    shape = g.node("Shape", [g.name(x)])
    parts = []
    for d, s in enumerate(outs):
        if d in unresolved:
            src = [i for i in sorted(dyn_in) if ins[i] == s]
            if not src:
                raise unsupported("a reshape that merges or splits a dynamic axis")
            parts.append(g.node("Gather", [shape, g.ints([src[0]])], axis=0))
        else:
            parts.append(g.ints([target[d]]))
    g.node("Reshape", [g.name(x), g.node("Concat", parts, axis=0)], [y])


def expand(g, r):
    (x,) = r.inputs
    (y,) = r.outputs
    ins, outs = g.shape(x), g.shape(y)
    lead = len(outs) - len(ins)
    target = []
    for d, s in enumerate(outs):
        if d >= lead and ins[d - lead] == s:
            target.append(1)  # Expand broadcasts: 1 keeps the input's (possibly dynamic) size
        elif d in g.dyn_dims(y):
            raise unsupported("expand to a dynamic size")
        else:
            target.append(s)
    g.node("Expand", [g.name(x), g.ints(target)], [y])


def permute(g, r):
    (x,) = r.inputs
    g.node("Transpose", [g.name(x)], r.outputs, perm=[_wrap(d, x.dim()) for d in r.attrs["dims"]])


def transpose(g, r):
    (x,) = r.inputs
    n = x.dim()
    perm = list(range(n))
    a, b = _wrap(r.attrs["dim0"], n), _wrap(r.attrs["dim1"], n)
    perm[a], perm[b] = perm[b], perm[a]
    g.node("Transpose", [g.name(x)], r.outputs, perm=perm)


def slice_(g, r):
    (x,) = r.inputs
    n = x.dim()
    dim = _wrap(r.attrs["dim"], n)
    size = g.shape(x)[dim]
    start, end, step = r.attrs["start"], r.attrs["end"], r.attrs["step"]
    if end >= size:
        end = _INT64_MAX
    if dim in g.dyn_dims(x) and (start != 0 or end != _INT64_MAX):
        raise unsupported("slicing a dynamic axis")
    g.node("Slice", [g.name(x), g.ints([start]), g.ints([end]), g.ints([dim]), g.ints([step])], r.outputs)


def select(g, r):
    (x,) = r.inputs
    dim = _wrap(r.attrs["dim"], x.dim())
    if dim in g.dyn_dims(x):
        raise unsupported("indexing a dynamic axis")
    g.node("Gather", [g.name(x), g.const(np.asarray(r.attrs["index"], dtype=np.int64))], r.outputs, axis=dim)


def identity(g, r):
    g.node("Identity", [g.name(r.inputs[0])], r.outputs)


def cat(g, r):
    (y,) = r.outputs
    dt = g.dtype(y)
    ins = [t for t in r.inputs if not (t.dim() == 1 and t.shape[0] == 0)]  # PyTorch skips 1-D empties
    g.node("Concat", [g.cast(t, dt) for t in ins], [y], axis=_wrap(r.attrs["dim"], y.dim()))


def split(g, r):
    (x,) = r.inputs
    dim = _wrap(r.attrs["dim"], x.dim())
    if dim in g.dyn_dims(x):
        raise unsupported("splitting a dynamic axis")
    sizes = [o.shape[dim] for o in r.outputs]
    if len(sizes) == 1:
        g.node("Identity", [g.name(x)], r.outputs)
        return
    g.node("Split", [g.name(x), g.ints(sizes)], r.outputs, axis=dim)


# ---- layers ------------------------------------------------------------------------------

def conv(g, r):
    x, w, b = r.inputs
    a = r.attrs
    ins = [g.name(x), g.name(w)] + ([g.name(b)] if b is not None else [])
    g.node("Conv", ins, r.outputs, kernel_shape=list(w.shape[2:]), strides=list(a["stride"]),
           pads=list(a["padding"]) + list(a["pad_end"]), dilations=list(a["dilation"]), group=a["groups"])


def conv_transpose(g, r):
    x, w, b = r.inputs
    a = r.attrs
    ins = [g.name(x), g.name(w)] + ([g.name(b)] if b is not None else [])
    g.node("ConvTranspose", ins, r.outputs, kernel_shape=list(w.shape[2:]), strides=list(a["stride"]),
           pads=list(a["padding"]) * 2, dilations=list(a["dilation"]), group=a["groups"],
           output_padding=list(a["output_padding"]))


_PAD_MODES = {0: "constant", 1: "reflect", 2: "edge", 3: "wrap"}


def pad(g, r):
    """PyTorch's pad list runs from the last dim (begin, end pairs); ONNX's is all begins
    then all ends, from the first dim."""
    (x,) = r.inputs
    a = r.attrs
    n = x.dim()
    begins, ends = [0] * n, [0] * n
    for i in range(len(a["pad"]) // 2):
        begins[n - 1 - i], ends[n - 1 - i] = a["pad"][2 * i], a["pad"][2 * i + 1]
    mode = _PAD_MODES[a["mode"]]
    if mode == "wrap" and g.opset < 19:
        raise unsupported("circular pad below opset 19")
    ins = [g.name(x), g.ints(begins + ends)]
    if mode == "constant":
        ins.append(g.const(np.asarray(a["value"], dtype=g.dtype(x))))
    g.node("Pad", ins, r.outputs, mode=mode)


def _resize(g, r, **attrs):
    (x,) = r.inputs
    (y,) = r.outputs
    scales = [1.0, 1.0] + [o / i for o, i in zip(y.shape[2:], x.shape[2:])]
    g.node("Resize", [g.name(x), "", g.const(np.asarray(scales, dtype=np.float32))], [y], **attrs)


def upsample_nearest(g, r):
    if r.attrs["exact"]:  # src = floor((dst + 0.5) * in / out)
        _resize(g, r, mode="nearest", coordinate_transformation_mode="half_pixel", nearest_mode="round_prefer_ceil")
    else:  # src = floor(dst * in / out)
        _resize(g, r, mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")


def upsample_linear(g, r):
    _resize(g, r, mode="linear",
            coordinate_transformation_mode="align_corners" if r.attrs["align_corners"] else "pytorch_half_pixel")


def max_pool2d(g, r):
    (x,) = r.inputs
    a = r.attrs
    if x.dim() != 4:
        raise unsupported("max_pool2d of an unbatched (3-D) input")
    two = lambda v: list(v) * 2 if len(v) == 1 else list(v)  # noqa: E731
    kernel = two(a["kernel_size"])
    stride = two(a["stride"]) if len(a["stride"]) else kernel
    pad = two(a["padding"])
    g.node("MaxPool", [g.name(x)], r.outputs[:1], kernel_shape=kernel, strides=stride, pads=pad + pad,
           dilations=two(a["dilation"]), ceil_mode=a["ceil_mode"])


def avg_pool2d(g, r):
    (x,) = r.inputs
    a = r.attrs
    if x.dim() != 4:
        raise unsupported("avg_pool2d of an unbatched (3-D) input")
    if a["divisor_override"]:
        raise unsupported("avg_pool2d with divisor_override")
    two = lambda v: list(v) * 2 if len(v) == 1 else list(v)  # noqa: E731
    kernel = two(a["kernel_size"])
    stride = two(a["stride"]) if len(a["stride"]) else kernel
    pad = two(a["padding"])
    g.node("AveragePool", [g.name(x)], r.outputs, kernel_shape=kernel, strides=stride, pads=pad + pad,
           ceil_mode=a["ceil_mode"], count_include_pad=a["count_include_pad"])


def adaptive_avg_pool2d(g, r):
    (x,) = r.inputs
    (y,) = r.outputs
    if x.dim() != 4:
        raise unsupported("adaptive_avg_pool2d of an unbatched (3-D) input")
    (H, W), (OH, OW) = x.shape[2:], y.shape[2:]
    if OH == 1 and OW == 1:
        g.node("GlobalAveragePool", [g.name(x)], [y])
    elif H % OH == 0 and W % OW == 0:  # even windows: a plain average pooling
        k = [H // OH, W // OW]
        g.node("AveragePool", [g.name(x)], [y], kernel_shape=k, strides=k)
    else:
        raise unsupported("adaptive_avg_pool2d with uneven windows")


def batch_norm(g, r):
    x, mean, var, w, b = r.inputs
    if r.attrs["training"] or mean is None or var is None:
        raise unsupported("batch_norm with batch statistics (training mode or track_running_stats=False)")
    c = x.shape[1]
    dt = g.dtype(x)
    scale = g.name(w) if w is not None else g.const(np.ones(c, dt))
    bias = g.name(b) if b is not None else g.const(np.zeros(c, dt))
    g.node("BatchNormalization", [g.name(x), scale, bias, g.name(mean), g.name(var)], r.outputs,
           epsilon=float(r.attrs["eps"]))


def layer_norm(g, r):
    x, w, b = r.inputs
    (y,) = r.outputs
    ns = list(r.attrs["normalized_shape"])
    eps = float(r.attrs["eps"])
    dt = g.dtype(x)
    if g.opset >= 17:
        scale = g.name(w) if w is not None else g.const(np.ones(ns, dt))
        ins = [g.name(x), scale] + ([g.name(b)] if b is not None else [])
        g.node("LayerNormalization", ins, [y], axis=-len(ns), epsilon=eps)
        return
    axes = list(range(-len(ns), 0))
    xn = g.name(x)
    mean = g.node("ReduceMean", [xn], axes=axes, keepdims=1)
    d = g.node("Sub", [xn, mean])
    var = g.node("ReduceMean", [g.node("Mul", [d, d])], axes=axes, keepdims=1)
    out = g.node("Div", [d, g.node("Sqrt", [g.node("Add", [var, g.const(np.asarray(eps, dt))])])])
    if w is not None:
        out = g.node("Mul", [out, g.name(w)])
    if b is not None:
        out = g.node("Add", [out, g.name(b)])
    g.node("Identity", [out], [y])


def group_norm(g, r):
    """Reshape to [N, G, -1], InstanceNormalization (per group), the input's shape again,
    then the per-channel affine."""
    x, w, b = r.inputs
    (y,) = r.outputs
    G, eps = r.attrs["num_groups"], float(r.attrs["eps"])
    dt = g.dtype(x)
    xn = g.name(x)
    xs = g.node("Reshape", [xn, g.ints([0, G, -1])])
    norm = g.node("InstanceNormalization", [xs, g.const(np.ones(G, dt)), g.const(np.zeros(G, dt))], epsilon=eps)
    out = g.node("Reshape", [norm, g.node("Shape", [xn])])
    per_channel = [x.shape[1]] + [1] * (x.dim() - 2)
    if w is not None:
        out = g.node("Mul", [out, g.node("Reshape", [g.name(w), g.ints(per_channel)])])
    if b is not None:
        out = g.node("Add", [out, g.node("Reshape", [g.name(b), g.ints(per_channel)])])
    g.node("Identity", [out], [y])


def embedding(g, r):
    w, idx = r.inputs
    g.node("Gather", [g.name(w), g.name(idx)], r.outputs, axis=0)


def scaled_dot_product_attention(g, r):
    """softmax(q k^T * scale + mask) v as MatMul/Mul/Add/Softmax/MatMul; the causal mask
    is a constant [L, S] of 0 and -inf (top-left aligned)."""
    q, k, v, mask = r.inputs
    (y,) = r.outputs
    a = r.attrs
    if a["dropout_p"] > 0:
        raise unsupported("scaled_dot_product_attention with dropout_p > 0")
    if a["enable_gqa"]:
        raise unsupported("scaled_dot_product_attention with enable_gqa=True")
    dt = g.dtype(q)
    n = k.dim()
    perm = list(range(n - 2)) + [n - 1, n - 2]
    scale = a["scale"] if a["scale"] >= 0 else 1.0 / math.sqrt(q.shape[-1])
    s = g.node("MatMul", [g.name(q), g.node("Transpose", [g.name(k)], perm=perm)])
    s = g.node("Mul", [s, g.const(np.asarray(scale, dt))])
    L, S = q.shape[-2], k.shape[-2]
    if a["is_causal"]:
        if (q.dim() - 2) in g.dyn_dims(q) or (n - 2) in g.dyn_dims(k):
            raise unsupported("causal attention over a dynamic sequence axis")
        m = np.triu(np.full((L, S), -np.inf, dtype=dt), 1)
        s = g.node("Add", [s, g.const(m)])
    if mask is not None:
        if g.dtype(mask) == np.bool_:
            s = g.node("Where", [g.name(mask), s, g.const(np.asarray(-np.inf, dt))])
        else:
            s = g.node("Add", [s, g.cast(mask, dt)])
    p = g.node("Softmax", [s], axis=-1)
    g.node("MatMul", [p, g.name(v)], [y])


# kernels::RnnMode: Tanh, Relu, Lstm, Gru -> (ONNX op, gate blocks, PyTorch's blocks in ONNX's order)
_RNN = {0: ("RNN", 1, [0]), 1: ("RNN", 1, [0]), 2: ("LSTM", 4, [0, 3, 1, 2]), 3: ("GRU", 3, [1, 0, 2])}


def rnn_layer(g, r):
    """One layer (both directions) of nn.RNN/LSTM/GRU as ONNX RNN/LSTM/GRU. PyTorch's gate
    blocks are LSTM (i, f, g, o) and GRU (r, z, n), ONNX's (i, o, f, c) and (z, r, h): the
    weights are reordered in the graph (Split + Concat on the parameters, which keep their
    state_dict names; runtimes fold it). ONNX's B is [Wb, Rb]; PyTorch's GRU applies the
    reset gate after the recurrent product (linear_before_reset=1). ONNX's Y [T, D, B, H]
    becomes PyTorch's output [T, B, D*H]."""
    a = r.attrs
    op, G, order = _RNN[a["mode"]]
    x, hx, cx = r.inputs[:3]
    weights = r.inputs[3:]
    D = 2 if a["bidirectional"] else 1
    per = len(weights) // D
    out, hn = r.outputs[:2]
    H = hn.shape[-1]
    if any(weights[d * per + 4] is not None for d in range(D)):
        raise unsupported("LSTM with proj_size > 0")

    def reorder(t):  # PyTorch's gate blocks along dim 0 -> ONNX's
        if G == 1:
            return g.name(t)
        blocks = g.node("Split", [g.name(t), g.ints([H] * G)], n_out=G, axis=0)
        return g.node("Concat", [blocks[i] for i in order], axis=0)

    def per_dir(parts):
        parts = [g.node("Unsqueeze", [p, g.ints([0])]) for p in parts]
        return parts[0] if D == 1 else g.node("Concat", parts, axis=0)

    W = per_dir([reorder(weights[d * per]) for d in range(D)])
    R = per_dir([reorder(weights[d * per + 1]) for d in range(D)])
    has_bias = weights[2] is not None
    B = per_dir([g.node("Concat", [reorder(weights[d * per + 2]), reorder(weights[d * per + 3])], axis=0)
                 for d in range(D)]) if has_bias else ""
    xn = g.name(x)
    if a["batch_first"]:
        xn = g.node("Transpose", [xn], perm=[1, 0, 2])
    ins = [xn, W, R, B, "", g.name(hx) if hx is not None else ""]
    attrs = {"hidden_size": H, "direction": "bidirectional" if D == 2 else "forward"}
    if op == "LSTM":
        ins.append(g.name(cx) if cx is not None else "")
    elif op == "GRU":
        attrs["linear_before_reset"] = 1
    else:
        attrs["activations"] = ["Tanh" if a["mode"] == 0 else "Relu"] * D
    while ins and ins[-1] == "":
        ins.pop()
    res = g.node(op, ins, n_out=len(r.outputs), **attrs)
    # Y [T, D, B, H] -> [T, B, D*H]
    y = g.node("Reshape", [g.node("Transpose", [res[0]], perm=[0, 2, 1, 3]), g.ints([0, 0, -1])])
    if a["batch_first"]:
        y = g.node("Transpose", [y], perm=[1, 0, 2])
    g.node("Identity", [y], [out])
    for onnx_out, t in zip(res[1:], r.outputs[1:]):
        g.node("Identity", [onnx_out], [t])


OPS = {
    "linear": linear,
    "matmul": matmul,
    "add": _add_sub("Add"),
    "sub": _add_sub("Sub"),
    "mul": _binary("Mul"),
    "div": div,
    "relu": _unary("Relu"),
    "sigmoid": _unary("Sigmoid"),
    "tanh": _unary("Tanh"),
    "neg": _unary("Neg"),
    "erf": _unary("Erf"),
    "exp": _unary("Exp"),
    "abs": _unary("Abs"),
    "log": _unary("Log"),
    "sqrt": _unary("Sqrt"),
    "rsqrt": rsqrt,
    "pow": _binary("Pow"),
    "leaky_relu": leaky_relu,
    "elu": elu,
    "softplus": softplus,
    "conv_transpose": conv_transpose,
    "pad": pad,
    "upsample_nearest": upsample_nearest,
    "upsample_linear": upsample_linear,
    "group_norm": group_norm,
    "silu": silu,
    "to_dtype": to_dtype,
    "sum_mean": sum_mean,
    "avg_pool2d": avg_pool2d,
    "adaptive_avg_pool2d": adaptive_avg_pool2d,
    "gelu": gelu,
    "softmax": _softmax("Softmax"),
    "log_softmax": _softmax("LogSoftmax"),
    "reshape": reshape,
    "expand": expand,
    "permute": permute,
    "transpose": transpose,
    "slice": slice_,
    "select": select,
    "identity": identity,
    "cat": cat,
    "split": split,
    "conv": conv,
    "max_pool2d": max_pool2d,
    "batch_norm": batch_norm,
    "layer_norm": layer_norm,
    "embedding": embedding,
    "scaled_dot_product_attention": scaled_dot_product_attention,
    "rnn_layer": rnn_layer,
}
