#pragma once
// Helpers shared by the reduction op files (reduce.cpp, minmax.cpp, softmax.cpp): dim
// arguments, result shapes and views of a tensor along one dim.
#include <algorithm>
#include <vector>

#include "core/tensor.h"
#include "kernels/reduce_dim.h"
#include "ops/creation.h"

namespace tg::reduce_detail {

// Wraps and sorts `dims`; empty means every dim. RuntimeError on a repeated dim,
// IndexError (from wrap_dim) on one out of range.
inline std::vector<int64_t> normalize_dims(std::vector<int64_t> dims, int64_t ndim) {
  if (dims.empty()) {
    for (int64_t d = 0; d < ndim; ++d) dims.push_back(d);
    return dims;
  }
  for (auto& d : dims) d = wrap_dim(d, ndim);
  std::sort(dims.begin(), dims.end());
  auto rep = std::adjacent_find(dims.begin(), dims.end());
  TG_CHECK(rep == dims.end(), RuntimeError, "dim ", *rep, " appears multiple times in the list of dims");
  if (ndim == 0) dims.clear();  // dim 0 / -1 of a 0-d tensor reduces nothing
  return dims;
}

// `shape` with `dims` (sorted) removed, or set to 1 when keepdim.
inline Shape reduced_shape(const Shape& shape, const std::vector<int64_t>& dims, bool keepdim) {
  Shape out;
  for (int64_t d = 0; d < (int64_t)shape.size(); ++d) {
    if (!std::binary_search(dims.begin(), dims.end(), d)) out.push_back(shape[d]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

// [outer, n, inner] around dim `d` (already wrapped) of a contiguous tensor of `shape`.
inline kernels::DimGeom dim_geom(const Shape& shape, int64_t d) {
  kernels::DimGeom g{1, 1, 1};
  if (shape.empty()) return g;
  for (int64_t i = 0; i < d; ++i) g.outer *= shape[i];
  g.n = shape[d];
  for (int64_t i = d + 1; i < (int64_t)shape.size(); ++i) g.inner *= shape[i];
  return g;
}

// `t` itself when contiguous, else a contiguous copy without autograd history (the
// kernels read it; the op's own node carries the gradient).
inline Tensor dense(const Tensor& t) {
  if (t->is_contiguous()) return t;
  Tensor out = empty(t->shape, t->dtype);
  copy_into(out, t);
  return out;
}

// `t` in `dt` without autograd history.
inline Tensor cast(const Tensor& t, DType dt) {
  if (t->dtype == dt) return t;
  Tensor out = empty(t->shape, dt);
  copy_into(out, t);
  return out;
}

}  // namespace tg::reduce_detail
