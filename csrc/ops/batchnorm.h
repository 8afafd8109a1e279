#pragma once
#include "core/tensor.h"

namespace tg {

// Batch normalization over dim 1 of input (N, C, ...), PyTorch's batch_norm. In training
// it normalizes with the batch's mean and biased variance and, when running_mean and
// running_var are given, updates them in place (no autograd, version bumped) with momentum
// and the unbiased variance; otherwise it uses the running statistics. Any of
// running_mean/running_var (both or neither), weight and bias may be null. Backward node:
// NativeBatchNormBackward0 (gradients for input, weight, bias).
Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, bool training, double momentum,
                  double eps);

}  // namespace tg
