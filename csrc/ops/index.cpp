// Indexing: t[key] and t[key] = v, advanced (integer and mask) indexing, index_select,
// gather, scatter_add, masked_fill, nonzero. Every index is checked against its dim
// before a kernel runs; the kernels (kernels/gather.h) then work on element offsets.
#include "ops/index.h"

#include <algorithm>

#include "autograd/adjoint.h"
#include "autograd/node.h"
#include "kernels/gather.h"
#include "kernels/loops.h"
#include "ops/creation.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "ops/shape.h"

namespace tg {

namespace {


// `t` in dtype `dt`, without autograd history.
Tensor cast(const Tensor& t, DType dt) {
  if (t->dtype == dt) return t;
  Tensor out = empty(t->shape, dt);
  copy_into(out, t);
  return out;
}

// A copy when `t` shares memory with `dst`, so writing dst never changes what is read.
Tensor unaliased(const Tensor& t, const Tensor& dst) {
  if (t->storage != dst->storage) return t;
  Tensor out = empty(t->shape, t->dtype);
  copy_into(out, t);
  return out;
}

// `t` without its leading size-1 dims (PyTorch drops them from assigned values).
Tensor strip_leading_ones(const Tensor& t) {
  size_t k = 0;
  while (k < t->shape.size() && t->shape[k] == 1) ++k;
  if (k == 0) return t;
  return make_view(t, Shape(t->shape.begin() + k, t->shape.end()),
                   Shape(t->strides.begin() + k, t->strides.end()), t->offset);
}

Shape sub_shape(const Shape& s, int64_t b, int64_t e) { return Shape(s.begin() + b, s.begin() + e); }

void check_index_dtype(const Tensor& t) {
  TG_CHECK(t->dtype == DType::Int64 || t->dtype == DType::Bool, IndexError,
           "tensors used as indices must be long, int, byte or bool tensors (got ",
           dtype_name(t->dtype), ")");
}

// Calls f(position, value) for every element of the int64 tensor `index` read as `shape`
// (broadcast), in row-major order.
template <class F>
void for_each_index(const Tensor& index, const Shape& shape, F f) {
  const int64_t* p = index->data_as<int64_t>();
  if (index->shape == shape && index->is_contiguous()) {
    const int64_t n = index->numel();
    for (int64_t i = 0; i < n; ++i) f(i, p[i]);
    return;
  }
  auto offs = kernels::strided_offsets(shape, broadcast_strides(index, shape));
  for (size_t i = 0; i < offs.size(); ++i) f((int64_t)i, p[offs[i]]);
}

[[noreturn]] void out_of_range(int64_t v, int64_t dim, int64_t size) {
  throw IndexError(cat_str("index ", v, " is out of bounds for dimension ", dim, " with size ", size));
}

// Every value of `index` must lie in [-size, size) ([0, size) without `allow_negative`).
void check_range(const Tensor& index, int64_t size, int64_t dim, bool allow_negative) {
  const int64_t lo = allow_negative ? -size : 0;
  for_each_index(index, index->shape, [&](int64_t, int64_t v) {
    if (v < lo || v >= size) out_of_range(v, dim, size);
  });
}

// ---- advanced indexing plan ------------------------------------------------------------

// Where advanced indexing reads (or writes): `src` is self's geometry with the indexed dims
// moved together to `pos` (PyTorch/numpy: they stay in place when adjacent, else go
// first); element (outer, b, inner) of the result lives at
// outer offset + row_offsets[b] + inner offset in `src`.
struct AdvancedPlan {
  Tensor src;
  int64_t pos = 0, k = 0;
  Shape index_shape;
  std::vector<int64_t> row_offsets;
  Shape result_shape;
  std::vector<Tensor> per_dim;  // one int64 tensor or null per dim of self (masks expanded)
};

// One int64 tensor or null per dim of `self`: bool masks become their nonzero coordinates.
std::vector<Tensor> expand_indices(const Tensor& self, const std::vector<Tensor>& indices) {
  const int64_t nd = self->ndim();
  std::vector<Tensor> per_dim(nd);
  int64_t d = 0;
  for (const Tensor& t : indices) {
    int64_t used = !t ? 1 : t->dtype == DType::Bool ? t->ndim() : 1;
    TG_CHECK(d + used <= nd, IndexError, "too many indices for tensor of dimension ", nd,
             " (got ", indices.size(), " indices for shape ", shape_str(self->shape), ")");
    if (!t) {
      ++d;
      continue;
    }
    check_index_dtype(t);
    if (t->dtype == DType::Int64) {
      per_dim[d++] = t;
      continue;
    }
    TG_CHECK(t->ndim() > 0, IndexError, "a 0-dim bool index is only supported directly in t[...]");
    for (int64_t j = 0; j < t->ndim(); ++j)
      TG_CHECK(t->shape[j] == self->shape[d + j], IndexError, "The shape of the mask ",
               shape_str(t->shape), " at index ", j, " does not match the shape of the indexed tensor ",
               shape_str(self->shape), " at index ", d + j);
    Tensor nz = nonzero(t);
    for (int64_t j = 0; j < t->ndim(); ++j) per_dim[d + j] = select(nz, 1, j);
    d += t->ndim();
  }
  return per_dim;
}

AdvancedPlan plan_advanced(const Tensor& self, std::vector<Tensor> per_dim, bool allow_negative) {
  NoGradGuard no_grad;
  AdvancedPlan p;
  const int64_t nd = self->ndim();
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < nd; ++d)
    if (per_dim[d]) dims.push_back(d);

