#pragma once
#include "core/tensor.h"

namespace tg {

Tensor view(const Tensor& a, Shape shape);     // shares storage; RuntimeError if impossible
Tensor reshape(const Tensor& a, Shape shape);  // view when possible, else a copy
Tensor expand(const Tensor& a, Shape shape);
Tensor permute(const Tensor& a, std::vector<int64_t> dims);
Tensor transpose(const Tensor& a, int64_t d0, int64_t d1);
// Resolves one -1 in a requested shape against numel; RuntimeError on mismatch.
Shape infer_shape(Shape shape, int64_t numel);

}  // namespace tg
