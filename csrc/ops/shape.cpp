// Shape ops: views share storage (new shape/strides/offset) and their backward maps the
// gradient back to the input's geometry.
#include "ops/shape.h"

#include <optional>

#include "autograd/node.h"
#include "ops/creation.h"
#include "ops/elementwise.h"

namespace tg {

Shape infer_shape(Shape shape, int64_t numel) {
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      TG_CHECK(infer < 0, RuntimeError, "only one dimension can be inferred");
      infer = (int64_t)i;
    } else {
      TG_CHECK(shape[i] >= 0, RuntimeError, "invalid shape dimension ", shape[i]);
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    TG_CHECK(known != 0 && numel % known == 0, RuntimeError, "shape '", shape_str(shape),
             "' is invalid for input of size ", numel);
    shape[infer] = numel / known;
  }
  TG_CHECK(numel_of(shape) == numel, RuntimeError, "shape '", shape_str(shape),
           "' is invalid for input of size ", numel);
  return shape;
}

namespace {
// Strides that let `newshape` view memory laid out as (oldshape, oldstride), if any
// (PyTorch's computeStride).
std::optional<Shape> view_strides(const Shape& oldshape, const Shape& oldstride, const Shape& newshape) {
  if (oldshape.empty()) return Shape(newshape.size(), 1);
  int64_t numel = numel_of(oldshape);
  if (numel == 0) return oldshape == newshape ? oldstride : contiguous_strides(newshape);
  Shape newstride(newshape.size());
  int64_t view_d = (int64_t)newshape.size() - 1;
  int64_t chunk_base_stride = oldstride.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t tensor_d = (int64_t)oldshape.size() - 1; tensor_d >= 0; --tensor_d) {
    tensor_numel *= oldshape[tensor_d];
    if (tensor_d == 0 || (oldshape[tensor_d - 1] != 1 &&
                          oldstride[tensor_d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || newshape[view_d] == 1)) {
        newstride[view_d] = view_numel * chunk_base_stride;
        view_numel *= newshape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (tensor_d > 0) {
        chunk_base_stride = oldstride[tensor_d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return newstride;
}

struct ViewBackward0 : Node {
  Shape in_shape;
  explicit ViewBackward0(Shape s) : in_shape(std::move(s)) {}
  std::string name() const override { return "ViewBackward0"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override { return {reshape(g[0], in_shape)}; }
};
struct ExpandBackward0 : Node {
  Shape in_shape;
  explicit ExpandBackward0(Shape s) : in_shape(std::move(s)) {}
  std::string name() const override { return "ExpandBackward0"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override { return {sum_to(g[0], in_shape)}; }
};
struct PermuteBackward0 : Node {
  std::vector<int64_t> inverse;
  explicit PermuteBackward0(std::vector<int64_t> inv) : inverse(std::move(inv)) {}
  std::string name() const override { return "PermuteBackward0"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override { return {permute(g[0], inverse)}; }
};
struct TransposeBackward0 : Node {
  int64_t d0, d1;
  TransposeBackward0(int64_t a, int64_t b) : d0(a), d1(b) {}
  std::string name() const override { return "TransposeBackward0"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override { return {transpose(g[0], d0, d1)}; }
};
}  // namespace

Tensor view(const Tensor& a, Shape shape) {
  shape = infer_shape(std::move(shape), a->numel());
  auto st = view_strides(a->shape, a->strides, shape);
  TG_CHECK(st, RuntimeError, "view size is not compatible with input tensor's size and stride ",
           "(at least one dimension spans across two contiguous subspaces) for input of shape ",
           shape_str(a->shape), " and view shape ", shape_str(shape),
           ". Use .reshape(...) instead.");
  Tensor out = make_view(a, shape, *st, a->offset);
  set_history(make_node<ViewBackward0>({a}, a->shape), {out});
  return out;
}

Tensor reshape(const Tensor& a, Shape shape) {
  shape = infer_shape(std::move(shape), a->numel());
  if (view_strides(a->shape, a->strides, shape)) return view(a, shape);
  return view(clone(a), shape);
}

Tensor expand(const Tensor& a, Shape shape) {
  TG_CHECK(shape.size() >= a->shape.size(), RuntimeError, "expand: the number of sizes provided (",
           shape.size(), ") must be greater or equal to the number of dimensions in the tensor (",
           a->shape.size(), ")");
  size_t n = shape.size(), k = a->shape.size();
  Shape st(n, 0);
  for (size_t i = 0; i < n; ++i) {
    if (i < n - k) {
      TG_CHECK(shape[i] >= 0, RuntimeError, "expand: the expanded size ", shape[i],
               " is not allowed in a leading, non-existing dimension");
      continue;
    }
    int64_t src = a->shape[i - (n - k)];
    if (shape[i] == -1) shape[i] = src;
    TG_CHECK(shape[i] == src || src == 1, RuntimeError, "The expanded size of the tensor (",
             shape[i], ") must match the existing size (", src, ") at non-singleton dimension ", i,
             ".  Target sizes: ", shape_str(shape), ".  Tensor sizes: ", shape_str(a->shape));
    st[i] = (src == 1 && shape[i] != 1) ? 0 : a->strides[i - (n - k)];
  }
  Tensor out = make_view(a, shape, st, a->offset);
  set_history(make_node<ExpandBackward0>({a}, a->shape), {out});
  return out;
}

Tensor permute(const Tensor& a, std::vector<int64_t> dims) {
  int64_t nd = a->ndim();
  TG_CHECK((int64_t)dims.size() == nd, RuntimeError, "permute(): number of dims don't match: input.dim() = ", nd, " is not equal to len(dims) = ", dims.size());
  std::vector<int64_t> inv(nd, -1);
  Shape shape(nd), strides(nd);
  for (int64_t i = 0; i < nd; ++i) {
    int64_t d = wrap_dim(dims[i], nd);
    TG_CHECK(inv[d] < 0, RuntimeError, "permute(): duplicate dims are not allowed.");
    inv[d] = i;
    shape[i] = a->shape[d];
    strides[i] = a->strides[d];
  }
  Tensor out = make_view(a, shape, strides, a->offset);
  set_history(make_node<PermuteBackward0>({a}, inv), {out});
  return out;
}

Tensor transpose(const Tensor& a, int64_t d0, int64_t d1) {
  int64_t nd = a->ndim();
  d0 = wrap_dim(d0, nd), d1 = wrap_dim(d1, nd);
  Shape shape = a->shape, strides = a->strides;
  if (nd > 0) {
    std::swap(shape[d0], shape[d1]);
    std::swap(strides[d0], strides[d1]);
  }
  Tensor out = make_view(a, shape, strides, a->offset);
  set_history(make_node<TransposeBackward0>({a}, d0, d1), {out});
  return out;
}

}  // namespace tg