  // Broadcast the index tensors together.
  Shape bshape;
  bool ok = true;
  for (int64_t d : dims) {
    const Shape& s = per_dim[d]->shape;
    Shape out(std::max(bshape.size(), s.size()));
    for (size_t i = 0; i < out.size(); ++i) {
      int64_t a = i < out.size() - bshape.size() ? 1 : bshape[i - (out.size() - bshape.size())];
      int64_t b = i < out.size() - s.size() ? 1 : s[i - (out.size() - s.size())];
      ok &= a == b || a == 1 || b == 1;
      out[i] = a == 1 ? b : a;
    }
    bshape = out;
  }
  if (!ok) {
    std::string shapes;
    for (int64_t d : dims) shapes += (shapes.empty() ? "" : ", ") + shape_str(per_dim[d]->shape);
    throw IndexError("shape mismatch: indexing tensors could not be broadcast together with shapes " + shapes);
  }

  // Move the indexed dims together.
  const bool adjacent = dims.empty() || dims.back() - dims.front() + 1 == (int64_t)dims.size();
  std::vector<int64_t> order;
  if (adjacent) {
    for (int64_t d = 0; d < nd; ++d) order.push_back(d);
    p.pos = dims.empty() ? 0 : dims.front();
  } else {
    order = dims;
    for (int64_t d = 0; d < nd; ++d)
      if (!per_dim[d]) order.push_back(d);
    p.pos = 0;
  }
  p.k = (int64_t)dims.size();
  Shape shape(nd), strides(nd);
  for (int64_t i = 0; i < nd; ++i) shape[i] = self->shape[order[i]], strides[i] = self->strides[order[i]];
  p.src = make_view(self, shape, strides, self->offset);
  p.index_shape = bshape;

  // Checked offsets of every index position.
  p.row_offsets.assign((size_t)numel_of(bshape), 0);
  for (int64_t j = 0; j < p.k; ++j) {
    const Tensor& t = per_dim[dims[j]];
    const int64_t size = shape[p.pos + j], stride = strides[p.pos + j];
    const int64_t lo = allow_negative ? -size : 0;
    int64_t* rows = p.row_offsets.data();
    for_each_index(t, bshape, [&](int64_t b, int64_t v) {
      if (v < lo || v >= size) out_of_range(v, dims[j], size);
      rows[b] += (v < 0 ? v + size : v) * stride;
    });
  }

