// Batch normalization (the Python layer checks argument types and supplies PyTorch's
// defaults).
#include "ops/ops.h"
#include "python/bind.h"

namespace tg::bind {

void bind_batchnorm(py::module_& m, TensorClass&) {
  m.def("_batch_norm", [](const Tensor& input, const OptTensor& running_mean, const OptTensor& running_var,
                          const OptTensor& weight, const OptTensor& bias, bool training, double momentum,
                          double eps) {
    return maybe_release(input->numel(), [&] {
      return batch_norm(input, or_null(running_mean), or_null(running_var), or_null(weight), or_null(bias),
                        training, momentum, eps);
    });
  }, py::arg("input"), py::arg("running_mean"), py::arg("running_var"), py::arg("weight") = py::none(),
        py::arg("bias") = py::none(), py::arg("training") = false, py::arg("momentum") = 0.1,
        py::arg("eps") = 1e-5);
}

}  // namespace tg::bind
