// Activation functions, each forward functor next to its derivative. Written to stay
// finite where the textbook formula overflows: sigmoid(+-1e4) is 1/0, softplus(1e4) is
// 1e4, silu(-1e4) is -0.
#include <cmath>

#include "ops/elementwise_util.h"
#include "autograd/trace.h"
#include "ops/special.h"

namespace tg {

using namespace ew;

namespace {
template <class T>
T sigmoid_of(T x) {
  // exp(-x) overflows to inf for very negative x, and 1 / (1 + inf) = 0: no NaN
  return T(1) / (T(1) + std::exp(-x));
}
}  // namespace

// ---- sigmoid / tanh ----------------------------------------------------------------------

namespace {
struct Sigmoid {
  static constexpr auto vec = kernels::VecFn::Sigmoid;
  template <class T> T operator()(T x) const { return sigmoid_of(x); }
};
struct SigmoidGrad {
  static constexpr const char* name = "SigmoidBackward0";
  template <class T> T operator()(T g, T y) const { return g * y * (T(1) - y); }
  Tensor graph(const Tensor& g, const Tensor& y) const { return mul(g, mul(y, sub(num(1), y))); }
};
struct Tanh {
  static constexpr auto vec = kernels::VecFn::Tanh;
  template <class T> T operator()(T x) const { return std::tanh(x); }
};
struct TanhGrad {
  static constexpr const char* name = "TanhBackward0";
  template <class T> T operator()(T g, T y) const { return g * (T(1) - y * y); }
  Tensor graph(const Tensor& g, const Tensor& y) const { return mul(g, sub(num(1), mul(y, y))); }
};
}  // namespace

Tensor sigmoid(const Tensor& a) {
  return trace::op("sigmoid", {a}, [&]() -> Tensor {
    return float_op(a, "sigmoid", Sigmoid{}, SigmoidGrad{}, Saves::Output);
  });
}
Tensor tanh(const Tensor& a) {
  return trace::op("tanh", {a}, [&]() -> Tensor {
    return float_op(a, "tanh", Tanh{}, TanhGrad{}, Saves::Output);
  });
}
void sigmoid_(const Tensor& self) {
  inplace_pointwise<Types::Float>(self, float_type(self->dtype), "sigmoid_", Sigmoid{}, SigmoidGrad{},
                                  Saves::Output);
}
void tanh_(const Tensor& self) {
  inplace_pointwise<Types::Float>(self, float_type(self->dtype), "tanh_", Tanh{}, TanhGrad{}, Saves::Output);
}

// ---- relu --------------------------------------------------------------------------------

namespace {
struct Relu {
  template <class T> T operator()(T x) const { return x <= T(0) ? T(0) : x; }  // relu(nan) = nan
};
struct ReluGrad {  // PyTorch's threshold_backward on the output: 0 at 0
  static constexpr const char* name = "ReluBackward0";
  template <class T> T operator()(T g, T y) const { return y <= T(0) ? T(0) : g; }
  Tensor graph(const Tensor& g, const Tensor& y) const { return mul(g, gt(y, num(0))); }
};
void check_relu(DType d) {
  TG_CHECK(d != DType::Bool, RuntimeError, "Boolean inputs not supported for relu");
}
}  // namespace

Tensor relu(const Tensor& a) {
  return trace::op("relu", {a}, [&]() -> Tensor {
  check_relu(a->dtype);
  Tensor out = unary_kernel<Types::Numeric>(a, a->dtype, "relu", Relu{});
  set_history(make_node<PointwiseBackward<ReluGrad>>({a}, out, true, ReluGrad{}), {out});
  return out;
  });
}

void relu_(const Tensor& self) {
  trace::op_inplace("relu", self, {}, [&] {
  check_relu(self->dtype);
  // the backward reads the result, as PyTorch's relu_ saves it
  inplace_pointwise<Types::Numeric>(self, self->dtype, "relu_", Relu{}, ReluGrad{}, Saves::Output);
  });
}

// ---- gelu --------------------------------------------------------------------------------

namespace {
constexpr double kSqrt1_2 = 0.70710678118654752440;       // 1 / sqrt(2)
constexpr double kInvSqrt2Pi = 0.39894228040143267794;    // 1 / sqrt(2 pi)
constexpr double kSqrt2OverPi = 0.79788456080286535588;   // sqrt(2 / pi)
constexpr double kKappa = 0.044715;

struct Gelu {  // x * Phi(x), Phi the standard normal CDF
  static constexpr auto vec = kernels::VecFn::Gelu;
  template <class T> T operator()(T x) const { return x * T(0.5) * (T(1) + std::erf(x * T(kSqrt1_2))); }
};
struct GeluGrad {  // Phi(x) + x * phi(x)
  static constexpr const char* name = "GeluBackward0";
  static constexpr auto vec_grad = kernels::VecGrad::Gelu;
  template <class T> T operator()(T g, T x) const {
    T cdf = T(0.5) * (T(1) + std::erf(x * T(kSqrt1_2)));
    T pdf = T(kInvSqrt2Pi) * std::exp(T(-0.5) * x * x);
    return g * (cdf + x * pdf);
  }
  Tensor graph(const Tensor& g, const Tensor& x) const {
    const Tensor cdf = mul(add(erf(mul(x, num(kSqrt1_2))), num(1)), num(0.5));
    const Tensor pdf = mul(exp(mul(mul(x, x), num(-0.5))), num(kInvSqrt2Pi));
    return mul(g, add(cdf, mul(x, pdf)));
  }
};
struct GeluTanh {
  static constexpr auto vec = kernels::VecFn::GeluTanh;
  template <class T> T operator()(T x) const {
    T inner = T(kSqrt2OverPi) * (x + T(kKappa) * x * x * x);
    return T(0.5) * x * (T(1) + std::tanh(inner));
  }
};
struct GeluTanhGrad {
  static constexpr const char* name = "GeluBackward0";
  static constexpr auto vec_grad = kernels::VecGrad::GeluTanh;
  template <class T> T operator()(T g, T x) const {
    T x2 = x * x;
    T t = std::tanh(T(kSqrt2OverPi) * (x + T(kKappa) * x2 * x));
    T left = T(0.5) * x, right = T(1) + t;
    T d_inner = T(kSqrt2OverPi) * (T(1) + T(3 * kKappa) * x2);
    return g * (T(0.5) * right + left * (T(1) - t * t) * d_inner);
  }
  Tensor graph(const Tensor& g, const Tensor& x) const {
    const Tensor x2 = mul(x, x);
    const Tensor t = tanh(mul(add(x, mul(mul(x2, x), num(kKappa))), num(kSqrt2OverPi)));
    const Tensor d_inner = mul(add(mul(x2, num(3 * kKappa)), num(1)), num(kSqrt2OverPi));
    const Tensor left = mul(x, num(0.5));
    return mul(g, add(mul(add(t, num(1)), num(0.5)), mul(mul(left, sub(num(1), mul(t, t))), d_inner)));
  }
};

// Activations PyTorch defines for float tensors only.
template <class F, class D>
Tensor float_only(const Tensor& a, const char* op, F f, D d) {
  Tensor out = unary_op<Types::Float>(a, a->dtype, op, f);
  set_history(make_node<PointwiseBackward<D>>({a}, a, false, d), {out});
  return out;
}
}  // namespace

Tensor gelu(const Tensor& a, const std::string& approximate) {
  return trace::op("gelu", {a}, [&] { return trace::Attrs{{"approximate", approximate}}; }, [&]() -> Tensor {
  TG_CHECK(approximate == "none" || approximate == "tanh", RuntimeError,
           "approximate argument must be either none or tanh (got '", approximate, "')");
  if (approximate == "tanh") return float_only(a, "GeluKernelImpl", GeluTanh{}, GeluTanhGrad{});
  return float_only(a, "GeluKernelImpl", Gelu{}, GeluGrad{});
  });
}

// ---- silu / softplus ---------------------------------------------------------------------

namespace {
struct Silu {
  static constexpr auto vec = kernels::VecFn::Silu;
  template <class T> T operator()(T x) const { return x * sigmoid_of(x); }
};
struct SiluGrad {  // s + x s (1 - s)
  static constexpr const char* name = "SiluBackward0";
  static constexpr auto vec_grad = kernels::VecGrad::Silu;
  template <class T> T operator()(T g, T x) const {
    T s = sigmoid_of(x);
    return g * s * (T(1) + x * (T(1) - s));
  }
  Tensor graph(const Tensor& g, const Tensor& x) const {
    const Tensor s = sigmoid(x);
    return mul(mul(g, s), add(mul(x, sub(num(1), s)), num(1)));
  }
};
struct Softplus {
  double beta, threshold;
  template <class T> T operator()(T x) const {
    T bx = x * T(beta);
    if (bx > T(threshold)) return x;  // linear regime, as PyTorch
    // log(1 + e^bx) = max(bx, 0) + log1p(e^-|bx|): never overflows
    return (std::max(bx, T(0)) + std::log1p(std::exp(-std::abs(bx)))) / T(beta);
  }
};
struct SoftplusGrad {
  static constexpr const char* name = "SoftplusBackward0";
  double beta, threshold;
  template <class T> T operator()(T g, T x) const {
    T bx = x * T(beta);
    return bx > T(threshold) ? g : g * sigmoid_of(bx);
  }
  Tensor graph(const Tensor& g, const Tensor& x) const {
    const Tensor bx = mul(x, num(beta));
    return where(gt(bx, num(threshold)), g, mul(g, sigmoid(bx)));
  }
};
}  // namespace

Tensor silu(const Tensor& a) {
  return trace::op("silu", {a}, [&]() -> Tensor {
    return float_only(a, "silu", Silu{}, SiluGrad{});
  });
}

void silu_(const Tensor& self) {
  inplace_pointwise<Types::Float>(self, self->dtype, "silu_", Silu{}, SiluGrad{}, Saves::Input);
}

Tensor softplus(const Tensor& a, double beta, double threshold) {
  return trace::op("softplus", {a}, [&] { return trace::Attrs{{"beta", beta}, {"threshold", threshold}}; }, [&]() -> Tensor {
  return float_only(a, "softplus", Softplus{beta, threshold}, SoftplusGrad{beta, threshold});
  });
}

// ---- leaky_relu / elu --------------------------------------------------------------------

namespace {
struct LeakyRelu {
  double slope;
  template <class T> T operator()(T x) const { return x > T(0) ? x : x * T(slope); }
};
struct LeakyReluGrad {
  static constexpr const char* name = "LeakyReluBackward0";
  double slope;
  template <class T> T operator()(T g, T x) const { return x > T(0) ? g : g * T(slope); }
  Tensor graph(const Tensor& g, const Tensor& x) const { return where(gt(x, num(0)), g, mul(g, num(slope))); }
};
// In place the input is gone: the gradient is read off the result, which has the input's
// sign only for a positive slope (PyTorch refuses the others the same way, in backward).
struct LeakyReluResultGrad {
  static constexpr const char* name = "LeakyReluBackward1";
  double slope;
  template <class T> T operator()(T g, T y) const { return y > T(0) ? g : g * T(slope); }
};
struct LeakyReluNegativeSlope : Node {
  std::string name() const override { return "LeakyReluBackward1"; }
  std::vector<Tensor> apply(std::vector<Tensor>&) override {
    throw RuntimeError(
        "In-place leakyReLu backward calculation is triggered with a negative slope which is not "
        "supported. This is caused by calling in-place forward function with a negative slope, "
        "please call out-of-place version instead.");
  }
};
struct Elu {
  double alpha;
  template <class T> T operator()(T x) const { return x > T(0) ? x : T(alpha) * std::expm1(x); }
};
struct EluGrad {
  static constexpr const char* name = "EluBackward0";
  double alpha;
  template <class T> T operator()(T g, T x) const {
    return x > T(0) ? g : g * T(alpha) * std::exp(x);
  }
  Tensor graph(const Tensor& g, const Tensor& x) const {
    return where(gt(x, num(0)), g, mul(mul(g, num(alpha)), exp(x)));
  }
};
}  // namespace

Tensor leaky_relu(const Tensor& a, double negative_slope) {
  return trace::op("leaky_relu", {a}, [&] { return trace::Attrs{{"negative_slope", negative_slope}}; }, [&]() -> Tensor {
  return float_only(a, "leaky_relu", LeakyRelu{negative_slope}, LeakyReluGrad{negative_slope});
  });
}

void leaky_relu_(const Tensor& self, double negative_slope) {
  if (negative_slope >= 0) {
    inplace_pointwise<Types::Float>(self, self->dtype, "leaky_relu_", LeakyRelu{negative_slope},
                                    LeakyReluResultGrad{negative_slope}, Saves::Output);
    return;
  }
  inplace_unary<Types::Float>(self, self->dtype, "leaky_relu_", LeakyRelu{negative_slope},
                              [&] { return make_node<LeakyReluNegativeSlope>({self}); });
}

Tensor elu(const Tensor& a, double alpha) {
  return trace::op("elu", {a}, [&] { return trace::Attrs{{"alpha", alpha}}; }, [&]() -> Tensor {
  return float_only(a, "elu", Elu{alpha}, EluGrad{alpha});
  });
}

}  // namespace tg
