// Broadcasting and the arithmetic operators (+ - * / // %), each op's forward next to
// its backward node and its in-place form.
#include "ops/elementwise.h"
#include "autograd/trace.h"

#include <atomic>
#include <cmath>

#include "ops/elementwise_util.h"
#include "ops/reduce.h"
#include "ops/shape.h"
#include "kernels/wrapping.h"

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

namespace ew {

Tensor cast(const Tensor& t, DType dt) {
  if (t->dtype == dt) return t;
  Tensor out = empty(t->shape, dt);
  copy_into(out, t);
  return out;
}

Tensor narrow_result(const Tensor& out, DType ct) {
  if (!out || out->dtype == ct || out->dtype != compute_dtype(ct)) return out;
  return cast(out, ct);
}

Tensor grad_for(const Tensor& g, const Shape& shape, DType dtype) {
  const Tensor s = sum_to(g, shape);
  return s->dtype == dtype ? s : to_dtype(s, dtype);  // (recorded under create_graph)
}

}  // namespace ew

using namespace ew;

namespace {

// g * c for a constant c, skipping the multiply when c is 1.
Tensor scaled(const Tensor& g, double c) {
  if (c == 1.0) return g;
  if (c == -1.0) return neg(g);
  return mul(g, scalar_tensor(c, DType::Float64));
}

// PyTorch's checks on add/sub's alpha against the result dtype.
void check_alpha(const Scalar& alpha, DType rt) {
  TG_CHECK(is_floating(rt) || alpha.kind != DType::Float64, RuntimeError,
           "For integral input tensors, argument alpha must not be a floating point number.");
  TG_CHECK(rt == DType::Bool || alpha.kind != DType::Bool, RuntimeError,
           "Boolean alpha only supported for Boolean results.");
}

// PyTorch refuses a bool operand to `-` even when the result would be numeric.
void check_not_bool_sub(const Tensor& a, const Tensor& b) {
  TG_CHECK(a->dtype != DType::Bool && b->dtype != DType::Bool, RuntimeError,
           "Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying "
           "to invert a mask, use the `~` or `logical_not()` operator instead.");
}

// x + alpha * y in T, alpha converted once (and the multiply skipped for alpha = +-1).
template <class T>
Tensor add_in(const Tensor& a, const Tensor& b, const Scalar& alpha) {
  if (alpha.is_one()) return map_binary<T>(a, b, [](T x, T y) { return kernels::wrap_add(x, y); });
  if constexpr (!std::is_same_v<T, bool>)
    if (alpha.to<T>() == T(-1)) return map_binary<T>(a, b, [](T x, T y) { return kernels::wrap_sub(x, y); });
  const T s = alpha.to<T>();
  return map_binary<T>(a, b, [s](T x, T y) { return kernels::wrap_add(x, kernels::wrap_mul(s, y)); });
}

template <Types K>
Tensor add_kernel(const Tensor& a, const Tensor& b, DType rt, const Scalar& alpha, const char* op) {
  Tensor out;
  dispatch<K>(rt, op, [&](auto tag) { out = add_in<typename decltype(tag)::type>(a, b, alpha); });
  return narrow_result(out, rt);
}

Scalar negated(Scalar s) {
  s.f = -s.f;
  s.i = (int64_t)(0 - (uint64_t)s.i);
  return s;
}

// d(ca * a + cb * b): covers add, sub and rsub with their alphas.
struct AddBackward : Node {
  InputMeta a, b;
  double ca, cb;
  const char* node_name;
  AddBackward(const Tensor& a, const Tensor& b, double ca, double cb, const char* n)
      : a(a), b(b), ca(ca), cb(cb), node_name(n) {}
  std::string name() const override { return node_name; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    Tensor ga = next_edges[0].fn ? grad_for(scaled(g[0], ca), a.shape, a.dtype) : nullptr;
    Tensor gb = next_edges[1].fn ? grad_for(scaled(g[0], cb), b.shape, b.dtype) : nullptr;
    return {ga, gb};
  }
  TG_APPLY_IS_DIFFERENTIABLE
};

}  // namespace

// ---- add / sub / rsub --------------------------------------------------------------------

