// Reductions and softmax.
#include "ops/ops.h"
#include "python/bind.h"

namespace tg::bind {

namespace {
std::optional<DType> opt_dtype(py::handle dtype) {
  if (dtype.is_none()) return std::nullopt;
  return dtype_arg(dtype, DType::Float32);
}

// var/std's `correction` from PyTorch's arguments: `unbiased` (bool) or `correction`
// (number), default 1.
double correction_arg(py::handle unbiased, py::handle correction) {
  TG_CHECK(unbiased.is_none() || correction.is_none(), TypeError,
           "var()/std() take either unbiased or correction, not both");
  if (!correction.is_none()) {
    // a Number (numpy numbers and 0-d tensors too), as PyTorch's parser takes it
    auto t = as_tensor(correction);
    TG_CHECK(t && (*t)->numel() == 1 && (*t)->ndim() == 0, TypeError,
             "var()/std(): argument 'correction' must be Number, not ", type_name(correction));
    return correction.cast<double>();
  }
  if (!unbiased.is_none()) return unbiased.cast<bool>() ? 1.0 : 0.0;
  return 1.0;
}

// var(dim=None, unbiased=None, keepdim=False, *, correction=None); like PyTorch, a bool
// first argument is `unbiased` (x.var(False)).
template <class Op>
auto var_like(Op op) {
  return [op](const Tensor& a, py::handle dim, py::handle unbiased, Bool keepdim, py::handle correction) {
    if (PyBool_Check(dim.ptr())) {
      TG_CHECK(unbiased.is_none(), TypeError, "unbiased given twice");
      unbiased = dim;
      dim = py::none();
    }
    double c = correction_arg(unbiased, correction);
    auto dims = dims_arg(dim);
    return maybe_release(a->numel(), [&] { return op(a, dims, c, keepdim); });
  };
}
}  // namespace

void bind_reduce(py::module_& m, TensorClass& cls) {
  // PyTorch's torch.return_types: named tuples with .values and .indices, whose
  // __module__ is this submodule (importable by that name, as pickle needs).
  py::module_ rt = m.def_submodule("return_types", "Named tuples returned by reductions");
  auto namedtuple = py::module_::import("collections").attr("namedtuple");
  for (const char* name : {"max", "min"})
    rt.attr(name) = namedtuple(name, py::make_tuple("values", "indices"),
                               py::arg("module") = rt.attr("__name__"));
  py::object max_t = rt.attr("max"), min_t = rt.attr("min");

  // sum/mean without dim are the full reductions (SumBackward0); with one, SumBackward1.
  def_both(cls, m, "sum", [](const Tensor& a, py::handle dim, Bool keepdim, py::handle dtype) {
    auto dt = opt_dtype(dtype);
    auto dims = dims_arg(dim);
    bool full = dim.is_none() && !keepdim;
    return maybe_release(a->numel(), [&] { return full ? sum(a, dt) : sum(a, dims, keepdim, dt); });
  }, py::arg("dim") = py::none(), py::arg("keepdim") = false, py::kw_only(), py::arg("dtype") = py::none());
  def_both(cls, m, "mean", [](const Tensor& a, py::handle dim, Bool keepdim, py::handle dtype) {
    auto dt = opt_dtype(dtype);
    auto dims = dims_arg(dim);
    bool full = dim.is_none() && !keepdim;
    return maybe_release(a->numel(), [&] { return full ? mean(a, dt) : mean(a, dims, keepdim, dt); });
  }, py::arg("dim") = py::none(), py::arg("keepdim") = false, py::kw_only(), py::arg("dtype") = py::none());

  def_both(cls, m, "var", var_like([](const Tensor& a, std::vector<int64_t> d, double c, bool k) { return var(a, d, c, k); }),
           py::arg("dim") = py::none(), py::arg("unbiased") = py::none(), py::arg("keepdim") = false,
           py::kw_only(), py::arg("correction") = py::none());
  def_both(cls, m, "std", var_like([](const Tensor& a, std::vector<int64_t> d, double c, bool k) { return stddev(a, d, c, k); }),
           py::arg("dim") = py::none(), py::arg("unbiased") = py::none(), py::arg("keepdim") = false,
           py::kw_only(), py::arg("correction") = py::none());

  def_both(cls, m, "logsumexp", [](const Tensor& a, py::handle dim, Bool keepdim) {
    auto dims = required_dims_arg(dim, "logsumexp", "dim");
    return maybe_release(a->numel(), [&] { return logsumexp(a, dims, keepdim); });
  }, py::arg("dim"), py::arg("keepdim") = false);

  // prod(*, dtype) and prod(dim, keepdim, *, dtype), PyTorch's two overloads: no None dim
  def_both(cls, m, "prod", [](const Tensor& a, py::handle dtype) {
    auto dt = opt_dtype(dtype);
    return maybe_release(a->numel(), [&] { return prod(a, dt); });
  }, py::kw_only(), py::arg("dtype") = py::none());
  def_both(cls, m, "prod", [](const Tensor& a, Int dim, Bool keepdim, py::handle dtype) {
    auto dt = opt_dtype(dtype);
    return maybe_release(a->numel(), [&] { return prod(a, dim, keepdim, dt); });
  }, py::arg("dim"), py::arg("keepdim") = false, py::kw_only(), py::arg("dtype") = py::none());

  // max/min: no dim gives a 0-d tensor, a dim gives (values, indices), a tensor `other` the
  // elementwise form. That one is bound before the dim form, so a tensor (even a 0-d integer
  // one, which has __index__) is `other`, as in PyTorch; an int or numpy integer is `dim`.
  def_both(cls, m, "max", [](const Tensor& a) { return maybe_release(a->numel(), [&] { return max(a); }); });
  def_both(cls, m, "min", [](const Tensor& a) { return maybe_release(a->numel(), [&] { return min(a); }); });
  def_both(cls, m, "max", [](const Tensor& a, const Tensor& other) { return maximum(a, other); },
           py::arg("other"));
  def_both(cls, m, "min", [](const Tensor& a, const Tensor& other) { return minimum(a, other); },
           py::arg("other"));
  def_both(cls, m, "max", [max_t](const Tensor& a, Int dim, Bool keepdim) {
    auto r = maybe_release(a->numel(), [&] { return max(a, dim, keepdim); });
    return max_t(r.first, r.second);
  }, py::arg("dim"), py::arg("keepdim") = false);
  def_both(cls, m, "min", [min_t](const Tensor& a, Int dim, Bool keepdim) {
    auto r = maybe_release(a->numel(), [&] { return min(a, dim, keepdim); });
    return min_t(r.first, r.second);
  }, py::arg("dim"), py::arg("keepdim") = false);
  def_both(cls, m, "amax", [](const Tensor& a, py::handle dim, Bool keepdim) {
    auto dims = dims_arg(dim);
    return maybe_release(a->numel(), [&] { return amax(a, dims, keepdim); });
  }, py::arg("dim") = py::tuple(), py::arg("keepdim") = false);
  def_both(cls, m, "amin", [](const Tensor& a, py::handle dim, Bool keepdim) {
    auto dims = dims_arg(dim);
    return maybe_release(a->numel(), [&] { return amin(a, dims, keepdim); });
  }, py::arg("dim") = py::tuple(), py::arg("keepdim") = false);
  def_both(cls, m, "all", [](const Tensor& a, py::handle dim, Bool keepdim) {
    auto dims = dims_arg(dim);
    return maybe_release(a->numel(), [&] { return all(a, dims, keepdim); });
  }, py::arg("dim") = py::tuple(), py::arg("keepdim") = false);
  def_both(cls, m, "any", [](const Tensor& a, py::handle dim, Bool keepdim) {
    auto dims = dims_arg(dim);
    return maybe_release(a->numel(), [&] { return any(a, dims, keepdim); });
  }, py::arg("dim") = py::tuple(), py::arg("keepdim") = false);
  def_both(cls, m, "argmax", [](const Tensor& a, std::optional<Int> dim, Bool keepdim) {
    return maybe_release(a->numel(), [&] { return argmax(a, dim, keepdim); });
  }, py::arg("dim") = py::none(), py::arg("keepdim") = false);
  def_both(cls, m, "argmin", [](const Tensor& a, std::optional<Int> dim, Bool keepdim) {
    return maybe_release(a->numel(), [&] { return argmin(a, dim, keepdim); });
  }, py::arg("dim") = py::none(), py::arg("keepdim") = false);

  def_both(cls, m, "softmax", [](const Tensor& a, Int dim, py::handle dtype) {
    auto dt = opt_dtype(dtype);
    return maybe_release(a->numel(), [&] { return softmax(a, dim, dt); });
  }, py::arg("dim"), py::arg("dtype") = py::none());
  def_both(cls, m, "log_softmax", [](const Tensor& a, Int dim, py::handle dtype) {
    auto dt = opt_dtype(dtype);
    return maybe_release(a->numel(), [&] { return log_softmax(a, dim, dt); });
  }, py::arg("dim"), py::arg("dtype") = py::none());
}

}  // namespace tg::bind
