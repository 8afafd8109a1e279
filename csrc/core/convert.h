#pragma once
// One conversion between any two element types, as PyTorch's CPU casts behave:
// - float -> integer truncates toward zero; a value outside int64's range (or nan) gives
//   INT64_MIN as on x86 hardware; narrower integers take the int64 value modulo 2^bits
//   (300.0 -> uint8 is 44, -1.0 -> uint8 is 255), never undefined behaviour;
// - integer -> narrower integer wraps (two's complement);
// - anything -> bool is `!= 0` (nan is true);
// - float16 / bfloat16 go through float32 (see core/half.h for the rounding).
#include <cstdint>
#include <limits>
#include <type_traits>

#include "core/half.h"

namespace tg {

template <class T>
constexpr bool is_half_type_v = std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>;

template <class TD, class TS>
inline TD convert(TS x) {
  if constexpr (std::is_same_v<TD, TS>) {
    return x;
  } else if constexpr (is_half_type_v<TS>) {
    return convert<TD>(float(x));
  } else if constexpr (is_half_type_v<TD>) {
    return TD(float(x));  // double -> float -> half rounds twice, as c10::Half(double) does
  } else if constexpr (std::is_same_v<TD, bool>) {
    return x != TS(0);
  } else if constexpr (std::is_integral_v<TD> && std::is_floating_point_v<TS>) {
    if (!(x >= TS(-9223372036854775808.0) && x < TS(9223372036854775808.0)))
      return TD(std::numeric_limits<int64_t>::min());
    return TD(int64_t(x));  // truncate, then wrap to TD's width
  } else {
    return static_cast<TD>(x);
  }
}

}  // namespace tg
