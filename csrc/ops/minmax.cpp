// max / min (full, and values + indices along a dim), amax / amin, argmax / argmin: each
// op's forward and its backward node stand together.
#include <cmath>

#include "autograd/adjoint.h"
#include "autograd/node.h"
#include "kernels/loops.h"
#include "kernels/reduce.h"
#include "kernels/reduce_dim.h"
#include "kernels/reduce_ops.h"
#include "ops/compute.h"
#include "ops/creation.h"
#include "ops/elementwise.h"
#include "ops/index.h"
#include "ops/reduce.h"
#include "ops/reduce_dims.h"
#include "ops/shape.h"

namespace tg {

using namespace reduce_detail;

namespace {
const char* op_name(bool is_max, bool arg = false) {
  if (arg) return is_max ? "argmax" : "argmin";
  return is_max ? "max" : "min";
}

// 1 where x equals the reduced value (or both are nan when nan_matches), else 0, in x's
// dtype; `value` is read with strides `sv` (broadcast over the reduced dims).
Tensor equal_mask(const Tensor& x, const Tensor& value, const Shape& sv, bool nan_matches) {
  Tensor mask = empty(x->shape, x->dtype);
  TG_DISPATCH_FLOAT(x->dtype, T, {
    kernels::map2(x->shape, mask->data_as<T>(), mask->strides.data(), x->data_as<T>(),
                  x->strides.data(), value->data_as<T>(), sv.data(), [nan_matches](T a, T v) {
                    return T(a == v || (nan_matches && a != a && v != v) ? 1 : 0);
                  });
  });
  return mask;
}

// gx = mask * g / count, all read as x's shape through their strides.
Tensor spread(const Tensor& mask, const Tensor& g, const Shape& sg, const Tensor& count,
              const Shape& sc) {
  Tensor gx = empty(mask->shape, mask->dtype);
  TG_DISPATCH_FLOAT(mask->dtype, T, {
    kernels::map3(mask->shape, gx->data_as<T>(), gx->strides.data(), mask->data_as<T>(),
                  mask->strides.data(), g->data_as<T>(), sg.data(), count->data_as<T>(),
                  sc.data(), [](T m, T gi, T c) { return m != 0 ? T(gi / c) : T(0); });
  });
  return gx;
}
}  // namespace

// ---- max / min of all elements ---------------------------------------------------------

namespace {
// g (of the reduced shape, keepdim) shared evenly among the elements where `mask` is
// true, per output: recorded, for create_graph (the mask is a constant).
Tensor graph_spread(const Tensor& mask, const Tensor& g, DType dt, const std::vector<int64_t>& dims) {
  const Tensor mf = to_dtype(mask, dt);
  const Tensor count = dims.empty() ? sum(mf) : sum(mf, dims, true);
  const Tensor gc = g->dtype == dt ? g : to_dtype(g, dt);
  return mul(mf, div(gc, count));
}

// The gradient is shared evenly among the elements equal to the result (PyTorch's rule
// for the full reduction; with a dim it goes to the one returned index instead).
struct MaxBackward1 : Node {
  SavedTensor x, out;
  bool is_max;
  MaxBackward1(const Tensor& x, const Tensor& out, bool is_max)
      : x(x), out(out, /*is_output=*/true), is_max(is_max) {}
  std::string name() const override { return is_max ? "MaxBackward1" : "MinBackward1"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    const Tensor& xv = x.get(*this);
    Shape zero(xv->ndim(), 0);
    Tensor mask = equal_mask(xv, out.get(*this), zero, /*nan_matches=*/true);
    Tensor count = sum(mask);
    return {spread(mask, reduce_detail::cast(g[0], xv->dtype), zero, count, zero)};
  }
  // create_graph: g shared by the (constant) mask of the elements equal to the result
  std::vector<Tensor> apply_graph(std::vector<Tensor>& g) override {
    const Tensor xv = x.get(*this), o = out.get(*this);
    const Tensor m = logical_or(eq(xv, o), logical_and(ne(xv, xv), ne(o, o)));
    return {graph_spread(m, g[0], xv->dtype, {})};
  }
  void release_saved() override { x.reset(), out.reset(); }
};

Tensor extreme_all(const Tensor& a, bool is_max) {
  TG_CHECK(a->numel() > 0, RuntimeError, op_name(is_max),
           "(): Expected reduction dim to be specified for input.numel() == 0. Specify the "
           "reduction dim with the 'dim' argument.");
  if (!is_base(a->dtype)) return narrow_to(extreme_all(widen(a), is_max), a->dtype);
  auto plan = kernels::make_plan(a->shape, a->strides, normalize_dims({}, a->ndim()));
  Tensor out = empty({}, a->dtype);
  TG_DISPATCH_ALL(a->dtype, T, {
    if (is_max) kernels::reduce(plan, a->data_as<T>(), kernels::ExtremeOp<true, T>{out->data_as<T>()});
    else kernels::reduce(plan, a->data_as<T>(), kernels::ExtremeOp<false, T>{out->data_as<T>()});
  });
  set_history(make_node<MaxBackward1>({a}, a, out, is_max), {out});
  return out;
}
}  // namespace

Tensor max(const Tensor& a) { return extreme_all(a, true); }
Tensor min(const Tensor& a) { return extreme_all(a, false); }

// ---- max / min along a dim, argmax / argmin --------------------------------------------

namespace {
// The gradient goes to the returned index.
struct MaxBackward0 : Node {
  SavedTensor indices;
  Shape in_shape;
  int64_t dim;
  bool is_max;
  MaxBackward0(const Tensor& idx, Shape in, int64_t dim, bool is_max)
      : indices(idx), in_shape(std::move(in)), dim(dim), is_max(is_max) {}
  std::string name() const override { return is_max ? "MaxBackward0" : "MinBackward0"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    Tensor idx = dense(indices.get(*this)), gk = dense(g[0]);
    Tensor gx = empty(in_shape, gk->dtype);
    TG_DISPATCH_FLOAT(gk->dtype, T, {
      kernels::scatter_along_dim(gk->data_as<T>(), idx->data_as<int64_t>(), dim_geom(in_shape, dim),
                                 gx->data_as<T>());
    });
    return {gx};
  }
  // create_graph: linear in g; the adjoint of the scatter to the indices is their gather
  std::vector<Tensor> apply_graph(std::vector<Tensor>& g) override {
    if (in_shape.empty()) return Node::apply_graph(g);
    const Tensor idx = indices.get(*this);
    const Tensor ik = idx->ndim() == (int64_t)in_shape.size() ? idx : unsqueeze(idx, dim);
    const Shape gshape = g[0]->shape;
    const int64_t d = dim;
    return {linear_in_grad(g[0], is_max ? "MaxBackward0Backward0" : "MinBackward0Backward0",
                           [&](const Tensor&) { return apply(g)[0]; },
                           [ik, d, gshape](const Tensor& gg) { return reshape(gather(gg, d, ik), gshape); })};
  }
  void release_saved() override { indices.reset(); }
};

// Checks the dim and gives the geometry around it.
kernels::DimGeom reduce_dim_geom(const Tensor& a, int64_t d, const char* name) {
  kernels::DimGeom g = dim_geom(a->shape, d);
  TG_CHECK(g.n > 0, IndexError, name, "(): Expected reduction dim ", d, " to have non-zero size.");
  return g;
}

std::pair<Tensor, Tensor> extreme_dim(const Tensor& a, int64_t dim, bool keepdim, bool is_max) {
  if (!is_base(a->dtype)) {
    auto [values, indices] = extreme_dim(widen(a), dim, keepdim, is_max);
    return {narrow_to(values, a->dtype), indices};
  }
  const int64_t d = wrap_dim(dim, a->ndim());
  auto geom = reduce_dim_geom(a, d, op_name(is_max));
  Tensor x = dense(a);
  Shape shape = reduced_shape(a->shape, normalize_dims({d}, a->ndim()), keepdim);
  Tensor values = empty(shape, a->dtype), indices = empty(shape, DType::Int64);
  TG_DISPATCH_ALL(a->dtype, T, {
    if (is_max) kernels::arg_reduce<true>(x->data_as<T>(), geom, values->data_as<T>(), indices->data_as<int64_t>());
    else kernels::arg_reduce<false>(x->data_as<T>(), geom, values->data_as<T>(), indices->data_as<int64_t>());
  });
  set_history(make_node<MaxBackward0>({a}, indices, a->shape, d, is_max), {values});
  return {values, indices};
}

Tensor arg_extreme(const Tensor& a, std::optional<int64_t> dim, bool keepdim, bool is_max) {
  const char* name = op_name(is_max, true);
  TG_CHECK(a->dtype != DType::Bool, RuntimeError, name, "(): does not support bool input");
  if (!is_base(a->dtype)) return arg_extreme(widen(a), dim, keepdim, is_max);
  Tensor x = dense(a);
  kernels::DimGeom geom;
  Shape shape;
  if (dim) {
    const int64_t d = wrap_dim(*dim, a->ndim());
    geom = reduce_dim_geom(a, d, name);
    shape = reduced_shape(a->shape, normalize_dims({d}, a->ndim()), keepdim);
  } else {  // the index into the flattened tensor
    TG_CHECK(a->numel() > 0, IndexError, name,
             "(): Expected reduction dim to be specified for input.numel() == 0.");
    geom = {1, a->numel(), 1};
    if (keepdim) shape.assign(a->ndim(), 1);
  }
  Tensor out = empty(shape, DType::Int64);
  TG_DISPATCH_NUMERIC(a->dtype, T, {
    if (is_max) kernels::arg_reduce<true, T>(x->data_as<T>(), geom, nullptr, out->data_as<int64_t>());
    else kernels::arg_reduce<false, T>(x->data_as<T>(), geom, nullptr, out->data_as<int64_t>());
  });
  return out;
}
}  // namespace

std::pair<Tensor, Tensor> max(const Tensor& a, int64_t dim, bool keepdim) {
  return extreme_dim(a, dim, keepdim, true);
}
std::pair<Tensor, Tensor> min(const Tensor& a, int64_t dim, bool keepdim) {
  return extreme_dim(a, dim, keepdim, false);
}
Tensor argmax(const Tensor& a, std::optional<int64_t> dim, bool keepdim) {
  return arg_extreme(a, dim, keepdim, true);
}
Tensor argmin(const Tensor& a, std::optional<int64_t> dim, bool keepdim) {
  return arg_extreme(a, dim, keepdim, false);
}

// ---- amax / amin -----------------------------------------------------------------------

namespace {
// The gradient is shared evenly among the elements equal to the result, per output.
struct AmaxBackward0 : Node {
  SavedTensor x, out;
  std::vector<int64_t> dims;
  Shape keep_shape;
  bool is_max;
  AmaxBackward0(const Tensor& x, const Tensor& out, std::vector<int64_t> dims, Shape keep, bool is_max)
      : x(x), out(out, /*is_output=*/true), dims(std::move(dims)), keep_shape(std::move(keep)),
        is_max(is_max) {}
  std::string name() const override { return is_max ? "AmaxBackward0" : "AminBackward0"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    const Tensor& xv = x.get(*this);
    Tensor o = reshape(out.get(*this), keep_shape);
    Tensor mask = equal_mask(xv, o, broadcast_strides(o, xv->shape), /*nan_matches=*/false);
    Tensor count = sum(mask, dims, /*keepdim=*/true);
    Tensor gk = reshape(reduce_detail::cast(g[0], xv->dtype), keep_shape);
    return {spread(mask, gk, broadcast_strides(gk, xv->shape), count,
                   broadcast_strides(count, xv->shape))};
  }
  std::vector<Tensor> apply_graph(std::vector<Tensor>& g) override {  // recorded (create_graph)
    const Tensor xv = x.get(*this);
    const Tensor m = eq(xv, reshape(out.get(*this), keep_shape));
    return {graph_spread(m, reshape(g[0], keep_shape), xv->dtype, dims)};
  }
  void release_saved() override { x.reset(), out.reset(); }
};

Tensor amax_amin(const Tensor& a, std::vector<int64_t> dims_in, bool keepdim, bool is_max) {
  const char* name = is_max ? "amax" : "amin";
  if (!is_base(a->dtype)) return narrow_to(amax_amin(widen(a), std::move(dims_in), keepdim, is_max), a->dtype);
  std::vector<int64_t> dims = normalize_dims(dims_in, a->ndim());
  if (dims_in.empty()) {
    TG_CHECK(a->numel() > 0, RuntimeError, name,
             "(): Expected reduction dim to be specified for input.numel() == 0. Specify the "
             "reduction dim with the 'dim' argument.");
  }
  for (int64_t d : dims)
    TG_CHECK(a->shape[d] > 0, IndexError, name, "(): Expected reduction dim ", d, " to have non-zero size.");
  auto plan = kernels::make_plan(a->shape, a->strides, dims);
  Tensor out = empty(reduced_shape(a->shape, dims, keepdim), a->dtype);
  TG_DISPATCH_ALL(a->dtype, T, {
    if (is_max) kernels::reduce(plan, a->data_as<T>(), kernels::ExtremeOp<true, T>{out->data_as<T>()});
    else kernels::reduce(plan, a->data_as<T>(), kernels::ExtremeOp<false, T>{out->data_as<T>()});
  });
  set_history(make_node<AmaxBackward0>({a}, a, out, dims, reduced_shape(a->shape, dims, true), is_max),
              {out});
  return out;
}
}  // namespace

Tensor amax(const Tensor& a, std::vector<int64_t> dims, bool keepdim) {
  return amax_amin(a, std::move(dims), keepdim, true);
}
Tensor amin(const Tensor& a, std::vector<int64_t> dims, bool keepdim) {
  return amax_amin(a, std::move(dims), keepdim, false);
}

// all/any: whether every / some element is nonzero (NaN counts as nonzero), as a bool
// tensor: the min / max of a != 0. An empty reduction gives the identity (true / false).
namespace {
Tensor all_any(const Tensor& a, std::vector<int64_t> dims_in, bool keepdim, bool is_all) {
  std::vector<int64_t> dims = normalize_dims(dims_in, a->ndim());
  bool empty = a->numel() == 0 && dims_in.empty();
  for (int64_t d : dims) empty = empty || a->shape[d] == 0;
  const Shape shape = reduced_shape(a->shape, dims, keepdim);
  // uint8 inputs give uint8 results, as in PyTorch (a legacy of byte masks)
  const DType rt = a->dtype == DType::UInt8 ? DType::UInt8 : DType::Bool;
  if (empty) return full(shape, is_all ? 1.0 : 0.0, rt);
  NoGradGuard ng;  // not differentiable (bool result), as in PyTorch
  const Tensor nonzero = a->dtype == DType::Bool ? a : ne(a, scalar_tensor(0.0, a->dtype));
  const Tensor r = amax_amin(nonzero, dims_in, keepdim, !is_all);
  return rt == DType::Bool ? r : to_dtype(r, rt);
}
}  // namespace

Tensor all(const Tensor& a, std::vector<int64_t> dims, bool keepdim) {
  return all_any(a, std::move(dims), keepdim, true);
}
Tensor any(const Tensor& a, std::vector<int64_t> dims, bool keepdim) {
  return all_any(a, std::move(dims), keepdim, false);
}

}  // namespace tg
