// Arithmetic operators and elementwise functions.
#include "ops/ops.h"
#include "python/bind.h"

namespace tg::bind {

namespace {
// Binary dunder: returns NotImplemented for operand types we do not know.
template <class F>
auto binary(F f, bool reflected = false) {
  return [f, reflected](const Tensor& self, py::handle other) -> py::object {
    auto o = as_tensor(other);
    if (!o) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
    return py::cast(reflected ? f(*o, self) : f(self, *o));
  };
}
}  // namespace

void bind_elementwise(py::module_& m, TensorClass& cls) {
  auto add_f = [](const Tensor& a, const Tensor& b) { return add(a, b); };
  auto sub_f = [](const Tensor& a, const Tensor& b) { return sub(a, b); };
  cls.def("__add__", binary(add_f)).def("__radd__", binary(add_f, true));
  cls.def("__sub__", binary(sub_f)).def("__rsub__", binary(sub_f, true));
  cls.def("__mul__", binary(mul)).def("__rmul__", binary(mul, true));
  cls.def("__truediv__", binary(div)).def("__rtruediv__", binary(div, true));
  cls.def("__neg__", [](const Tensor& t) { return neg(t); });

  def_both(cls, m, "add", [](const Tensor& a, py::handle b, double alpha) {
    return add(a, to_tensor(b, "other"), alpha);
  }, py::arg("other"), py::kw_only(), py::arg("alpha") = 1.0);
  def_both(cls, m, "sub", [](const Tensor& a, py::handle b, double alpha) {
    return sub(a, to_tensor(b, "other"), alpha);
  }, py::arg("other"), py::kw_only(), py::arg("alpha") = 1.0);
  def_both(cls, m, "mul", [](const Tensor& a, py::handle b) { return mul(a, to_tensor(b, "other")); },
           py::arg("other"));
  def_both(cls, m, "div", [](const Tensor& a, py::handle b) { return div(a, to_tensor(b, "other")); },
           py::arg("other"));
  def_both(cls, m, "neg", [](const Tensor& a) { return neg(a); });
  def_both(cls, m, "exp", [](const Tensor& a) { return exp(a); });
  def_both(cls, m, "relu", [](const Tensor& a) { return relu(a); });

  cls.def("add_", [](const Tensor& self, py::handle other, double alpha) {
    add_(self, to_tensor(other, "other"), alpha);
    return self;
  }, py::arg("other"), py::kw_only(), py::arg("alpha") = 1.0);
}

}  // namespace tg::bind
