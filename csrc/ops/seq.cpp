// The sequence-model tensor ops: each op's forward next to its backward node (named as
// PyTorch names it). Kernels in kernels/seq.h; roll and flip gather through the index maps
// of kernels/pad.h.
#include "ops/seq.h"

#include <cmath>
#include <string>

#include "autograd/adjoint.h"
#include "autograd/node.h"
#include "kernels/pad.h"
#include "kernels/random.h"
#include "kernels/seq.h"
#include "ops/compute.h"
#include "ops/creation.h"
#include "ops/elementwise.h"
#include "ops/index.h"
#include "ops/reduce.h"
#include "ops/reduce_dims.h"
#include "ops/shape.h"

namespace tg {

using reduce_detail::cast;
using reduce_detail::dense;
using reduce_detail::dim_geom;

namespace {

// PyTorch's ScalarType names, for messages copied from ATen.
const char* torch_type_name(DType d) { return scalar_type_name(d); }

// ---- tril / triu ---------------------------------------------------------------------------

void run_triangle(const Tensor& x, const Tensor& out, int64_t diagonal, bool upper) {
  const int64_t nd = x->ndim(), rows = x->shape[nd - 2], cols = x->shape[nd - 1];
  const int64_t batch = rows != 0 && cols != 0 ? x->numel() / (rows * cols) : 0;
  TG_DISPATCH_BY_SIZE(x->dtype, T, {
    kernels::triangle(x->data_as<T>(), out->data_as<T>(), batch, rows, cols, diagonal, upper);
  });
}

Tensor triangle(const Tensor& a, int64_t diagonal, bool upper) {
  Tensor x = dense(a);
  Tensor out = empty(a->shape, a->dtype);
  run_triangle(x, out, diagonal, upper);
  return out;
}

struct TriangleBackward : Node {
  int64_t diagonal;
  bool upper;
  TriangleBackward(int64_t d, bool u) : diagonal(d), upper(u) {}
  std::string name() const override { return upper ? "TriuBackward0" : "TrilBackward0"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override { return {triangle(g[0], diagonal, upper)}; }
  std::vector<Tensor> apply_graph(std::vector<Tensor>& g) override {  // recorded (create_graph)
    return {upper ? triu(g[0], diagonal) : tril(g[0], diagonal)};
  }
};

void check_triangle(const Tensor& a, bool upper) {
  TG_CHECK(a->ndim() >= 2, RuntimeError, upper ? "triu" : "tril",
           ": input tensor must have at least 2 dimensions");
}

Tensor triangle_op(const Tensor& a, int64_t diagonal, bool upper) {
  check_triangle(a, upper);
  Tensor out = triangle(a, diagonal, upper);
  set_history(make_node<TriangleBackward>({a}, diagonal, upper), {out});
  return out;
}

void triangle_inplace(const Tensor& a, int64_t diagonal, bool upper) {
  check_triangle(a, upper);
  check_inplace(a);
  auto node = make_node<TriangleBackward>({a}, diagonal, upper);
  if (a->is_contiguous()) run_triangle(a, a, diagonal, upper);
  else copy_into(a, triangle(a, diagonal, upper));
  a->storage->version++;
  rebase_history(a, node);
}

}  // namespace

Tensor tril(const Tensor& a, int64_t diagonal) { return triangle_op(a, diagonal, false); }
Tensor triu(const Tensor& a, int64_t diagonal) { return triangle_op(a, diagonal, true); }
void tril_(const Tensor& a, int64_t diagonal) { triangle_inplace(a, diagonal, false); }
void triu_(const Tensor& a, int64_t diagonal) { triangle_inplace(a, diagonal, true); }

// ---- cumsum / cumprod ---------------------------------------------------------------------

namespace {

// The cumulative op of x (contiguous, of the output dtype) along dim d.
template <bool Prod>
Tensor cumulate(const Tensor& x, int64_t d, bool reverse) {
  Tensor out = empty(x->shape, x->dtype);
  const auto geom = dim_geom(x->shape, d);
  TG_DISPATCH_NUMERIC(x->dtype, T, {
    kernels::cumulate<Prod>(x->data_as<T>(), out->data_as<T>(), geom, reverse);
  });
  return out;
}

struct CumsumBackward0 : Node {
  int64_t dim;
  DType in_dtype;
  CumsumBackward0(int64_t d, DType in) : dim(d), in_dtype(in) {}
  std::string name() const override { return "CumsumBackward0"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    // the sum of the gradients of every later output: a cumsum from the end
    return {cast(cumulate<false>(dense(g[0]), dim, /*reverse=*/true), in_dtype)};
  }
  std::vector<Tensor> apply_graph(std::vector<Tensor>& g) override {  // recorded (create_graph)
    Tensor r = flip(cumsum(flip(g[0], {dim}), dim), {dim});
    return {r->dtype == in_dtype ? r : to_dtype(r, in_dtype)};
  }
};

struct CumprodBackward0 : Node {
  int64_t dim;
  DType in_dtype;
  SavedTensor self, result;
  CumprodBackward0(int64_t d, const Tensor& x, const Tensor& out)
      : dim(d), in_dtype(x->dtype), self(x), result(out, /*is_output=*/true) {}
  std::string name() const override { return "CumprodBackward0"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    const Tensor& out = result.get(*this);
    Tensor x = dense(cast(self.get(*this), out->dtype)), go = dense(cast(g[0], out->dtype));
    Tensor gx = empty(out->shape, out->dtype);
    const auto geom = dim_geom(out->shape, dim);
    TG_DISPATCH_FLOAT(out->dtype, T, {
      kernels::cumprod_backward(x->data_as<T>(), out->data_as<T>(), go->data_as<T>(), gx->data_as<T>(), geom);
    });
    return {cast(gx, in_dtype)};
  }
  std::vector<Tensor> apply_graph(std::vector<Tensor>& g) override {  // recorded (create_graph)
    const Tensor out = result.get(*this);
    Tensor gx = prod_backward_graph(self.get(*this), g[0], out, dim, /*cumulative=*/true);
    return {gx->dtype == in_dtype ? gx : to_dtype(gx, in_dtype)};
  }
  void release_saved() override { self.reset(), result.reset(); }
};

DType cumulative_dtype(const Tensor& a, std::optional<DType> dtype, const char* kernel) {
  DType dt = dtype ? *dtype : (is_floating(a->dtype) ? a->dtype : DType::Int64);
  TG_CHECK(dt != DType::Bool, NotImplementedError, "\"", kernel, "\" not implemented for 'Bool'");
  return dt;
}

// The C type names PyTorch's in-place dtype check prints.
const char* c_type_name(DType d) {
  switch (d) {
    case DType::Bool: return "bool";
    case DType::Int64: return "long int";
    case DType::Float32: return "float";
    case DType::Float64: return "double";
  }
  return "?";
}

// cumsum_ / cumprod_: computed in self's dtype and written back, recorded as the
// out-of-place op (cumprod saves the values self had).
template <bool Prod>
void cumulate_inplace(const Tensor& a, int64_t dim, std::optional<DType> dtype) {
  const int64_t dd = wrap_dim(dim, a->ndim());
  check_inplace(a);
  TG_CHECK(!dtype || *dtype == a->dtype, RuntimeError, "Bad in-place call: input tensor dtype ",
           c_type_name(a->dtype), " and output tensor dtype ", c_type_name(*dtype), " should match");
  TG_CHECK(a->dtype != DType::Bool, NotImplementedError, "\"", Prod ? "cumprod" : "cumsum",
           "_out_cpu\" not implemented for 'Bool'");
  Tensor x = dense(a);
  Tensor out = cumulate<Prod>(x, dd, false);
  std::shared_ptr<Node> node;
  if constexpr (Prod) {
    if (any_needs_grad(a)) node = make_node<CumprodBackward0>({a}, dd, x == a ? clone(alias(a)) : x, out);
  } else {
    node = make_node<CumsumBackward0>({a}, dd, a->dtype);
  }
  copy_into(a, out);
  a->storage->version++;
  rebase_history(a, node);
}

}  // namespace

void cumsum_(const Tensor& a, int64_t dim, std::optional<DType> dtype) { cumulate_inplace<false>(a, dim, dtype); }
void cumprod_(const Tensor& a, int64_t dim, std::optional<DType> dtype) { cumulate_inplace<true>(a, dim, dtype); }

Tensor cumsum(const Tensor& a, int64_t dim, std::optional<DType> dtype) {
  const int64_t d = wrap_dim(dim, a->ndim());
  const DType dt = cumulative_dtype(a, dtype, "cumsum_out_cpu");
  if (!is_base(dt)) return narrow_to(cumsum(widen(cast(a, dt)), dim, std::nullopt), dt);
  Tensor out = cumulate<false>(dense(cast(a, dt)), d, false);
  if (is_floating(dt)) set_history(make_node<CumsumBackward0>({a}, d, a->dtype), {out});
  return out;
}

Tensor prod_backward_graph(const Tensor& x, const Tensor& g, const Tensor& out, int64_t dim,
                           bool cumulative) {
  const Tensor one = scalar_tensor(1.0, DType::Float64);
  if (!any(eq(x, scalar_tensor(0.0, DType::Float64)), {}, false)->data_as<bool>()[0]) {
    // d out_j / d x_i = out_j / x_i for every j the product of x_i is part of
    if (!cumulative) return div(mul(g, out), x);
    return div(flip(cumsum(flip(mul(g, out), {dim}), dim), {dim}), x);
  }
  // A zero in x: out / x is 0 / 0 there. Row i of m is x along `dim` with x_i set to 1,
  // so products over a row are the products of every other element (n x n: only here).
  const int64_t n = x->shape[dim];
  const Tensor xm = movedim(x, {dim}, {-1});
  const Tensor m = where(eye(n, n, DType::Bool), one, unsqueeze(xm, -2));
  const Tensor gm = movedim(g, {dim}, {-1});
  Tensor gx;
  if (!cumulative) {
    gx = mul(prod(m, -1, false), gm);  // g of the keepdim shape: (..., 1)
  } else {
    // gx_i = sum over j >= i of g_j times the product of x_0..x_j but x_i
    gx = sum(triu(mul(cumprod(m, -1), unsqueeze(gm, -2))), {-1}, false);
  }
  return movedim(gx, {-1}, {dim});
}

Tensor cumprod(const Tensor& a, int64_t dim, std::optional<DType> dtype) {
  const int64_t d = wrap_dim(dim, a->ndim());
  const DType dt = cumulative_dtype(a, dtype, "cumprod_out_cpu");
  if (!is_base(dt)) return narrow_to(cumprod(widen(cast(a, dt)), dim, std::nullopt), dt);
  Tensor out = cumulate<true>(dense(cast(a, dt)), d, false);
  if (is_floating(dt)) set_history(make_node<CumprodBackward0>({a}, d, a, out), {out});
  return out;
}

// ---- sort / argsort / topk -------------------------------------------------------------------

namespace {

// The gradient of values selected along `dim` at `indices`: scattered back into zeros.
struct SelectAlongDimBackward : Node {
  std::string node_name;
  SavedTensor indices;
  Shape in_shape;
  int64_t dim;
  SelectAlongDimBackward(std::string n, const Tensor& idx, Shape in, int64_t d)
      : node_name(std::move(n)), indices(idx), in_shape(std::move(in)), dim(d) {}
  std::string name() const override { return node_name; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    Tensor idx = dense(indices.get(*this)), go = dense(g[0]);
    Tensor gx = empty(in_shape, go->dtype);
    const auto geom = dim_geom(in_shape, dim);
    const int64_t k = idx->ndim() ? idx->shape[dim] : 1;
    TG_DISPATCH_FLOAT(go->dtype, T, {
      kernels::scatter_lines(go->data_as<T>(), idx->data_as<int64_t>(), geom, k, gx->data_as<T>());
    });
    return {gx};
  }
  // create_graph: linear in g; the adjoint of the scatter is the gather of the same indices
  std::vector<Tensor> apply_graph(std::vector<Tensor>& g) override {
    const Tensor idx = indices.get(*this);
    if (idx->ndim() == 0 || idx->shape != g[0]->shape) return Node::apply_graph(g);
    const int64_t d = dim;
    return {linear_in_grad(g[0], backward_of(node_name), [&](const Tensor&) { return apply(g)[0]; },
                           [idx, d](const Tensor& gg) { return gather(gg, d, idx); })};
  }
  void release_saved() override { indices.reset(); }
};

// values (null when not wanted) and indices of the first k of each line in sorted order.
std::pair<Tensor, Tensor> sorted_lines(const Tensor& a, int64_t d, int64_t k, bool descending, bool want_values) {
  if (!is_base(a->dtype)) {  // compared in the compute dtype: exact for every narrow dtype
    auto [v, i] = sorted_lines(cast(a, compute_dtype(a->dtype)), d, k, descending, want_values);
    return {v ? cast(v, a->dtype) : v, i};
  }
  Tensor x = dense(a);
  Shape shape = a->shape;
  if (a->ndim()) shape[d] = k;
  Tensor values = want_values ? empty(shape, a->dtype) : nullptr, indices = empty(shape, DType::Int64);
  const auto geom = dim_geom(a->shape, d);
  TG_DISPATCH_ALL(a->dtype, T, {
    kernels::sort_lines(x->data_as<T>(), geom, a->ndim() ? k : 1, descending,
                        values ? values->data_as<T>() : (T*)nullptr, indices->data_as<int64_t>());
  });
  return {values, indices};
}

}  // namespace

std::pair<Tensor, Tensor> sort(const Tensor& a, int64_t dim, bool descending, bool stable_given) {
  const int64_t d = wrap_dim(dim, a->ndim());  // 0 for a 0-d tensor
  auto r = sorted_lines(a, d, a->ndim() ? a->shape[d] : 1, descending, true);
  set_history(make_node<SelectAlongDimBackward>({a}, stable_given ? "SortBackward1" : "SortBackward0",
                                                r.second, a->shape, d),
              {r.first});
  return r;
}

Tensor argsort(const Tensor& a, int64_t dim, bool descending) {
  const int64_t d = wrap_dim(dim, a->ndim());  // 0 for a 0-d tensor
  return sorted_lines(a, d, a->ndim() ? a->shape[d] : 1, descending, false).second;
}

std::pair<Tensor, Tensor> topk(const Tensor& a, int64_t k, int64_t dim, bool largest, bool /*sorted*/) {
  const int64_t d = wrap_dim(dim, a->ndim());  // 0 for a 0-d tensor
  const int64_t n = a->ndim() ? a->shape[d] : 1;
  TG_CHECK(k >= 0 && k <= n, RuntimeError, "selected index k out of range");
  TG_CHECK(a->dtype != DType::Bool, RuntimeError, "topk does not support bool dtypes on CPU");
  auto r = sorted_lines(a, d, k, largest, true);
  set_history(make_node<SelectAlongDimBackward>({a}, "TopkBackward0", r.second, a->shape, d), {r.first});
  return r;
}

// ---- repeat ---------------------------------------------------------------------------------

namespace {

struct RepeatBackward0 : Node {
  Shape in_shape;
  std::vector<int64_t> repeats;
  RepeatBackward0(Shape s, std::vector<int64_t> r) : in_shape(std::move(s)), repeats(std::move(r)) {}
  std::string name() const override { return "RepeatBackward0"; }
  TG_APPLY_IS_DIFFERENTIABLE
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    // the output seen as [r0, s0, r1, s1, ...]: the gradient sums over the tiles r_i
    const int64_t nr = (int64_t)repeats.size(), pad = nr - (int64_t)in_shape.size();
    Shape split;
    std::vector<int64_t> tile_dims;
    for (int64_t i = 0; i < nr; ++i) {
      split.push_back(repeats[i]);
      split.push_back(i < pad ? 1 : in_shape[i - pad]);
      tile_dims.push_back(2 * i);
    }
    if (nr == 0) return {g[0]};
    Tensor s = sum(reshape(g[0], split), tile_dims, false);
    return {reshape(s, in_shape)};
  }
};

}  // namespace

Tensor repeat(const Tensor& a, const std::vector<int64_t>& repeats) {
  const int64_t nr = (int64_t)repeats.size(), nd = a->ndim();
  TG_CHECK(nr >= nd, RuntimeError,
           "Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor");
  const int64_t pad = nr - nd;
  Shape out_shape(nr), split, split_src_strides;
  for (int64_t i = 0; i < nr; ++i) {
    const int64_t s = i < pad ? 1 : a->shape[i - pad];
    int64_t o = 0;
    if (__builtin_mul_overflow(s, repeats[i], &o)) o = INT64_MAX;  // refused by empty() below
    out_shape[i] = o;
  }
  for (int64_t i = 0; i < nr; ++i)
    TG_CHECK(out_shape[i] >= 0, RuntimeError, "Trying to create tensor with negative dimension ", out_shape[i],
             ": ", shape_str(out_shape));
  Tensor out = empty(out_shape, a->dtype);
  if (out->numel()) {
    // the input read as [r0, s0, r1, s1, ...] with stride 0 along each r_i, copied into the
    // output seen with the same shape
    for (int64_t i = 0; i < nr; ++i) {
      split.push_back(repeats[i]);
      split.push_back(i < pad ? 1 : a->shape[i - pad]);
      split_src_strides.push_back(0);
      split_src_strides.push_back(i < pad ? 0 : a->strides[i - pad]);
    }
    Tensor src = make_view(a, split, split_src_strides, a->offset);
    Tensor dst = make_view(out, split, contiguous_strides(split), out->offset);
    copy_into(dst, src);
  }
  set_history(make_node<RepeatBackward0>({a}, a->shape, repeats), {out});
  return out;
}

// ---- roll / flip ------------------------------------------------------------------------------

namespace {

// out = a gathered through per-dim maps (maps[d] empty: identity), as a pad plan over the
// dims from the first mapped one on.
Tensor gather_maps(const Tensor& a, const std::vector<std::vector<int64_t>>& maps) {
  Tensor out = empty(a->shape, a->dtype);
  if (a->numel() == 0) return out;
  const int64_t nd = a->ndim();
  int64_t first = 0;
  while (first < nd && maps[first].empty()) ++first;
  if (first == nd) {
    copy_into(out, a);
    return out;
  }
  kernels::PadPlan plan;
  plan.planes = 1;
  for (int64_t d = 0; d < first; ++d) plan.planes *= a->shape[d];
  for (int64_t d = first; d < nd; ++d) {
    std::vector<int64_t> m = maps[d];
    if (m.empty()) {
      m.resize(a->shape[d]);
      for (int64_t j = 0; j < a->shape[d]; ++j) m[j] = j;
    }
    plan.in.push_back(a->shape[d]);
    plan.out.push_back(a->shape[d]);
    plan.maps.push_back(std::move(m));
  }
  plan.injective = true;
  Tensor x = dense(a);
  TG_DISPATCH_BY_SIZE(a->dtype, T, kernels::pad_forward(x->data_as<T>(), out->data_as<T>(), plan, T(0)));
  return out;
}

Tensor roll_raw(const Tensor& a, const std::vector<int64_t>& shifts, const std::vector<int64_t>& dims) {
  if (dims.empty()) {  // the flattened tensor
    Tensor x = dense(a);
    Tensor flat = make_view(x, {a->numel()}, {1}, x->offset);
    Tensor r = roll_raw(flat, shifts, {0});
    return make_view(r, a->shape, contiguous_strides(a->shape), r->offset);
  }
  const int64_t nd = a->ndim();
  std::vector<int64_t> total(nd, 0);
  std::vector<bool> rolled(nd, false);
  for (size_t i = 0; i < dims.size(); ++i) {
    const int64_t d = wrap_dim(dims[i], nd), n = a->shape[d];
    if (n == 0) continue;
    total[d] = ((total[d] + shifts[i] % n) % n + n) % n;
    rolled[d] = true;
  }
  std::vector<std::vector<int64_t>> maps(nd);
  for (int64_t d = 0; d < nd; ++d) {
    if (!rolled[d] || total[d] == 0) continue;
    const int64_t n = a->shape[d];
    maps[d].resize(n);
    for (int64_t j = 0; j < n; ++j) maps[d][j] = ((j - total[d]) % n + n) % n;
  }
  return gather_maps(a, maps);
}

struct RollBackward0 : Node {
  std::vector<int64_t> back, dims;  // the opposite shifts (already reduced modulo the sizes)
  RollBackward0(std::vector<int64_t> s, std::vector<int64_t> d) : back(std::move(s)), dims(std::move(d)) {}
  std::string name() const override { return "RollBackward0"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override { return {roll_raw(g[0], back, dims)}; }
  std::vector<Tensor> apply_graph(std::vector<Tensor>& g) override { return {roll(g[0], back, dims)}; }
};

struct FlipBackward0 : Node {
  std::vector<int64_t> dims;
  explicit FlipBackward0(std::vector<int64_t> d) : dims(std::move(d)) {}
  std::string name() const override { return "FlipBackward0"; }
  TG_APPLY_IS_DIFFERENTIABLE
  std::vector<Tensor> apply(std::vector<Tensor>& g) override { return {flip(g[0], dims)}; }
};

}  // namespace

Tensor roll(const Tensor& a, const std::vector<int64_t>& shifts, const std::vector<int64_t>& dims) {
  TG_CHECK(!shifts.empty(), RuntimeError, "`shifts` required");
  TG_CHECK(dims.empty() ? shifts.size() == 1 : shifts.size() == dims.size(), RuntimeError,
           "shifts and dimensions must align. shifts: ", shifts.size(), ", dims:", dims.size());
  if (a->ndim() == 0 && !dims.empty())
    TG_CHECK(false, IndexError, "Dimension specified as ", dims[0], " but tensor has no dimensions");
  for (int64_t d : dims) wrap_dim(d, a->ndim());
  Tensor out = roll_raw(a, shifts, dims);
  if (auto node = make_node<RollBackward0>({a}, std::vector<int64_t>(), dims)) {
    for (size_t i = 0; i < shifts.size(); ++i) {
      const int64_t n = dims.empty() ? a->numel() : a->shape[wrap_dim(dims[i], a->ndim())];
      node->back.push_back(n ? -(shifts[i] % n) : 0);  // finite even for INT64_MIN
    }
    set_history(node, {out});
  }
  return out;
}

Tensor flip(const Tensor& a, const std::vector<int64_t>& dims) {
  const int64_t nd = a->ndim();
  std::vector<bool> seen(std::max<int64_t>(nd, 1), false);
  std::vector<std::vector<int64_t>> maps(nd);
  for (int64_t dim : dims) {
    const int64_t d = wrap_dim(dim, nd);
    TG_CHECK(!seen[d], RuntimeError, "dim ", d, " appears multiple times in the list of dims");
    seen[d] = true;
    if (nd == 0) continue;
    const int64_t n = a->shape[d];
    maps[d].resize(n);
    for (int64_t j = 0; j < n; ++j) maps[d][j] = n - 1 - j;
  }
  Tensor out = gather_maps(a, maps);
  set_history(make_node<FlipBackward0>({a}, dims), {out});
  return out;
}

// ---- multinomial --------------------------------------------------------------------------------

Tensor multinomial(const Tensor& p, int64_t num_samples, bool replacement, Generator& g) {
  TG_CHECK(p->ndim() > 0 && p->ndim() <= 2, RuntimeError, "prob_dist must be 1 or 2 dim");
  TG_CHECK(is_floating(p->dtype), RuntimeError,
           "multinomial only supports floating-point dtypes for input, got: ", torch_type_name(p->dtype));
  TG_CHECK(num_samples > 0, RuntimeError, "cannot sample n_sample <= 0 samples");
  const int64_t ncat = p->shape.back(), rows = p->ndim() == 2 ? p->shape[0] : 1;
  TG_CHECK(replacement || num_samples <= ncat, RuntimeError,
           "cannot sample n_sample > prob_dist.size(-1) samples without replacement");
  TG_CHECK(ncat <= (int64_t(1) << 24), RuntimeError, "number of categories cannot exceed 2^24");
  Shape out_shape = p->ndim() == 2 ? Shape{rows, num_samples} : Shape{num_samples};
  Tensor out = empty(out_shape, DType::Int64);
  if (p->numel() == 0) return out;
  Tensor x = dense(cast(p, DType::Float64));
  const double* px = x->data_as<double>();
  int64_t* po = out->data_as<int64_t>();
  const bool gumbel = !replacement || num_samples == 1;

  // PyTorch's checks, in its words for each path
  std::vector<double> totals(rows, 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < ncat; ++i) {
      const double v = px[r * ncat + i];
      if (gumbel) {
        TG_CHECK(v >= 0 && std::isfinite(v), RuntimeError,
                 "probability tensor contains either `inf`, `nan` or element < 0");
      } else {
        TG_CHECK(v >= 0, RuntimeError, "invalid multinomial distribution (encountering probability entry < 0)");
        TG_CHECK(std::isfinite(v), RuntimeError,
                 "invalid multinomial distribution (encountering probability entry = infinity or NaN)");
      }
      totals[r] += v;
    }
  }
  for (int64_t r = 0; r < rows; ++r)
    TG_CHECK(totals[r] > 0, RuntimeError, "invalid multinomial distribution (sum of probabilities <= 0)");

