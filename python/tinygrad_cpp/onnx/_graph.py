"""Turns the engine's trace records into an ONNX ModelProto (the ops: _symbolic.py)."""
import re
import warnings

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .. import _C

_NP = {"float32": np.float32, "float64": np.float64, "int64": np.int64, "bool": np.bool_, "float16": np.float16,
       "int32": np.int32, "int8": np.int8, "uint8": np.uint8}


def np_dtype(t):
    name = str(t.dtype).rsplit(".", 1)[-1]
    if name not in _NP:
        raise RuntimeError(f"ONNX export of tensors of dtype {name} is not supported")
    return np.dtype(_NP[name])


def onnx_type(dt):
    return helper.np_dtype_to_tensor_dtype(np.dtype(dt))


def unsupported(op):
    return RuntimeError(f"ONNX export of {op} is not supported")


def _op_of_grad_fn(fn):
    """'CumsumBackward0' -> 'cumsum' (the op an untraced tensor came from)."""
    name = fn.name() if callable(getattr(fn, "name", None)) else type(fn).__name__
    name = re.sub(r"Backward\d*$", "", name)
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name).lower() or "an untraced op"


class Record:
    __slots__ = ("op", "inputs", "outputs", "attrs")

    def __init__(self, rec):
        self.op, self.inputs, self.outputs, self.attrs = rec


class Graph:
    def __init__(self, opset, params, export_params):
        self.opset = opset
        self.params = params            # trace id -> (state_dict name, tensor)
        self.export_params = export_params
        self.nodes, self.inits, self.param_inputs = [], [], []
        self.names = {}                 # trace id -> ONNX value name
        self.dyn = {}                   # trace id -> set of dynamic dims
        self.preferred = {}             # trace id -> (graph output name, index of the record that binds it last)
        self.batch_consts = set()       # ids of untraced tensors whose shape depends on a dynamic axis
        self.input_consts = set()       # ids of untraced tensors whose values depend on the inputs
        self.record_index = 0
        self._n = 0
        self._const_cache = {}

    # ---- names ---------------------------------------------------------------------------
    def fresh(self, base):
        self._n += 1
        return f"/{base}_{self._n}_output_0"

    def name(self, t):
        """The value name of tensor `t`: bound by an op, a graph input, a parameter (an
        initializer under its state_dict name) or a constant."""
        tid = _C._trace_id(t)
        if tid in self.names:
            return self.names[tid]
        if tid in self.params:
            pname, p = self.params[tid]
            arr = p.detach().numpy()
            if self.export_params:
                self.inits.append(numpy_helper.from_array(arr, pname))
            else:
                self.param_inputs.append(helper.make_tensor_value_info(pname, onnx_type(arr.dtype), arr.shape))
            self.names[tid] = pname
            return pname
        if t.grad_fn is not None:
            raise unsupported(_op_of_grad_fn(t.grad_fn))
        if tid in self.batch_consts:
            raise RuntimeError("ONNX export: a tensor made by an untraced op (creation, indexing or a Python "
                               f"computation) has a shape {list(t.shape)} that depends on a dynamic axis; it "
                               "would be baked into the graph as a constant")
        if tid in self.input_consts:
            raise RuntimeError(f"ONNX export: a tensor of shape {list(t.shape)} was computed from the inputs by "
                               "an op that is not traced (one without autograd history, e.g. on integer "
                               "tensors); ONNX export of that op is not supported")
        name = self.const(t.detach().numpy(), "onnx::Constant")
        self.names[tid] = name
        return name

    def const(self, arr, base="onnx::Constant"):
        arr = np.asarray(arr)
        key = (arr.dtype.str, arr.shape, arr.tobytes()) if arr.size <= 64 else None
        if key is not None and key in self._const_cache:
            return self._const_cache[key]
        self._n += 1
        name = f"{base}_{self._n}"
        self.inits.append(numpy_helper.from_array(arr, name))
        if key is not None:
            self._const_cache[key] = name
        return name

    def ints(self, values):
        return self.const(np.asarray(list(values), dtype=np.int64))

    def bind(self, t, base):
        """Names the value of `t` from here on (a graph output's name if this record is the
        last to produce it)."""
        tid = _C._trace_id(t)
        pref = self.preferred.get(tid)
        name = pref[0] if pref and pref[1] == self.record_index else self.fresh(base)
        self.names[tid] = name
        return name

    # ---- facts about tensors -------------------------------------------------------------
    @staticmethod
    def shape(t):
        return tuple(t.shape)

    def dyn_dims(self, t):
        return self.dyn.get(_C._trace_id(t), set())

    @staticmethod
    def dtype(t):
        return np_dtype(t)

    @staticmethod
    def onnx_type(dt):
        return onnx_type(dt)

    def is_bound(self, t):
        return _C._trace_id(t) in self.names

    def cast(self, t, dt):
        """t's value as dtype dt: a constant converted in place, else a Cast node."""
        dt = np.dtype(dt)
        if self.dtype(t) == dt:
            return self.name(t)
        tid = _C._trace_id(t)
        if tid not in self.names and tid not in self.params and t.grad_fn is None and tid not in self.batch_consts \
                and tid not in self.input_consts:
            return self.const(t.detach().numpy().astype(dt))
        return self.node("Cast", [self.name(t)], to=onnx_type(dt))

    # ---- nodes ---------------------------------------------------------------------------
    def node(self, op, inputs, outputs=None, n_out=1, **attrs):
        """Adds an ONNX node. outputs: the tensors it produces (bound to its outputs) or None
        for fresh values; returns the output name (a list when several)."""
        names = []
        if outputs is None:
            names = [self.fresh(op) for _ in range(n_out)]
        else:
            for o in outputs:
                names.append("" if o is None else self.bind(o, op))
        self.nodes.append(helper.make_node(op, list(inputs), names, name=f"/{op}_{len(self.nodes)}", **attrs))
        return names[0] if len(names) == 1 else names


