// Shape ops: views share storage (new shape/strides/offset) and their backward maps the
// gradient back to the input's geometry.
#include "ops/shape.h"

#include <algorithm>
#include <optional>

#include "autograd/node.h"
#include "autograd/trace.h"
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
      TG_CHECK(!__builtin_mul_overflow(known, shape[i], &known), RuntimeError, "shape '",
               shape_str(shape), "' is invalid for input of size ", numel);
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


// A view's gradient written into zeros of the input's shape through the same view
// (slice and select backward).
template <class MakeView>
Tensor embed_grad(const Tensor& g, const Shape& in_shape, MakeView make) {
  Tensor z = zeros(in_shape, g->dtype);
  copy_into(make(z), g);
  return z;
}
// The same in recorded ops (create_graph): zeros joined around g (cat), so the result
// differentiates like any op. A stepped slice first spreads g out, step - 1 zeros after
// each row.
Tensor embed_grad_graph(const Tensor& g, const Shape& in_shape, int64_t dim, int64_t start, int64_t step) {
  Tensor x = g;
  const int64_t n = g->shape[dim];
  if (n == 0) return zeros(in_shape, g->dtype);
  if (step > 1) {
    Tensor u = unsqueeze(g, dim + 1);
    Shape zs = u->shape;
    zs[dim + 1] = step - 1;
    Shape spread = g->shape;
    spread[dim] = n * step;
    x = narrow(reshape(cat({u, zeros(zs, g->dtype)}, dim + 1), spread), dim, 0, (n - 1) * step + 1);
  }
  std::vector<Tensor> parts;
  const int64_t after = in_shape[dim] - start - x->shape[dim];
  for (int64_t len : {start, int64_t(-1), after}) {
    if (len < 0) {
      parts.push_back(x);
    } else if (len > 0) {
      Shape zs = x->shape;
      zs[dim] = len;
      parts.push_back(zeros(zs, g->dtype));
    }
  }
  return parts.size() == 1 ? parts[0] : cat(parts, dim);
}

// The gradient of a view that only adds or drops size-1 dims.
struct ReshapeAlikeBackward : Node {
  const char* node_name;
  Shape in_shape;
  ReshapeAlikeBackward(const char* n, Shape s) : node_name(n), in_shape(std::move(s)) {}
  std::string name() const override { return node_name; }
  TG_APPLY_IS_DIFFERENTIABLE
  std::vector<Tensor> apply(std::vector<Tensor>& g) override { return {reshape(g[0], in_shape)}; }
};

struct ExpandBackward0 : Node {
  Shape in_shape;
  explicit ExpandBackward0(Shape s) : in_shape(std::move(s)) {}
  std::string name() const override { return "ExpandBackward0"; }
  TG_APPLY_IS_DIFFERENTIABLE
  std::vector<Tensor> apply(std::vector<Tensor>& g) override { return {sum_to(g[0], in_shape)}; }
};

struct PermuteBackward0 : Node {
  std::vector<int64_t> inverse;
  explicit PermuteBackward0(std::vector<int64_t> inv) : inverse(std::move(inv)) {}
  std::string name() const override { return "PermuteBackward0"; }
  TG_APPLY_IS_DIFFERENTIABLE
  std::vector<Tensor> apply(std::vector<Tensor>& g) override { return {permute(g[0], inverse)}; }
};

struct TransposeBackward0 : Node {
  int64_t d0, d1;
  const char* node_name;
  TransposeBackward0(int64_t a, int64_t b, const char* n) : d0(a), d1(b), node_name(n) {}
  std::string name() const override { return node_name; }
  TG_APPLY_IS_DIFFERENTIABLE
  std::vector<Tensor> apply(std::vector<Tensor>& g) override { return {transpose(g[0], d0, d1)}; }
};

struct SliceBackward0 : Node {
  Shape in_shape;
  int64_t dim, start, end, step;
  SliceBackward0(Shape s, int64_t d, int64_t b, int64_t e, int64_t st)
      : in_shape(std::move(s)), dim(d), start(b), end(e), step(st) {}
  std::string name() const override { return "SliceBackward0"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    return {embed_grad(g[0], in_shape, [&](const Tensor& z) { return slice(z, dim, start, end, step); })};
  }
  std::vector<Tensor> apply_graph(std::vector<Tensor>& g) override {
    return {embed_grad_graph(g[0], in_shape, dim, start, step)};
  }
};

struct SelectBackward0 : Node {
  Shape in_shape;
  int64_t dim, index;
  SelectBackward0(Shape s, int64_t d, int64_t i) : in_shape(std::move(s)), dim(d), index(i) {}
  std::string name() const override { return "SelectBackward0"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    return {embed_grad(g[0], in_shape, [&](const Tensor& z) { return select(z, dim, index); })};
  }
  std::vector<Tensor> apply_graph(std::vector<Tensor>& g) override {
    return {embed_grad_graph(unsqueeze(g[0], dim), in_shape, dim, index, 1)};
  }
};

