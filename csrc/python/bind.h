#pragma once
// Shared helpers of the binding files: argument conversion only, no logic.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>

#include "core/tensor.h"

namespace py = pybind11;

// A Tensor parameter refuses None (pybind11 would hand the op a null pointer), so a call
// like tg.add(x, None) raises TypeError instead of crashing. Parameters that may be
// absent are declared as OptTensor.
namespace pybind11::detail {
template <>
class type_caster<tg::Tensor> : public copyable_holder_caster<tg::TensorImpl, tg::Tensor> {
 public:
  bool load(handle src, bool convert) {
    return !src.is_none() && copyable_holder_caster<tg::TensorImpl, tg::Tensor>::load(src, convert);
  }
};
}  // namespace pybind11::detail

namespace tg::bind {
// PyTorch's parser is stricter than pybind11's converting casters: a `bool` argument takes
// only True/False (not 1, None or numpy.bool_), an `int` argument takes ints and what has
// __index__ (numpy integers, one-element integer tensors) but neither bools nor floats.
// Binding lambdas declare such parameters as Bool / Int; both convert to the C++ type.
struct Bool {
  bool v = false;
  Bool(bool b = false) : v(b) {}  // NOLINT: implicit on purpose, so defaults read `= false`
  operator bool() const { return v; }
};
struct Int {
  int64_t v = 0;
  Int(int64_t i = 0) : v(i) {}  // NOLINT
  operator int64_t() const { return v; }
};
}  // namespace tg::bind

namespace pybind11::detail {
template <>
struct type_caster<tg::bind::Bool> {
  PYBIND11_TYPE_CASTER(tg::bind::Bool, const_name("bool"));
  bool load(handle src, bool) {
    if (src.ptr() != Py_True && src.ptr() != Py_False) return false;
    value = tg::bind::Bool(src.ptr() == Py_True);
    return true;
  }
  static handle cast(tg::bind::Bool b, return_value_policy, handle) {
    return handle(b.v ? Py_True : Py_False).inc_ref();
  }
};
template <>
struct type_caster<tg::bind::Int> {
  PYBIND11_TYPE_CASTER(tg::bind::Int, const_name("int"));
  bool load(handle src, bool) {
    PyObject* p = src.ptr();
    if (!p || PyBool_Check(p) || PyFloat_Check(p) || !PyIndex_Check(p)) return false;
    object i = reinterpret_steal<object>(PyNumber_Index(p));
    if (!i) {
      PyErr_Clear();
      return false;
    }
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(i.ptr(), &overflow);
    if (overflow || (v == -1 && PyErr_Occurred())) {
      PyErr_Clear();
      return false;
    }
    value = tg::bind::Int((int64_t)v);
    return true;
  }
  static handle cast(tg::bind::Int i, return_value_policy, handle) { return PyLong_FromLongLong(i.v); }
};
}  // namespace pybind11::detail

