// pow in its three PyTorch forms (tensor ** scalar, scalar ** tensor, tensor ** tensor),
// square, and pow_, with PyTorch's gradient conventions at zero.
#include <cmath>

#include "core/convert.h"
#include "ops/elementwise_util.h"
#include "autograd/trace.h"

namespace tg {

using namespace ew;

namespace {

// Integer power as PyTorch computes it: by squaring, wrapping on overflow; a negative
// exponent gives the truncated quotient 1 / a^|b| (0 unless a is 1 or -1).
struct IntPow {
  int64_t operator()(int64_t a, int64_t b) const {
    if (b < 0) {
      if (a == 1) return 1;
      if (a == -1) return (b % 2) ? -1 : 1;
      return 0;
    }
    uint64_t r = 1, base = (uint64_t)a;
    for (; b; b >>= 1, base *= base)
      if (b & 1) r *= base;
    return (int64_t)r;
  }
};

template <class T>
Tensor pow_by_scalar(const Tensor& x, T e) {
  // PyTorch's special cases: exact for squares and cubes, and sqrt-based halves
  if (e == T(1)) return map_unary<T>(x, [](T v) { return v; });  // (the derivative of a square)
  if (e == T(2)) return map_unary<T>(x, [](T v) { return v * v; });
  if (e == T(3)) return map_unary<T>(x, [](T v) { return v * v * v; });
  if (e == T(0.5)) return map_unary<T>(x, [](T v) { return std::sqrt(v); });
  if (e == T(-0.5)) return map_unary<T>(x, [](T v) { return T(1) / std::sqrt(v); });
  if (e == T(-1)) return map_unary<T>(x, [](T v) { return T(1) / v; });
  if (e == T(-2)) return map_unary<T>(x, [](T v) { return T(1) / (v * v); });
  return map_unary<T>(x, [e](T v) { return T(std::pow(v, e)); });
}

template <class T>
T scalar_value(const Tensor& t) {
  T v{};
  TG_DISPATCH_ALL_TYPES(t->dtype, S, { v = convert<T>(*t->data_as<S>()); });
  return v;
}

// Checks PyTorch makes before computing pow in dtype rt.
void check_pow(const Tensor& exponent, DType rt) {
  // bool ** scalar bool is defined (x ** True = x, x ** False = True), as in PyTorch
  TG_CHECK(rt != DType::Bool || exponent->wrapped_number, RuntimeError,
           "\"pow\" not implemented for 'Bool'");
  if (is_integral(rt) && exponent->wrapped_number)
    TG_CHECK(scalar_value<int64_t>(exponent) >= 0, RuntimeError,
             "Integers to negative integer powers are not allowed.");
}

Tensor pow_kernel(const Tensor& base, const Tensor& exponent, DType rt) {
  if (is_integral(rt)) return narrow_result(map_binary<int64_t>(base, exponent, IntPow{}), rt);
  if (rt == DType::Bool)
    return scalar_value<bool>(exponent) ? map_unary<bool>(base, [](bool v) { return v; })
                                        : full(base->shape, 1.0, DType::Bool);
  if (is_half(rt)) return narrow_result(pow_kernel(base, exponent, DType::Float32), rt);
  Tensor out;
  TG_DISPATCH_FLOAT(rt, T, {
    if (exponent->ndim() == 0)
      out = pow_by_scalar<T>(base, scalar_value<T>(exponent));
    else
      out = map_binary<T>(base, exponent, [](T x, T e) { return T(std::pow(x, e)); });
  });
  return out;
}

// d(x^e)/dx = e x^(e-1) (0 where e = 0, also at x = 0);
// d(x^e)/de = x^e log x (0 where x = 0 and e >= 0).
struct PowBackward : Node {
  SavedTensor base, exponent;
  InputMeta mb, me;
  const char* node_name;
  PowBackward(const Tensor& b, const Tensor& e, const char* n)
      : base(b), exponent(e), mb(b), me(e), node_name(n) {}
  std::string name() const override { return node_name; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    // half types: the formula in public ops, which compute them in float32
    if (!is_base(g[0]->dtype)) return apply_graph(g);
    const Tensor& x = base.get(*this);
    const Tensor& e = exponent.get(*this);
    Tensor gx, ge;
    TG_DISPATCH_FLOAT(g[0]->dtype, T, {
      if (next_edges[0].fn) {
        // PyTorch's order of operations, x^(e-1) by the same special cases as the forward
        if (e->ndim() == 0) {
          const T ev = scalar_value<T>(e);
          Tensor p = pow_by_scalar<T>(x, ev - T(1));
          gx = map_binary<T>(g[0], p, [ev](T gy, T pv) { return ev == T(0) ? T(0) : T(gy * (ev * pv)); });
        } else {
          gx = map_ternary<T>(g[0], x, e, [](T gy, T v, T ev) {
            return ev == T(0) ? T(0) : T(gy * (ev * std::pow(v, ev - T(1))));
          });
        }
        gx = grad_for(gx, mb.shape, mb.dtype);
      }
      if (next_edges[1].fn) {
        ge = map_ternary<T>(g[0], x, e, [](T gy, T v, T ev) {
          return (v == T(0) && ev >= T(0)) ? T(0) : T(gy * (std::pow(v, ev) * std::log(v)));
        });
        ge = grad_for(ge, me.shape, me.dtype);
      }
    });
    return {gx, ge};
  }
  // PyTorch's pow_backward in public ops (create_graph): g e x^(e-1), 0 where e = 0;
  // g x^e log x, 0 where x = 0 and e >= 0.
  std::vector<Tensor> apply_graph(std::vector<Tensor>& g) override {
    const Tensor x = base.get(*this), e = exponent.get(*this);
    Tensor gx, gexp;
    if (next_edges[0].fn && e->ndim() == 0 && !e->requires_grad) {  // x ** c: the common case
      const double c = scalar_value<double>(e);
      gx = c == 0 ? mul(g[0], num(0)) : mul(g[0], mul(pow(x, num(c - 1)), num(c)));
      gx = grad_for(gx, mb.shape, mb.dtype);
    } else if (next_edges[0].fn) {
      const Tensor d = mul(e, pow(x, sub(e, num(1))));
      gx = grad_for(mul(g[0], where(eq(e, num(0)), num(0), d)), mb.shape, mb.dtype);
    }
    if (next_edges[1].fn) {
      const Tensor d = mul(pow(x, e), log(x));
      const Tensor zero_at = logical_and(eq(x, num(0)), ge(e, num(0)));
      gexp = grad_for(mul(g[0], where(zero_at, num(0), d)), me.shape, me.dtype);
    }
    return {gx, gexp};
  }
  void release_saved() override { base.reset(), exponent.reset(); }
};

}  // namespace

Tensor pow(const Tensor& base, const Tensor& exponent) {
  return trace::op("pow", {base, exponent}, [&]() -> Tensor {
  DType rt = result_type({base, exponent});
  check_pow(exponent, rt);
  Tensor out = pow_kernel(base, exponent, rt);
  const char* n = exponent->wrapped_number ? "PowBackward0"
                  : base->wrapped_number   ? "PowBackward2"
                                           : "PowBackward1";
  set_history(make_node<PowBackward>({base, exponent}, base, exponent, n), {out});
  return out;
  });
}

Tensor square(const Tensor& a) { return pow(a, scalar_tensor(2.0, DType::Int64)); }

void pow_(const Tensor& self, const Tensor& exponent) {
  DType rt = result_type({self, exponent});
  check_pow(exponent, rt);
  check_inplace_binary(self, exponent, rt);
  if (is_integral(rt)) return store_binary<int64_t>(self, exponent, IntPow{});
  if (rt == DType::Bool)
    return store_binary<bool>(self, exponent, [](bool x, bool e) { return e ? x : true; });
  std::shared_ptr<Node> node;
  if (any_needs_grad(self, exponent)) {  // the backward reads the base as it was
    const char* n = exponent->wrapped_number ? "PowBackward0" : "PowBackward1";
    node = make_node<PowBackward>({self, exponent}, copy_of(self), saveable(self, exponent), n);
  }
  TG_DISPATCH_FLOAT(compute_dtype(rt), T, {
    store_binary<T>(self, exponent, [](T x, T e) { return T(std::pow(x, e)); });
  });
  rebase_history(self, node);
}

}  // namespace tg
