"""ONNX export, PyTorch's `torch.onnx.export`:

    tg.onnx.export(model, (x,), "model.onnx", input_names=["input"], output_names=["output"],
                   dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})

The forward pass is recorded by the C++ engine (csrc/autograd/trace.h: each traced op
appends its kind, input and output tensors and attributes while a recorder is installed on
the thread); this module turns the records into ONNX nodes (the op table in _symbolic.py)
and writes the ModelProto with the `onnx` package (`pip install tinygrad_cpp[onnx]`),
which is imported only when export is called.

Parameters and buffers become initializers named by their state_dict names; any other
tensor the graph reads that no traced op produced (a Python number, `tg.arange(T)`, a
mask) becomes a constant initializer. The forward is traced a second time with each
dynamic axis of the inputs one longer and other input values: every dim that changed
between the two traces is dynamic, so reshapes never bake in the traced batch size, and an
untraced tensor whose shape or values changed was computed from the inputs by an op the
recorder does not see (an error, rather than a silently baked constant).
"""
import os
import warnings

import numpy as np

from .. import _C

__all__ = ["export", "is_in_onnx_export"]

_DEFAULT_OPSET = 17
_MIN_OPSET, _MAX_OPSET = 13, 20
_exporting = False


def is_in_onnx_export():
    """True while tg.onnx.export is tracing a model (PyTorch's torch.onnx.is_in_onnx_export)."""
    return _exporting


def _type_error(name, expected, value):
    raise TypeError(f"export(): argument '{name}' must be {expected}, not {type(value).__name__}")


def _check_args(model, args, f, input_names, output_names, dynamic_axes, opset_version):
    from ..nn import Module
    if not isinstance(model, Module):
        _type_error("model", "a tinygrad_cpp.nn.Module", model)
    if isinstance(args, _C.Tensor):
        args = (args,)
    elif isinstance(args, list):
        args = tuple(args)
    if not isinstance(args, tuple):
        _type_error("args", "a Tensor or a tuple of Tensors", args)
    if args and isinstance(args[-1], dict):  # PyTorch's trailing kwargs dict: only an empty one here
        if args[-1]:
            raise TypeError("export(): keyword arguments for the model (a trailing dict in args) are not supported")
        args = args[:-1]
    for i, a in enumerate(args):
        if not isinstance(a, _C.Tensor):
            raise TypeError(f"export(): args[{i}] must be a Tensor, not {type(a).__name__}")
    if not (isinstance(f, (str, os.PathLike)) or hasattr(f, "write")):
        _type_error("f", "a path or a binary file object", f)
    for name, names in (("input_names", input_names), ("output_names", output_names)):
        if names is None:
            continue
        if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
            _type_error(name, "a list of str", names)
        if len(set(names)) != len(names):
            raise ValueError(f"export(): {name} has duplicates: {list(names)}")
    if input_names is not None and len(input_names) > len(args):
        raise ValueError(f"export(): {len(input_names)} input_names given for {len(args)} inputs")
    if dynamic_axes is not None:
        if not isinstance(dynamic_axes, dict):
            _type_error("dynamic_axes", "a dict", dynamic_axes)
        for k, v in dynamic_axes.items():
            if not isinstance(k, str):
                raise TypeError(f"export(): dynamic_axes keys must be input/output names (str), not {type(k).__name__}")
            if isinstance(v, dict):
                ok = all(isinstance(a, int) and not isinstance(a, bool) and isinstance(n, str) for a, n in v.items())
            elif isinstance(v, (list, tuple)):
                ok = all(isinstance(a, int) and not isinstance(a, bool) for a in v)
            else:
                ok = False
            if not ok:
                raise TypeError(f"export(): dynamic_axes['{k}'] must be a dict {{axis: name}} or a list of axes")
    if opset_version is None:
        opset_version = _DEFAULT_OPSET
    if not isinstance(opset_version, int) or isinstance(opset_version, bool):
        _type_error("opset_version", "int", opset_version)
    if not _MIN_OPSET <= opset_version <= _MAX_OPSET:
        raise ValueError(f"export(): opset_version {opset_version} is not supported (use {_MIN_OPSET} to {_MAX_OPSET})")
    return args, opset_version


def _flatten_outputs(out):
    """The model's result as a flat list of tensors (None entries dropped, as PyTorch does)."""
    if isinstance(out, _C.Tensor):
        return [out]
    if out is None:
        return []
    if isinstance(out, (list, tuple)):
        res = []
        for o in out:
            res += _flatten_outputs(o)
        return res
    if isinstance(out, dict):
        res = []
        for o in out.values():
            res += _flatten_outputs(o)
        return res
    raise TypeError(f"export(): the model returned a {type(out).__name__}; only tensors (in tuples, lists "
                    "or dicts) can be exported")


def _trace(model, args):
    """Runs the model on `args` with the recorder on; returns (records, graph inputs, outputs).
    Float inputs run as leaves requiring grad, so an untraced op on their path leaves a
    grad_fn that names it."""
    from ..grad_mode import enable_grad
    inputs = []
    for a in args:
        x = a.detach()
        if x.dtype.is_floating_point:
            x.requires_grad_(True)
        inputs.append(x)
    global _exporting
    _exporting = True
    _C._trace_start()
    try:
        with enable_grad():
            out = model(*inputs)
    finally:
        records = _C._trace_stop()
        _exporting = False
    return records, inputs, _flatten_outputs(out)


