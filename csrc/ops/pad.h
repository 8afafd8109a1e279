#pragma once
#include <optional>
#include <vector>

#include "core/tensor.h"
#include "kernels/pad.h"

namespace tg {

// F.pad: `pad` holds (before, after) pairs for the last dims, the last dim first; negative
// values crop. `mode` is kernels::PadMode (0 constant, 1 reflect, 2 replicate, 3 circular);
// `value` is the constant mode's fill (0 when absent; the other modes refuse a non-zero one).
// Constant mode pads any rank and dtype; the others the ranks PyTorch supports (1, 2 or 3
// padded dims of a tensor with one or two more dims).
Tensor pad(const Tensor& input, const std::vector<int64_t>& pad, int64_t mode,
           std::optional<double> value);

// Records the node of an op whose output was gathered from `input` through `plan` (F.pad,
// nearest upsampling): its backward scatters the gradient back through the same maps.
void record_gather_backward(const Tensor& input, const Tensor& out, kernels::PadPlan plan, std::string name);

}  // namespace tg
