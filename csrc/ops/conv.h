#pragma once
#include "core/tensor.h"

namespace tg {

// PyTorch's convolution over `dims` = 1 or 2 spatial dims (input [N, C, L] / [N, C, H, W], or the
// unbatched forms without N). stride, padding, dilation: one value per spatial dim.
// pad_end is the trailing padding (padding='same' with an even kernel pads unevenly);
// empty means equal to padding. Records ConvolutionBackward0.
Tensor conv(const Tensor& input, const Tensor& weight, const Tensor& bias, int64_t dims, Shape stride,
            Shape padding, Shape pad_end, Shape dilation, int64_t groups);
// The transposed convolution (the gradient of conv with respect to its input);
// weight is [in, out / groups, k...].
Tensor conv_transpose(const Tensor& input, const Tensor& weight, const Tensor& bias, int64_t dims,
                      Shape stride, Shape padding, Shape output_padding, int64_t groups, Shape dilation);

}  // namespace tg
