// Embedding, one_hot, layer_norm and group_norm (the sequence-model layers; the Python layer checks
// argument types and supplies PyTorch's defaults).
#include "ops/embedding.h"
#include "ops/layernorm.h"
#include "python/bind.h"

namespace tg::bind {

void bind_embedding(py::module_& m, TensorClass&) {
  m.def("_embedding", [](const Tensor& weight, const Tensor& indices, Int padding_idx, Bool scale_grad_by_freq,
                         Bool sparse) {
    return maybe_release(indices->numel() * (weight->ndim() == 2 ? weight->shape[1] : 1),
                         [&] { return embedding(weight, indices, padding_idx, scale_grad_by_freq, sparse); });
  }, py::arg("weight"), py::arg("indices"), py::arg("padding_idx") = Int(-1),
        py::arg("scale_grad_by_freq") = Bool(false), py::arg("sparse") = Bool(false));
  m.def("_embedding_renorm_", [](const Tensor& weight, const Tensor& indices, double max_norm, double norm_type) {
    return embedding_renorm_(weight, indices, max_norm, norm_type);
  }, py::arg("weight"), py::arg("indices"), py::arg("max_norm"), py::arg("norm_type"));
  m.def("_one_hot", [](const Tensor& self, Int num_classes) { return one_hot(self, num_classes); },
        py::arg("input"), py::arg("num_classes") = Int(-1));
  m.def("_layer_norm", [](const Tensor& input, const std::vector<int64_t>& normalized_shape, const OptTensor& weight,
                          const OptTensor& bias, double eps) {
    return maybe_release(input->numel(), [&] {
      return layer_norm(input, normalized_shape, or_null(weight), or_null(bias), eps);
    });
  }, py::arg("input"), py::arg("normalized_shape"), py::arg("weight") = py::none(), py::arg("bias") = py::none(),
        py::arg("eps") = 1e-5);
  m.def("_group_norm", [](const Tensor& input, Int num_groups, const OptTensor& weight, const OptTensor& bias,
                          double eps) {
    return maybe_release(input->numel(), [&] {
      return group_norm(input, num_groups, or_null(weight), or_null(bias), eps);
    });
  }, py::arg("input"), py::arg("num_groups"), py::arg("weight") = py::none(), py::arg("bias") = py::none(),
        py::arg("eps") = 1e-5);
}

}  // namespace tg::bind
