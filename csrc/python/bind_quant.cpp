// Dynamic int8 quantization: the packed parameters of a quantized Linear, its forward, and
// test hooks for the int8 GEMM (exact int32 products per instruction set). No logic here:
// quantization lives in ops/quant.cpp, the GEMM in kernels/qgemm.cpp.
#include "kernels/qgemm.h"
#include "ops/quant.h"
#include "python/bind.h"

namespace tg::bind {

namespace {

using I8Array = py::array_t<int8_t, py::array::c_style | py::array::forcecast>;
using U8Array = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>;

void check_2d(const py::array& a, const char* what) {
  if (a.ndim() != 2) throw ValueError(cat_str(what, " must be 2-D, got ", a.ndim(), " dims"));
}

}  // namespace

void bind_quant(py::module_& m, TensorClass&) {
  py::class_<QuantLinearParams, std::shared_ptr<QuantLinearParams>>(m, "_QLinearPackedParams")
      .def_static("quantize", [](const Tensor& weight, const OptTensor& bias) {
        return quant_linear_prepack(weight, or_null(bias));
      }, py::arg("weight"), py::arg("bias") = py::none())
      .def_static("from_int8", [](I8Array w, std::vector<float> scales, const OptTensor& bias) {
        check_2d(w, "int8 weight");
        return quant_linear_from_int8(w.data(), w.shape(0), w.shape(1), scales, or_null(bias));
      }, py::arg("weight"), py::arg("scales"), py::arg("bias") = py::none())
      .def_property_readonly("in_features", &QuantLinearParams::in_features)
      .def_property_readonly("out_features", &QuantLinearParams::out_features)
      .def_property_readonly("bias", [](const QuantLinearParams& p) -> py::object {
        return p.bias ? py::cast(p.bias) : py::none();
      })
      .def("int8_numpy", [](const QuantLinearParams& p) {
        I8Array out({p.out_features(), p.in_features()});
        std::copy(p.w->weight.begin(), p.w->weight.end(), out.mutable_data());
        return out;
      })
      .def("scales_list", [](const QuantLinearParams& p) { return p.scales; })
      .def("forward", [](const QuantLinearParams& p, const Tensor& x) {
        return maybe_release(x->numel() * p.out_features(), [&] { return quant_linear_dynamic(x, p); });
      }, py::arg("input"))
      // Pickled as plain Python values (sizes, the int8 bytes, the scales, the bias
      // tensor), so that a whole quantized model goes through pickle-based formats.
      .def(py::pickle(
          [](const QuantLinearParams& p) {
            const auto& w = p.w->weight;
            return py::make_tuple(p.out_features(), p.in_features(),
                                  py::bytes(reinterpret_cast<const char*>(w.data()), w.size()), p.scales,
                                  p.bias ? py::cast(p.bias) : py::none());
          },
          [](const py::tuple& t) {
            if (t.size() != 5) throw ValueError("_QLinearPackedParams: bad pickled state");
            const int64_t out = t[0].cast<int64_t>(), in = t[1].cast<int64_t>();
            const std::string w = t[2].cast<std::string>();
            if (out < 0 || in < 0 || (int64_t)w.size() != out * in)
              throw ValueError("_QLinearPackedParams: bad pickled state");
            return quant_linear_from_int8(reinterpret_cast<const int8_t*>(w.data()), out, in,
                                          t[3].cast<std::vector<float>>(),
                                          t[4].is_none() ? Tensor() : t[4].cast<Tensor>());
          }))
      // Immutable once built: copies share it.
      .def("__copy__", [](const std::shared_ptr<QuantLinearParams>& p) { return p; })
      .def("__deepcopy__", [](const std::shared_ptr<QuantLinearParams>& p, py::object) { return p; }, py::arg("memo"));

  // Test hook: exact int32 product a @ w.T of uint8 activations [M, K] in [0, 127] and
  // int8 weights [N, K] in [-127, 127], by the instruction set in force.
  m.def("_qgemm_s32", [](U8Array a, I8Array w) {
    check_2d(a, "a");
    check_2d(w, "w");
    const int64_t M = a.shape(0), K = a.shape(1), N = w.shape(0);
    if (w.shape(1) != K) throw ValueError(cat_str("_qgemm_s32: a is ", M, "x", K, " but w is ", N, "x", w.shape(1)));
    for (int64_t i = 0; i < M * K; ++i)
      if (a.data()[i] > 127) throw ValueError("_qgemm_s32: activations must lie in [0, 127]");
    auto packed = kernels::qpack_weight(w.data(), N, K);
    std::vector<uint8_t> ap((size_t)std::max<int64_t>(M * packed->Kp, 1), 0);
    for (int64_t i = 0; i < M; ++i) std::copy(a.data() + i * K, a.data() + (i + 1) * K, ap.data() + i * packed->Kp);
    py::array_t<int32_t> c({M, N});
    {
      py::gil_scoped_release r;
      kernels::qgemm_s32(M, ap.data(), packed->Kp, *packed, c.mutable_data(), N);
    }
    return c;
  }, py::arg("a"), py::arg("w"));
  // Test hook: the per-batch activation quantization of a float32 tensor [M, K]:
  // (uint8 array, scale, zero_point).
  m.def("_quantize_activations", [](const Tensor& x) {
    if (x->dtype != DType::Float32 || x->ndim() != 2 || !x->is_contiguous())
      throw ValueError("_quantize_activations: expected a contiguous 2-D float32 tensor");
    const int64_t M = x->shape[0], K = x->shape[1];
    U8Array q({M, K});
    const kernels::QParams p = kernels::quantize_activations_u7(M, K, x->data_as<float>(), K, q.mutable_data(), K);
    return py::make_tuple(q, p.scale, p.zero_point);
  }, py::arg("x"));
  m.def("_qgemm_isa", &kernels::qgemm_isa);
  m.def("_set_qgemm_isa", &kernels::set_qgemm_isa, py::arg("isa"));
}

}  // namespace tg::bind
