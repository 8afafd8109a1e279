#pragma once
// Float32 transcendental functions on SIMD lanes (GCC/Clang vector types), for the
// elementwise kernels in vec_unary.cpp (baseline SIMD) and vec_unary_avx2.cpp (AVX2+FMA).
// libm's expf/tanhf/erff are one scalar call per element (tanhf ~35 ns); these run the
// classic Cephes / Numerical Recipes approximations, within a few ulp, branch-free.
// Internal linkage on purpose: each translation unit keeps its own copy, so the linker can
// never hand AVX2-compiled code to a baseline caller.
#include <cstdint>
#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace tg::kernels {
namespace {

template <class F, class I>
inline F as_float(I i) {
  F f;
  __builtin_memcpy(&f, &i, sizeof(F));
  return f;
}
template <class F, class I>
inline I as_int(F f) {
  I i;
  __builtin_memcpy(&i, &f, sizeof(F));
  return i;
}
template <class F>
inline F splat(float v) {
  return F{} + v;
}

template <class F, class I>
inline F v_abs(F x) {
  return as_float<F, I>(as_int<F, I>(x) & 0x7fffffff);
}
// |m| with the sign of s
template <class F, class I>
inline F v_copysign(F m, F s) {
  return as_float<F, I>((as_int<F, I>(m) & 0x7fffffff) | (as_int<F, I>(s) & (int32_t)0x80000000));
}

// e^r for |r| <= ln2 / 2 (a little beyond): Cephes expf's polynomial.
template <class F>
inline F v_exp_poly(F r) {
  F y = r * 1.9875691500e-4f + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  return y * (r * r) + r + 1.f;
}

// Cephes expf (about 1 ulp). NaN passes the clamps (it compares false) and poisons the
// product; 2^n is applied as two halves so n in [-150, 128] neither wraps the exponent
// field nor skips gradual underflow.
template <class F, class I>
inline F v_exp(F x) {
  F xc = x < -104.f ? splat<F>(-104.f) : x;
  xc = xc > 89.f ? splat<F>(89.f) : xc;
  // x = n ln2 + r, |r| <= ln2/2; adding and removing 1.5 * 2^23 rounds to nearest
  const F fn = (xc * 1.44269504088896341f + 12582912.f) - 12582912.f;
  const F r = (xc - fn * 0.693359375f) - fn * -2.12194440e-4f;
  const F y = v_exp_poly(r);
  const I n = __builtin_convertvector(fn > -151.f ? fn : splat<F>(-151.f), I);
  const I n1 = n >> 1, n2 = n - n1;
  return y * as_float<F, I>((n1 + 127) << 23) * as_float<F, I>((n2 + 127) << 23);
}

// Cephes logf (about 1 ulp): x = m 2^e with m in [sqrt(1/2), sqrt(2)), log(m) by a
// polynomial in m - 1. log(0) = -inf, log(<0) = nan, log(inf) = inf, subnormals scaled up.
template <class F, class I>
inline F v_log(F x) {
  const auto tiny = x < 1.17549435e-38f;  // subnormal (or zero, negative, handled below)
  F xs = tiny ? x * 8388608.f : x;        // * 2^23
  I bits = as_int<F, I>(xs);
  F e = __builtin_convertvector(((bits >> 23) & 0xff) - 126, F) - (tiny ? splat<F>(23.f) : F{});
  F m = as_float<F, I>((bits & 0x007fffff) | 0x3f000000);  // in [0.5, 1)
  const auto lo = m < 0.707106781186547524f;
  e = lo ? e - 1.f : e;
  m = lo ? m + m - 1.f : m - 1.f;
  const F z = m * m;
  F y = m * 7.0376836292e-2f - 1.1514610310e-1f;
  y = y * m + 1.1676998740e-1f;
  y = y * m - 1.2420140846e-1f;
  y = y * m + 1.4249322787e-1f;
  y = y * m - 1.6668057665e-1f;
  y = y * m + 2.0000714765e-1f;
  y = y * m - 2.4999993993e-1f;
  y = y * m + 3.3333331174e-1f;
  y = y * m * z + e * -2.12194440e-4f - 0.5f * z;
  F r = (m + y) + e * 0.693359375f;
  const F inf = splat<F>(__builtin_inff()), nan = splat<F>(__builtin_nanf(""));
  r = x == inf ? inf : r;
  r = x == 0.f ? -inf : r;
  return ((x < 0.f) | (x != x)) ? nan : r;
}

// Cephes tanhf: an odd polynomial below 0.625, 1 - 2 / (e^2|x| + 1) above (about 2 ulp).
template <class F, class I>
inline F v_tanh(F x) {
  const F ax = v_abs<F, I>(x);
  const F s = x * x;
  F p = s * -5.70498872745e-3f + 2.06390887954e-2f;
  p = p * s - 5.37397155531e-2f;
  p = p * s + 1.33314422036e-1f;
  p = p * s - 3.33332819422e-1f;
  const F small = p * s * x + x;
  const F e = v_exp<F, I>(2.f * (ax > 10.f ? splat<F>(10.f) : ax));  // tanh(10) rounds to 1
  const F large = v_copysign<F, I>(1.f - 2.f / (e + 1.f), x);
  return ax < 0.625f ? small : large;
}

// 1 / (1 + e^-x): e^-x overflows to inf for very negative x, giving 0, never NaN.
template <class F, class I>
inline F v_sigmoid(F x) {
  return 1.f / (1.f + v_exp<F, I>(-x));
}

constexpr float kSqrt1_2 = 0.70710678118654752440f;
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;
constexpr float kSqrt2OverPi = 0.79788456080286535588f;
constexpr float kKappa = 0.044715f;

// a * b - c rounded once, on the FMA units; only where the build has them (TG_V_FMA).
#if defined(__FMA__)
#define TG_V_FMA 1
template <class F>
inline F v_fms(F a, F b, F c) {
#if defined(__AVX512F__)
  if constexpr (sizeof(F) == 64) return (F)_mm512_fmsub_ps((__m512)a, (__m512)b, (__m512)c); else
#endif
  if constexpr (sizeof(F) == 32) return (F)_mm256_fmsub_ps((__m256)a, (__m256)b, (__m256)c);
  else return (F)_mm_fmsub_ps((__m128)a, (__m128)b, (__m128)c);
}
#else
#define TG_V_FMA 0
#endif

// y 2^n for an integral n in [-163, 0] held as a float, with gradual underflow:
// AVX-512's scalef, else y 2^(n + 63), exact (a normal number), times 2^-63, rounded once.
template <class F, class I>
inline F v_ldexp_neg(F y, F n) {
#if defined(__AVX512F__)
  if constexpr (sizeof(F) == 64)  // (maskz: the plain form trips GCC 12 -Wmaybe-uninitialized)
    return (F)_mm512_maskz_scalef_ps((__mmask16)0xffff, (__m512)y, (__m512)n);
  else
#endif
  {
    const I e = __builtin_convertvector(n, I) + (127 + 63);
    return y * as_float<F, I>(e << 23) * 1.08420217e-19f;  // 2^-63
  }
}

// exp(-x^2 / 2) for ax = |x| in [0, 15] (or NaN), the rounding of x^2 kept out of the
// exponent (rounding x^2 / 2 itself would cost 2 (x^2 / 2) ulp, 20+ ulp by x = 4): x^2 =
// h + l exactly (with FMA, l = x x - h; without, x split into a 12-bit head, whose square
// is exact, and a tail), and l joins the reduced argument. Cephes' expf otherwise; the
// argument lies in [-112.5, 0], so it needs no clamps.
template <class F, class I>
inline F v_gauss(F ax) {
#if TG_V_FMA
  const F h = ax * ax;
  const F l = v_fms(ax, ax, h);
#else
  const F xh = as_float<F, I>(as_int<F, I>(ax) & (int32_t)0xfffff000);
  const F xl = ax - xh;
  const F h = xh * xh, l = xl * (xh + ax);  // ax^2 - xh^2, within a few ulp of it
#endif
  const F hh = -0.5f * h;  // exact
  const F fn = (hh * 1.44269504088896341f + 12582912.f) - 12582912.f;
  const F r = ((hh - fn * 0.693359375f) - fn * -2.12194440e-4f) - 0.5f * l;
  return v_ldexp_neg<F, I>(v_exp_poly(r), fn);
}

// Standard normal CDF, Phi(x) = erfc(-x / sqrt 2) / 2, accurate far into the lower tail,
// where the textbook (1 + erf(x / sqrt 2)) / 2 cancels. With z = |x| / sqrt 2 and
// t = 1 / (1 + z / 2) (Numerical Recipes' erfcc substitution),
//   erfc(z) / 2 = t e^(-z^2) R(t),   R(t) = erfc(z) e^(z^2) / (2 t),
// where R is smooth on t in (0, 1] and a degree-10 polynomial fits it within 1.2e-8
// (relative, weighted Chebyshev fit for |x| <= 15; below that Phi underflows anyway; the
// coefficients are the fit's of 2 R, halved, which is exact).
// e^(-z^2) = e^(-x^2 / 2) is then the standard normal density up to 1 / sqrt(2 pi), so
// GELU's gradient, Phi(x) + x pdf(x), needs one exponential, not two.
template <class F>
inline F v_half_erfcx_poly(F t) {
  F r = t * 1.857900433e-02f - 9.92510319e-02f;
  r = r * t + 1.994266361e-01f;
  r = r * t - 1.5640743075e-01f;
  r = r * t - 1.2374939395e-03f;
  r = r * t + 1.2340812015e-02f;
  r = r * t + 2.9393104835e-02f;
  r = r * t + 9.23331529e-02f;
  r = r * t + 1.2265828995e-01f;
  r = r * t + 1.411204785e-01f;
  return r * t + 1.410444677e-01f;
}

// |x| clamped to 15 (NaN kept: the comparison fails), where Phi(-|x|) underflows.
template <class F, class I>
inline F v_abs15(F x) {
  const F ax = v_abs<F, I>(x);
  return ax > 15.f ? splat<F>(15.f) : ax;
}
// erfc(ax / sqrt 2) / 2 = Phi(-ax) for ax from v_abs15 and its v_gauss
template <class F>
inline F v_half_erfc(F ax, F gauss) {
  const F t = 1.f / (1.f + 0.5f * kSqrt1_2 * ax);
  return t * gauss * v_half_erfcx_poly(t);
}

template <class F, class I>
inline F v_phi(F x) {
  const F ax = v_abs15<F, I>(x);
  const F half_erfc = v_half_erfc(ax, v_gauss<F, I>(ax));
  return x <= 0.f ? half_erfc : 1.f - half_erfc;
}

template <class F, class I>
inline F v_gelu(F x) {
  return x * v_phi<F, I>(x);
}
// g * (Phi(x) + x pdf(x)): v_phi's arithmetic, bit for bit, sharing the exponential
template <class F, class I>
inline F v_gelu_grad(F g, F x) {
  const F ax = v_abs15<F, I>(x);
  const F gauss = v_gauss<F, I>(ax);
  const F half_erfc = v_half_erfc(ax, gauss);
  const F phi = x <= 0.f ? half_erfc : 1.f - half_erfc;
  return g * (phi + x * (kInvSqrt2Pi * gauss));
}

template <class F, class I>
inline F v_gelu_tanh(F x) {
  const F inner = kSqrt2OverPi * (x + kKappa * x * x * x);
  return 0.5f * x * (1.f + v_tanh<F, I>(inner));
}
template <class F, class I>
inline F v_gelu_tanh_grad(F g, F x) {
  const F x2 = x * x;
  const F t = v_tanh<F, I>(kSqrt2OverPi * (x + kKappa * x2 * x));
  const F d_inner = kSqrt2OverPi * (1.f + 3.f * kKappa * x2);
  return g * (0.5f * (1.f + t) + 0.5f * x * (1.f - t * t) * d_inner);
}

template <class F, class I>
inline F v_silu(F x) {
  return x / (1.f + v_exp<F, I>(-x));
}
template <class F, class I>
inline F v_silu_grad(F g, F x) {
  const F s = v_sigmoid<F, I>(x);
  return g * s * (1.f + x * (1.f - s));
}

// The first w lanes of p, the others 0; and storing only the first w lanes (0 <= w < W).
// Masked moves where the build has them: a row tail copied through memory would stall
// the vector load that follows (the stores cannot be forwarded to it).
template <class F>
inline F v_load_n(const float* p, int64_t w) {
#if defined(__AVX512F__)
  if constexpr (sizeof(F) == 64) return (F)_mm512_maskz_loadu_ps((__mmask16)((1u << w) - 1), p);
#endif
#if defined(__AVX2__)
  if constexpr (sizeof(F) == 32)
    return (F)_mm256_maskload_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32((int)w), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
#endif
  F v{};
  __builtin_memcpy(&v, p, w * sizeof(float));
  return v;
}
template <class F>
inline void v_store_n(float* p, F v, int64_t w) {
#if defined(__AVX512F__)
  if constexpr (sizeof(F) == 64) return _mm512_mask_storeu_ps(p, (__mmask16)((1u << w) - 1), (__m512)v);
#endif
#if defined(__AVX2__)
  if constexpr (sizeof(F) == 32)
    return _mm256_maskstore_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32((int)w), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)), (__m256)v);
