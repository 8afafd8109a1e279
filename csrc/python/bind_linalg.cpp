// Matrix products.
#include "kernels/gemm.h"
#include "ops/ops.h"
#include "python/bind.h"

namespace tg::bind {

namespace {
// Large products run without the GIL.
template <class F>
auto product(F f) {
  return [f](const Tensor& a, const Tensor& b) {
    return maybe_release(a->numel() + b->numel(), [&] { return f(a, b); });
  };
}
}  // namespace

void bind_linalg(py::module_& m, TensorClass& cls) {
  auto mm_f = product(matmul);
  def_both(cls, m, "matmul", mm_f, py::arg("other"));
  def_both(cls, m, "mm", product(mm), py::arg("mat2"));
  def_both(cls, m, "bmm", product(bmm), py::arg("mat2"));
  def_both(cls, m, "dot", product(dot), py::arg("tensor"));
  def_both(cls, m, "mv", product(mv), py::arg("vec"));
  // `@` takes tensors only (matmul has no Scalar overload): NotImplemented for anything else,
  // numbers included, as PyTorch's wrapper turns its parser's TypeError into NotImplemented.
  cls.def("__matmul__", [mm_f](const Tensor& a, py::handle b) -> py::object {
    if (!py::isinstance<TensorImpl>(b)) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
    return py::cast(mm_f(a, b.cast<Tensor>()));
  });
  cls.def("__rmatmul__", [mm_f](const Tensor& a, py::handle b) -> py::object {
    if (!py::isinstance<TensorImpl>(b)) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
    return py::cast(mm_f(b.cast<Tensor>(), a));
  });
  m.def("_linear", [](const Tensor& x, const Tensor& w, std::optional<Tensor> b) {
    return maybe_release(x->numel() + w->numel(), [&] { return linear(x, w, b ? *b : nullptr); });
  }, py::arg("input"), py::arg("weight"), py::arg("bias") = py::none());
  m.def("_matmul_into", [](const Tensor& out, const Tensor& a, const Tensor& b, bool accumulate) {
    maybe_release(a->numel() + b->numel(), [&] { matmul_into(out, a, b, accumulate); return 0; });
  }, py::arg("out"), py::arg("a"), py::arg("b"), py::arg("accumulate") = false);
  m.def("_gemm_isa", &kernels::gemm_isa);
  m.def("_set_gemm_isa", &kernels::set_gemm_isa, py::arg("isa"));
  m.def("_fma_peak_gflops", [](double seconds) {
    py::gil_scoped_release r;
    return kernels::fma_peak_gflops(seconds);
  }, py::arg("seconds") = 0.2);
}

}  // namespace tg::bind