namespace tg::bind {

using TensorClass = py::class_<TensorImpl, Tensor>;

// A Tensor argument that may be None (null inside the core).
using OptTensor = std::optional<Tensor>;
inline Tensor or_null(const OptTensor& t) { return t ? *t : nullptr; }

// A Tensor, or a Python bool/int/float wrapped as a 0-d tensor; nullopt for other types.
std::optional<Tensor> as_tensor(py::handle obj);
// Like as_tensor, but raises TypeError naming `what` for other types.
Tensor to_tensor(py::handle obj, const char* what);
// A Tensor argument that takes no Python number: TypeError in PyTorch's words,
// "maximum(): argument 'other' (position 2) must be Tensor, not float".
Tensor tensor_arg(py::handle obj, const char* fn, const char* name, int position);
// The two operands of a binary op whose `input` PyTorch also takes as a Python number
// (add, sub, mul, div, remainder, pow: its Scalar overloads). Numbers become 0-d wrapped
// tensors; `pair_ok` says whether two numbers are a valid call (add: yes; remainder: no),
// else TypeError in PyTorch's words.
std::pair<Tensor, Tensor> binary_operands(py::handle input, py::handle other, const char* fn,
                                          const char* other_name, bool pair_ok);
// The Python type name of obj, for messages.
std::string type_name(py::handle obj);

// A Python object owned from C++ (hooks, custom Functions); the last reference may go on a
// thread that does not hold the GIL (the engine runs without it), so the deleter takes it
// (bind_hooks.cpp).
std::shared_ptr<py::object> py_ref(py::object o);
// `*size` arguments: either several ints or one tuple/list of ints.
Shape shape_from_args(const py::args& args);
Shape shape_from_seq(py::handle seq);
// `dim` arguments: None -> {} (all dims), int -> {d}, tuple/list -> dims.
std::vector<int64_t> dims_arg(py::handle dim);
// A `dim` that PyTorch requires (logsumexp, movedim): like dims_arg, but None is a TypeError
// naming `fn` and the argument `name`.
std::vector<int64_t> required_dims_arg(py::handle dim, const char* fn, const char* name);
// An int argument's value as PyTorch's parser reads it: Python ints and what has __index__
// (numpy integers, one-element integer tensors), not bools (nor lists, though a tensor is one).
bool is_scalar_index(py::handle h);
// Its value; TypeError naming `fn` and the argument `name` for anything else.
int64_t int_arg(py::handle obj, const char* fn, const char* name);
DType dtype_arg(py::handle dtype, DType fallback);
// PyTorch's `int[n]` arguments: an int (repeated n times) or a tuple/list of ints; anything
// else is TypeError naming the function `fn` and the argument.
std::vector<int64_t> int_list_arg(py::handle obj, const char* fn, const char* name, size_t n);

// The one Python object per dtype, so `t.dtype is tg.float32` holds.
py::object dtype_object(DType d);
void bind_dtype(py::module_& m);

py::array to_numpy(const Tensor& t);
Tensor from_numpy(py::array a);

// Runs f without the GIL when the work is large enough to be worth the switch.
template <class F>
auto maybe_release(int64_t work, F&& f) {
  if (work >= (1 << 16)) {
    py::gil_scoped_release r;
    return f();
  }
  return f();
}

// Binds f as both a Tensor method and a module function (first argument "input").
template <class F, class... Extra>
void def_both(TensorClass& cls, py::module_& m, const char* name, F&& f, const Extra&... extra) {
  cls.def(name, f, extra...);
  m.def(name, f, py::arg("input"), extra...);
}

void bind_tensor(py::module_& m, TensorClass& cls);
void bind_creation(py::module_& m, TensorClass& cls);
void bind_elementwise(py::module_& m, TensorClass& cls);
void bind_reduce(py::module_& m, TensorClass& cls);
void bind_distributed(py::module_& m);
void bind_shape(py::module_& m, TensorClass& cls);
void bind_linalg(py::module_& m, TensorClass& cls);
void bind_autograd(py::module_& m, TensorClass& cls);
void bind_index(py::module_& m, TensorClass& cls);
void bind_loss(py::module_& m, TensorClass& cls);
void bind_optim(py::module_& m, TensorClass& cls);
void bind_random(py::module_& m, TensorClass& cls);
void bind_conv(py::module_& m, TensorClass& cls);
void bind_pool(py::module_& m, TensorClass& cls);
void bind_batchnorm(py::module_& m, TensorClass& cls);
void bind_pad(py::module_& m, TensorClass& cls);
void bind_upsample(py::module_& m, TensorClass& cls);
void bind_seq(py::module_& m, TensorClass& cls);
void bind_embedding(py::module_& m, TensorClass& cls);
void bind_attention(py::module_& m, TensorClass& cls);
void bind_rnn(py::module_& m, TensorClass& cls);
void bind_quant(py::module_& m, TensorClass& cls);
void bind_hooks(py::module_& m, TensorClass& cls);  // after bind_autograd (adds to Node)
void bind_function(py::module_& m, TensorClass& cls);  // custom Functions, anomaly mode
void bind_trace(py::module_& m);  // the forward-pass recorder of tg.onnx.export
void bind_config(py::module_& m);  // _build_info, _cpu_flags (show_config)
// A graph node as Python sees it: a custom Function's node is its ctx object
// (MyFnBackward), any other the bound Node; None for null.
py::object node_object(const std::shared_ptr<Node>& n);

}  // namespace tg::bind
