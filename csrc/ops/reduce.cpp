// Sum-like reductions (sum, mean, var, std, logsumexp, prod): each op's forward and its
// backward node stand together. max/min live in minmax.cpp, softmax in softmax.cpp.
#include "ops/reduce.h"

#include <cmath>

#include "autograd/node.h"
#include "autograd/trace.h"
#include "kernels/loops.h"
#include "kernels/reduce.h"
#include "kernels/reduce_dim.h"
#include "kernels/reduce_ops.h"
#include "kernels/vec_unary.h"
#include "ops/compute.h"
#include "ops/creation.h"
#include "ops/elementwise.h"
#include "ops/reduce_dims.h"
#include "ops/seq.h"
#include "ops/shape.h"

namespace tg {

using namespace reduce_detail;

namespace {
// `g`, the gradient of a reduction's output, read as a tensor of `in_shape` (stride 0 on
// the reduced dims); keep_shape is the output shape with keepdim=true.
Tensor broadcast_grad(const Tensor& g, const Shape& keep_shape, const Shape& in_shape) {
  return expand(reshape(g, keep_shape), in_shape);
}

Tensor apply_dtype(const Tensor& a, std::optional<DType> dtype) {
  return dtype && *dtype != a->dtype ? to_dtype(a, *dtype) : a;
}
}  // namespace

// ---- sum / mean ------------------------------------------------------------------------

namespace {
struct SumBackward : Node {
  Shape in_shape, keep_shape;
  bool full, is_mean;
  double count;
  SumBackward(Shape in, Shape keep, bool full, bool is_mean, double count)
      : in_shape(std::move(in)), keep_shape(std::move(keep)), full(full), is_mean(is_mean),
        count(count) {}
  std::string name() const override {
    return std::string(is_mean ? "MeanBackward" : "SumBackward") + (full ? "0" : "1");
  }
  TG_APPLY_IS_DIFFERENTIABLE
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    Tensor gb = broadcast_grad(g[0], keep_shape, in_shape);
    if (is_mean) return {div(gb, scalar_tensor(count, DType::Float64))};  // one dense pass
    return {contiguous(gb)};
  }
};

// The shared forward of sum and mean.
Tensor sum_mean(const Tensor& in, std::vector<int64_t> dims, bool keepdim,
                std::optional<DType> dtype, bool full, bool is_mean) {
  return trace::op("sum_mean", {in}, [&] { return trace::Attrs{{"dims", dims}, {"keepdim", int64_t(keepdim)}, {"mean", int64_t(is_mean)}}; }, [&]() -> Tensor {
  if (is_mean) {
    DType rt = dtype ? *dtype : in->dtype;
    TG_CHECK(is_floating(rt), RuntimeError,
             "mean(): could not infer output dtype. ", dtype ? "Optional" : "Input",
             " dtype must be either a floating point or complex dtype. Got: ", dtype_name(rt));
  }
  Tensor a = apply_dtype(in, dtype);
  if (!is_base(a->dtype))  // accumulated in float32 (half types) or int64 (small ints)
    return narrow_to(sum_mean(widen(a), std::move(dims), keepdim, std::nullopt, full, is_mean),
                     is_half(a->dtype) ? a->dtype : DType::Int64);
  dims = normalize_dims(std::move(dims), a->ndim());
  auto plan = kernels::make_plan(a->shape, a->strides, dims);
  DType odt = is_floating(a->dtype) ? a->dtype : DType::Int64;  // bools and ints sum to int64
  Tensor out = empty(reduced_shape(a->shape, dims, keepdim), odt);
  const double count = (double)plan.n_red;
  TG_DISPATCH_ALL(a->dtype, T, {
    using TO = std::conditional_t<std::is_floating_point_v<T>, T, int64_t>;
    kernels::reduce(plan, a->data_as<T>(),
                    kernels::SumOp<T, TO>{out->data_as<TO>(), is_mean ? count : 1.0});
  });
  set_history(make_node<SumBackward>({a}, a->shape, reduced_shape(a->shape, dims, true), full,
                                     is_mean, count),
              {out});
  return out;
  });
}
}  // namespace

