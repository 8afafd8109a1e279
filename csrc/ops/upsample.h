#pragma once
#include <optional>
#include <vector>

#include "core/tensor.h"

namespace tg {

// F.interpolate's kernels on [N, C, spatial...] float tensors. Exactly one of output_size
// and scale_factors (one per spatial dim) is given; with scale factors the output size is
// floor(size * scale) and the source positions use 1/scale, as PyTorch does.
// Nearest ('nearest', or 'nearest-exact' with `exact`): 1, 2 or 3 spatial dims.
Tensor upsample_nearest(const Tensor& input, const std::optional<Shape>& output_size,
                        const std::optional<std::vector<double>>& scale_factors, bool exact);
// Linear (1 spatial dim) and bilinear (2 spatial dims).
Tensor upsample_linear(const Tensor& input, const std::optional<Shape>& output_size,
                       bool align_corners, const std::optional<std::vector<double>>& scale_factors);

}  // namespace tg
