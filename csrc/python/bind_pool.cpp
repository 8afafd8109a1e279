// Pooling. The public names are those torch has at its top level (max_pool1d, max_pool2d,
// max_pool1d_with_indices, avg_pool1d, adaptive_avg_pool1d, adaptive_max_pool1d); the
// other 2-d forms are private and reached through nn.functional, as in PyTorch.
#include "ops/ops.h"
#include "python/bind.h"

namespace tg::bind {

namespace {

// stride: None or () means the kernel size (an empty list).
IntList stride_arg(py::handle obj, const char* fn, size_t n) {
  return obj.is_none() ? IntList{} : int_list_arg(obj, fn, "stride", n);
}

std::optional<int64_t> divisor_arg(py::handle obj) {
  if (obj.is_none()) return std::nullopt;
  TG_CHECK(!PyBool_Check(obj.ptr()) && PyIndex_Check(obj.ptr()), TypeError,
           "avg_pool2d(): argument 'divisor_override' must be int, not ",
           std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
  return obj.cast<int64_t>();
}

// Runs a pooling op without the GIL when the input is large.
template <class F>
auto run(const Tensor& x, F&& f) {
  return maybe_release(x->numel(), std::forward<F>(f));
}

}  // namespace

void bind_pool(py::module_& m, TensorClass&) {
  auto k_ = py::arg("kernel_size");
  auto ceil_ = [] { return py::arg("ceil_mode").noconvert() = false; };

  m.def("max_pool2d", [](const Tensor& x, py::handle k, py::handle s, py::handle p, py::handle d, Bool ceil) {
    const char* fn = "max_pool2d";
    IntList kk = int_list_arg(k, fn, "kernel_size", 2), ss = stride_arg(s, fn, 2),
            pp = int_list_arg(p, fn, "padding", 2), dd = int_list_arg(d, fn, "dilation", 2);
    return run(x, [&] { return max_pool2d(x, kk, ss, pp, dd, ceil); });
  }, py::arg("input"), k_, py::arg("stride") = py::tuple(), py::arg("padding") = 0, py::arg("dilation") = 1,
        ceil_());
  m.def("_max_pool2d_with_indices", [](const Tensor& x, py::handle k, py::handle s, py::handle p, py::handle d,
                                       Bool ceil) {
    const char* fn = "max_pool2d_with_indices";
    IntList kk = int_list_arg(k, fn, "kernel_size", 2), ss = stride_arg(s, fn, 2),
            pp = int_list_arg(p, fn, "padding", 2), dd = int_list_arg(d, fn, "dilation", 2);
    return run(x, [&] { return max_pool2d_with_indices(x, kk, ss, pp, dd, ceil); });
  }, py::arg("input"), k_, py::arg("stride") = py::tuple(), py::arg("padding") = 0, py::arg("dilation") = 1,
        ceil_());
  m.def("max_pool1d", [](const Tensor& x, py::handle k, py::handle s, py::handle p, py::handle d, Bool ceil) {
    const char* fn = "max_pool1d";
    IntList kk = int_list_arg(k, fn, "kernel_size", 1), ss = stride_arg(s, fn, 1),
            pp = int_list_arg(p, fn, "padding", 1), dd = int_list_arg(d, fn, "dilation", 1);
    return run(x, [&] { return max_pool1d(x, kk, ss, pp, dd, ceil); });
  }, py::arg("input"), k_, py::arg("stride") = py::tuple(), py::arg("padding") = 0, py::arg("dilation") = 1,
        ceil_());
  m.def("max_pool1d_with_indices", [](const Tensor& x, py::handle k, py::handle s, py::handle p, py::handle d,
                                      Bool ceil) {
    const char* fn = "max_pool1d_with_indices";
    IntList kk = int_list_arg(k, fn, "kernel_size", 1), ss = stride_arg(s, fn, 1),
            pp = int_list_arg(p, fn, "padding", 1), dd = int_list_arg(d, fn, "dilation", 1);
    return run(x, [&] { return max_pool1d_with_indices(x, kk, ss, pp, dd, ceil); });
  }, py::arg("input"), k_, py::arg("stride") = py::tuple(), py::arg("padding") = 0, py::arg("dilation") = 1,
        ceil_());

  m.def("_avg_pool2d", [](const Tensor& x, py::handle k, py::handle s, py::handle p, Bool ceil, Bool cip,
                          py::handle divisor) {
    const char* fn = "avg_pool2d";
    IntList kk = int_list_arg(k, fn, "kernel_size", 2), ss = stride_arg(s, fn, 2),
            pp = int_list_arg(p, fn, "padding", 2);
    std::optional<int64_t> dv = divisor_arg(divisor);
    return run(x, [&] { return avg_pool2d(x, kk, ss, pp, ceil, cip, dv); });
  }, py::arg("input"), k_, py::arg("stride") = py::none(), py::arg("padding") = 0, ceil_(),
        py::arg("count_include_pad").noconvert() = true, py::arg("divisor_override") = py::none());
  m.def("avg_pool1d", [](const Tensor& x, py::handle k, py::handle s, py::handle p, Bool ceil, Bool cip) {
    const char* fn = "avg_pool1d";
    IntList kk = int_list_arg(k, fn, "kernel_size", 1), ss = stride_arg(s, fn, 1),
            pp = int_list_arg(p, fn, "padding", 1);
    return run(x, [&] { return avg_pool1d(x, kk, ss, pp, ceil, cip); });
  }, py::arg("input"), k_, py::arg("stride") = py::tuple(), py::arg("padding") = 0, ceil_(),
        py::arg("count_include_pad").noconvert() = true);

  m.def("_adaptive_avg_pool2d", [](const Tensor& x, py::handle size) {
    IntList os = int_list_arg(size, "adaptive_avg_pool2d", "output_size", 2);
    return run(x, [&] { return adaptive_avg_pool2d(x, os); });
  }, py::arg("input"), py::arg("output_size"));
  m.def("_adaptive_max_pool2d", [](const Tensor& x, py::handle size) {
    IntList os = int_list_arg(size, "adaptive_max_pool2d", "output_size", 2);
    return run(x, [&] { return adaptive_max_pool2d(x, os); });
  }, py::arg("input"), py::arg("output_size"));
  m.def("adaptive_avg_pool1d", [](const Tensor& x, py::handle size) {
    IntList os = int_list_arg(size, "adaptive_avg_pool1d", "output_size", 1);
    return run(x, [&] { return adaptive_avg_pool1d(x, os); });
  }, py::arg("input"), py::arg("output_size"));
  m.def("adaptive_max_pool1d", [](const Tensor& x, py::handle size) {
    IntList os = int_list_arg(size, "adaptive_max_pool1d", "output_size", 1);
    return run(x, [&] { return adaptive_max_pool1d(x, os); });
  }, py::arg("input"), py::arg("output_size"));
}

}  // namespace tg::bind
