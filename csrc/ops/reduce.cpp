// Reductions: each op's forward and its backward node stand together.
#include "ops/reduce.h"

#include <algorithm>

#include "autograd/node.h"
#include "kernels/reduce.h"
#include "ops/creation.h"
#include "ops/elementwise.h"
#include "ops/shape.h"

namespace tg {

namespace {
// Wraps, sorts and dedups `dims`; empty means every dim.
std::vector<int64_t> normalize_dims(std::vector<int64_t> dims, int64_t ndim) {
  if (dims.empty()) {
    for (int64_t d = 0; d < ndim; ++d) dims.push_back(d);
    return dims;
  }
  for (auto& d : dims) d = wrap_dim(d, ndim);
  std::sort(dims.begin(), dims.end());
  TG_CHECK(std::adjacent_find(dims.begin(), dims.end()) == dims.end(), RuntimeError,
           "dim appears multiple times in the list of dims");
  if (ndim == 0) dims.clear();  // dim 0 / -1 of a 0-d tensor reduces nothing
  return dims;
}

Shape reduced_shape(const Shape& shape, const std::vector<int64_t>& dims, bool keepdim) {
  Shape out;
  for (int64_t d = 0; d < (int64_t)shape.size(); ++d) {
    bool r = std::binary_search(dims.begin(), dims.end(), d);
    if (!r) out.push_back(shape[d]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

struct SumBackward1 : Node {
  Shape in_shape, keep_shape;
  SumBackward1(Shape in, Shape keep) : in_shape(std::move(in)), keep_shape(std::move(keep)) {}
  std::string name() const override { return "SumBackward1"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    return {contiguous(expand(reshape(g[0], keep_shape), in_shape))};
  }
};
}  // namespace

Tensor sum(const Tensor& a, std::vector<int64_t> dims, bool keepdim) {
  dims = normalize_dims(std::move(dims), a->ndim());
  auto plan = kernels::make_plan(a->shape, a->strides, dims);
  DType odt = a->dtype == DType::Bool ? DType::Int64 : a->dtype;  // sum of bools counts
  Tensor out = empty(reduced_shape(a->shape, dims, keepdim), odt);
  TG_DISPATCH_ALL(a->dtype, T, {
    using TO = std::conditional_t<std::is_same_v<T, bool>, int64_t, T>;
    using Acc = std::conditional_t<std::is_same_v<T, float>, double, TO>;
    kernels::reduce(plan, a->data_as<T>(), out->data_as<TO>(), Acc(0),
                    [](Acc s, T x) { return s + Acc(x); }, [](Acc s) { return TO(s); });
  });
  set_history(make_node<SumBackward1>({a}, a->shape, reduced_shape(a->shape, dims, true)), {out});
  return out;
}

}  // namespace tg
