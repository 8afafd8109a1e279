"""``quantize_dynamic``: PyTorch's eager-mode dynamic quantization of a model's Linear
layers (``torch.ao.quantization.quantize_dynamic``)."""
import copy

from ... import _C
from ..._quantized import qdtype, qint8, quint8
from ...nn.modules.linear import Linear as _FloatLinear
from ...nn.modules.module import Module
from ..nn.quantized.dynamic import Linear as _DynamicLinear
from .qconfig import default_dynamic_qconfig

# float module type -> dynamically quantized type (PyTorch's default dynamic mapping,
# restricted to what tinygrad_cpp quantizes).
DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS = {_FloatLinear: _DynamicLinear}


def get_default_dynamic_quant_module_mappings():
    return dict(DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS)


def _default_qconfig(dtype, unknown):
    if dtype is qint8:
        return default_dynamic_qconfig
    if dtype is quint8:
        raise AssertionError(f"The only supported dtypes for dynamic quantized linear are qint8 and float16, "
                             f"got: {dtype!r}")
    if isinstance(dtype, _C.dtype) and repr(dtype) == "tinygrad_cpp.float16":
        raise NotImplementedError("quantize_dynamic: float16 dynamic quantization is not implemented in "
                                  "tinygrad_cpp (dtype=qint8 only)")
    raise unknown


def _spec_dict(qconfig_spec, dtype):
    # PyTorch's rules: with a dict, its qconfigs decide and dtype is not consulted.
    if qconfig_spec is None:
        default = _default_qconfig(dtype, ValueError(
            f"Don't know how to quantize with default settings for {dtype}. Provide full qconfig please"))
        return {_FloatLinear: default}
    if isinstance(qconfig_spec, (set, frozenset)):
        for k in qconfig_spec:
            if not isinstance(k, (type, str)):
                raise TypeError(f"quantize_dynamic(): qconfig_spec entries must be module types or module names, "
                                f"not {type(k).__name__}")
        default = _default_qconfig(dtype, RuntimeError("Unknown dtype specified for quantize_dynamic: ", str(dtype)))
        return {k: default for k in qconfig_spec}
    if isinstance(qconfig_spec, dict):
        for k in qconfig_spec:
            if not isinstance(k, (type, str)):
                raise TypeError(f"quantize_dynamic(): qconfig_spec keys must be module types or module names, "
                                f"not {type(k).__name__}")
        return dict(qconfig_spec)
    raise TypeError(f"quantize_dynamic(): argument 'qconfig_spec' must be a set or dict of module types or names, "
                    f"not {type(qconfig_spec).__name__}")


def _propagate(module, spec, parent_qconfig, prefix, out):
    qconfig = spec.get(type(module), parent_qconfig)
    qconfig = spec.get(prefix, qconfig)
    out[id(module)] = qconfig
    for name, child in module.named_children():
        _propagate(child, spec, qconfig, prefix + ("." if prefix else "") + name, out)


def _convert(module, mapping, qconfigs):
    for name, child in list(module.named_children()):
        if type(child) in mapping and qconfigs.get(id(child)) is not None:
            setattr(module, name, mapping[type(child)].from_float(child))
        else:
            _convert(child, mapping, qconfigs)


def quantize_dynamic(model, qconfig_spec=None, dtype=qint8, mapping=None, inplace=False):
    """Replaces the ``nn.Linear`` layers of ``model`` that ``qconfig_spec`` selects by
    dynamically quantized ones (``tg.ao.nn.quantized.dynamic.Linear``: int8 per-channel
    weights, activations quantized per batch, an int8 GEMM) and returns the model, in
    eval mode.

    qconfig_spec: None (every Linear), a set of module types and/or qualified module names
    (``{nn.Linear}``, ``{"fc1"}``), or a dict mapping those to a qconfig (None excludes);
    a type covers the submodules of modules of that type, as in PyTorch. Only exact
    ``nn.Linear`` layers are swapped (not subclasses such as MultiheadAttention's
    out_proj). dtype: ``tg.qint8`` only (``quint8`` raises AssertionError like PyTorch;
    float16 dynamic quantization is not implemented). inplace=False quantizes a deep copy."""
    if not isinstance(model, Module):
        raise TypeError(f"quantize_dynamic(): argument 'model' must be nn.Module, not {type(model).__name__}")
    if not isinstance(inplace, bool):
        raise TypeError(f"quantize_dynamic(): argument 'inplace' must be bool, not {type(inplace).__name__}")
    if not isinstance(dtype, (qdtype, _C.dtype)):
        raise TypeError(f"quantize_dynamic(): argument 'dtype' must be a dtype, not {type(dtype).__name__}")
    spec = _spec_dict(qconfig_spec, dtype)
    if mapping is None:
        mapping = DEFAULT_DYNAMIC_QUANT_MODULE_MAPPINGS
    elif not isinstance(mapping, dict):
        raise TypeError(f"quantize_dynamic(): argument 'mapping' must be a dict, not {type(mapping).__name__}")
    if not inplace:
        model = copy.deepcopy(model)
    model.eval()
    qconfigs = {}
    _propagate(model, spec, None, "", qconfigs)
    if type(model) in mapping and qconfigs.get(id(model)) is not None:
        return mapping[type(model)].from_float(model)  # PyTorch swaps a bare Linear too
    _convert(model, mapping, qconfigs)
    return model


__all__ = ["quantize_dynamic", "get_default_dynamic_quant_module_mappings"]
