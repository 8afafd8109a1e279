#pragma once
// The row loops of layer normalization (kernels/layernorm.h), included by layernorm.cpp
// (float64, and float32 on CPUs without AVX2) and by layernorm_avx2.cpp /
// layernorm_avx512.cpp (float32 compiled for those instruction sets; layernorm.cpp makes
// the run-time choice). Internal linkage, as in vmath.h: no code compiled for a newer
// instruction set can be picked by the linker for a baseline caller.
//
// float64 runs every element in double. float32 keeps what needs double in double - the
// row sums behind mean, variance and the two backward dot products, and the column sums
// of the weight and bias gradients - and does the per-element work (normalize, scale,
// shift, the input gradient) in float SIMD lanes, as PyTorch does: that arithmetic has
// one rounding per step whichever precision it runs in, and in double it was 2x PyTorch's
// time.
#include <cmath>
#include <cstdint>

#include "kernels/layernorm.h"

namespace tg::kernels {

// One call's arguments (rows [m0, m1) of a contiguous (M, N) buffer run at a time).
template <class T>
struct LnForward {
  const T* x;
  int64_t N;
  const T *w, *b;  // may be null
  double eps;
  T* y;
  double *mean, *rstd;
};
template <class T>
struct LnBackward {
  const T *x, *g;
  int64_t N;
  const double *mean, *rstd;
  const T* w;  // may be null
  T* gx;       // may be null
};

namespace {

// ---- any T, one element at a time, in double ----------------------------------------------

// Sum of f(i) over [0, n) in double with four independent lanes.
template <class F>
double lane_sum(int64_t n, F f) {
  double s[4] = {0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int j = 0; j < 4; ++j) s[j] += f(i + j);
  for (; i < n; ++i) s[0] += f(i);
  return (s[0] + s[1]) + (s[2] + s[3]);
}

template <class T>
void ln_forward_rows(const LnForward<T>& a, int64_t m0, int64_t m1) {
  const int64_t N = a.N;
  for (int64_t m = m0; m < m1; ++m) {
    const T* xr = a.x + m * N;
    T* yr = a.y + m * N;
    // two passes over a row that is in cache: the mean, then the spread around it
    const double mu = lane_sum(N, [xr](int64_t i) { return double(xr[i]); }) / double(N);
    const double var = lane_sum(N, [xr, mu](int64_t i) {
                         const double d = double(xr[i]) - mu;
                         return d * d;
                       }) / double(N);
    const double r = 1.0 / std::sqrt(var + a.eps);
    a.mean[m] = mu;
    a.rstd[m] = r;
    for (int64_t i = 0; i < N; ++i)
      yr[i] = T((double(xr[i]) - mu) * r * (a.w ? double(a.w[i]) : 1.0) + (a.b ? double(a.b[i]) : 0.0));
  }
}

// Rows [m0, m1): their input gradient, and their column sums of g * xhat and g added into
// bw and bb (null: not wanted).
template <class T>
void ln_backward_rows(const LnBackward<T>& a, int64_t m0, int64_t m1, double* bw, double* bb) {
  const int64_t N = a.N;
  for (int64_t m = m0; m < m1; ++m) {
    const T* xr = a.x + m * N;
    const T* gr = a.g + m * N;
    const double mu = a.mean[m], r = a.rstd[m];
    // s1 = sum of wg, s2 = sum of wg xhat (wg = g * w), the column sums on the way
    double s1 = 0, s2 = 0;
    for (int64_t i = 0; i < N; ++i) {
      const double xv = (double(xr[i]) - mu) * r, gi = double(gr[i]);
      if (bw) bw[i] += gi * xv, bb[i] += gi;
      const double wg = a.w ? gi * double(a.w[i]) : gi;
      s1 += wg, s2 += wg * xv;
    }
    if (!a.gx) continue;
    // dx = rstd (wg - mean(wg) - xhat mean(wg xhat))
    const double c1 = s1 / double(N), c2 = s2 / double(N);
    T* out = a.gx + m * N;
    for (int64_t i = 0; i < N; ++i)
      out[i] = T(r * (double(gr[i]) * (a.w ? double(a.w[i]) : 1.0) - c1 - (double(xr[i]) - mu) * r * c2));
  }
}

// ---- float32 in SIMD lanes: FH holds L floats, D the same L lanes as doubles -------------

template <class V>
inline V ld(const void* p) {
  V v;
  __builtin_memcpy(&v, p, sizeof(V));
  return v;
}
template <class V>
inline void st(void* p, V v) {
  __builtin_memcpy(p, &v, sizeof(V));
}
template <class D>
inline double hsum(D v) {
  double s = 0;
  for (unsigned j = 0; j < sizeof(D) / sizeof(double); ++j) s += v[j];
  return s;
}

template <class FH, class D>
void ln_forward_rows_f32(const LnForward<float>& a, int64_t m0, int64_t m1) {
  constexpr int64_t L = sizeof(FH) / sizeof(float);
  const int64_t N = a.N, NV = N / L * L;
  for (int64_t m = m0; m < m1; ++m) {
    const float* xr = a.x + m * N;
    float* yr = a.y + m * N;
    D s0{}, s1{};
    int64_t i = 0;
    for (; i + 2 * L <= NV; i += 2 * L) {
      s0 += __builtin_convertvector(ld<FH>(xr + i), D);
      s1 += __builtin_convertvector(ld<FH>(xr + i + L), D);
    }
    if (i < NV) s0 += __builtin_convertvector(ld<FH>(xr + i), D);
    double sum = hsum(s0 + s1);
    for (i = NV; i < N; ++i) sum += xr[i];
    const double mu = sum / double(N);
    s0 = D{}, s1 = D{};
    for (i = 0; i + 2 * L <= NV; i += 2 * L) {
      const D d0 = __builtin_convertvector(ld<FH>(xr + i), D) - mu;
      const D d1 = __builtin_convertvector(ld<FH>(xr + i + L), D) - mu;
      s0 += d0 * d0, s1 += d1 * d1;
    }
    if (i < NV) {
      const D d0 = __builtin_convertvector(ld<FH>(xr + i), D) - mu;
      s0 += d0 * d0;
    }
    double ss = hsum(s0 + s1);
    for (i = NV; i < N; ++i) ss += (xr[i] - mu) * (xr[i] - mu);
    const double r = 1.0 / std::sqrt(ss / double(N) + a.eps);
    a.mean[m] = mu;
    a.rstd[m] = r;
    // x - mu as (x - mh) - ml, mu = mh + ml split in two floats: x - mh is exact for x near
    // the mean, so a row with a large mean and a small spread keeps its precision
    const float mh = float(mu), ml = float(mu - double(mh)), rf = float(r);
    for (i = 0; i < NV; i += L) {
      FH v = (ld<FH>(xr + i) - mh - ml) * rf;
      if (a.w) v *= ld<FH>(a.w + i);
      if (a.b) v += ld<FH>(a.b + i);
      st(yr + i, v);
    }
    for (; i < N; ++i) yr[i] = (xr[i] - mh - ml) * rf * (a.w ? a.w[i] : 1.f) + (a.b ? a.b[i] : 0.f);
  }
}

template <class FH, class D>
void ln_backward_rows_f32(const LnBackward<float>& a, int64_t m0, int64_t m1, double* bw, double* bb) {
  constexpr int64_t L = sizeof(FH) / sizeof(float);
  const int64_t N = a.N, NV = N / L * L;
  for (int64_t m = m0; m < m1; ++m) {
    const float* xr = a.x + m * N;
    const float* gr = a.g + m * N;
    const float mh = float(a.mean[m]), ml = float(a.mean[m] - double(mh)), rf = float(a.rstd[m]);
    D s1{}, s2{};
    int64_t i = 0;
    for (; i < NV; i += L) {
      const FH xh = (ld<FH>(xr + i) - mh - ml) * rf, gv = ld<FH>(gr + i);
      if (bw) {
        st(bw + i, ld<D>(bw + i) + __builtin_convertvector(gv * xh, D));
        st(bb + i, ld<D>(bb + i) + __builtin_convertvector(gv, D));
      }
      const FH wg = a.w ? gv * ld<FH>(a.w + i) : gv;
      s1 += __builtin_convertvector(wg, D);
      s2 += __builtin_convertvector(wg * xh, D);
    }
    double t1 = hsum(s1), t2 = hsum(s2);
    for (; i < N; ++i) {
      const float xh = (xr[i] - mh - ml) * rf, gi = gr[i];
      if (bw) bw[i] += double(gi * xh), bb[i] += double(gi);
      const float wg = a.w ? gi * a.w[i] : gi;
      t1 += wg, t2 += double(wg * xh);
    }
    if (!a.gx) continue;
    // dx = rstd (wg - mean(wg) - xhat mean(wg xhat))
    const float c1 = float(t1 / double(N)), c2 = float(t2 / double(N));
    float* out = a.gx + m * N;
    for (i = 0; i < NV; i += L) {
      const FH xh = (ld<FH>(xr + i) - mh - ml) * rf, gv = ld<FH>(gr + i);
      const FH wg = a.w ? gv * ld<FH>(a.w + i) : gv;
      st(out + i, rf * (wg - c1 - xh * c2));
    }
    for (; i < N; ++i) {
      const float xh = (xr[i] - mh - ml) * rf, wg = a.w ? gr[i] * a.w[i] : gr[i];
      out[i] = rf * (wg - c1 - xh * c2);
    }
  }
}

}  // namespace
}  // namespace tg::kernels

// The float32 row loops for one instruction set, as layernorm_forward_rows_<isa> and
// layernorm_backward_rows_<isa>; BYTES is the width of a vector of doubles.
#define TG_LAYERNORM_KERNELS(isa, BYTES)                                                                  \
  namespace tg::kernels {                                                                                 \
  namespace {                                                                                             \
  typedef float LnFH_##isa __attribute__((vector_size(BYTES / 2)));                                      \
  typedef double LnD_##isa __attribute__((vector_size(BYTES)));                                          \
  }                                                                                                       \
  void layernorm_forward_rows_##isa(const LnForward<float>& a, int64_t m0, int64_t m1) {                \
    ln_forward_rows_f32<LnFH_##isa, LnD_##isa>(a, m0, m1);                                               \
  }                                                                                                       \
  void layernorm_backward_rows_##isa(const LnBackward<float>& a, int64_t m0, int64_t m1, double* bw,     \
                                     double* bb) {                                                        \
    ln_backward_rows_f32<LnFH_##isa, LnD_##isa>(a, m0, m1, bw, bb);                                       \
  }                                                                                                       \
  }
