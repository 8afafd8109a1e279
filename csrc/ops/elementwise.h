#pragma once
// Elementwise ops: broadcasting arithmetic, comparisons, selection (where, clamp,
// maximum), float functions and activations, and the in-place ops optimizers use.
// Semantics, dtype promotion and gradient conventions follow PyTorch.
#include <string>

#include "core/tensor.h"

namespace tg {

// A Python number given as an op argument (alpha), kept with the type it was written in:
// PyTorch refuses a float alpha for integer tensors and a bool alpha for non-bool ones.
struct Scalar {
  DType kind = DType::Float64;  // Bool, Int64 or Float64
  double f = 0;
  int64_t i = 0;
  Scalar(double v) : f(v) {}  // NOLINT: implicit, a double is the common case
  static Scalar integer(int64_t v) { return Scalar(DType::Int64, double(v), v); }
  static Scalar boolean(bool v) { return Scalar(DType::Bool, v ? 1.0 : 0.0, v); }
  template <class T> T to() const { return kind == DType::Float64 ? T(f) : T(i); }
  bool is_one() const { return kind == DType::Float64 ? f == 1.0 : i == 1; }

 private:
  Scalar(DType k, double fv, int64_t iv) : kind(k), f(fv), i(iv) {}
};

// Broadcast shape of two shapes; RuntimeError naming both when they do not broadcast.
Shape broadcast_shapes(const Shape& a, const Shape& b);
// Strides that read `t` as if it had `shape` (0 on broadcast dims).
Shape broadcast_strides(const Tensor& t, const Shape& shape);
// Sums `grad` down to `shape` (undoes broadcasting in backward).
Tensor sum_to(const Tensor& grad, const Shape& shape);

// ---- arithmetic (broadcasting, PyTorch type promotion) ----------------------------------
Tensor add(const Tensor& a, const Tensor& b, Scalar alpha = Scalar::integer(1));
Tensor sub(const Tensor& a, const Tensor& b, Scalar alpha = Scalar::integer(1));
Tensor rsub(const Tensor& a, const Tensor& b, Scalar alpha = Scalar::integer(1));  // b - alpha * a
Tensor mul(const Tensor& a, const Tensor& b);
// rounding_mode: "" (true division), "trunc" or "floor".
Tensor div(const Tensor& a, const Tensor& b, const std::string& rounding_mode = "");
// Python's %: the result takes the divisor's sign.
Tensor remainder(const Tensor& a, const Tensor& b);
// Either operand may be a wrapped Python number: tensor ** scalar, scalar ** tensor.
Tensor pow(const Tensor& base, const Tensor& exponent);

// ---- comparisons (bool results, no gradient) --------------------------------------------
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);

// ---- logical (bool results) and bitwise (bool and int64 only) ----------------------------
Tensor logical_not(const Tensor& a);
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);
Tensor logical_xor(const Tensor& a, const Tensor& b);
Tensor bitwise_not(const Tensor& a);
Tensor bitwise_and(const Tensor& a, const Tensor& b);
Tensor bitwise_or(const Tensor& a, const Tensor& b);
Tensor bitwise_xor(const Tensor& a, const Tensor& b);

// ---- selection ---------------------------------------------------------------------------
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
// cond must be bool; a and b promote together and broadcast with cond.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
// Bounds are null (absent), wrapped numbers or tensors; at least one must be given.
Tensor clamp(const Tensor& x, const Tensor& min, const Tensor& max);

// ---- unary math --------------------------------------------------------------------------
// Float functions compute integer and bool inputs in float32, as PyTorch does.
Tensor neg(const Tensor& a);
Tensor abs(const Tensor& a);
Tensor sign(const Tensor& a);
Tensor square(const Tensor& a);
Tensor exp(const Tensor& a);
Tensor expm1(const Tensor& a);
Tensor log(const Tensor& a);
Tensor log1p(const Tensor& a);
Tensor sqrt(const Tensor& a);
Tensor rsqrt(const Tensor& a);
Tensor reciprocal(const Tensor& a);
Tensor sin(const Tensor& a);
Tensor cos(const Tensor& a);
Tensor floor(const Tensor& a);
Tensor ceil(const Tensor& a);
Tensor round(const Tensor& a, int64_t decimals = 0);  // halves to even

// ---- activations -------------------------------------------------------------------------
Tensor sigmoid(const Tensor& a);
Tensor tanh(const Tensor& a);
Tensor relu(const Tensor& a);
Tensor gelu(const Tensor& a, const std::string& approximate = "none");  // or "tanh"
Tensor silu(const Tensor& a);
Tensor softplus(const Tensor& a, double beta = 1.0, double threshold = 20.0);
Tensor leaky_relu(const Tensor& a, double negative_slope = 0.01);
Tensor elu(const Tensor& a, double alpha = 1.0);

// ---- in place ----------------------------------------------------------------------------
// Recorded by autograd as PyTorch records them (autograd/node.h: rebase_history); a leaf
// that requires grad, or a view of one, refuses them while grad mode is on. Each bumps the
// storage version, so a saved tensor that changed is detected.
// The promoted result dtype must be castable to self's (no float into int64).
void add_(const Tensor& self, const Tensor& other, Scalar alpha = Scalar::integer(1));
void sub_(const Tensor& self, const Tensor& other, Scalar alpha = Scalar::integer(1));
void mul_(const Tensor& self, const Tensor& other);
void div_(const Tensor& self, const Tensor& other);
void pow_(const Tensor& self, const Tensor& exponent);
void clamp_(const Tensor& self, const Tensor& min, const Tensor& max);
void copy_(const Tensor& self, const Tensor& src);  // broadcasts src and casts to self's dtype
void fill_(const Tensor& self, const Tensor& value);  // value: a 0-d tensor or wrapped number
void zero_(const Tensor& self);
// Unary in place (float self only, except neg_/abs_/relu_/floor_/ceil_/round_ which keep
// integer dtypes as their out-of-place forms do).
void neg_(const Tensor& self);
void abs_(const Tensor& self);
void exp_(const Tensor& self);
void log_(const Tensor& self);
void sqrt_(const Tensor& self);
void rsqrt_(const Tensor& self);
void reciprocal_(const Tensor& self);
void floor_(const Tensor& self);
void ceil_(const Tensor& self);
void round_(const Tensor& self);
void sigmoid_(const Tensor& self);
void tanh_(const Tensor& self);
void relu_(const Tensor& self);
void silu_(const Tensor& self);
void leaky_relu_(const Tensor& self, double negative_slope = 0.01);

}  // namespace tg