Tensor sum(const Tensor& a, std::optional<DType> dtype) {
  return sum_mean(a, {}, false, dtype, true, false);
}
Tensor sum(const Tensor& a, std::vector<int64_t> dims, bool keepdim, std::optional<DType> dtype) {
  return sum_mean(a, std::move(dims), keepdim, dtype, false, false);
}
Tensor mean(const Tensor& a, std::optional<DType> dtype) {
  return sum_mean(a, {}, false, dtype, true, true);
}
Tensor mean(const Tensor& a, std::vector<int64_t> dims, bool keepdim, std::optional<DType> dtype) {
  return sum_mean(a, std::move(dims), keepdim, dtype, false, true);
}

// ---- var / std -------------------------------------------------------------------------

namespace {
// d var / dx = 2 (x - mean) / divisor;  d std / dx = (x - mean) / (divisor * std), taken as
// 0 where std == 0 (PyTorch's choice at the kink).
struct VarBackward : Node {
  SavedTensor x, out;
  Tensor mean;  // float64, keepdim shape; private to this node
  Shape keep_shape;
  double divisor;
  bool is_std;
  std::vector<int64_t> dims;  // normalized reduced dims
  VarBackward(const Tensor& x, const Tensor& out, Tensor mean, Shape keep, double divisor, bool is_std,
              std::vector<int64_t> dims)
      : x(x), mean(std::move(mean)), keep_shape(std::move(keep)), divisor(divisor), is_std(is_std),
        dims(std::move(dims)) {
    if (is_std) this->out = SavedTensor(out, /*is_output=*/true);
  }
  std::string name() const override { return is_std ? "StdBackward0" : "VarBackward0"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    const Tensor& xv = x.get(*this);
    Tensor gk = reduce_detail::cast(dense(reshape(g[0], keep_shape)), DType::Float64);
    // per-output coefficient c, so that dx = c * (x - mean)
    Tensor c = empty(keep_shape, DType::Float64);
    const double* gp = gk->data_as<double>();
    double* cp = c->data_as<double>();
    const int64_t n = c->numel();
    if (is_std) {
      Tensor s = reduce_detail::cast(dense(out.get(*this)), DType::Float64);
      const double* sp = s->data_as<double>();
      for (int64_t i = 0; i < n; ++i) cp[i] = sp[i] == 0 ? 0.0 : gp[i] / (divisor * sp[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) cp[i] = gp[i] * 2.0 / divisor;
    }
    Tensor gx = empty(xv->shape, xv->dtype);
    Shape sm = broadcast_strides(mean, xv->shape), sc = broadcast_strides(c, xv->shape);
    TG_DISPATCH_FLOAT(xv->dtype, T, {
      kernels::map3(xv->shape, gx->data_as<T>(), gx->strides.data(), xv->data_as<T>(),
                    xv->strides.data(), mean->data_as<double>(), sm.data(), cp, sc.data(),
                    [](T xi, double m, double ci) { return T(ci * (double(xi) - m)); });
    });
    return {gx};
  }
  // create_graph: the same formula in public ops (the mean recomputed from x, as PyTorch's
  // var_backward / std_backward), differentiable again.
  std::vector<Tensor> apply_graph(std::vector<Tensor>& g) override {
    const Tensor xv = x.get(*this);
    const Tensor xc = sub(xv, tg::mean(xv, dims, true));
    Tensor gk = reshape(g[0], keep_shape);
    const Tensor zero = scalar_tensor(0.0, DType::Float64);
    if (is_std) {
      const Tensor s = reshape(out.get(*this), keep_shape);
      gk = where(eq(s, zero), zero, div(gk, mul(s, scalar_tensor(divisor, DType::Float64))));
    } else {
      gk = mul(gk, scalar_tensor(2.0 / divisor, DType::Float64));
    }
    return {mul(gk, xc)};
  }
  void release_saved() override { x.reset(), out.reset(), mean.reset(); }
};

Tensor var_std(const Tensor& a, std::vector<int64_t> dims, double correction, bool keepdim,
               bool is_std) {
  TG_CHECK(is_floating(a->dtype), RuntimeError,
           "std and var only support floating point and complex dtypes, got ", dtype_name(a->dtype));
  if (is_half(a->dtype))
    return narrow_to(var_std(widen(a), std::move(dims), correction, keepdim, is_std), a->dtype);
  dims = normalize_dims(std::move(dims), a->ndim());
  auto plan = kernels::make_plan(a->shape, a->strides, dims);
  Shape keep = reduced_shape(a->shape, dims, true);
  // Two passes (mean, then squared deviations from it): more accurate than one-pass
  // formulas when the mean is large compared with the spread.
  Tensor mean = empty(keep, DType::Float64);
  Tensor out = empty(reduced_shape(a->shape, dims, keepdim), a->dtype);
  const double divisor = std::max(0.0, (double)plan.n_red - correction);
  TG_DISPATCH_FLOAT(a->dtype, T, {
    const T* x = a->data_as<T>();
    double* m = mean->data_as<double>();
    kernels::reduce(plan, x, kernels::SumOp<T, double>{m, (double)plan.n_red});
    kernels::reduce(plan, x, kernels::SqDevOp<T>{m, out->data_as<T>(), divisor, is_std});
  });
  set_history(make_node<VarBackward>({a}, a, out, mean, keep, divisor, is_std, dims), {out});
  return out;
}
}  // namespace

Tensor var(const Tensor& a, std::vector<int64_t> dims, double correction, bool keepdim) {
  return var_std(a, std::move(dims), correction, keepdim, false);
}
Tensor stddev(const Tensor& a, std::vector<int64_t> dims, double correction, bool keepdim) {
  return var_std(a, std::move(dims), correction, keepdim, true);
}

// ---- logsumexp -------------------------------------------------------------------------

namespace {
// d/dx logsumexp = exp(x - out)
struct LogsumexpBackward0 : Node {
  SavedTensor x, out;
  Shape keep_shape;
  LogsumexpBackward0(const Tensor& x, const Tensor& out, Shape keep)
      : x(x), out(out, /*is_output=*/true), keep_shape(std::move(keep)) {}
  std::string name() const override { return "LogsumexpBackward0"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    const Tensor& xv = x.get(*this);
    Tensor o = reshape(out.get(*this), keep_shape), gk = reshape(g[0], keep_shape);
    Shape so = broadcast_strides(o, xv->shape), sg = broadcast_strides(gk, xv->shape);
    Tensor gx = empty(xv->shape, xv->dtype);
    TG_DISPATCH_FLOAT(xv->dtype, T, {
      kernels::map3(xv->shape, gx->data_as<T>(), gx->strides.data(), xv->data_as<T>(),
                    xv->strides.data(), o->data_as<T>(), so.data(), gk->data_as<T>(), sg.data(),
                    [](T xi, T oi, T gi) { return T(gi * std::exp(xi - oi)); });
    });
    return {gx};
  }
  std::vector<Tensor> apply_graph(std::vector<Tensor>& g) override {  // recorded (create_graph)
    const Tensor xv = x.get(*this);
    return {mul(reshape(g[0], keep_shape), exp(sub(xv, reshape(out.get(*this), keep_shape))))};
  }
  void release_saved() override { x.reset(), out.reset(); }
};
}  // namespace

Tensor logsumexp(const Tensor& in, std::vector<int64_t> dims, bool keepdim) {
  // integer inputs give float32, as in PyTorch
  if (is_half(in->dtype)) return narrow_to(logsumexp(widen(in), std::move(dims), keepdim), in->dtype);
  Tensor a = is_floating(in->dtype) ? in : reduce_detail::cast(in, DType::Float32);
  dims = normalize_dims(std::move(dims), a->ndim());
  auto plan = kernels::make_plan(a->shape, a->strides, dims);
  Tensor out = empty(reduced_shape(a->shape, dims, keepdim), a->dtype);
  // Shift by the max so exp cannot overflow; an infinite max (all -inf, or some +inf)
  // would turn the shift into nan, so shift by 0 there, as PyTorch does.
  if (a->dtype == DType::Float32 && plan.red_shape.size() == 1 && plan.red_strides[0] == 1) {
    // contiguous float32 rows: max, then exp and sum, as SIMD passes over each row
    const float* x = a->data_as<float>();
    float* o = out->data_as<float>();
    const int64_t n = plan.n_red, nk = (int64_t)plan.kept_shape.size();
    parallel_for(plan.n_out, n * 8, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const float* row = x + kernels::kept_offset(plan, i, nk);
        float m = kernels::vec_row_max(row, n);
        if (std::isinf(m)) m = 0;
        o[i] = float(double(m) + std::log(kernels::vec_exp_sum(row, m, nullptr, n)));
      }
    });
  } else {
    TG_DISPATCH_FLOAT(a->dtype, T, {
      std::vector<T> shift(std::max<int64_t>(plan.n_out, 1));
      const T* x = a->data_as<T>();
      kernels::reduce(plan, x, kernels::ExtremeOp<true, T>{shift.data()});
      for (auto& s : shift)
        if (std::isinf(s)) s = 0;
      kernels::reduce(plan, x, kernels::SumExpOp<T>{shift.data(), out->data_as<T>()});
    });
  }
  set_history(make_node<LogsumexpBackward0>({a}, a, out, reduced_shape(a->shape, dims, true)),
              {out});
  return out;
}

