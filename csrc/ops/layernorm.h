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

// F.group_norm's op (torch.group_norm): input (N, C, *) normalized over each of num_groups
// groups of C / num_groups channels and all trailing dims, then times weight and plus bias
// per channel (each C elements, or null). Backward node NativeGroupNormBackward0 (one fused
// kernel for the input, weight and bias gradients). The Python layer checks the rest of
// PyTorch's conditions (dims, batch size) first.
Tensor group_norm(const Tensor& input, int64_t num_groups, const Tensor& weight, const Tensor& bias, double eps);

}  // namespace tg
