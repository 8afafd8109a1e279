#pragma once
#include <optional>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace tg {

// Pooling over the last two dims of [N, C, H, W] or unbatched [C, H, W] (the 1-d forms:
// the last dim of [N, C, L] or [C, L]). kernel_size / stride / padding / dilation hold one
// value (for every dim) or one per dim; an empty stride means the kernel size. Arguments
// are checked as PyTorch checks them, with its error messages.
using IntList = std::vector<int64_t>;

// (values, indices): indices are int64 flat positions in each input plane (h * W + w).
std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& input, const IntList& kernel_size,
                                                  const IntList& stride, const IntList& padding,
                                                  const IntList& dilation, bool ceil_mode);
// The values only (no indices are computed when no gradient is needed).
Tensor max_pool2d(const Tensor& input, const IntList& kernel_size, const IntList& stride,
                  const IntList& padding, const IntList& dilation, bool ceil_mode);
std::pair<Tensor, Tensor> max_pool1d_with_indices(const Tensor& input, const IntList& kernel_size,
                                                  const IntList& stride, const IntList& padding,
                                                  const IntList& dilation, bool ceil_mode);
Tensor max_pool1d(const Tensor& input, const IntList& kernel_size, const IntList& stride,
                  const IntList& padding, const IntList& dilation, bool ceil_mode);

Tensor avg_pool2d(const Tensor& input, const IntList& kernel_size, const IntList& stride,
                  const IntList& padding, bool ceil_mode, bool count_include_pad,
                  std::optional<int64_t> divisor_override);
Tensor avg_pool1d(const Tensor& input, const IntList& kernel_size, const IntList& stride,
                  const IntList& padding, bool ceil_mode, bool count_include_pad);

// output_size: two sizes (one for the 1-d forms); None entries are resolved by the caller.
Tensor adaptive_avg_pool2d(const Tensor& input, const IntList& output_size);
Tensor adaptive_avg_pool1d(const Tensor& input, const IntList& output_size);
std::pair<Tensor, Tensor> adaptive_max_pool2d(const Tensor& input, const IntList& output_size);
std::pair<Tensor, Tensor> adaptive_max_pool1d(const Tensor& input, const IntList& output_size);

}  // namespace tg
