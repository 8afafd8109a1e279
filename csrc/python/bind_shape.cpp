// Views and shape ops.
#include "ops/ops.h"
#include "python/bind.h"

namespace tg::bind {

void bind_shape(py::module_& m, TensorClass& cls) {
  cls.def("view", [](const Tensor& a, py::args size) { return view(a, shape_from_args(size)); });
  cls.def("reshape", [](const Tensor& a, py::args size) { return reshape(a, shape_from_args(size)); });
  m.def("reshape", [](const Tensor& a, py::handle shape) { return reshape(a, shape_from_seq(shape)); },
        py::arg("input"), py::arg("shape"));
  cls.def("expand", [](const Tensor& a, py::args size) { return expand(a, shape_from_args(size)); });
  cls.def("permute", [](const Tensor& a, py::args dims) { return permute(a, shape_from_args(dims)); });
  m.def("permute", [](const Tensor& a, py::handle dims) { return permute(a, shape_from_seq(dims)); },
        py::arg("input"), py::arg("dims"));
  def_both(cls, m, "transpose", [](const Tensor& a, int64_t d0, int64_t d1) { return transpose(a, d0, d1); },
           py::arg("dim0"), py::arg("dim1"));
}

}  // namespace tg::bind