Tensor add(const Tensor& a, const Tensor& b, Scalar alpha) {
  return trace::op("add", {a, b}, [&] { return trace::Attrs{{"alpha", alpha.to<double>()}}; }, [&]() -> Tensor {
  DType rt = result_type({a, b});
  check_alpha(alpha, rt);
  Tensor out = add_kernel<Types::All>(a, b, rt, alpha, "add");
  set_history(make_node<AddBackward>({a, b}, a, b, 1.0, alpha.f, "AddBackward0"), {out});
  return out;
  });
}

Tensor sub(const Tensor& a, const Tensor& b, Scalar alpha) {
  return trace::op("sub", {a, b}, [&] { return trace::Attrs{{"alpha", alpha.to<double>()}}; }, [&]() -> Tensor {
  DType rt = result_type({a, b});
  check_not_bool_sub(a, b);
  check_alpha(alpha, rt);
  Tensor out = add_kernel<Types::Numeric>(a, b, rt, negated(alpha), "sub");
  set_history(make_node<AddBackward>({a, b}, a, b, 1.0, -alpha.f, "SubBackward0"), {out});
  return out;
  });
}

Tensor rsub(const Tensor& a, const Tensor& b, Scalar alpha) {
  DType rt = result_type({a, b});
  check_not_bool_sub(a, b);
  check_alpha(alpha, rt);
  Tensor out = add_kernel<Types::Numeric>(b, a, rt, negated(alpha), "rsub");
  const char* n = b->wrapped_number ? "RsubBackward1" : "RsubBackward0";
  set_history(make_node<AddBackward>({a, b}, a, b, -alpha.f, 1.0, n), {out});
  return out;
}

void add_(const Tensor& self, const Tensor& other, Scalar alpha) {
  DType rt = result_type({self, other});
  check_alpha(alpha, rt);
  check_inplace_binary(self, other, rt);
  auto node = make_node<AddBackward>({self, other}, self, other, 1.0, alpha.f, "AddBackward0");
  dispatch<Types::All>(rt, "add_", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (alpha.is_one()) return store_binary<T>(self, other, [](T x, T y) { return kernels::wrap_add(x, y); });
    const T s = alpha.to<T>();
    store_binary<T>(self, other, [s](T x, T y) { return kernels::wrap_add(x, kernels::wrap_mul(s, y)); });
  });
  rebase_history(self, node);
}

void sub_(const Tensor& self, const Tensor& other, Scalar alpha) {
  DType rt = result_type({self, other});
  check_not_bool_sub(self, other);
  check_alpha(alpha, rt);
  check_inplace_binary(self, other, rt);
  auto node = make_node<AddBackward>({self, other}, self, other, 1.0, -alpha.f, "SubBackward0");
  dispatch<Types::Numeric>(rt, "sub_", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (alpha.is_one()) return store_binary<T>(self, other, [](T x, T y) { return kernels::wrap_sub(x, y); });
    const T s = alpha.to<T>();
    store_binary<T>(self, other, [s](T x, T y) { return kernels::wrap_sub(x, kernels::wrap_mul(s, y)); });
  });
  rebase_history(self, node);
}

// ---- mul ---------------------------------------------------------------------------------

namespace {
struct MulBackward0 : Node {
  SavedTensor a, b;
  InputMeta ma, mb;
  MulBackward0(const Tensor& x, const Tensor& y, bool need_x, bool need_y) : ma(x), mb(y) {
    // each input's gradient needs the other input
    if (need_y) a = SavedTensor(x);
    if (need_x) b = SavedTensor(y);
  }
  std::string name() const override { return "MulBackward0"; }
  TG_APPLY_IS_DIFFERENTIABLE
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    Tensor ga, gb;
    if (next_edges[0].fn) ga = grad_for(mul(g[0], b.get(*this)), ma.shape, ma.dtype);
    if (next_edges[1].fn) gb = grad_for(mul(g[0], a.get(*this)), mb.shape, mb.dtype);
    return {ga, gb};
  }
  void release_saved() override { a.reset(), b.reset(); }
};

