#pragma once
#include "core/tensor.h"

namespace tg {

// F.layer_norm: normalizes input over its trailing dims `normalized_shape` (mean and biased
// variance of each row, in double), then times weight and plus bias (each normalized_shape,
// or null). Backward node NativeLayerNormBackward0 (input, weight and bias gradients from
// one fused kernel). PyTorch's errors for a normalized_shape that is empty or does not
// match the input's trailing dims, or weight/bias of another shape or dtype.
Tensor layer_norm(const Tensor& input, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps);

}  // namespace tg
