// Layer normalization kernels (see layernorm.h); the row loops are in layernorm_impl.h.
// The forward runs rows in parallel; the backward cuts the rows into a fixed number of
// blocks (a function of the shape only), each computing its rows' input gradient and
// partial column sums for the weight and bias gradients, which a second pass adds up
// column by column.
#include <algorithm>
#include <type_traits>
#include <vector>

#include "core/parallel.h"
#include "kernels/cpu_features.h"
#include "kernels/layernorm_impl.h"
#include "kernels/vec_unary.h"

namespace tg::kernels {

#if TG_X86
void layernorm_forward_rows_avx2(const LnForward<float>& a, int64_t m0, int64_t m1);
void layernorm_backward_rows_avx2(const LnBackward<float>& a, int64_t m0, int64_t m1, double* bw, double* bb);
void layernorm_forward_rows_avx512(const LnForward<float>& a, int64_t m0, int64_t m1);
void layernorm_backward_rows_avx512(const LnBackward<float>& a, int64_t m0, int64_t m1, double* bw, double* bb);
#endif

namespace {

typedef float LnFH_base __attribute__((vector_size(8)));  // SSE2: two doubles a register
typedef double LnD_base __attribute__((vector_size(16)));

// float32 row loops of the instruction set vec_unary runs (set_vec_isa included)
template <class T>
void forward_rows(const LnForward<T>& a, int64_t m0, int64_t m1) {
  if constexpr (std::is_same_v<T, float>) {
#if TG_X86
    if (vec_avx2()) {
      if (vec_isa() == "avx512") return layernorm_forward_rows_avx512(a, m0, m1);
      return layernorm_forward_rows_avx2(a, m0, m1);
    }
#endif
    return ln_forward_rows_f32<LnFH_base, LnD_base>(a, m0, m1);
  }
  ln_forward_rows<T>(a, m0, m1);
}

template <class T>
void backward_rows(const LnBackward<T>& a, int64_t m0, int64_t m1, double* bw, double* bb) {
  if constexpr (std::is_same_v<T, float>) {
#if TG_X86
    if (vec_avx2()) {
      if (vec_isa() == "avx512") return layernorm_backward_rows_avx512(a, m0, m1, bw, bb);
      return layernorm_backward_rows_avx2(a, m0, m1, bw, bb);
    }
#endif
    return ln_backward_rows_f32<LnFH_base, LnD_base>(a, m0, m1, bw, bb);
  }
  ln_backward_rows<T>(a, m0, m1, bw, bb);
}

}  // namespace

template <class T>
void layernorm_forward(const T* x, int64_t M, int64_t N, const T* w, const T* b, double eps, T* y,
                       double* mean, double* rstd) {
  const LnForward<T> a{x, N, w, b, eps, y, mean, rstd};
  parallel_for(M, 4 * N, [&](int64_t lo, int64_t hi) { forward_rows<T>(a, lo, hi); });
}

template <class T>
void layernorm_backward(const T* x, const T* g, int64_t M, int64_t N, const double* mean, const double* rstd,
                        const T* w, T* gx, T* gw, T* gb) {
  const bool cols = gw || gb;
  if (M == 0 || N == 0) {
    if (gw) std::fill(gw, gw + N, T(0));
    if (gb) std::fill(gb, gb + N, T(0));
    return;
  }
  // Blocks of rows: at most 64, each at least ~16k elements, fixed by the shape.
  const int64_t want = std::clamp<int64_t>(M * N / 16384, 1, 64);
  const int64_t rows = (M + want - 1) / want;
  const int64_t nb = (M + rows - 1) / rows;
  std::vector<double> pw(cols ? nb * N : 0, 0.0), pb(cols ? nb * N : 0, 0.0);
  const LnBackward<T> a{x, g, N, mean, rstd, w, gx};
  parallel_for(nb, rows * N * 6, [&](int64_t lo, int64_t hi) {
    for (int64_t k = lo; k < hi; ++k)
      backward_rows<T>(a, k * rows, std::min(M, (k + 1) * rows), cols ? &pw[k * N] : nullptr,
                       cols ? &pb[k * N] : nullptr);
  });
  if (!cols) return;
  parallel_for(N, nb * 2, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      double sw = 0, sb = 0;
      for (int64_t k = 0; k < nb; ++k) sw += pw[k * N + i], sb += pb[k * N + i];
      if (gw) gw[i] = T(sw);
      if (gb) gb[i] = T(sb);
    }
  });
}

