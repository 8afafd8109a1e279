// Dynamically quantized Linear: weight quantization and the forward (see quant.h).
#include "ops/quant.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/creation.h"

namespace tg {

namespace {

Tensor prepare_bias(const Tensor& bias, int64_t out) {
  if (!bias) return nullptr;
  TG_CHECK(bias->ndim() == 1 && bias->shape[0] == out, RuntimeError, "quantized linear: bias of shape ",
           shape_str(bias->shape), " does not match out_features = ", out);
  TG_CHECK(is_floating(bias->dtype), RuntimeError, "quantized linear: bias must be floating point, got ",
           dtype_name(bias->dtype));
  return clone(to_dtype(alias(bias), DType::Float32));  // a private copy
}

}  // namespace

std::shared_ptr<QuantLinearParams> quant_linear_from_int8(const int8_t* w, int64_t out, int64_t in,
                                                          const std::vector<float>& scales, const Tensor& bias) {
  TG_CHECK((int64_t)scales.size() == out, RuntimeError, "quantized linear: expected ", out, " scales, got ",
           scales.size());
  for (float s : scales)
    TG_CHECK(s > 0 && std::isfinite(s), RuntimeError, "quantized linear: weight scales must be positive and finite");
  auto p = std::make_shared<QuantLinearParams>();
  p->w = kernels::qpack_weight(w, out, in);
  p->scales = scales;
  p->bias = prepare_bias(bias, out);
  return p;
}

std::shared_ptr<QuantLinearParams> quant_linear_prepack(const Tensor& weight, const Tensor& bias) {
  TG_CHECK(weight->ndim() == 2, RuntimeError, "quantized linear: weight must be 2-D [out_features, in_features], got ",
           shape_str(weight->shape));
  TG_CHECK(is_floating(weight->dtype), RuntimeError, "quantized linear: weight must be floating point, got ",
           dtype_name(weight->dtype));
  const Tensor w = contiguous(to_dtype(alias(weight), DType::Float64));
  const int64_t out = w->shape[0], in = w->shape[1];
  const double* d = w->data_as<double>();
  std::vector<float> scales(out);
  std::vector<int8_t> q((size_t)(out * in));
  const float eps = std::numeric_limits<float>::epsilon();  // PyTorch observers' floor
  for (int64_t n = 0; n < out; ++n) {
    double amax = 0;
    for (int64_t k = 0; k < in; ++k) amax = std::max(amax, std::fabs(d[n * in + k]));
    TG_CHECK(std::isfinite(amax), RuntimeError, "quantized linear: weight row ", n, " is not finite");
    const float s = std::max((float)(amax / 127.0), eps);
    scales[n] = s;
    for (int64_t k = 0; k < in; ++k)
      q[n * in + k] = (int8_t)std::clamp(std::nearbyint(d[n * in + k] / (double)s), -127.0, 127.0);
  }
  return quant_linear_from_int8(q.data(), out, in, scales, bias);
}

Tensor quant_linear_dynamic(const Tensor& input, const QuantLinearParams& p) {
  const int64_t K = p.in_features(), N = p.out_features();
  TG_CHECK(input->dtype == DType::Float32, RuntimeError, "quantized linear: expected input of dtype float32, got ",
           dtype_name(input->dtype));
  TG_CHECK(input->ndim() >= 1 && input->shape.back() == K, RuntimeError,
           "mat1 and mat2 shapes cannot be multiplied (",
           input->ndim() ? numel_of(input->shape) / std::max<int64_t>(input->shape.back(), 1) : 1, "x",
           input->ndim() ? input->shape.back() : 0, " and ", K, "x", N, ")");
  const Tensor x = contiguous(alias(input));
  const int64_t M = K ? x->numel() / K : numel_of(Shape(input->shape.begin(), input->shape.end() - 1));
  Shape out_shape = input->shape;
  out_shape.back() = N;
  Tensor y = empty(out_shape, DType::Float32);
  const int64_t lda = p.w->Kp;
  std::vector<uint8_t> a((size_t)std::max<int64_t>(M * lda, 1));
  const kernels::QParams q = kernels::quantize_activations_u7(M, K, x->data_as<float>(), K, a.data(), lda);
  kernels::qgemm_f32(M, a.data(), lda, q.zero_point, q.scale, *p.w, p.scales.data(),
                     p.bias ? p.bias->data_as<float>() : nullptr, y->data_as<float>(), N);
  return y;
}

}  // namespace tg