// Multiplication in T; bool multiplies as logical and.
struct Mul {
  template <class T> T operator()(T x, T y) const {
    if constexpr (std::is_same_v<T, bool>) return x && y;
    else return kernels::wrap_mul(x, y);
  }
};
}  // namespace

Tensor mul(const Tensor& a, const Tensor& b) {
  return trace::op("mul", {a, b}, [&]() -> Tensor {
  Tensor out = binary_kernel<Types::All>(a, b, result_type({a, b}), "mul", Mul{});
  set_history(make_node<MulBackward0>({a, b}, a, b, needs_grad(a), needs_grad(b)), {out});
  return out;
  });
}

void mul_(const Tensor& self, const Tensor& other) {
  inplace_binary<Types::All>(self, other, result_type({self, other}), "mul_", Mul{}, [&] {
    const bool nx = needs_grad(self), ny = needs_grad(other);
    if (!nx && !ny) return std::shared_ptr<MulBackward0>();
    // other's gradient needs self as it was
    return make_node<MulBackward0>({self, other}, ny ? copy_of(self) : self, saveable(self, other), nx, ny);
  });
}

// ---- div ---------------------------------------------------------------------------------

namespace {
struct DivBackward0 : Node {
  SavedTensor b, out;
  InputMeta ma, mb;
  DivBackward0(const Tensor& x, const Tensor& y, const Tensor& o, bool need_y)
      : b(y), ma(x), mb(y) {
    if (need_y) out = SavedTensor(o, /*is_output=*/true);
  }
  std::string name() const override { return "DivBackward0"; }
  TG_APPLY_IS_DIFFERENTIABLE
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    Tensor ga, gb;
    Tensor gy = div(g[0], b.get(*this));  // d/da = 1/b ; d/db = -out/b
    if (next_edges[0].fn) ga = grad_for(gy, ma.shape, ma.dtype);
    if (next_edges[1].fn) gb = grad_for(neg(mul(gy, out.get(*this))), mb.shape, mb.dtype);
    return {ga, gb};
  }
  void release_saved() override { b.reset(), out.reset(); }
};

// Integer quotient (y != 0) rounded toward zero, or toward -inf when `floor`. INT64_MIN / -1
// wraps, as it does in PyTorch, instead of trapping.
struct IntDiv {
  bool floor;
  int64_t operator()(int64_t x, int64_t y) const {
    if (y == -1) return (int64_t)(0 - (uint64_t)x);
    int64_t q = x / y;
    if (floor && (x % y != 0) && ((x < 0) != (y < 0))) --q;
    return q;
  }
};

// Python's floor division for floats, as PyTorch computes it (exact near integers).
template <class T>
T floor_div_float(T a, T b) {
  if (b == 0) return a / b;
  T mod = std::fmod(a, b);
  T q = (a - mod) / b;
  if (mod != 0 && (b < 0) != (mod < 0)) q -= T(1);
  if (q == 0) return std::copysign(T(0), a / b);
  T fq = std::floor(q);
  if (q - fq > T(0.5)) fq += T(1);
  return fq;
}

// An int64 kernel whose divisor may be zero: PyTorch raises ZeroDivisionError. The kernel
// only flags it, since it may run on worker threads, which must not throw.
template <class F>
Tensor int_division(const Tensor& a, const Tensor& b, F f) {
  std::atomic<bool> zero{false};
  Tensor out = map_binary<int64_t>(a, b, [&zero, f](int64_t x, int64_t y) -> int64_t {
    if (y != 0) return f(x, y);
    zero.store(true, std::memory_order_relaxed);
    return 0;
  });
  TG_CHECK(!zero.load(), RuntimeError, "ZeroDivisionError");
  return out;
}

Tensor rounding_div(const Tensor& a, const Tensor& b, bool floor) {
  DType rt = result_type({a, b});
  const char* op = floor ? "div_floor" : "div_trunc";
  if (is_integral(rt)) return narrow_result(int_division(a, b, IntDiv{floor}), rt);
  if (floor)
    return binary_kernel<Types::Float>(a, b, rt, op, [](auto x, auto y) { return floor_div_float(x, y); });
  return binary_kernel<Types::Float>(a, b, rt, op, [](auto x, auto y) { return decltype(x)(std::trunc(x / y)); });
}
}  // namespace

