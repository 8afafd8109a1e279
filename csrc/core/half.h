#pragma once
// 16-bit floating point storage types: IEEE binary16 (float16, `Half`) and bfloat16 (the
// top half of a float32). Values are stored as raw bits and computed in float32, as
// PyTorch's CPU kernels do: load -> float, compute, round to nearest even on store.
//
// Rounding: float -> half and float -> bfloat16 round to nearest, ties to even, exactly as
// the hardware instructions (F16C vcvtps2ph with imm 0, AVX512-BF16) and numpy/PyTorch do.
// Overflow gives +-inf, values below half's smallest denormal round to +-0, denormals are
// kept (no flush to zero), NaN stays NaN (quiet, sign kept). half -> float and
// bfloat16 -> float are exact.
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace tg {

inline uint32_t f32_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float f32_from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// binary16 -> float32 (exact).
inline float half_bits_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  if (exp == 0x1f) return f32_from_bits(sign | 0x7f800000u | (mant << 13));  // inf / nan
  if (exp == 0) {
    if (mant == 0) return f32_from_bits(sign);  // +-0
    // denormal: value = mant * 2^-24, exactly representable in float32
    float v = float(mant) * 5.9604644775390625e-08f;
    return sign ? -v : v;
  }
  return f32_from_bits(sign | ((exp + 112u) << 23) | (mant << 13));
}

// float32 -> binary16, round to nearest even.
inline uint16_t float_to_half_bits(float f) {
  uint32_t x = f32_bits(f);
  const uint16_t sign = uint16_t((x >> 16) & 0x8000u);
  x &= 0x7fffffffu;
  if (x >= 0x7f800000u)  // inf or nan (nan keeps its top mantissa bits, made quiet)
    return sign | (x > 0x7f800000u ? uint16_t(0x7e00u | ((x >> 13) & 0x3ffu)) : 0x7c00u);
  if (x >= 0x477ff000u) return sign | 0x7c00u;  // rounds to >= 65520: inf
  if (x < 0x38800000u) {
    // below half's smallest normal (2^-14): a denormal or zero. Adding 0.5 makes the FPU do
    // the round-to-nearest-even shift: the sum's low mantissa bits are the half denormal.
    float v = f32_from_bits(x) + 0.5f;
    return sign | uint16_t(f32_bits(v) - 0x3f000000u);
  }
  // normal: rebias the exponent (127 -> 15) and round the 13 dropped bits to nearest even
  const uint32_t odd = (x >> 13) & 1u;
  x += 0xc8000fffu + odd;  // (15 - 127) << 23, plus the rounding bias
  return sign | uint16_t(x >> 13);
}

inline float bf16_bits_to_float(uint16_t b) { return f32_from_bits(uint32_t(b) << 16); }

// float32 -> bfloat16, round to nearest even; NaN stays a (quiet) NaN.
inline uint16_t float_to_bf16_bits(float f) {
  uint32_t x = f32_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return uint16_t((x >> 16) | 0x0040u);
  x += 0x7fffu + ((x >> 16) & 1u);
  return uint16_t(x >> 16);
}

// The storage types. Arithmetic on them goes through float (the implicit conversion), so a
// kernel instantiated for Half computes in float32 and rounds once per store.
struct Half {
  uint16_t bits = 0;
  Half() = default;
  Half(float f) : bits(float_to_half_bits(f)) {}  // NOLINT
  template <class T, std::enable_if_t<std::is_arithmetic_v<T> && !std::is_same_v<T, float>, int> = 0>
  explicit Half(T v) : Half(float(v)) {}
  operator float() const { return half_bits_to_float(bits); }  // NOLINT
  static Half from_bits(uint16_t b) { Half h; h.bits = b; return h; }
};

struct BFloat16 {
  uint16_t bits = 0;
  BFloat16() = default;
  BFloat16(float f) : bits(float_to_bf16_bits(f)) {}  // NOLINT
  template <class T, std::enable_if_t<std::is_arithmetic_v<T> && !std::is_same_v<T, float>, int> = 0>
  explicit BFloat16(T v) : BFloat16(float(v)) {}
  operator float() const { return bf16_bits_to_float(bits); }  // NOLINT
  static BFloat16 from_bits(uint16_t b) { BFloat16 h; h.bits = b; return h; }
};

// Bulk conversions between contiguous buffers (F16C on CPUs that have it, chosen at run
// time; the scalar routines above elsewhere). Same rounding as the scalar routines.
void half_to_float_n(const uint16_t* src, float* dst, int64_t n);
void float_to_half_n(const float* src, uint16_t* dst, int64_t n);
void bf16_to_float_n(const uint16_t* src, float* dst, int64_t n);
void float_to_bf16_n(const float* src, uint16_t* dst, int64_t n);

}  // namespace tg
