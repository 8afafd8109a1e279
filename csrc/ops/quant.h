#pragma once
// Dynamically quantized Linear (tg.ao.nn.quantized.dynamic.Linear): int8 weights quantized
// per output channel, symmetric (scale = max|w_row| / 127, zero point 0, values in
// [-127, 127]), packed once for the int8 GEMM (kernels/qgemm.h); at each call the input is
// quantized per tensor to 7-bit asymmetric uint8 from its min/max (PyTorch fbgemm's
// reduce_range scheme) and y = x_scale * w_scale[n] * (acc - x_zero * colsum[n]) + bias[n]
// in float32. Inference only: outputs carry no autograd history.
#include <memory>
#include <vector>

#include "core/tensor.h"
#include "kernels/qgemm.h"

namespace tg {

struct QuantLinearParams {
  std::shared_ptr<kernels::QPackedWeight> w;
  std::vector<float> scales;  // per output channel
  Tensor bias;                // float32 [out_features], or null

  int64_t in_features() const { return w->K; }
  int64_t out_features() const { return w->N; }
};

// Quantizes a float32/float64 [out, in] weight (RuntimeError for another shape or dtype).
std::shared_ptr<QuantLinearParams> quant_linear_prepack(const Tensor& weight, const Tensor& bias);
// From int8 values (row-major [out, in], in [-127, 127]) and per-channel scales (> 0).
std::shared_ptr<QuantLinearParams> quant_linear_from_int8(const int8_t* w, int64_t out, int64_t in,
                                                          const std::vector<float>& scales, const Tensor& bias);
// y = dynamic int8 linear of a float32 input [..., in] -> [..., out].
Tensor quant_linear_dynamic(const Tensor& input, const QuantLinearParams& p);

}  // namespace tg