Tensor div(const Tensor& a, const Tensor& b, const std::string& rounding_mode) {
  return trace::op("div", {a, b}, [&] { return trace::Attrs{{"rounding_mode", rounding_mode}}; }, [&]() -> Tensor {
  if (rounding_mode.empty()) {
    DType ct = float_type(result_type({a, b}));  // true division
    Tensor out = binary_kernel<Types::Float>(a, b, ct, "div", [](auto x, auto y) { return decltype(x)(x / y); });
    set_history(make_node<DivBackward0>({a, b}, a, b, out, needs_grad(b)), {out});
    return out;
  }
  TG_CHECK(rounding_mode == "trunc" || rounding_mode == "floor", RuntimeError,
           "div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '",
           rounding_mode, "'");
  Tensor out = rounding_div(a, b, rounding_mode == "floor");
  // a rounded quotient is piecewise constant: zero gradient almost everywhere
  set_history(make_node<ZeroBackward>({a, b}, "DivBackward2", std::vector<InputMeta>{a, b}), {out});
  return out;
  });
}

void div_(const Tensor& self, const Tensor& other) {
  DType rt = float_type(result_type({self, other}));
  std::shared_ptr<DivBackward0> node;
  const bool ny = needs_grad(other);
  inplace_binary<Types::Float>(self, other, rt, "div_", [](auto x, auto y) { return decltype(x)(x / y); }, [&] {
    if (any_needs_grad(self, other))
      node = make_node<DivBackward0>({self, other}, self, saveable(self, other), self, false);
    return std::shared_ptr<Node>();  // recorded below, once the result it saves is written
  });
  // PyTorch's div_ keeps what it needs apart from self, so later in-place ops on self are
  // fine: a copy of the quotient, not self. Saved as the node's output: a create_graph
  // backward gets it back with the node's history, as the quotient it is.
  if (node && ny) {
    NoGradGuard ng;
    node->out = SavedTensor(copy_of(self), /*is_output=*/true);
  }
  rebase_history(self, node);
}

// ---- remainder ---------------------------------------------------------------------------

namespace {
struct RemainderBackward0 : Node {
  SavedTensor a, b;
  InputMeta ma, mb;
  RemainderBackward0(const Tensor& x, const Tensor& y, bool need_y) : ma(x), mb(y) {
    if (need_y) a = SavedTensor(x), b = SavedTensor(y);
  }
  std::string name() const override { return "RemainderBackward0"; }
  TG_APPLY_IS_DIFFERENTIABLE  // public ops
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    Tensor ga, gb;
    if (next_edges[0].fn) ga = grad_for(g[0], ma.shape, ma.dtype);
    if (next_edges[1].fn)  // a - floor(a / b) * b
      gb = grad_for(neg(mul(g[0], div(a.get(*this), b.get(*this), "floor"))), mb.shape, mb.dtype);
    return {ga, gb};
  }
  void release_saved() override { a.reset(), b.reset(); }
};
}  // namespace

Tensor remainder(const Tensor& a, const Tensor& b) {
  DType rt = result_type({a, b});
  Tensor out;
  if (is_floating(rt)) {
    // the result takes the divisor's sign, as Python's %
    out = binary_kernel<Types::Float>(a, b, rt, "remainder", [](auto x, auto y) {
      auto m = std::fmod(x, y);
      return decltype(x)((m != 0 && (y < 0) != (m < 0)) ? m + y : m);
    });
  } else {
    TG_CHECK(is_integral(rt), RuntimeError, "\"remainder\" not implemented for '", dtype_name(rt), "'");
    out = int_division(a, b, [](int64_t x, int64_t y) -> int64_t {
      if (y == -1) return 0;
      int64_t m = x % y;
      return (m != 0 && (m < 0) != (y < 0)) ? m + y : m;
    });
    out = narrow_result(out, rt);
  }
  set_history(make_node<RemainderBackward0>({a, b}, a, b, needs_grad(b)), {out});
  return out;
}

}  // namespace tg
