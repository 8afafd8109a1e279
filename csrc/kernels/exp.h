#pragma once
// Bulk exp for the softmax family. libm's expf is a scalar call per element; the float
// path here evaluates Cephes' expf polynomial (about 1 ulp) on 8 lanes at a time with
// GCC/Clang vector extensions, which compile to whatever SIMD the target has (SSE2 on the
// x86-64 baseline, NEON on aarch64). The double path stays on std::exp: float64 results
// are what tests compare with finite differences, so they keep libm's accuracy.
#include <cmath>
#include <cstdint>
#include <cstring>

namespace tg::kernels {

inline float exp_fast(float x) {
  // Selects only, no conditional arithmetic. A nan passes through the clamps (it
  // compares false) and is kept off the int conversion by the last select.
  // float exp is 0 or inf beyond [-104, 89].
  float xc = x < -104.f ? -104.f : x;
  xc = xc > 89.f ? 89.f : xc;
  // x = n ln2 + r, |r| <= ln2/2; adding and removing 1.5 * 2^23 rounds to nearest
  const float fn = (xc * 1.44269504088896341f + 12582912.f) - 12582912.f;
  const float r = (xc - fn * 0.693359375f) - fn * -2.12194440e-4f;
  float y = r * 1.9875691500e-4f + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * (r * r) + r + 1.f;
  // 2^n as two halves, so n in [-150, 128] neither wraps the exponent field nor skips
  // gradual underflow.
  const int32_t n = (int32_t)(fn > -151.f ? fn : -151.f);
  const int32_t n1 = n >> 1, n2 = n - n1;
  const uint32_t b1 = uint32_t(n1 + 127) << 23, b2 = uint32_t(n2 + 127) << 23;
  float s1, s2;
  std::memcpy(&s1, &b1, 4);
  std::memcpy(&s2, &b2, 4);
  return y * s1 * s2;
}
inline double exp_fast(double x) { return std::exp(x); }

#if defined(__GNUC__)
namespace detail {
typedef float f4 __attribute__((vector_size(16)));
typedef int32_t i4 __attribute__((vector_size(16)));
// exp_fast on 4 lanes, the same operations in the same order, so every element gets the
// same result whichever path computes it. Vector selects do not branch.
inline f4 exp4(f4 x) {
  const f4 zero{};
  f4 xc = x < -104.f ? zero - 104.f : x;
  xc = xc > 89.f ? zero + 89.f : xc;
  const f4 fn = (xc * 1.44269504088896341f + 12582912.f) - 12582912.f;
  const f4 r = (xc - fn * 0.693359375f) - fn * -2.12194440e-4f;
  f4 y = r * 1.9875691500e-4f + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * (r * r) + r + 1.f;
  const i4 n = __builtin_convertvector(fn > -151.f ? fn : zero - 151.f, i4);
  const i4 n1 = n >> 1, n2 = n - n1;
  const i4 b1 = (n1 + 127) << 23, b2 = (n2 + 127) << 23;
  f4 s1, s2;
  std::memcpy(&s1, &b1, 16);
  std::memcpy(&s2, &b2, 16);
  return y * s1 * s2;
}
}  // namespace detail
#endif

// y[i] = exp(y[i]) for i < n, in place.
inline void exp_inplace(float* y, int64_t n) {
  int64_t i = 0;
#if defined(__GNUC__)
  for (; i + 8 <= n; i += 8) {  // two vectors per step: their latencies overlap
    detail::f4 v0, v1;
    std::memcpy(&v0, y + i, 16);
    std::memcpy(&v1, y + i + 4, 16);
    v0 = detail::exp4(v0);
    v1 = detail::exp4(v1);
    std::memcpy(y + i, &v0, 16);
    std::memcpy(y + i + 4, &v1, 16);
  }
#endif
  for (; i < n; ++i) y[i] = exp_fast(y[i]);
}
inline void exp_inplace(double* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::exp(y[i]);
}

}  // namespace tg::kernels