struct AliasBackward0 : Node {
  std::string name() const override { return "AliasBackward0"; }
  TG_APPLY_IS_DIFFERENTIABLE
  std::vector<Tensor> apply(std::vector<Tensor>& g) override { return {g[0]}; }
};

// A view that records `node` (named after the PyTorch op it stands for).
template <class NodeT, class... Args>
Tensor record_view(const Tensor& a, Shape shape, Shape strides, int64_t offset, Args&&... args) {
  Tensor out = make_view(a, std::move(shape), std::move(strides), offset);
  set_history(make_node<NodeT>({a}, std::forward<Args>(args)...), {out});
  track_view(out, a);
  return out;
}

}  // namespace

Tensor view(const Tensor& a, Shape shape) {
  return trace::op("reshape", {a}, [&]() -> Tensor {
  shape = infer_shape(std::move(shape), a->numel());
  auto st = view_strides(a->shape, a->strides, shape);
  TG_CHECK(st, RuntimeError, "view size is not compatible with input tensor's size and stride ",
           "(at least one dimension spans across two contiguous subspaces) for input of shape ",
           shape_str(a->shape), " with strides ", shape_str(a->strides), " and view shape ",
           shape_str(shape), ". Use .reshape(...) instead.");
  return record_view<ReshapeAlikeBackward>(a, shape, *st, a->offset, "ViewBackward0", a->shape);
  });
}

Tensor reshape(const Tensor& a, Shape shape) {
  return trace::op("reshape", {a}, [&]() -> Tensor {
  shape = infer_shape(std::move(shape), a->numel());
  if (view_strides(a->shape, a->strides, shape)) return view(a, shape);
  // A copy laid out for the new shape; PyTorch records it as UnsafeViewBackward0 over the clone.
  Tensor c = clone(a);
  Tensor out = record_view<ReshapeAlikeBackward>(c, shape, contiguous_strides(shape), c->offset,
                                                 "UnsafeViewBackward0", a->shape);
  out->view_base.reset();  // a copy, not a view: nothing else shows its memory
  return out;
  });
}

Tensor flatten(const Tensor& a, int64_t start_dim, int64_t end_dim) {
  return trace::op("reshape", {a}, [&]() -> Tensor {
  int64_t nd = a->ndim();
  start_dim = wrap_dim(start_dim, nd), end_dim = wrap_dim(end_dim, nd);
  TG_CHECK(start_dim <= end_dim, RuntimeError,
           "flatten() has invalid args: start_dim cannot come after end_dim");
  if (nd == 0) return reshape(a, {1});
  if (start_dim == end_dim) return a;  // PyTorch returns the input itself
  Shape shape(a->shape.begin(), a->shape.begin() + start_dim);
  int64_t n = 1;
  for (int64_t d = start_dim; d <= end_dim; ++d) n *= a->shape[d];
  shape.push_back(n);
  shape.insert(shape.end(), a->shape.begin() + end_dim + 1, a->shape.end());
  return reshape(a, shape);
  });
}

Tensor unflatten(const Tensor& a, int64_t dim, Shape sizes) {
  dim = wrap_dim(dim, a->ndim());
  TG_CHECK(!sizes.empty(), RuntimeError, "unflatten: sizes must be non-empty");
  TG_CHECK(a->ndim() > 0, RuntimeError, "unflatten: Cannot unflatten a 0-d tensor");
  Shape resolved;
  try {
    resolved = infer_shape(sizes, a->shape[dim]);
  } catch (const RuntimeError&) {
    throw RuntimeError(cat_str("unflatten: Provided sizes ", shape_str(sizes),
                               " don't multiply up to the size of dim ", dim, " (", a->shape[dim],
                               ") in the input tensor"));
  }
  Shape shape(a->shape.begin(), a->shape.begin() + dim);
  shape.insert(shape.end(), resolved.begin(), resolved.end());
  shape.insert(shape.end(), a->shape.begin() + dim + 1, a->shape.end());
  return view(a, shape);
}

namespace {
// Drops the dims marked in `drop` (all of size 1).
Tensor squeeze_marked(const Tensor& a, const std::vector<bool>& drop, const char* node_name) {
  Shape shape, strides;
  for (int64_t d = 0; d < a->ndim(); ++d) {
    if (drop[d]) continue;
    shape.push_back(a->shape[d]);
    strides.push_back(a->strides[d]);
  }
  return record_view<ReshapeAlikeBackward>(a, shape, strides, a->offset, node_name, a->shape);
}
}  // namespace

