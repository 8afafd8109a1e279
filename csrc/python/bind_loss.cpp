// Losses (the Python layer maps reduction names to PyTorch's codes: 0 none, 1 mean, 2 sum;
// 3 batchmean for kl_div).
#include "ops/ops.h"
#include "python/bind.h"

namespace tg::bind {

void bind_loss(py::module_& m, TensorClass&) {
  m.def("_mse_loss", &mse_loss, py::arg("input"), py::arg("target"), py::arg("reduction") = 1);
  m.def("_l1_loss", &l1_loss, py::arg("input"), py::arg("target"), py::arg("reduction") = 1);
  m.def("_smooth_l1_loss", &smooth_l1_loss, py::arg("input"), py::arg("target"),
        py::arg("reduction") = 1, py::arg("beta") = 1.0);
  m.def("_huber_loss", &huber_loss, py::arg("input"), py::arg("target"), py::arg("reduction") = 1,
        py::arg("delta") = 1.0);
  m.def("_kl_div", &kl_div, py::arg("input"), py::arg("target"), py::arg("reduction") = 1,
        py::arg("log_target") = false);
  m.def("_cross_entropy", [](const Tensor& input, const Tensor& target, const OptTensor& weight,
                             int64_t reduction, int64_t ignore_index, double label_smoothing) {
    return cross_entropy(input, target, or_null(weight), reduction, ignore_index, label_smoothing);
  }, py::arg("input"), py::arg("target"),
        py::arg("weight") = py::none(), py::arg("reduction") = 1, py::arg("ignore_index") = -100,
        py::arg("label_smoothing") = 0.0);
  m.def("_nll_loss", [](const Tensor& input, const Tensor& target, const OptTensor& weight,
                        int64_t reduction, int64_t ignore_index) {
    return nll_loss(input, target, or_null(weight), reduction, ignore_index);
  }, py::arg("input"), py::arg("target"), py::arg("weight") = py::none(),
        py::arg("reduction") = 1, py::arg("ignore_index") = -100);
  m.def("_binary_cross_entropy", [](const Tensor& input, const Tensor& target, const OptTensor& weight,
                                    int64_t reduction) {
    return binary_cross_entropy(input, target, or_null(weight), reduction);
  }, py::arg("input"), py::arg("target"),
        py::arg("weight") = py::none(), py::arg("reduction") = 1);
  m.def("_binary_cross_entropy_with_logits", [](const Tensor& input, const Tensor& target,
                                                const OptTensor& weight, const OptTensor& pos_weight,
                                                int64_t reduction) {
    return binary_cross_entropy_with_logits(input, target, or_null(weight), or_null(pos_weight), reduction);
  }, py::arg("input"),
        py::arg("target"), py::arg("weight") = py::none(), py::arg("pos_weight") = py::none(),
        py::arg("reduction") = 1);
}

}  // namespace tg::bind