  p.result_shape = sub_shape(shape, 0, p.pos);
  p.result_shape.insert(p.result_shape.end(), bshape.begin(), bshape.end());
  p.result_shape.insert(p.result_shape.end(), shape.begin() + p.pos + p.k, shape.end());
  p.per_dim = std::move(per_dim);
  return p;
}

// The indexed side of a row copy.
kernels::RowSide indexed_side(const AdvancedPlan& p) {
  const Shape& s = p.src->shape;
  const Shape& st = p.src->strides;
  const int64_t nd = p.src->ndim();
  kernels::RowSide side;
  side.outer = kernels::strided_offsets(sub_shape(s, 0, p.pos), sub_shape(st, 0, p.pos));
  side.row = p.row_offsets;
  side.inner = kernels::strided_offsets(sub_shape(s, p.pos + p.k, nd), sub_shape(st, p.pos + p.k, nd));
  side.inner_unit = kernels::is_iota(side.inner);
  return side;
}

// The other side: a tensor laid out as the result (any strides, 0 where broadcast).
kernels::RowSide result_side(const AdvancedPlan& p, const Shape& strides) {
  const int64_t nb = (int64_t)p.index_shape.size(), nr = (int64_t)p.result_shape.size();
  const Shape& rs = p.result_shape;
  kernels::RowSide side;
  side.outer = kernels::strided_offsets(sub_shape(rs, 0, p.pos), sub_shape(strides, 0, p.pos));
  side.row = kernels::strided_offsets(sub_shape(rs, p.pos, p.pos + nb), sub_shape(strides, p.pos, p.pos + nb));
  side.inner = kernels::strided_offsets(sub_shape(rs, p.pos + nb, nr), sub_shape(strides, p.pos + nb, nr));
  side.inner_unit = kernels::is_iota(side.inner);
  return side;
}

Tensor gather_plan(const AdvancedPlan& p) {
  Tensor out = empty(p.result_shape, p.src->dtype);
  auto src = indexed_side(p);
  auto dst = result_side(p, out->strides);
  TG_DISPATCH_BY_SIZE(out->dtype, T, {  // a pure move: one kernel per element size
    kernels::copy_rows(out->data_as<T>(), dst, p.src->data_as<T>(), src, false, false);
  });
  return out;
}

// dst[plan] = values (or +=), values broadcast to the result shape. No checks, no version bump.
void put_plan(const AdvancedPlan& p, const Tensor& values, bool accumulate) {
  Tensor v = strip_leading_ones(values);
  try {
    broadcast_strides(v, p.result_shape);
  } catch (const RuntimeError&) {
    throw RuntimeError(cat_str("shape mismatch: value tensor of shape ", shape_str(values->shape),
                               " cannot be broadcast to indexing result of shape ",
                               shape_str(p.result_shape)));
  }
  v = unaliased(cast(v, p.src->dtype), p.src);
  auto dst = indexed_side(p);
  auto src = result_side(p, broadcast_strides(v, p.result_shape));
  if (!accumulate) {
    TG_DISPATCH_BY_SIZE(p.src->dtype, T, {
      kernels::copy_rows(p.src->data_as<T>(), dst, v->data_as<T>(), src, false, true);
    });
    return;
  }
  TG_CHECK(is_base(p.src->dtype), NotImplementedError, "\"index_put_ with accumulate=True\" not implemented for '",
           scalar_type_name(p.src->dtype), "'");
  TG_DISPATCH_ALL(p.src->dtype, T, {
    kernels::copy_rows(p.src->data_as<T>(), dst, v->data_as<T>(), src, accumulate, true);
  });
}

// Gradient of a gather: zeros of the input's shape with g added at the indexed places.
Tensor scatter_grad(const Shape& in_shape, const std::vector<Tensor>& per_dim, const Tensor& g,
                    bool allow_negative) {
  if (!is_base(g->dtype)) {  // half gradients accumulate in float32, rounded once
    Tensor z = scatter_grad(in_shape, per_dim, cast(g, compute_dtype(g->dtype)), allow_negative);
    return cast(z, g->dtype);
  }
  Tensor z = zeros(in_shape, g->dtype);
  put_plan(plan_advanced(z, per_dim, allow_negative), g, /*accumulate=*/true);
  return z;
}

// Saved int64 index tensors (one per dim, null where none).
struct SavedIndices {
  std::vector<SavedTensor> saved;
  std::vector<bool> present;
  explicit SavedIndices(const std::vector<Tensor>& per_dim) {
    for (auto& t : per_dim) {
      present.push_back((bool)t);
      saved.push_back(t ? SavedTensor(t) : SavedTensor());
    }
  }
  std::vector<Tensor> get(const Node& owner) const {
    std::vector<Tensor> out(saved.size());
    for (size_t i = 0; i < saved.size(); ++i)
      if (present[i]) out[i] = saved[i].get(owner);
    return out;
  }
  void reset() {
    for (auto& s : saved) s.reset();
  }
};

struct IndexBackward0 : Node {
  Shape in_shape;
  SavedIndices indices;
  bool select;  // index_select: no negative indices
  IndexBackward0(Shape s, const std::vector<Tensor>& per_dim, bool sel)
      : in_shape(std::move(s)), indices(per_dim), select(sel) {}
  std::string name() const override { return select ? "IndexSelectBackward0" : "IndexBackward0"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    return {scatter_grad(in_shape, indices.get(*this), g[0], !select)};
  }
  // create_graph: linear in g; the adjoint of the scatter is the same gather (index)
  std::vector<Tensor> apply_graph(std::vector<Tensor>& g) override {
    std::vector<Tensor> per_dim = indices.get(*this);
    const bool neg = !select;
    const Shape shape = in_shape;
    return {linear_in_grad(g[0], select ? "IndexAddBackward0" : "IndexPutBackward0",
                           [&](const Tensor& go) { return scatter_grad(shape, per_dim, go, neg); },
                           [per_dim](const Tensor& gg) { return tg::index(gg, per_dim); })};
  }
  void release_saved() override { indices.reset(); }
};

// self[indices] = values (or +=): the overwritten positions of self get no gradient (all of
// it with accumulate), values get the gradient at the positions they went to, summed over
// the broadcast.
struct IndexPutBackward0 : Node {
  Shape values_shape, values_stripped;
  DType values_dtype;
  SavedIndices indices;
  bool accumulate;
  IndexPutBackward0(const Tensor& values, const std::vector<Tensor>& per_dim, bool acc)
      : values_shape(values->shape), values_stripped(strip_leading_ones(values)->shape),
        values_dtype(values->dtype), indices(per_dim), accumulate(acc) {}
  std::string name() const override { return "IndexPutBackward0"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    std::vector<Tensor> per_dim = indices.get(*this);
    Tensor gs, gv;
    if (next_edges[0].fn) {
      gs = g[0];
      if (!accumulate) {
        gs = empty(g[0]->shape, g[0]->dtype);  // a copy: g may be shared with other nodes
        copy_into(gs, g[0]);
        put_plan(plan_advanced(gs, per_dim, true), zeros({}, gs->dtype), false);
      }
    }
    if (next_edges[1].fn) {
      Tensor taken = gather_plan(plan_advanced(g[0], per_dim, true));
      Tensor r = sum_to(taken, values_stripped);
      gv = cast(reshape(r->is_contiguous() ? r : contiguous(r), values_shape), values_dtype);
    }
    return {gs, gv};
  }
  // create_graph: the same routing with public ops (a constant mask for self, the indexed
  // gather for values), differentiable again
  std::vector<Tensor> apply_graph(std::vector<Tensor>& g) override {
    std::vector<Tensor> per_dim = indices.get(*this);
    Tensor gs, gv;
    if (next_edges[0].fn) {
      gs = g[0];
      if (!accumulate) {
        Tensor keep = ones(g[0]->shape, g[0]->dtype);
        put_plan(plan_advanced(keep, per_dim, true), zeros({}, keep->dtype), false);
        gs = mul(g[0], keep);
      }
    }
    if (next_edges[1].fn) {
      Tensor r = reshape(sum_to(tg::index(g[0], per_dim), values_stripped), values_shape);
      gv = r->dtype == values_dtype ? r : to_dtype(r, values_dtype);
    }
    return {gs, gv};
  }
  void release_saved() override { indices.reset(); }
};

}  // namespace

