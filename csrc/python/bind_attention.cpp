// Attention (the Python layer checks argument types and supplies PyTorch's defaults).
#include "ops/ops.h"
#include "python/bind.h"

namespace tg::bind {

void bind_attention(py::module_& m, TensorClass&) {
  m.def("_scaled_dot_product_attention",
        [](const Tensor& query, const Tensor& key, const Tensor& value, const OptTensor& attn_mask, double dropout_p,
           Bool is_causal, std::optional<double> scale, Bool enable_gqa) {
          return maybe_release(query->numel() + key->numel() + value->numel(), [&] {
            return scaled_dot_product_attention(query, key, value, or_null(attn_mask), dropout_p, is_causal, scale,
                                                enable_gqa, default_generator());
          });
        },
        py::arg("query"), py::arg("key"), py::arg("value"), py::arg("attn_mask") = py::none(),
        py::arg("dropout_p") = 0.0, py::arg("is_causal") = Bool(false), py::arg("scale") = py::none(),
        py::arg("enable_gqa") = Bool(false));
}

}  // namespace tg::bind