Tensor squeeze(const Tensor& a) {
  return trace::op("reshape", {a}, [&]() -> Tensor {
  std::vector<bool> drop(a->ndim());
  for (int64_t d = 0; d < a->ndim(); ++d) drop[d] = a->shape[d] == 1;
  return squeeze_marked(a, drop, "SqueezeBackward0");
  });
}

Tensor squeeze(const Tensor& a, int64_t dim) {
  return trace::op("reshape", {a}, [&]() -> Tensor {
  dim = wrap_dim(dim, a->ndim());
  std::vector<bool> drop(a->ndim(), false);
  if (a->ndim() > 0) drop[dim] = a->shape[dim] == 1;
  return squeeze_marked(a, drop, "SqueezeBackward1");
  });
}

Tensor squeeze(const Tensor& a, std::vector<int64_t> dims) {
  return trace::op("reshape", {a}, [&]() -> Tensor {
  std::vector<bool> drop(a->ndim(), false), seen(std::max<int64_t>(a->ndim(), 1), false);
  for (int64_t d : dims) {
    d = wrap_dim(d, a->ndim());
    TG_CHECK(!seen[d], RuntimeError, "dim ", d, " appears multiple times in the list of dims");
    seen[d] = true;
    if (a->ndim() > 0) drop[d] = a->shape[d] == 1;
  }
  return squeeze_marked(a, drop, "SqueezeBackward2");
  });
}

Tensor unsqueeze(const Tensor& a, int64_t dim) {
  return trace::op("reshape", {a}, [&]() -> Tensor {
  dim = wrap_dim(dim, a->ndim() + 1);
  Shape shape = a->shape, strides = a->strides;
  // The new dim's stride makes the result contiguous whenever the input is.
  int64_t st = dim < a->ndim() ? a->shape[dim] * a->strides[dim] : 1;
  shape.insert(shape.begin() + dim, 1);
  strides.insert(strides.begin() + dim, st);
  return record_view<ReshapeAlikeBackward>(a, shape, strides, a->offset, "UnsqueezeBackward0", a->shape);
  });
}

Tensor expand(const Tensor& a, Shape shape) {
  return trace::op("expand", {a}, [&]() -> Tensor {
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
    TG_CHECK(shape[i] >= 0, RuntimeError, "expand: invalid size ", shape[i], " in ", shape_str(shape));
    st[i] = (src == 1 && shape[i] != 1) ? 0 : a->strides[i - (n - k)];
  }
  return record_view<ExpandBackward0>(a, shape, st, a->offset, a->shape);
  });
}

Tensor expand_as(const Tensor& a, const Tensor& other) { return expand(a, other->shape); }

Tensor permute(const Tensor& a, std::vector<int64_t> dims) {
  return trace::op("permute", {a}, [&] { return trace::Attrs{{"dims", dims}}; }, [&]() -> Tensor {
  int64_t nd = a->ndim();
  TG_CHECK((int64_t)dims.size() == nd, RuntimeError,
           "permute(sizes): number of dims don't match in permute: input.dim() = ", nd,
           " is not equal to len(dims) = ", dims.size(), " (input shape ", shape_str(a->shape), ")");
  std::vector<int64_t> inv(nd, -1);
  Shape shape(nd), strides(nd);
  for (int64_t i = 0; i < nd; ++i) {
    int64_t d = wrap_dim(dims[i], nd);
    TG_CHECK(inv[d] < 0, RuntimeError, "permute(): duplicate dims are not allowed.");
    inv[d] = i;
    shape[i] = a->shape[d];
    strides[i] = a->strides[d];
  }
  return record_view<PermuteBackward0>(a, shape, strides, a->offset, inv);
  });
}

namespace {
Tensor transpose_named(const Tensor& a, int64_t d0, int64_t d1, const char* node_name) {
  int64_t nd = a->ndim();
  d0 = wrap_dim(d0, nd), d1 = wrap_dim(d1, nd);
  Shape shape = a->shape, strides = a->strides;
  if (nd > 0) {
    std::swap(shape[d0], shape[d1]);
    std::swap(strides[d0], strides[d1]);
  }
  return record_view<TransposeBackward0>(a, shape, strides, a->offset, d0, d1, node_name);
}
}  // namespace

Tensor transpose(const Tensor& a, int64_t d0, int64_t d1) {
  return trace::op("transpose", {a}, [&] { return trace::Attrs{{"dim0", d0}, {"dim1", d1}}; }, [&]() -> Tensor {
  return transpose_named(a, d0, d1, "TransposeBackward0");
  });
}

Tensor t(const Tensor& a) {
  TG_CHECK(a->ndim() <= 2, RuntimeError, "t() expects a tensor with <= 2 dimensions, but self is ",
           a->ndim(), "D (shape ", shape_str(a->shape), ")");
  return transpose_named(a, 0, a->ndim() < 2 ? 0 : 1, "TBackward0");
}