Tensor index(const Tensor& self, const std::vector<Tensor>& indices) {
  AdvancedPlan p = plan_advanced(self, expand_indices(self, indices), true);
  Tensor out = gather_plan(p);
  set_history(make_node<IndexBackward0>({self}, self->shape, p.per_dim, false), {out});
  return out;
}

void index_put_(const Tensor& self, const std::vector<Tensor>& indices, const Tensor& values,
                bool accumulate) {
  check_inplace(self);
  AdvancedPlan p = plan_advanced(self, expand_indices(self, indices), true);
  auto node = make_node<IndexPutBackward0>({self, values}, values, p.per_dim, accumulate);
  put_plan(p, values, accumulate);
  self->storage->version++;
  rebase_history(self, node);
}

Tensor index_select(const Tensor& self, int64_t dim, const Tensor& index) {
  TG_CHECK(index->dtype == DType::Int64, RuntimeError,
           "index_select(): Expected dtype int64 for index, got ", dtype_name(index->dtype));
  TG_CHECK(index->ndim() <= 1, IndexError, "index_select(): Index is supposed to be a vector, got shape ",
           shape_str(index->shape));
  dim = wrap_dim(dim, self->ndim());
  if (self->ndim() == 0) {  // a 0-d input reads its one element
    TG_CHECK(index->numel() == 1, IndexError, "index_select(): a 0-dim input needs exactly one index, got ",
             index->numel());
    return reshape(index_select(reshape(self, {1}), 0, reshape(index, {1})), {});
  }
  std::vector<Tensor> per_dim(self->ndim());
  per_dim[dim] = index->ndim() == 0 ? make_view(index, {1}, {1}, index->offset) : index;
  AdvancedPlan p = plan_advanced(self, per_dim, false);
  Tensor out = gather_plan(p);
  set_history(make_node<IndexBackward0>({self}, self->shape, p.per_dim, true), {out});
  return out;
}

// ---- gather / scatter_add along a dim --------------------------------------------------

