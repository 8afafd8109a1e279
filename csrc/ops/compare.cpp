// Comparisons, logical and bitwise ops: none has a gradient. Comparisons and logical ops
// promote both operands to their common dtype (as PyTorch does, so an int64 tensor
// compares with 2.5 in float32) and give bool; bitwise ops keep the bool/int64 dtype.
#include "ops/elementwise_util.h"

namespace tg {

using namespace ew;

namespace {
template <class F>
Tensor compare(const Tensor& a, const Tensor& b, const char* op, F f) {
  return binary_kernel<Types::All>(a, b, result_type({a, b}), op, f);
}
}  // namespace

Tensor eq(const Tensor& a, const Tensor& b) {
  return compare(a, b, "eq", [](auto x, auto y) { return x == y; });
}
Tensor ne(const Tensor& a, const Tensor& b) {
  return compare(a, b, "ne", [](auto x, auto y) { return x != y; });
}
Tensor lt(const Tensor& a, const Tensor& b) {
  return compare(a, b, "lt", [](auto x, auto y) { return x < y; });
}
Tensor le(const Tensor& a, const Tensor& b) {
  return compare(a, b, "le", [](auto x, auto y) { return x <= y; });
}
Tensor gt(const Tensor& a, const Tensor& b) {
  return compare(a, b, "gt", [](auto x, auto y) { return x > y; });
}
Tensor ge(const Tensor& a, const Tensor& b) {
  return compare(a, b, "ge", [](auto x, auto y) { return x >= y; });
}

// ---- logical: nonzero (NaN included) is true ---------------------------------------------

Tensor logical_not(const Tensor& a) {
  return unary_kernel<Types::All>(a, a->dtype, "logical_not", [](auto x) { return !bool(x); });
}
Tensor logical_and(const Tensor& a, const Tensor& b) {
  return compare(a, b, "logical_and", [](auto x, auto y) { return bool(x) && bool(y); });
}
Tensor logical_or(const Tensor& a, const Tensor& b) {
  return compare(a, b, "logical_or", [](auto x, auto y) { return bool(x) || bool(y); });
}
Tensor logical_xor(const Tensor& a, const Tensor& b) {
  return compare(a, b, "logical_xor", [](auto x, auto y) { return bool(x) != bool(y); });
}

// ---- bitwise -----------------------------------------------------------------------------

namespace {
// PyTorch's dispatch raises NotImplementedError (a RuntimeError) for a floating result type.
void check_integral(DType rt, const char* op) {
  TG_CHECK(!is_floating(rt), NotImplementedError, "\"", op, "\" not implemented for '", dtype_name(rt), "'");
}

template <class F>
Tensor bitwise(const Tensor& a, const Tensor& b, const char* op, F f) {
  const DType rt = result_type({a, b});
  check_integral(rt, op);
  return binary_kernel<Types::Integral>(a, b, rt, op, f);
}
}  // namespace

Tensor bitwise_not(const Tensor& a) {
  check_integral(a->dtype, "bitwise_not_cpu");
  return unary_kernel<Types::Integral>(a, a->dtype, "bitwise_not_cpu", [](auto x) {
    if constexpr (std::is_same_v<decltype(x), bool>) return !x;
    else return decltype(x)(~x);
  });
}
Tensor bitwise_and(const Tensor& a, const Tensor& b) {
  return bitwise(a, b, "bitwise_and_cpu", [](auto x, auto y) { return decltype(x)(x & y); });
}
Tensor bitwise_or(const Tensor& a, const Tensor& b) {
  return bitwise(a, b, "bitwise_or_cpu", [](auto x, auto y) { return decltype(x)(x | y); });
}
Tensor bitwise_xor(const Tensor& a, const Tensor& b) {
  return bitwise(a, b, "bitwise_xor_cpu", [](auto x, auto y) { return decltype(x)(x ^ y); });
}

}  // namespace tg