Tensor movedim(const Tensor& a, std::vector<int64_t> source, std::vector<int64_t> destination) {
  int64_t nd = a->ndim();
  TG_CHECK(source.size() == destination.size(), RuntimeError,
           "movedim: Invalid source or destination dims: source (", shape_str(source),
           " dims) should contain the same number of dims as destination (",
           shape_str(destination), " dims)");
  std::vector<int64_t> order(std::max<int64_t>(nd, 1), -1);
  std::vector<bool> src_used(std::max<int64_t>(nd, 1), false);
  for (size_t i = 0; i < source.size(); ++i) {
    int64_t s = wrap_dim(source[i], nd), d = wrap_dim(destination[i], nd);
    TG_CHECK(!src_used[s], RuntimeError, "movedim: repeated dim in `source` (", shape_str(source), ")");
    TG_CHECK(order[d] < 0, RuntimeError, "movedim: repeated dim in `destination` (",
             shape_str(destination), ")");
    src_used[s] = true;
    order[d] = s;
  }
  if (nd == 0) return permute(a, {});
  int64_t next = 0;  // the remaining dims keep their relative order
  for (int64_t d = 0; d < nd; ++d) {
    if (order[d] >= 0) continue;
    while (src_used[next]) ++next;
    order[d] = next++;
  }
  return permute(a, order);
}

Tensor slice(const Tensor& a, int64_t dim, int64_t start, int64_t end, int64_t step) {
  return trace::op("slice", {a}, [&] { return trace::Attrs{{"dim", dim}, {"start", start}, {"end", end}, {"step", step}}; }, [&]() -> Tensor {
  TG_CHECK(a->ndim() > 0, IndexError, "slice() cannot be applied to a 0-dim tensor.");
  dim = wrap_dim(dim, a->ndim());
  TG_CHECK(step > 0, ValueError, "step must be greater than zero");
  const int64_t size = a->shape[dim];
  auto clamp = [size](int64_t v) {
    if (v < 0) v += size;  // cannot overflow: size >= 0
    return std::min(std::max<int64_t>(v, 0), size);
  };
  start = clamp(start);
  end = std::max(clamp(end), start);
  // (end - start - 1) / step + 1 rather than (end - start + step - 1) / step: no overflow.
  int64_t len = end == start ? 0 : (end - start - 1) / step + 1;
  Shape shape = a->shape, strides = a->strides;
  shape[dim] = len;
  if (len > 1) strides[dim] *= step;  // then step < size: no overflow (a huge step gives len <= 1)
  return record_view<SliceBackward0>(a, shape, strides, a->offset + start * a->strides[dim],
                                     a->shape, dim, start, end, step);
  });
}

Tensor narrow(const Tensor& a, int64_t dim, int64_t start, int64_t length) {
  TG_CHECK(a->ndim() > 0, RuntimeError, "narrow() cannot be applied to a 0-dim tensor.");
  dim = wrap_dim(dim, a->ndim());
  const int64_t size = a->shape[dim];
  TG_CHECK(start >= -size && start <= size, IndexError, "start out of range (expected to be in range of [",
           -size, ", ", size, "], but got ", start, ")");
  if (start < 0) start += size;
  TG_CHECK(length >= 0, RuntimeError, "narrow(): length must be non-negative, got ", length);
  TG_CHECK(start <= size - length, RuntimeError, "start (", start, ") + length (", length,
           ") exceeds dimension size (", size, ").");
  return slice(a, dim, start, start + length, 1);
}

Tensor select(const Tensor& a, int64_t dim, int64_t index) {
  return trace::op("select", {a}, [&] { return trace::Attrs{{"dim", dim}, {"index", index}}; }, [&]() -> Tensor {
  TG_CHECK(a->ndim() > 0, IndexError, "select() cannot be applied to a 0-dim tensor.");
  dim = wrap_dim(dim, a->ndim());
  const int64_t size = a->shape[dim];
  TG_CHECK(index >= -size && index < size, IndexError, "index ", index,
           " is out of bounds for dimension ", dim, " with size ", size);
  if (index < 0) index += size;
  Shape shape = a->shape, strides = a->strides;
  shape.erase(shape.begin() + dim);
  strides.erase(strides.begin() + dim);
  return record_view<SelectBackward0>(a, shape, strides, a->offset + index * a->strides[dim],
                                      a->shape, dim, index);
  });
}

Tensor alias_view(const Tensor& a) {
  return trace::op("identity", {a}, [&]() -> Tensor {
  return record_view<AliasBackward0>(a, a->shape, a->strides, a->offset);
  });
}

}  // namespace tg