namespace {

// Lines along `dim` of a tensor with `strides`, over the positions of `shape` (dim removed).
kernels::Lines lines_of(const Shape& shape, const Shape& strides, int64_t dim) {
  Shape s = shape, st = strides;
  s.erase(s.begin() + dim);
  st.erase(st.begin() + dim);
  return {kernels::strided_offsets(s, st), strides[dim]};
}

// Views 0-d operands as 1-d so one code path serves both.
Tensor as_1d(const Tensor& t) { return t->ndim() == 0 ? make_view(t, {1}, {1}, t->offset) : t; }

void check_dim_index(const char* op, const Tensor& self, int64_t dim, const Tensor& index) {
  TG_CHECK(index->dtype == DType::Int64, RuntimeError, op, "(): Expected dtype int64 for index, got ",
           dtype_name(index->dtype));
  TG_CHECK(index->ndim() == self->ndim() || (index->ndim() <= 1 && self->ndim() <= 1), RuntimeError,
           "Index tensor must have the same number of dimensions as input tensor (index shape ",
           shape_str(index->shape), ", input shape ", shape_str(self->shape), ")");
  Tensor s = as_1d(self), i = as_1d(index);
  for (int64_t d = 0; d < s->ndim(); ++d)
    TG_CHECK(d == dim || i->shape[d] <= s->shape[d], RuntimeError, "Size does not match at dimension ",
             d, " expected index ", shape_str(index->shape), " to be no larger than self ",
             shape_str(self->shape), " apart from dimension ", dim);
}

// out (shape of index) = self gathered along dim; shapes already checked, index values are
// checked by the kernel.
Tensor gather_raw(const Tensor& self, int64_t dim, const Tensor& index) {
  Tensor s = as_1d(self), i = as_1d(index);
  Tensor out = empty(i->shape, self->dtype);
  auto lo = lines_of(i->shape, out->strides, dim);
  auto ls = lines_of(i->shape, s->strides, dim);
  auto li = lines_of(i->shape, i->strides, dim);
  const int64_t size = s->shape[dim];
  bool ok = true;
  TG_DISPATCH_BY_SIZE(self->dtype, T, {
    ok = kernels::gather_lines(out->data_as<T>(), lo, s->data_as<T>(), ls, i->data_as<int64_t>(), li,
                               i->shape[dim], size);
  });
  if (!ok) check_range(i, size, dim, false);  // throws, naming the bad index
  return make_view(out, index->shape, contiguous_strides(index->shape), 0);
}

// dst[index along dim] += src (over index's shape); shapes already checked. `dst` must be a
// fresh tensor: on a bad index some elements were already added when this throws.
void scatter_add_raw(const Tensor& dst, int64_t dim, const Tensor& index, const Tensor& src) {
  if (!is_base(dst->dtype)) {  // added in the compute dtype, rounded / wrapped once
    Tensor wide = cast(dst, compute_dtype(dst->dtype));
    scatter_add_raw(wide, dim, index, cast(src, compute_dtype(dst->dtype)));
    copy_into(dst, wide);
    return;
  }
  Tensor d = as_1d(dst), i = as_1d(index), s = as_1d(src);
  if (i->numel() == 0) return;
  auto ld = lines_of(i->shape, d->strides, dim);
  auto ls = lines_of(i->shape, s->strides, dim);
  auto li = lines_of(i->shape, i->strides, dim);
  const int64_t size = d->shape[dim];
  bool ok = true;
  TG_DISPATCH_ALL(dst->dtype, T, {
    ok = kernels::scatter_add_lines(d->data_as<T>(), ld, s->data_as<T>(), ls, i->data_as<int64_t>(), li,
                                    i->shape[dim], size);
  });
  if (!ok) check_range(i, size, dim, false);
}

struct GatherBackward0 : Node {
  Shape in_shape;
  int64_t dim;
  SavedTensor index;
  GatherBackward0(Shape s, int64_t d, const Tensor& i) : in_shape(std::move(s)), dim(d), index(i) {}
  std::string name() const override { return "GatherBackward0"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    Tensor z = zeros(in_shape, g[0]->dtype);
    scatter_add_raw(z, dim, index.get(*this), g[0]);
    return {z};
  }
  // create_graph: linear in g; the adjoint of the scatter-add is the gather itself
  std::vector<Tensor> apply_graph(std::vector<Tensor>& g) override {
    const Tensor idx = index.get(*this);
    const int64_t d = dim;
    return {linear_in_grad(g[0], "ScatterAddBackward0",
                           [&](const Tensor& go) {
                             Tensor z = zeros(in_shape, go->dtype);
                             scatter_add_raw(z, d, idx, go);
                             return z;
                           },
                           [idx, d](const Tensor& gg) { return gather(gg, d, idx); })};
  }
  void release_saved() override { index.reset(); }
};

struct ScatterAddBackward0 : Node {
  Shape src_shape;
  int64_t dim;
  SavedTensor index;
  ScatterAddBackward0(Shape s, int64_t d, const Tensor& i, bool need_src)
      : src_shape(std::move(s)), dim(d) {
    if (need_src) index = SavedTensor(i);
  }
  std::string name() const override { return "ScatterAddBackward0"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    Tensor gs;
    if (next_edges[1].fn) {
      const Tensor& idx = index.get(*this);
      Tensor picked = gather_raw(g[0], dim, idx);
      if (idx->shape == src_shape) {
        gs = picked;
      } else {  // src elements beyond index's extent were never read
        gs = zeros(src_shape, g[0]->dtype);
        Tensor region = gs;
        for (int64_t d = 0; d < idx->ndim(); ++d) region = narrow(region, d, 0, idx->shape[d]);
        copy_into(region, picked);
      }
    }
    return {next_edges[0].fn ? g[0] : nullptr, gs};
  }
  // create_graph: self's gradient passes through; src's is a gather of g (linear in g),
  // whose adjoint is the scatter-add itself
  std::vector<Tensor> apply_graph(std::vector<Tensor>& g) override {
    Tensor gs;
    if (next_edges[1].fn) {
      const Tensor idx = index.get(*this);
      const int64_t d = dim;
      const Shape gshape = g[0]->shape;
      const DType gdt = g[0]->dtype;
      std::vector<Tensor> one{g[0]};
      gs = linear_in_grad(g[0], "GatherBackward0", [&](const Tensor&) { return apply(one)[1]; },
                          [idx, d, gshape, gdt](const Tensor& gg) { return scatter_add(zeros(gshape, gdt), d, idx, gg); });
    }
    return {next_edges[0].fn ? g[0] : nullptr, gs};
  }
  void release_saved() override { index.reset(); }
};

}  // namespace

