#pragma once
// The float exp polynomial on a GCC/Clang vector type, included by exp.cpp (baseline
// SIMD) and exp_avx2.cpp (AVX2 + FMA). Internal linkage on purpose: each translation
// unit keeps its own copy, so the linker can never hand the AVX2-compiled code to the
// baseline caller.
#include <cstdint>
#include <cstring>

namespace tg::kernels {
namespace {

// Cephes' expf (about 1 ulp) on every lane. Selects only, no branches: a nan passes the
// clamps (it compares false) and is kept off the int conversion by the last select.
template <class F, class I>
inline F exp_poly(F x) {
  const F zero{};
  F xc = x < -104.f ? zero - 104.f : x;  // float exp is 0 or inf beyond [-104, 89]
  xc = xc > 89.f ? zero + 89.f : xc;
  // x = n ln2 + r, |r| <= ln2/2; adding and removing 1.5 * 2^23 rounds to nearest
  const F fn = (xc * 1.44269504088896341f + 12582912.f) - 12582912.f;
  const F r = (xc - fn * 0.693359375f) - fn * -2.12194440e-4f;
  F y = r * 1.9875691500e-4f + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * (r * r) + r + 1.f;
  // 2^n as two halves, so n in [-150, 128] neither wraps the exponent field nor skips
  // gradual underflow
  const I n = __builtin_convertvector(fn > -151.f ? fn : zero - 151.f, I);
  const I n1 = n >> 1, n2 = n - n1;
  const I b1 = (n1 + 127) << 23, b2 = (n2 + 127) << 23;
  F s1, s2;
  __builtin_memcpy(&s1, &b1, sizeof(F));
  __builtin_memcpy(&s2, &b2, sizeof(F));
  return y * s1 * s2;
}

// y[i] = exp(y[i]) for i < n, W lanes at a time; the tail goes through one padded vector,
// so every element gets the same formula.
template <class F, class I>
inline void exp_poly_inplace(float* y, int64_t n) {
  constexpr int64_t W = sizeof(F) / sizeof(float);
  int64_t i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {  // two vectors per step: their latencies overlap
    F v0, v1;
    __builtin_memcpy(&v0, y + i, sizeof(F));
    __builtin_memcpy(&v1, y + i + W, sizeof(F));
    v0 = exp_poly<F, I>(v0);
    v1 = exp_poly<F, I>(v1);
    __builtin_memcpy(y + i, &v0, sizeof(F));
    __builtin_memcpy(y + i + W, &v1, sizeof(F));
  }
  for (; i < n; i += W) {
    const int64_t m = n - i < W ? n - i : W;
    F v{};
    __builtin_memcpy(&v, y + i, m * sizeof(float));
    v = exp_poly<F, I>(v);
    __builtin_memcpy(y + i, &v, m * sizeof(float));
  }
}

}  // namespace
}  // namespace tg::kernels
