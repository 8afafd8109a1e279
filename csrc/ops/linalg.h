#pragma once
#include "core/tensor.h"

namespace tg {

Tensor matmul(const Tensor& a, const Tensor& b);

}  // namespace tg