Tensor gather(const Tensor& self, int64_t dim, const Tensor& index) {
  dim = wrap_dim(dim, self->ndim());
  check_dim_index("gather", self, dim, index);
  Tensor out = gather_raw(self, dim, index);
  set_history(make_node<GatherBackward0>({self}, self->shape, dim, index), {out});
  return out;
}

Tensor scatter_add(const Tensor& self, int64_t dim, const Tensor& index, const Tensor& src) {
  dim = wrap_dim(dim, self->ndim());
  TG_CHECK(src->dtype == self->dtype, RuntimeError, "scatter(): Expected self.dtype to be equal to ",
           "src.dtype (got ", dtype_name(self->dtype), " and ", dtype_name(src->dtype), ")");
  check_dim_index("scatter_add", self, dim, index);
  // PyTorch compares index's sizes with src's over self's dims before the dims count: a src
  // with some but fewer dims fails there, reading a dim src lacks (IndexError)
  TG_CHECK(index->numel() == 0 || src->ndim() == 0 || src->ndim() >= self->ndim(), IndexError,
           "Dimension out of range (expected to be in range of [", -src->ndim(), ", ", src->ndim() - 1,
           "], but got ", src->ndim(), ") (scatter_add: src ", shape_str(src->shape), ", index ",
           shape_str(index->shape), ")");
  TG_CHECK(src->ndim() == index->ndim() || (src->ndim() <= 1 && index->ndim() <= 1), RuntimeError,
           "Index tensor must have the same number of dimensions as src tensor (index shape ",
           shape_str(index->shape), ", src shape ", shape_str(src->shape), ")");
  Tensor s1 = as_1d(src), i1 = as_1d(index);
  for (int64_t d = 0; d < i1->ndim(); ++d)
    TG_CHECK(i1->shape[d] <= s1->shape[d], RuntimeError, "Size does not match at dimension ", d,
             " expected index ", shape_str(index->shape), " to be no larger than src ",
             shape_str(src->shape));
  Tensor out = empty(self->shape, self->dtype);
  copy_into(out, self);
  scatter_add_raw(out, dim, index, src);
  set_history(make_node<ScatterAddBackward0>({self, src}, src->shape, dim, index, needs_grad(src)), {out});
  return out;
}

// ---- masked_fill -----------------------------------------------------------------------