#endif
  __builtin_memcpy(p, &v, w * sizeof(float));
}

// out[i] = f(in[i]) for i < n, W lanes at a time; the tail goes through one padded
// vector, so every element gets the same formula.
template <class F, class Fn>
inline void v_map(const float* in, float* out, int64_t n, Fn f) {
  constexpr int64_t W = sizeof(F) / sizeof(float);
  int64_t i = 0;
  for (; i + W <= n; i += W) {
    F v;
    __builtin_memcpy(&v, in + i, sizeof(F));
    v = f(v);
    __builtin_memcpy(out + i, &v, sizeof(F));
  }
  if (i < n) v_store_n<F>(out + i, f(v_load_n<F>(in + i, n - i)), n - i);
}

// out[i] = f(a[i], b[i]) for i < n.
template <class F, class Fn>
inline void v_map2(const float* a, const float* b, float* out, int64_t n, Fn f) {
  constexpr int64_t W = sizeof(F) / sizeof(float);
  int64_t i = 0;
  for (; i + W <= n; i += W) {
    F u, v;
    __builtin_memcpy(&u, a + i, sizeof(F));
    __builtin_memcpy(&v, b + i, sizeof(F));
    u = f(u, v);
    __builtin_memcpy(out + i, &u, sizeof(F));
  }
  if (i < n) v_store_n<F>(out + i, f(v_load_n<F>(a + i, n - i), v_load_n<F>(b + i, n - i)), n - i);
}

