// F.interpolate's kernels (the Python layer resolves mode, size and scale_factor as
// PyTorch's F.interpolate does, then calls one of these).
#include "ops/ops.h"
#include "python/bind.h"

namespace tg::bind {

void bind_upsample(py::module_& m, TensorClass&) {
  m.def("_upsample_nearest", &upsample_nearest, py::arg("input"), py::arg("output_size"),
        py::arg("scale_factors"), py::arg("exact") = false);
  m.def("_upsample_linear", &upsample_linear, py::arg("input"), py::arg("output_size"),
        py::arg("align_corners"), py::arg("scale_factors"));
}

}  // namespace tg::bind
