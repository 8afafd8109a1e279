#pragma once
#include "core/tensor.h"

namespace tg {

// `dims` empty means all dims.
Tensor sum(const Tensor& a, std::vector<int64_t> dims, bool keepdim);

}  // namespace tg
