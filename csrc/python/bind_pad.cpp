// F.pad (the Python layer maps mode names to kernels::PadMode codes and checks argument
// types as PyTorch's parser does).
#include "ops/ops.h"
#include "python/bind.h"

namespace tg::bind {

void bind_pad(py::module_& m, TensorClass&) {
  m.def("_pad", &pad, py::arg("input"), py::arg("pad"), py::arg("mode") = 0,
        py::arg("value") = py::none());
}

}  // namespace tg::bind
