#pragma once
// Special functions (torch.special's family) beyond the elementwise core.
#include "core/tensor.h"

namespace tg {

// The error function; integer and bool inputs compute in float32, as PyTorch does.
// Backward node ErfBackward0 (2 / sqrt(pi) exp(-x^2), itself recorded under create_graph).
Tensor erf(const Tensor& a);

}  // namespace tg
