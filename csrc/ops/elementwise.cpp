// Broadcasting arithmetic and elementwise functions: each op's forward and its backward
// node stand together.
#include "ops/elementwise.h"

#include <cmath>

#include "autograd/node.h"
#include "kernels/loops.h"
#include "ops/creation.h"
#include "ops/reduce.h"
#include "ops/shape.h"

namespace tg {

Shape broadcast_shapes(const Shape& a, const Shape& b) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    TG_CHECK(da == db || da == 1 || db == 1, RuntimeError, "The size of tensor a (", da,
             ") must match the size of tensor b (", db, ") at non-singleton dimension ", i,
             " (shapes ", shape_str(a), " and ", shape_str(b), ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Shape broadcast_strides(const Tensor& t, const Shape& shape) {
  size_t n = shape.size(), k = t->shape.size();
  TG_CHECK(k <= n, RuntimeError, "cannot broadcast tensor of shape ", shape_str(t->shape),
           " to ", shape_str(shape));
  Shape st(n, 0);
  for (size_t i = 0; i < k; ++i) {
    int64_t src = t->shape[i], dst = shape[n - k + i];
    TG_CHECK(src == dst || src == 1, RuntimeError, "cannot broadcast tensor of shape ",
             shape_str(t->shape), " to ", shape_str(shape));
    st[n - k + i] = src == 1 ? 0 : t->strides[i];
  }
  return st;
}

Tensor sum_to(const Tensor& grad, const Shape& shape) {
  if (grad->shape == shape) return grad;
  size_t n = grad->shape.size(), k = shape.size();
  std::vector<int64_t> dims;
  for (size_t i = 0; i < n; ++i) {
    if (i < n - k || (shape[i - (n - k)] == 1 && grad->shape[i] != 1)) dims.push_back((int64_t)i);
  }
  Tensor r = dims.empty() ? grad : sum(grad, dims, /*keepdim=*/true);
  return view(r->is_contiguous() ? r : contiguous(r), shape);
}

namespace {

// `t` converted to dtype `dt` without autograd history (the op's node covers it).
Tensor cast(const Tensor& t, DType dt) {
  if (t->dtype == dt) return t;
  Tensor out = empty(t->shape, dt);
  copy_into(out, t);
  return out;
}

// The gradient for an input of the given shape and dtype.
Tensor grad_for(const Tensor& g, const Shape& shape, DType dt) { return cast(sum_to(g, shape), dt); }

// out = f(a, b) computed in dtype `ct`; the output dtype is what f returns for T = ct.
template <class F>
Tensor binary_kernel(const Tensor& a, const Tensor& b, DType ct, F f) {
  Shape shape = broadcast_shapes(a->shape, b->shape);
  Tensor ca = cast(a, ct), cb = cast(b, ct);
  Shape sa = broadcast_strides(ca, shape), sb = broadcast_strides(cb, shape);
  Tensor out;
  TG_DISPATCH_ALL(ct, T, {
    using TO = decltype(f(T{}, T{}));
    out = empty(shape, dtype_of<TO>::value);
    kernels::map2(shape, out->data_as<TO>(), out->strides.data(), ca->data_as<T>(), sa.data(),
                  cb->data_as<T>(), sb.data(), f);
  });
  return out;
}

template <class F>
Tensor unary_kernel(const Tensor& a, DType ct, F f) {
  Tensor ca = cast(a, ct);
  Tensor out;
  TG_DISPATCH_ALL(ct, T, {
    using TO = decltype(f(T{}));
    out = empty(a->shape, dtype_of<TO>::value);
    kernels::map1(a->shape, out->data_as<TO>(), out->strides.data(), ca->data_as<T>(),
                  ca->strides.data(), f);
  });
  return out;
}

// Float ops on integer inputs compute in the default float dtype, as PyTorch does.
DType float_type(DType d) { return is_floating(d) ? d : DType::Float32; }

struct InputMeta {
  Shape shape;
  DType dtype;
  InputMeta(const Tensor& t) : shape(t->shape), dtype(t->dtype) {}
};

}  // namespace

// ---- add / sub -------------------------------------------------------------------------

namespace {
struct AddBackward0 : Node {
  InputMeta a, b;
  double alpha;
  bool is_sub;
  AddBackward0(const Tensor& a, const Tensor& b, double alpha, bool is_sub)
      : a(a), b(b), alpha(alpha), is_sub(is_sub) {}
  std::string name() const override { return is_sub ? "SubBackward0" : "AddBackward0"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    Tensor gb;
    if (next_edges[1].fn) {
      double s = is_sub ? -alpha : alpha;
      gb = grad_for(s == 1.0 ? g[0] : mul(g[0], scalar_tensor(s, DType::Float64)), b.shape, b.dtype);
    }
    Tensor ga = next_edges[0].fn ? grad_for(g[0], a.shape, a.dtype) : nullptr;
    return {ga, gb};
  }
};
}  // namespace

Tensor add(const Tensor& a, const Tensor& b, double alpha) {
  DType ct = result_type({a, b});
  TG_CHECK(ct != DType::Bool || alpha == 1.0, TypeError, "add with alpha is not supported for bool");
  Tensor out;
  if (alpha == 1.0) {
    out = binary_kernel(a, b, ct, [](auto x, auto y) { return decltype(x)(x + y); });
  } else {
    out = binary_kernel(a, b, ct, [alpha](auto x, auto y) {
      using T = decltype(x);
      return T(x + T(alpha) * y);
    });
  }
  set_history(make_node<AddBackward0>({a, b}, a, b, alpha, false), {out});
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b, double alpha) {
  DType ct = result_type({a, b});
  TG_CHECK(ct != DType::Bool, TypeError,
           "Subtraction, the `-` operator, with two bool tensors is not supported");
  Tensor out = binary_kernel(a, b, ct, [alpha](auto x, auto y) {
    using T = decltype(x);
    return T(x - T(alpha) * y);
  });
  set_history(make_node<AddBackward0>({a, b}, a, b, alpha, true), {out});
  return out;
}

// ---- mul / div -------------------------------------------------------------------------

namespace {
struct MulBackward0 : Node {
  SavedTensor a, b;
  InputMeta ma, mb;
  MulBackward0(const Tensor& x, const Tensor& y, bool need_x, bool need_y)
      : ma(x), mb(y) {
    // each input's gradient needs the other input
    if (need_y) a = SavedTensor(x);
    if (need_x) b = SavedTensor(y);
  }
  std::string name() const override { return "MulBackward0"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    Tensor ga, gb;
    if (next_edges[0].fn) ga = grad_for(mul(g[0], b.get(*this)), ma.shape, ma.dtype);
    if (next_edges[1].fn) gb = grad_for(mul(g[0], a.get(*this)), mb.shape, mb.dtype);
    return {ga, gb};
  }
  void release_saved() override { a.reset(), b.reset(); }
};

struct DivBackward0 : Node {
  SavedTensor b, out;
  InputMeta ma, mb;
  DivBackward0(const Tensor& x, const Tensor& y, const Tensor& o, bool need_y)
      : b(y), ma(x), mb(y) {
    if (need_y) out = SavedTensor(o, /*is_output=*/true);
  }
  std::string name() const override { return "DivBackward0"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    Tensor ga, gb;
    Tensor gy = div(g[0], b.get(*this));  // d/da = 1/b ; d/db = -out/b
    if (next_edges[0].fn) ga = grad_for(gy, ma.shape, ma.dtype);
    if (next_edges[1].fn) gb = grad_for(neg(mul(gy, out.get(*this))), mb.shape, mb.dtype);
    return {ga, gb};
  }
  void release_saved() override { b.reset(), out.reset(); }
};
}  // namespace

Tensor mul(const Tensor& a, const Tensor& b) {
  DType ct = result_type({a, b});
  Tensor out = ct == DType::Bool
                   ? binary_kernel(a, b, ct, [](bool x, bool y) { return bool(x && y); })
                   : binary_kernel(a, b, ct, [](auto x, auto y) { return decltype(x)(x * y); });
  set_history(make_node<MulBackward0>({a, b}, a, b, needs_grad(a), needs_grad(b)), {out});
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  DType ct = float_type(result_type({a, b}));  // true division
  Tensor out = binary_kernel(a, b, ct, [](auto x, auto y) { return decltype(x)(x / y); });
  set_history(make_node<DivBackward0>({a, b}, a, b, out, needs_grad(b)), {out});
  return out;
}

// ---- unary -----------------------------------------------------------------------------

namespace {
struct NegBackward0 : Node {
  std::string name() const override { return "NegBackward0"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override { return {neg(g[0])}; }
};
struct ExpBackward0 : Node {
  SavedTensor out;
  explicit ExpBackward0(const Tensor& o) : out(o, true) {}
  std::string name() const override { return "ExpBackward0"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override { return {mul(g[0], out.get(*this))}; }
  void release_saved() override { out.reset(); }
};
struct ReluBackward0 : Node {
  SavedTensor out;
  explicit ReluBackward0(const Tensor& o) : out(o, true) {}
  std::string name() const override { return "ReluBackward0"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    const Tensor& o = out.get(*this);
    return {binary_kernel(g[0], o, o->dtype, [](auto gy, auto y) {
      return decltype(gy)(y > 0 ? gy : 0);
    })};
  }
  void release_saved() override { out.reset(); }
};
}  // namespace

Tensor neg(const Tensor& a) {
  TG_CHECK(a->dtype != DType::Bool, TypeError,
           "Negation, the `-` operator, on a bool tensor is not supported");
  Tensor out = unary_kernel(a, a->dtype, [](auto x) { return decltype(x)(-x); });
  set_history(make_node<NegBackward0>({a}), {out});
  return out;
}

Tensor exp(const Tensor& a) {
  Tensor out = unary_kernel(a, float_type(a->dtype), [](auto x) { return decltype(x)(std::exp(x)); });
  set_history(make_node<ExpBackward0>({a}, out), {out});
  return out;
}

Tensor relu(const Tensor& a) {
  TG_CHECK(a->dtype != DType::Bool, TypeError, "relu is not supported for bool tensors");
  Tensor out = unary_kernel(a, a->dtype, [](auto x) { return decltype(x)(x > 0 ? x : 0); });
  set_history(make_node<ReluBackward0>({a}, out), {out});
  return out;
}

// ---- in place --------------------------------------------------------------------------

namespace {
void check_inplace(const Tensor& self, const Tensor& other) {
  TG_CHECK(!(grad_enabled() && self->requires_grad), RuntimeError,
           self->is_leaf() ? "a leaf Variable that requires grad is being used in an in-place operation."
                           : "in-place operations on tensors that require grad are only supported under no_grad()");
  DType rt = result_type({self, other});
  TG_CHECK(rt <= self->dtype && !(is_floating(rt) && !is_floating(self->dtype)), RuntimeError,
           "result type ", dtype_name(rt), " can't be cast to the desired output type ",
           dtype_name(self->dtype));
  Shape bs = broadcast_shapes(self->shape, other->shape);
  TG_CHECK(bs == self->shape, RuntimeError, "output with shape ", shape_str(self->shape),
           " doesn't match the broadcast shape ", shape_str(bs));
}
}  // namespace

void add_(const Tensor& self, const Tensor& other, double alpha) {
  check_inplace(self, other);
  Tensor o = cast(other, self->dtype);
  Shape so = broadcast_strides(o, self->shape);
  TG_DISPATCH_ALL(self->dtype, T, {
    kernels::map2(self->shape, self->data_as<T>(), self->strides.data(), self->data_as<T>(),
                  self->strides.data(), o->data_as<T>(), so.data(),
                  [alpha](T x, T y) { return T(x + T(alpha) * y); });
  });
  self->storage->version++;
}

}  // namespace tg