  if (gumbel) {
    // PyTorch's algorithm: the categories with the largest p / q, q ~ Exp(1) (a race of
    // exponential clocks), which samples without replacement with the right law.
    const uint64_t off = g.take((uint64_t)(rows * ncat)), seed = g.seed;
    parallel_for(rows, ncat * 8, [&](int64_t b, int64_t e) {
      std::vector<double> key(ncat);
      std::vector<int64_t> order(ncat);
      for (int64_t r = b; r < e; ++r) {
        for (int64_t i = 0; i < ncat; ++i) {
          const uint64_t c = off + (uint64_t)(r * ncat + i);
          const double u = kernels::uniform01<double>(kernels::rand64(seed, c));  // [0, 1)
          const double q = -std::log1p(-u);                                      // Exp(1), >= 0
          key[i] = px[r * ncat + i] / q;  // q == 0 gives inf (or nan for p == 0: as 0)
          if (std::isnan(key[i])) key[i] = 0;
        }
        for (int64_t i = 0; i < ncat; ++i) order[i] = i;
        kernels::SortLess<double> less{key.data(), /*descending=*/true};
        std::partial_sort(order.begin(), order.begin() + num_samples, order.end(), less);
        for (int64_t s = 0; s < num_samples; ++s) po[r * num_samples + s] = order[s];
      }
    });
    return out;
  }

  // with replacement: inverse of the cumulative distribution at uniform draws
  const uint64_t off = g.take((uint64_t)(rows * num_samples)), seed = g.seed;
  parallel_for(rows, ncat + num_samples * 8, [&](int64_t b, int64_t e) {
    std::vector<double> cdf(ncat);
    for (int64_t r = b; r < e; ++r) {
      double acc = 0;
      for (int64_t i = 0; i < ncat; ++i) cdf[i] = acc += px[r * ncat + i];
      for (int64_t s = 0; s < num_samples; ++s) {
        const uint64_t c = off + (uint64_t)(r * num_samples + s);
        const double target = kernels::uniform01<double>(kernels::rand64(seed, c)) * acc;
        int64_t i = std::upper_bound(cdf.begin(), cdf.end(), target) - cdf.begin();
        // rounding can leave target == acc: the last category with weight
        if (i >= ncat) {
          i = ncat - 1;
          while (i > 0 && px[r * ncat + i] == 0) --i;
        }
        po[r * num_samples + s] = i;
      }
    }
  });
  return out;
}

}  // namespace tg