// ---- rows (softmax, log-sum-exp, cross entropy) ------------------------------------------

// Largest of x[0..n); a nan never wins (the row's exp and sum turn nan anyway); -inf for
// an empty or all-nan row.
template <class F>
inline float v_row_max(const float* x, int64_t n) {
  constexpr int64_t W = sizeof(F) / sizeof(float);
  const float ninf = -__builtin_inff();
  F m[4] = {splat<F>(ninf), splat<F>(ninf), splat<F>(ninf), splat<F>(ninf)};
  int64_t i = 0;
  for (; i + 4 * W <= n; i += 4 * W)
    for (int k = 0; k < 4; ++k) {
      F v;
      __builtin_memcpy(&v, x + i + k * W, sizeof(F));
      m[k] = v > m[k] ? v : m[k];
    }
  for (; i + W <= n; i += W) {
    F v;
    __builtin_memcpy(&v, x + i, sizeof(F));
    m[0] = v > m[0] ? v : m[0];
  }
  // fold the accumulators, then the lanes pairwise: short dependency chains for short rows
  const F m01 = m[1] > m[0] ? m[1] : m[0], m23 = m[3] > m[2] ? m[3] : m[2];
  const F mm = m23 > m01 ? m23 : m01;
  float lanes[W];
  __builtin_memcpy(lanes, &mm, sizeof(F));
  for (int64_t h = W / 2; h >= 1; h /= 2)
    for (int64_t l = 0; l < h; ++l) lanes[l] = lanes[l + h] > lanes[l] ? lanes[l + h] : lanes[l];
  float best = lanes[0];
  for (; i < n; ++i) best = x[i] > best ? x[i] : best;
  return best;
}

