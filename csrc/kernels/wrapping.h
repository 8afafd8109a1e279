#pragma once
// Integer + - * that wrap around on overflow (two's complement), as PyTorch's int64 ops do
// in practice, without the undefined behaviour of signed overflow. Other types (floating
// point, bool) use the plain operators, so float kernels compile exactly as before.
#include <cstdint>
#include <type_traits>

namespace tg::kernels {

template <class T>
constexpr bool kWraps = std::is_integral_v<T> && !std::is_same_v<T, bool>;

template <class T>
inline T wrap_add(T x, T y) {
  if constexpr (kWraps<T>) return T(uint64_t(x) + uint64_t(y));
  else return T(x + y);
}

template <class T>
inline T wrap_sub(T x, T y) {
  if constexpr (kWraps<T>) return T(uint64_t(x) - uint64_t(y));
  else return T(x - y);
}

template <class T>
inline T wrap_mul(T x, T y) {
  if constexpr (kWraps<T>) return T(uint64_t(x) * uint64_t(y));
  else return T(x * y);
}

template <class T>
inline T wrap_neg(T x) {
  if constexpr (kWraps<T>) return T(0 - uint64_t(x));
  else return T(-x);
}

}  // namespace tg::kernels
