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

using TensorClass = py::class_<TensorImpl, Tensor>;

// A Tensor argument that may be None (null inside the core).
using OptTensor = std::optional<Tensor>;
inline Tensor or_null(const OptTensor& t) { return t ? *t : nullptr; }

// A Tensor, or a Python bool/int/float wrapped as a 0-d tensor; nullopt for other types.
std::optional<Tensor> as_tensor(py::handle obj);
// Like as_tensor, but raises TypeError naming `what` for other types.
Tensor to_tensor(py::handle obj, const char* what);
// `*size` arguments: either several ints or one tuple/list of ints.
Shape shape_from_args(const py::args& args);
Shape shape_from_seq(py::handle seq);
// `dim` arguments: None -> {} (all dims), int -> {d}, tuple/list -> dims.
std::vector<int64_t> dims_arg(py::handle dim);
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

}  // namespace tg::bind
