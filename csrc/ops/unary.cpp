// Unary math. Each op is a forward functor and a backward functor (PyTorch's derivative,
// named as PyTorch names the node) side by side; the in-place form reuses the forward.
// IEEE semantics throughout: log(0) = -inf, sqrt(-1) = nan, 1/0 = inf, nothing throws.
#include <cmath>

#include "ops/elementwise_util.h"
#include "autograd/trace.h"
#include "ops/special.h"
#include "kernels/wrapping.h"

namespace tg {

using namespace ew;

namespace {
// Float functions write into integer tensors only if the result type allows (it doesn't).
template <class F, class D>
void float_op_(const Tensor& self, const char* op, F f, D d, Saves saves) {
  inplace_pointwise<Types::Float>(self, float_type(self->dtype), op, f, d, saves);
}

template <class T>
T sgn(T x) { return T((T(0) < x) - (x < T(0))); }
}  // namespace

// ---- neg ---------------------------------------------------------------------------------

namespace {
struct NegBackward0 : Node {
  std::string name() const override { return "NegBackward0"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override { return {neg(g[0])}; }
  TG_APPLY_IS_DIFFERENTIABLE
};
struct Neg {
  template <class T> T operator()(T x) const { return kernels::wrap_neg(x); }
};
void check_neg(DType d) {
  TG_CHECK(d != DType::Bool, RuntimeError,
           "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to "
           "invert a mask, use the `~` or `logical_not()` operator instead.");
}
}  // namespace

Tensor neg(const Tensor& a) {
  return trace::op("neg", {a}, [&]() -> Tensor {
  check_neg(a->dtype);
  Tensor out = unary_kernel<Types::Numeric>(a, a->dtype, "neg", Neg{});
  set_history(make_node<NegBackward0>({a}), {out});
  return out;
  });
}

void neg_(const Tensor& self) {
  check_neg(self->dtype);
  inplace_unary<Types::Numeric>(self, self->dtype, "neg_", Neg{}, [&] { return make_node<NegBackward0>({self}); });
}

// ---- abs / sign --------------------------------------------------------------------------

namespace {
struct Abs {
  template <class T> T operator()(T x) const {
    if constexpr (std::is_floating_point_v<T>) return std::abs(x);  // abs(-0.) = +0.
    else return x < 0 ? T(0 - (uint64_t)x) : x;  // abs(INT64_MIN) wraps instead of trapping
  }
};
struct AbsGrad {  // d|x| = sign(x), 0 at 0
  static constexpr const char* name = "AbsBackward0";
  template <class T> T operator()(T g, T x) const { return g * sgn(x); }
  Tensor graph(const Tensor& g, const Tensor& x) const { return mul(g, sign(x)); }
};
struct Sign {
  template <class T> T operator()(T x) const {
    if constexpr (std::is_same_v<T, bool>) return x;
    else return sgn(x);  // NaN -> 0, as in PyTorch
  }
};
}  // namespace

Tensor abs(const Tensor& a) {
  return trace::op("abs", {a}, [&]() -> Tensor {
  Tensor out = unary_kernel<Types::Numeric>(a, a->dtype, "abs", Abs{});
  set_history(make_node<PointwiseBackward<AbsGrad>>({a}, a, false, AbsGrad{}), {out});
  return out;
  });
}

void abs_(const Tensor& self) {
  inplace_pointwise<Types::Numeric>(self, self->dtype, "abs_", Abs{}, AbsGrad{}, Saves::Input);
}

Tensor sign(const Tensor& a) {
  Tensor out = unary_kernel<Types::All>(a, a->dtype, "sign", Sign{});
  set_history(make_node<ZeroBackward>({a}, "SignBackward0", std::vector<InputMeta>{a}), {out});
  return out;
}

// ---- exp / log family --------------------------------------------------------------------

namespace {
struct Exp {
  static constexpr auto vec = kernels::VecFn::Exp;
  template <class T> T operator()(T x) const { return std::exp(x); }
};
struct ExpGrad {  // exp' = exp: reads the output
  static constexpr const char* name = "ExpBackward0";
  template <class T> T operator()(T g, T y) const { return g * y; }
  Tensor graph(const Tensor& g, const Tensor& y) const { return mul(g, y); }
};
struct Expm1 {
  template <class T> T operator()(T x) const { return std::expm1(x); }
};
struct Expm1Grad {
  static constexpr const char* name = "Expm1Backward0";
  template <class T> T operator()(T g, T y) const { return g * (y + T(1)); }
  Tensor graph(const Tensor& g, const Tensor& y) const { return mul(g, add(y, num(1))); }
};
struct Log {
  static constexpr auto vec = kernels::VecFn::Log;
  template <class T> T operator()(T x) const { return std::log(x); }
};
struct LogGrad {
  static constexpr const char* name = "LogBackward0";
  template <class T> T operator()(T g, T x) const { return g / x; }
  Tensor graph(const Tensor& g, const Tensor& x) const { return div(g, x); }
};
struct Log1p {
  template <class T> T operator()(T x) const { return std::log1p(x); }
};
struct Log1pGrad {
  static constexpr const char* name = "Log1PBackward0";
  template <class T> T operator()(T g, T x) const { return g / (x + T(1)); }
  Tensor graph(const Tensor& g, const Tensor& x) const { return div(g, add(x, num(1))); }
};
struct Erf {
  template <class T> T operator()(T x) const { return std::erf(x); }
};
struct ErfGrad {  // erf'(x) = 2 / sqrt(pi) exp(-x^2)
  static constexpr const char* name = "ErfBackward0";
  static constexpr double k2OverSqrtPi = 1.12837916709551257390;
  template <class T> T operator()(T g, T x) const { return g * T(k2OverSqrtPi) * std::exp(-x * x); }
  Tensor graph(const Tensor& g, const Tensor& x) const {
    return mul(g, mul(exp(neg(mul(x, x))), num(k2OverSqrtPi)));
  }
};
}  // namespace

Tensor erf(const Tensor& a) {
  return trace::op("erf", {a}, [&]() -> Tensor {
    return float_op(a, "erf", Erf{}, ErfGrad{}, Saves::Input);
  });
}
Tensor exp(const Tensor& a) {
  return trace::op("exp", {a}, [&]() -> Tensor {
    return float_op(a, "exp", Exp{}, ExpGrad{}, Saves::Output);
  });
}
Tensor expm1(const Tensor& a) { return float_op(a, "expm1", Expm1{}, Expm1Grad{}, Saves::Output); }
Tensor log(const Tensor& a) {
  return trace::op("log", {a}, [&]() -> Tensor {
    return float_op(a, "log", Log{}, LogGrad{}, Saves::Input);
  });
}
Tensor log1p(const Tensor& a) { return float_op(a, "log1p", Log1p{}, Log1pGrad{}, Saves::Input); }
void exp_(const Tensor& self) { float_op_(self, "exp_", Exp{}, ExpGrad{}, Saves::Output); }
void log_(const Tensor& self) { float_op_(self, "log_", Log{}, LogGrad{}, Saves::Input); }

// ---- sqrt / rsqrt / reciprocal -----------------------------------------------------------

namespace {
struct Sqrt {
  template <class T> T operator()(T x) const { return std::sqrt(x); }
};
struct SqrtGrad {
  static constexpr const char* name = "SqrtBackward0";
  template <class T> T operator()(T g, T y) const { return g / (T(2) * y); }
  Tensor graph(const Tensor& g, const Tensor& y) const { return div(g, mul(y, num(2))); }
};
struct Rsqrt {
  template <class T> T operator()(T x) const { return T(1) / std::sqrt(x); }
};
struct RsqrtGrad {  // -x^(-3/2) / 2 = -y^3 / 2
  static constexpr const char* name = "RsqrtBackward0";
  template <class T> T operator()(T g, T y) const { return T(-0.5) * g * y * y * y; }
  Tensor graph(const Tensor& g, const Tensor& y) const { return mul(mul(g, num(-0.5)), mul(mul(y, y), y)); }
};
struct Reciprocal {
  template <class T> T operator()(T x) const { return T(1) / x; }
};
struct ReciprocalGrad {  // -1/x^2 = -y^2
  static constexpr const char* name = "ReciprocalBackward0";
  template <class T> T operator()(T g, T y) const { return -g * y * y; }
  Tensor graph(const Tensor& g, const Tensor& y) const { return neg(mul(g, mul(y, y))); }
};
}  // namespace

Tensor sqrt(const Tensor& a) {
  return trace::op("sqrt", {a}, [&]() -> Tensor {
    return float_op(a, "sqrt", Sqrt{}, SqrtGrad{}, Saves::Output);
  });
}
Tensor rsqrt(const Tensor& a) {
  return trace::op("rsqrt", {a}, [&]() -> Tensor {
    return float_op(a, "rsqrt", Rsqrt{}, RsqrtGrad{}, Saves::Output);
  });
}
Tensor reciprocal(const Tensor& a) {
  return float_op(a, "reciprocal", Reciprocal{}, ReciprocalGrad{}, Saves::Output);
}
void sqrt_(const Tensor& self) { float_op_(self, "sqrt_", Sqrt{}, SqrtGrad{}, Saves::Output); }
void rsqrt_(const Tensor& self) { float_op_(self, "rsqrt_", Rsqrt{}, RsqrtGrad{}, Saves::Output); }
void reciprocal_(const Tensor& self) {
  float_op_(self, "reciprocal_", Reciprocal{}, ReciprocalGrad{}, Saves::Output);
}

// ---- trigonometric -----------------------------------------------------------------------

namespace {
struct Sin {
  template <class T> T operator()(T x) const { return std::sin(x); }
};
struct SinGrad {
  static constexpr const char* name = "SinBackward0";
  template <class T> T operator()(T g, T x) const { return g * std::cos(x); }
  Tensor graph(const Tensor& g, const Tensor& x) const { return mul(g, cos(x)); }
};
struct Cos {
  template <class T> T operator()(T x) const { return std::cos(x); }
};
struct CosGrad {
  static constexpr const char* name = "CosBackward0";
  template <class T> T operator()(T g, T x) const { return -g * std::sin(x); }
  Tensor graph(const Tensor& g, const Tensor& x) const { return neg(mul(g, sin(x))); }
};
}  // namespace

Tensor sin(const Tensor& a) { return float_op(a, "sin", Sin{}, SinGrad{}, Saves::Input); }
Tensor cos(const Tensor& a) { return float_op(a, "cos", Cos{}, CosGrad{}, Saves::Input); }

// ---- rounding ----------------------------------------------------------------------------
// Integer tensors are already whole: they come back as a copy in their own dtype.

namespace {
struct Floor {
  template <class T> T operator()(T x) const {
    if constexpr (std::is_floating_point_v<T>) return std::floor(x);
    else return x;
  }
};
struct Ceil {
  template <class T> T operator()(T x) const {
    if constexpr (std::is_floating_point_v<T>) return std::ceil(x);
    else return x;
  }
};
struct Round {  // halves to even, as PyTorch (and numpy)
  template <class T> T operator()(T x) const {
    if constexpr (std::is_floating_point_v<T>) return std::nearbyint(x);
    else return x;
  }
};

template <class F>
Tensor rounding(const Tensor& a, const char* op, const char* node, F f) {
  Tensor out = unary_kernel<Types::Numeric>(a, a->dtype, op, f);
  set_history(make_node<ZeroBackward>({a}, node, std::vector<InputMeta>{a}), {out});
  return out;
}
}  // namespace

Tensor floor(const Tensor& a) { return rounding(a, "floor", "FloorBackward0", Floor{}); }
Tensor ceil(const Tensor& a) { return rounding(a, "ceil", "CeilBackward0", Ceil{}); }

Tensor round(const Tensor& a, int64_t decimals) {
  if (decimals == 0 || !is_floating(a->dtype)) return rounding(a, "round", "RoundBackward0", Round{});
  // PyTorch's formula: scale by 10^|decimals| in the tensor's dtype, round, scale back
  const bool negative = decimals < 0;
  const double p = std::pow(10.0, negative ? -(double)decimals : (double)decimals);  // no int negation: INT64_MIN
  return rounding(a, "round", "RoundBackward1", [negative, p](auto x) {
    using T = decltype(x);
    const T s = T(p);
    return negative ? T(std::nearbyint(x / s) * s) : T(std::nearbyint(x * s) / s);
  });
}

namespace {
template <class F>
void rounding_(const Tensor& self, const char* op, const char* node, F f) {
  inplace_unary<Types::Numeric>(self, self->dtype, op, f, [&] {
    return make_node<ZeroBackward>({self}, node, std::vector<InputMeta>{self});
  });
}
}  // namespace

void floor_(const Tensor& self) { rounding_(self, "floor_", "FloorBackward0", Floor{}); }
void ceil_(const Tensor& self) { rounding_(self, "ceil_", "CeilBackward0", Ceil{}); }
void round_(const Tensor& self) { rounding_(self, "round_", "RoundBackward0", Round{}); }

}  // namespace tg