template <class T>
void groupnorm_forward(const T* x, int64_t N, int64_t C, int64_t HW, int64_t G, const T* w, const T* b,
                       double eps, T* y, double* mean, double* rstd) {
  const int64_t Cg = C / G, L = Cg * HW;
  parallel_for(N * G, 4 * L, [&](int64_t lo, int64_t hi) {
    for (int64_t m = lo; m < hi; ++m) {
      const T* xr = x + m * L;
      T* yr = y + m * L;
      const double mu = lane_sum(L, [xr](int64_t i) { return double(xr[i]); }) / double(L);
      const double var = lane_sum(L, [xr, mu](int64_t i) {
                           const double d = double(xr[i]) - mu;
                           return d * d;
                         }) / double(L);
      const double r = 1.0 / std::sqrt(var + eps);
      mean[m] = mu;
      rstd[m] = r;
      for (int64_t cc = 0; cc < Cg; ++cc) {
        const int64_t ch = (m % G) * Cg + cc;
        const double a = r * (w ? double(w[ch]) : 1.0), o = b ? double(b[ch]) : 0.0;
        for (int64_t j = cc * HW; j < (cc + 1) * HW; ++j) yr[j] = T((double(xr[j]) - mu) * a + o);
      }
    }
  });
}

template <class T>
void groupnorm_backward(const T* x, const T* g, int64_t N, int64_t C, int64_t HW, int64_t G, const double* mean,
                        const double* rstd, const T* w, T* gx, T* gw, T* gb) {
  const int64_t Cg = C / G, L = Cg * HW;
  // ds[n, c] = sum over hw of g * x, db[n, c] = sum of g
  std::vector<double> ds((size_t)(N * C)), db((size_t)(N * C));
  parallel_for(N * C, 2 * HW, [&](int64_t lo, int64_t hi) {
    for (int64_t k = lo; k < hi; ++k) {
      const T* xr = x + k * HW;
      const T* gr = g + k * HW;
      ds[k] = lane_sum(HW, [xr, gr](int64_t i) { return double(gr[i]) * double(xr[i]); });
      db[k] = lane_sum(HW, [gr](int64_t i) { return double(gr[i]); });
    }
  });
  if (gw || gb)
    parallel_for(C, 2 * N, [&](int64_t lo, int64_t hi) {
      for (int64_t c = lo; c < hi; ++c) {
        double sw = 0, sb = 0;
        for (int64_t n = 0; n < N; ++n) {
          const int64_t m = n * G + c / Cg, k = n * C + c;
          sw += rstd[m] * (ds[k] - mean[m] * db[k]);  // sum of g * xhat
          sb += db[k];
        }
        if (gw) gw[c] = T(sw);
        if (gb) gb[c] = T(sb);
      }
    });
  if (!gx) return;
  // per (n, group): s1 = sum of w g, s2 = sum of w g xhat over the group's elements
  std::vector<double> s1((size_t)(N * G)), s2((size_t)(N * G));
  for (int64_t m = 0; m < N * G; ++m) {
    double a = 0, q = 0;
    for (int64_t cc = 0; cc < Cg; ++cc) {
      const int64_t c = (m % G) * Cg + cc, k = (m / G) * C + c;
      const double wc = w ? double(w[c]) : 1.0;
      a += wc * db[k];
      q += wc * rstd[m] * (ds[k] - mean[m] * db[k]);
    }
    s1[m] = a / double(L);
    s2[m] = q / double(L);
  }
  // dx = rstd (w g - mean(w g) - xhat mean(w g xhat))
  parallel_for(N * C, 2 * HW, [&](int64_t lo, int64_t hi) {
    for (int64_t k = lo; k < hi; ++k) {
      const int64_t n = k / C, c = k % C, m = n * G + c / Cg;
      const double r = rstd[m], mu = mean[m], wc = w ? double(w[c]) : 1.0, a = s1[m], q = s2[m];
      const T* xr = x + k * HW;
      const T* gr = g + k * HW;
      T* out = gx + k * HW;
      for (int64_t i = 0; i < HW; ++i) out[i] = T(r * (double(gr[i]) * wc - a - (double(xr[i]) - mu) * r * q));
    }
  });
}

#define TG_LN_INSTANTIATE(T)                                                                             \
  template void layernorm_forward<T>(const T*, int64_t, int64_t, const T*, const T*, double, T*, double*, \
                                     double*);                                                           \
  template void layernorm_backward<T>(const T*, const T*, int64_t, int64_t, const double*, const double*,  \
                                      const T*, T*, T*, T*);                                             \
  template void groupnorm_forward<T>(const T*, int64_t, int64_t, int64_t, int64_t, const T*, const T*, double, T*, \
                                     double*, double*);                                                    \
  template void groupnorm_backward<T>(const T*, const T*, int64_t, int64_t, int64_t, int64_t, const double*,       \
                                      const double*, const T*, T*, T*, T*);
TG_LN_INSTANTIATE(float)
TG_LN_INSTANTIATE(double)
#undef TG_LN_INSTANTIATE

}  // namespace tg::kernels