namespace {

void check_mask_value(const Tensor& mask, const Tensor& value) {
  TG_CHECK(mask->dtype == DType::Bool, RuntimeError,
           "masked_fill_ only supports boolean masks, but got mask with dtype ", dtype_name(mask->dtype));
  TG_CHECK(value->ndim() == 0, RuntimeError,
           "masked_fill_ only supports a 0-dimensional value tensor, but got tensor with ",
           value->ndim(), " dimension(s).");
}

// out[i] = mask[i] ? v : x[i] over `shape` (x and mask broadcast to it); writes in place when
// out is x.
void fill_where(const Tensor& out, const Tensor& x, const Tensor& mask, const Tensor& value) {
  Shape sx = broadcast_strides(x, out->shape), sm = broadcast_strides(mask, out->shape);
  const Tensor vt = cast(value, out->dtype);  // the value's bits in out's dtype
  TG_DISPATCH_BY_SIZE(out->dtype, T, {
    const T v = *vt->data_as<T>();
    kernels::map2(out->shape, out->data_as<T>(), out->strides.data(), x->data_as<T>(), sx.data(),
                  mask->data_as<bool>(), sm.data(), [v](T a, bool m) { return m ? v : a; });
  });
}

// g where mask == keep, else 0 (g's shape; mask broadcasts to it).
Tensor keep_where(const Tensor& g, const Tensor& mask, bool keep) {
  Tensor out = empty(g->shape, g->dtype);
  Shape sm = broadcast_strides(mask, g->shape);
  TG_DISPATCH_BY_SIZE(g->dtype, T, {  // zero bits are zero in every dtype
    kernels::map2(g->shape, out->data_as<T>(), out->strides.data(), g->data_as<T>(),
                  g->strides.data(), mask->data_as<bool>(), sm.data(),
                  [keep](T a, bool m) { return m == keep ? a : T(0); });
  });
  return out;
}

struct MaskedFillBackward0 : Node {
  Shape self_shape;
  DType value_dtype;
  SavedTensor mask;
  MaskedFillBackward0(Shape s, DType vd, const Tensor& m) : self_shape(std::move(s)), value_dtype(vd), mask(m) {}
  std::string name() const override { return "MaskedFillBackward0"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    const Tensor& m = mask.get(*this);
    Tensor gs, gv;
    if (next_edges[0].fn) gs = sum_to(keep_where(g[0], m, false), self_shape);
    if (next_edges[1].fn) gv = cast(sum(keep_where(g[0], m, true), {}, false), value_dtype);
    return {gs, gv};
  }
  std::vector<Tensor> apply_graph(std::vector<Tensor>& g) override {  // recorded (create_graph)
    const Tensor m = mask.get(*this);
    const Tensor zero = scalar_tensor(0.0, DType::Float64);
    Tensor gs, gv;
    if (next_edges[0].fn) gs = sum_to(where(m, zero, g[0]), self_shape);
    if (next_edges[1].fn) {
      gv = sum(where(m, g[0], zero));
      if (gv->dtype != value_dtype) gv = to_dtype(gv, value_dtype);
    }
    return {gs, gv};
  }
  void release_saved() override { mask.reset(); }
};

}  // namespace

Tensor masked_fill(const Tensor& self, const Tensor& mask, const Tensor& value) {
  check_mask_value(mask, value);
  Tensor out = empty(broadcast_shapes(self->shape, mask->shape), self->dtype);
  fill_where(out, self, mask, value);
  set_history(make_node<MaskedFillBackward0>({self, value}, self->shape, value->dtype, mask), {out});
  return out;
}

void masked_fill_(const Tensor& self, const Tensor& mask, const Tensor& value) {
  check_inplace(self);
  check_mask_value(mask, value);
  Shape bs = broadcast_shapes(self->shape, mask->shape);
  TG_CHECK(bs == self->shape, RuntimeError, "output with shape ", shape_str(self->shape),
           " doesn't match the broadcast shape ", shape_str(bs));
  Tensor m = unaliased(mask, self);
  auto node = make_node<MaskedFillBackward0>({self, value}, self->shape, value->dtype, m);
  fill_where(self, self, m, value);
  self->storage->version++;
  rebase_history(self, node);
}

// ---- nonzero ---------------------------------------------------------------------------

Tensor nonzero(const Tensor& self) {
  Tensor c;
  {
    NoGradGuard no_grad;
    c = contiguous(self);
  }
  const int64_t n = c->numel(), nd = c->ndim();
  if (n == 0) return empty({0, nd}, DType::Int64);
  // Chunks count their non-zeros in parallel, then write their coordinates at their
  // prefix-sum offsets.
  const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(get_num_threads(), n / 4096));
  std::vector<int64_t> counts(chunks + 1, 0);
  Tensor out;
  TG_DISPATCH_ALL_TYPES(c->dtype, T, {
    const T* p = c->data_as<T>();
    parallel_for(chunks, n / chunks, [&](int64_t b, int64_t e) {
      for (int64_t ch = b; ch < e; ++ch) {
        int64_t cnt = 0;
        for (int64_t i = n * ch / chunks, end = n * (ch + 1) / chunks; i < end; ++i) cnt += p[i] != T(0);
        counts[ch + 1] = cnt;
      }
    });
    for (int64_t ch = 0; ch < chunks; ++ch) counts[ch + 1] += counts[ch];
    out = empty({counts[chunks], nd}, DType::Int64);
    int64_t* o = out->data_as<int64_t>();
    parallel_for(chunks, n / chunks, [&](int64_t b, int64_t e) {
      for (int64_t ch = b; ch < e; ++ch) {
        int64_t w = counts[ch] * nd;
        const int64_t begin = n * ch / chunks, end = n * (ch + 1) / chunks;
        std::vector<int64_t> coord(nd);  // of element i, stepped like an odometer
        for (int64_t d = nd - 1, rem = begin; d >= 0; --d) coord[d] = rem % c->shape[d], rem /= c->shape[d];
        for (int64_t i = begin; i < end; ++i) {
          if (p[i] != T(0)) {
            for (int64_t d = 0; d < nd; ++d) o[w + d] = coord[d];
            w += nd;
          }
          for (int64_t d = nd - 1; d >= 0 && ++coord[d] == c->shape[d]; --d) coord[d] = 0;
        }
      }
    });
  });
  return out;
}