def _value_info(name, arr_dtype, shape, dims):
    """A graph input/output: dims maps an axis to its symbolic name."""
    shp = [dims.get(i, s) for i, s in enumerate(shape)]
    return helper.make_tensor_value_info(name, onnx_type(arr_dtype), shp)


def build(records, inputs, in_names, outputs, out_names, params, dynamic_axes, opset, second, export_params):
    from ._symbolic import OPS

    recs = [Record(r) for r in records]
    g = Graph(opset, params, export_params)

    # dynamic dims: those that differ between the two traces
    if second is not None:
        recs2 = [Record(r) for r in second[0]]
        if len(recs2) != len(recs) or any(a.op != b.op for a, b in zip(recs, recs2)):
            warnings.warn("onnx.export: the model ran different ops for other sizes of its dynamic axes; "
                          "the graph's shapes hold the traced sizes")
            recs2 = None
    else:
        recs2 = None
    produced = set()
    for r in recs:
        for o in r.outputs:
            if o is not None:
                produced.add(_C._trace_id(o))
    known = {_C._trace_id(x) for x in inputs} | set(params) | produced
    if recs2 is not None:
        for r, r2 in zip(recs, recs2):
            for o, o2 in zip(r.outputs, r2.outputs):
                if o is None or o2 is None:
                    continue
                s, s2 = tuple(o.shape), tuple(o2.shape)
                d = {i for i in range(len(s)) if i >= len(s2) or s[i] != s2[i]}
                g.dyn[_C._trace_id(o)] = d
            for t, t2 in zip(r.inputs, r2.inputs):
                if t is None or t2 is None or _C._trace_id(t) in known:
                    continue
                if tuple(t.shape) != tuple(t2.shape):
                    g.batch_consts.add(_C._trace_id(t))
                elif not np.array_equal(t.detach().numpy(), t2.detach().numpy(), equal_nan=True):
                    g.input_consts.add(_C._trace_id(t))

    # graph inputs
    graph_inputs = []
    for x, name in zip(inputs, in_names):
        g.names[_C._trace_id(x)] = name
        dims = dynamic_axes.get(name, {})
        g.dyn[_C._trace_id(x)] = {a % max(x.dim(), 1) for a in dims}
        graph_inputs.append(_value_info(name, np_dtype(x), x.shape, {a % max(x.dim(), 1): n for a, n in dims.items()}))
    for k in dynamic_axes:
        if k not in in_names and k not in out_names:
            warnings.warn(f"onnx.export: dynamic_axes names '{k}', which is neither an input nor an output")

    # graph outputs take the names of the values that produce them (the last record binding each)
    last = {}
    for i, r in enumerate(recs):
        for o in r.outputs:
            if o is not None:
                last[_C._trace_id(o)] = i
    for t, name in zip(outputs, out_names):
        tid = _C._trace_id(t)
        if tid in last and tid not in g.preferred:
            g.preferred[tid] = (name, last[tid])

    for i, r in enumerate(recs):
        g.record_index = i
        handler = OPS.get(r.op)
        if handler is None:
            raise unsupported(r.op)
        handler(g, r)

    graph_outputs = []
    for t, name in zip(outputs, out_names):
        src = g.name(t)
        if src != name:  # an input passed through, or one tensor returned twice
            g.nodes.append(helper.make_node("Identity", [src], [name], name=f"/Identity_{len(g.nodes)}"))
        dims = {a % max(t.dim(), 1): n for a, n in _axes(dynamic_axes.get(name, {})).items()}
        for d in g.dyn_dims(t):
            dims.setdefault(d, f"{name}_dim_{d}")
        graph_outputs.append(_value_info(name, np_dtype(t), t.shape, dims))

    graph = helper.make_graph(g.nodes, "main_graph", graph_inputs + g.param_inputs, graph_outputs,
                              initializer=g.inits)
    from .. import __version__
    opsets = [helper.make_opsetid("", opset)]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="tinygrad_cpp",
                              producer_version=__version__)
    model.ir_version = helper.find_min_ir_version_for(opsets)
    onnx.checker.check_model(model)
    return model


def _axes(spec):
    return spec if isinstance(spec, dict) else {}