def _varied(args, dyn_inputs):
    """`args` for the second trace: each dynamic axis one longer (its first slice repeated)
    and other values (floats scaled and shifted, others rolled by one along their last
    axis, so indices stay valid)."""
    out = []
    for i, a in enumerate(args):
        arr = a.detach().numpy()
        for ax in sorted(dyn_inputs.get(i, ())):
            ax = ax % arr.ndim
            arr = np.concatenate([arr, np.take(arr, [0], axis=ax)], axis=ax)
        if np.issubdtype(arr.dtype, np.floating):
            arr = arr * 1.25 + 0.5
        elif arr.ndim:
            arr = np.roll(arr, 1, axis=-1)
        out.append(_C.from_numpy(np.ascontiguousarray(arr)))
    return out


def _axes_of(spec, name):
    """dynamic_axes entry -> {axis: dim name}."""
    if isinstance(spec, dict):
        return dict(spec)
    return {a: f"{name}_dynamic_axes_{k + 1}" for k, a in enumerate(spec)}


def export(model, args=(), f=None, *, kwargs=None, export_params=True, verbose=None, input_names=None,
           output_names=None, opset_version=None, dynamic_axes=None, keep_initializers_as_inputs=False,
           do_constant_folding=True, training=None, operator_export_type=None, custom_opsets=None,
           export_modules_as_functions=False, dynamo=False, dynamic_shapes=None, external_data=True,
           report=False, optimize=False, verify=False, profile=False, dump_exported_program=False,
           artifacts_dir=".", fallback=False):
    """Exports `model` run on `args` (a Tensor or a tuple of Tensors) to the ONNX file `f`
    (a path or a binary file object); PyTorch's torch.onnx.export. The model is traced in
    evaluation mode (dropout off, batch norm with running statistics), as PyTorch does
    by default. Returns None.

    Accepted and ignored, as they change nothing here: do_constant_folding (the graph has
    no foldable subgraphs beyond weight reorderings, which runtimes fold), training,
    operator_export_type, keep_initializers_as_inputs, custom_opsets,
    export_modules_as_functions, dynamo (one exporter serves both), external_data, report,
    optimize, verify, profile, dump_exported_program, artifacts_dir, fallback."""
    if f is None:
        raise TypeError("export() missing required argument 'f' (a path or a binary file object)")
    if kwargs:
        raise TypeError("export(): kwargs for the model are not supported")
    if dynamic_shapes is not None:
        raise ValueError("export(): dynamic_shapes (the dynamo exporter's) is not supported; use dynamic_axes")
    for name, v in (("export_params", export_params), ("do_constant_folding", do_constant_folding),
                    ("keep_initializers_as_inputs", keep_initializers_as_inputs)):
        if not isinstance(v, bool):
            _type_error(name, "bool", v)
    args, opset = _check_args(model, args, f, input_names, output_names, dynamic_axes, opset_version)
    try:
        import onnx  # noqa: F401  (the optional dependency, only now)
    except ImportError as e:
        raise ImportError("tinygrad_cpp.onnx.export needs the onnx package: pip install 'tinygrad_cpp[onnx]'") from e
    from . import _graph

    n_in = len(args)
    in_names = list(input_names or []) + [f"input_{i}" for i in range(len(input_names or []), n_in)]
    dynamic_axes = {k: _axes_of(v, k) for k, v in (dynamic_axes or {}).items()}
    dyn_inputs = {i: set(dynamic_axes[n]) for i, n in enumerate(in_names) if n in dynamic_axes}

    was_training = [(m, m.training) for m in model.modules()]
    model.train(False)
    try:
        records, inputs, outputs = _trace(model, args)
        # The second trace finds the dynamic dims (those that change with the dynamic axes)
        # and the tensors computed from the inputs by untraced ops (their values change).
        try:
            second = _trace(model, _varied(args, dyn_inputs))
        except Exception as e:  # the model refused other sizes or values
            second = None
            warnings.warn(f"onnx.export: tracing with other input sizes/values failed ({e}); the graph's "
                          "shapes hold the traced sizes and untraced ops on the inputs go unnoticed")
    finally:
        for m, t in was_training:
            m.training = t

    if output_names is not None and len(output_names) > len(outputs):
        raise ValueError(f"export(): {len(output_names)} output_names given for {len(outputs)} outputs")
    out_names = list(output_names or []) + [f"output_{i}" for i in range(len(output_names or []), len(outputs))]
    params = {}
    for name, t in model.state_dict(keep_vars=True).items():
        if isinstance(t, _C.Tensor):
            params.setdefault(_C._trace_id(t), (name, t))
    proto = _graph.build(records, inputs, in_names, outputs, out_names, params, dynamic_axes, opset,
                         second, export_params)
    if verbose:
        try:
            from onnx.printer import to_text
        except ImportError:  # onnx < 1.14
            to_text = lambda m: onnx.helper.printable_graph(m.graph)  # noqa: E731
        print(to_text(proto))
    data = proto.SerializeToString()
    if hasattr(f, "write"):
        f.write(data)
    else:
        with open(os.fspath(f), "wb") as fh:
            fh.write(data)