// ---- t[key] ----------------------------------------------------------------------------

namespace {

// The basic part of a key applied as views; the tensors of the key (with nulls for the
// dims they skip) are left for advanced indexing.
struct BasicIndexed {
  Tensor view;
  std::vector<Tensor> advanced;
  bool has_advanced = false;
  bool changed = false;  // some item other than ... was applied
};

BasicIndexed apply_basic(const Tensor& self, const std::vector<IndexItem>& key) {
  using K = IndexItem::Kind;
  auto consumes = [](const IndexItem& it) -> int64_t {
    switch (it.kind) {
      case K::Int: case K::Slice: return 1;
      case K::Tensor: return it.tensor->dtype == DType::Bool ? it.tensor->ndim() : 1;
      default: return 0;
    }
  };
  int64_t total = 0, ellipses = 0;
  for (auto& it : key) {
    if (it.kind == K::Tensor) check_index_dtype(it.tensor);
    total += consumes(it);
    ellipses += it.kind == K::Ellipsis;
  }
  TG_CHECK(ellipses <= 1, IndexError, "an index can only have a single ellipsis ('...')");
  TG_CHECK(!(self->ndim() == 0 && total > 0), IndexError,
           "invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` in "
           "C++ to convert a 0-dim tensor to a number");
  TG_CHECK(total <= self->ndim(), IndexError, "too many indices for tensor of dimension ", self->ndim(),
           " (shape ", shape_str(self->shape), ")");

  BasicIndexed r{self, {}, false, false};
  int64_t d = 0, remaining = total;
  // An int's error names its dim in self, as PyTorch's does.
  auto select_checked = [&](int64_t index) {
    int64_t size = r.view->shape[d], self_dim = total - remaining - 1;
    TG_CHECK(index >= -size && index < size, IndexError, "index ", index,
             " is out of bounds for dimension ", self_dim, " with size ", size);
    r.view = select(r.view, d, index);
  };
  for (auto& it : key) {
    remaining -= consumes(it);
    switch (it.kind) {
      case K::Int:
        select_checked(it.value);
        break;
      case K::Slice:
        r.view = slice(r.view, d, it.start, it.stop, it.step);
        r.advanced.push_back(nullptr), ++d;
        break;
      case K::None:
        r.view = unsqueeze(r.view, d);
        r.advanced.push_back(nullptr), ++d;
        break;
      case K::Bool:  // x[True] adds a dim of size 1, x[False] one of size 0
        r.view = unsqueeze(r.view, d);
        if (!it.value) r.view = slice(r.view, d, 0, 0, 1);
        r.advanced.push_back(nullptr), ++d;
        break;
      case K::Ellipsis: {
        int64_t n = r.view->ndim() - d - remaining;
        for (int64_t i = 0; i < n; ++i) r.advanced.push_back(nullptr);
        d += n;
        continue;  // `...` alone changes nothing
      }
      case K::Tensor: {
        const Tensor& t = it.tensor;
        if (t->dtype == DType::Int64 && t->ndim() == 0) {  // a 0-d integer tensor acts as an int
          select_checked(*t->data_as<int64_t>());
          break;
        }
        r.has_advanced = true;
        if (t->dtype == DType::Bool && t->ndim() == 0) {  // as x[True], but a copy
          r.view = unsqueeze(r.view, d);
          r.advanced.push_back(make_view(t, {1}, {1}, t->offset)), ++d;
        } else {
          r.advanced.push_back(t);
          d += consumes(it);
        }
        break;
      }
    }
    r.changed = true;
  }
  return r;
}

}  // namespace

Tensor getitem(const Tensor& self, const std::vector<IndexItem>& key) {
  BasicIndexed b = apply_basic(self, key);
  if (b.has_advanced) return index(b.view, b.advanced);
  return b.changed ? b.view : alias_view(self);
}

// As PyTorch: the basic part of the key gives a view of self, which is written in place
// by index_put_ (advanced keys) or copy_, so autograd records it as any in-place op on a view.
void setitem(const Tensor& self, const std::vector<IndexItem>& key, const Tensor& value) {
  BasicIndexed b = apply_basic(self, key);
  if (b.has_advanced) return index_put_(b.view, b.advanced, value, false);
  Tensor v = strip_leading_ones(value);
  broadcast_strides(v, b.view->shape);  // RuntimeError naming both shapes
  if (v != value && needs_grad(value)) v = view(value, v->shape);  // keeps value's history
  copy_(b.view, v);
}

}  // namespace tg
