// Comparisons: both operands promote to their common dtype (as PyTorch does, so an int64
// tensor compares with 2.5 in float32) and the result is bool, with no gradient.
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

}  // namespace tg
