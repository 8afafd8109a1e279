// Convolutions (the Python layer turns int-or-tuple arguments and padding strings into
// per-dim lists).
#include "ops/ops.h"
#include "python/bind.h"

namespace tg::bind {

void bind_conv(py::module_& m, TensorClass&) {
  m.def("_conv", [](const Tensor& input, const Tensor& weight, const OptTensor& bias, int64_t dims,
                    Shape stride, Shape padding, Shape pad_end, Shape dilation, int64_t groups) {
    py::gil_scoped_release r;
    return conv(input, weight, or_null(bias), dims, stride, padding, pad_end, dilation, groups);
  }, py::arg("input"), py::arg("weight"), py::arg("bias"), py::arg("dims"), py::arg("stride"),
        py::arg("padding"), py::arg("pad_end"), py::arg("dilation"), py::arg("groups"));
  m.def("_conv_transpose", [](const Tensor& input, const Tensor& weight, const OptTensor& bias,
                              int64_t dims, Shape stride, Shape padding, Shape output_padding,
                              int64_t groups, Shape dilation) {
    py::gil_scoped_release r;
    return conv_transpose(input, weight, or_null(bias), dims, stride, padding, output_padding, groups, dilation);
  }, py::arg("input"), py::arg("weight"), py::arg("bias"), py::arg("dims"), py::arg("stride"),
        py::arg("padding"), py::arg("output_padding"), py::arg("groups"), py::arg("dilation"));
}

}  // namespace tg::bind
