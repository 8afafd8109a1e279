#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace tg {

// One entry of the key of t[key], already converted from Python.
struct IndexItem {
  enum class Kind { Int, Slice, None, Ellipsis, Bool, Tensor } kind = Kind::None;
  int64_t value = 0;                   // Int: the index; Bool: 0 or 1
  int64_t start = 0, stop = 0, step = 1;  // Slice (Python's clamped bounds)
  tg::Tensor tensor;                   // Tensor: int64 or bool
};

// t[key]: ints, slices, None and ... give a view; integer and bool tensors in the key then
// gather a copy (advanced indexing, PyTorch's rules for where the indexed dims go).
Tensor getitem(const Tensor& self, const std::vector<IndexItem>& key);
// t[key] = value: writes `value` (broadcast) into the indexed elements. RuntimeError when
// this would bypass autograd (self or value requires grad with grad mode on).
void setitem(const Tensor& self, const std::vector<IndexItem>& key, const Tensor& value);

// Advanced indexing proper. indices[i] is null (the whole dim), an int64 tensor (one dim)
// or a bool mask (as many dims as it has). All int64 tensors broadcast together.
Tensor index(const Tensor& self, const std::vector<Tensor>& indices);
// self[indices] = values, or += (repeated indices accumulate) with `accumulate`. No autograd.
void index_put_(const Tensor& self, const std::vector<Tensor>& indices, const Tensor& values,
                bool accumulate);

Tensor index_select(const Tensor& self, int64_t dim, const Tensor& index);
Tensor gather(const Tensor& self, int64_t dim, const Tensor& index);
// self with src added at positions given by index along dim (out of place).
Tensor scatter_add(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src);
// self with `value` (a 0-d tensor) where mask is true; mask broadcasts with self.
Tensor masked_fill(const Tensor& self, const Tensor& mask, const Tensor& value);
void masked_fill_(const Tensor& self, const Tensor& mask, const Tensor& value);
// Coordinates of the non-zero elements: an int64 tensor of shape [count, ndim].
Tensor nonzero(const Tensor& self);

}  // namespace tg
