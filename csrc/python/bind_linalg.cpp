// Matrix products.
#include "ops/ops.h"
#include "python/bind.h"

namespace tg::bind {

void bind_linalg(py::module_& m, TensorClass& cls) {
  auto mm = [](const Tensor& a, const Tensor& b) {
    return maybe_release(a->numel() + b->numel(), [&] { return matmul(a, b); });
  };
  def_both(cls, m, "matmul", mm, py::arg("other"));
  cls.def("__matmul__", [mm](const Tensor& a, py::handle b) -> py::object {
    auto o = as_tensor(b);
    if (!o) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
    return py::cast(mm(a, *o));
  });
  cls.def("__rmatmul__", [mm](const Tensor& a, py::handle b) -> py::object {
    auto o = as_tensor(b);
    if (!o) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
    return py::cast(mm(*o, a));
  });
}

}  // namespace tg::bind