// ---- prod ------------------------------------------------------------------------------

namespace {
struct ProdBackward : Node {
  SavedTensor x;
  Shape keep_shape;
  int64_t dim;  // -1: all elements
  ProdBackward(const Tensor& x, Shape keep, int64_t dim) : x(x), keep_shape(std::move(keep)), dim(dim) {}
  std::string name() const override { return dim < 0 ? "ProdBackward0" : "ProdBackward1"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    Tensor xv = dense(x.get(*this));
    Tensor gk = reduce_detail::cast(dense(reshape(g[0], keep_shape)), xv->dtype);
    kernels::DimGeom geom = dim < 0 ? kernels::DimGeom{1, xv->numel(), 1} : dim_geom(xv->shape, dim);
    Tensor gx = empty(xv->shape, xv->dtype);
    TG_DISPATCH_FLOAT(xv->dtype, T, {
      kernels::prod_backward(xv->data_as<T>(), gk->data_as<T>(), geom, gx->data_as<T>());
    });
    return {gx};
  }
  std::vector<Tensor> apply_graph(std::vector<Tensor>& g) override {  // recorded (create_graph)
    const Tensor xv = x.get(*this);
    if (xv->numel() == 0) return Node::apply_graph(g);  // nothing to differentiate
    if (dim >= 0) {
      const Tensor gk = reshape(g[0], keep_shape);
      return {prod_backward_graph(xv, gk, prod(xv, dim, true), dim, false)};
    }
    const Tensor flat = reshape(xv, {-1});
    const Tensor gx = prod_backward_graph(flat, reshape(g[0], {1}), reshape(prod(flat), {1}), 0, false);
    return {reshape(gx, xv->shape)};
  }
  void release_saved() override { x.reset(); }
};

Tensor prod_impl(const Tensor& in, std::optional<int64_t> dim, bool keepdim, std::optional<DType> dtype) {
  Tensor a = apply_dtype(in, dtype);
  if (!is_base(a->dtype))
    return narrow_to(prod_impl(widen(a), dim, keepdim, std::nullopt), is_half(a->dtype) ? a->dtype : DType::Int64);
  std::vector<int64_t> dims = dim ? normalize_dims({*dim}, a->ndim()) : normalize_dims({}, a->ndim());
  auto plan = kernels::make_plan(a->shape, a->strides, dims);
  DType odt = is_floating(a->dtype) ? a->dtype : DType::Int64;
  Tensor out = empty(reduced_shape(a->shape, dims, keepdim && dim), odt);
  TG_DISPATCH_ALL(a->dtype, T, {
    using TO = std::conditional_t<std::is_floating_point_v<T>, T, int64_t>;
    kernels::reduce(plan, a->data_as<T>(), kernels::ProdOp<T, TO>{out->data_as<TO>()});
  });
  const int64_t d = dim ? wrap_dim(*dim, a->ndim()) : -1;
  set_history(make_node<ProdBackward>({a}, a, reduced_shape(a->shape, dims, true), d), {out});
  return out;
}
}  // namespace

Tensor prod(const Tensor& a, std::optional<DType> dtype) { return prod_impl(a, std::nullopt, false, dtype); }
Tensor prod(const Tensor& a, int64_t dim, bool keepdim, std::optional<DType> dtype) {
  return prod_impl(a, dim, keepdim, dtype);
}

}  // namespace tg
