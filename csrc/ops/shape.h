#pragma once
#include <cstdint>
#include <limits>
#include <vector>

#include "core/tensor.h"

namespace tg {

// ---- views (shape.cpp): share storage with the input, no copy ---------------------------
Tensor view(const Tensor& a, Shape shape);     // RuntimeError if the strides do not allow it
Tensor reshape(const Tensor& a, Shape shape);  // view when possible, else a copy
Tensor flatten(const Tensor& a, int64_t start_dim = 0, int64_t end_dim = -1);
Tensor unflatten(const Tensor& a, int64_t dim, Shape sizes);
Tensor squeeze(const Tensor& a);                             // every size-1 dim
Tensor squeeze(const Tensor& a, int64_t dim);                // no-op unless size 1
Tensor squeeze(const Tensor& a, std::vector<int64_t> dims);  // the size-1 dims among `dims`
Tensor unsqueeze(const Tensor& a, int64_t dim);
Tensor expand(const Tensor& a, Shape shape);
Tensor expand_as(const Tensor& a, const Tensor& other);
Tensor permute(const Tensor& a, std::vector<int64_t> dims);
Tensor transpose(const Tensor& a, int64_t d0, int64_t d1);
Tensor t(const Tensor& a);  // transpose of a <= 2-D tensor
Tensor movedim(const Tensor& a, std::vector<int64_t> source, std::vector<int64_t> destination);
// Elements start, start+step, ... below end along `dim`; start and end are clamped to the
// dim like Python slice bounds (negative ones count from the end).
Tensor slice(const Tensor& a, int64_t dim, int64_t start = 0,
             int64_t end = std::numeric_limits<int64_t>::max(), int64_t step = 1);
Tensor narrow(const Tensor& a, int64_t dim, int64_t start, int64_t length);
Tensor select(const Tensor& a, int64_t dim, int64_t index);  // removes `dim`
Tensor alias_view(const Tensor& a);  // same geometry, recorded as AliasBackward0 (t[...])

// Resolves one -1 in a requested shape against numel; RuntimeError on mismatch.
Shape infer_shape(Shape shape, int64_t numel);

// ---- joining and splitting (join.cpp) ----------------------------------------------------
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0);
// Views of consecutive pieces of `split_size` along dim (the last may be smaller).
std::vector<Tensor> split(const Tensor& a, int64_t split_size, int64_t dim = 0);
std::vector<Tensor> split_with_sizes(const Tensor& a, const std::vector<int64_t>& sizes,
                                     int64_t dim = 0);
std::vector<Tensor> chunk(const Tensor& a, int64_t chunks, int64_t dim = 0);
std::vector<Tensor> unbind(const Tensor& a, int64_t dim = 0);

}  // namespace tg