// The sum of every lane of f(v) over the vectors v of x[0..n), each f(v) also handed to
// `store` with its count of valid lanes. Each lane adds at most 8 terms in float before its
// partial sum goes into a double, so sums of any length keep float accuracy and more.
template <class F, class Fn, class Store>
inline double v_sum_of(const float* x, int64_t n, Fn f, Store store) {
  constexpr int64_t W = sizeof(F) / sizeof(float);
  double acc[W] = {};  // in memory: the exp already needs most vector registers
  int64_t i = 0;
  while (i + W <= n) {
    F part{};
    for (int k = 0; k < 8 && i + W <= n; ++k, i += W) {
      F v;
      __builtin_memcpy(&v, x + i, sizeof(F));
      v = f(v);
      store(i, v, W);
      part += v;
    }
    for (int64_t l = 0; l < W; ++l) acc[l] += part[l];
  }
  if (i < n) {  // the tail through one padded vector, its padding left out of the sum
    const int64_t w = n - i;
    const F v = f(v_load_n<F>(x + i, w));
    store(i, v, w);
    for (int64_t l = 0; l < w; ++l) acc[l] += v[l];
  }
  for (int64_t h = W / 2; h >= 1; h /= 2)  // pairwise: a short dependency chain
    for (int64_t l = 0; l < h; ++l) acc[l] += acc[l + h];
  return acc[0];
}

template <class F>
inline double v_sum(const float* x, int64_t n) {
  return v_sum_of<F>(x, n, [](F v) { return v; }, [](int64_t, F, int64_t) {});
}

// y[i] = exp(x[i] - m) for i < n, stored unless y is null; returns their sum.
template <class F, class I>
inline double v_exp_sum(const float* x, float m, float* y, int64_t n) {
  const F mv = splat<F>(m);
  auto f = [mv](F v) { return v_exp<F, I>(v - mv); };
  if (!y) return v_sum_of<F>(x, n, f, [](int64_t, F, int64_t) {});
  return v_sum_of<F>(x, n, f, [y](int64_t i, F v, int64_t w) {
    if (w == (int64_t)(sizeof(F) / sizeof(float))) __builtin_memcpy(y + i, &v, sizeof(F));
    else v_store_n<F>(y + i, v, w);
  });
}

}  // namespace
}  // namespace tg::kernels
