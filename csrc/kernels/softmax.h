#pragma once
// Fused softmax / log_softmax along one dim of a contiguous [outer, n, inner] tensor
// (see reduce_dim.h), forward and backward. The max is subtracted before exp, so inputs
// of any magnitude are safe; exp runs in bulk through exp_inplace (vectorized for float).
//   softmax:      y = exp(x - m) / s              s = sum exp(x - m)
//   log_softmax:  y = x - m - log(s)
//   backward:     softmax      gx = y * (g - sum(g * y))
//                 log_softmax  gx = g - exp(y) * sum(g)
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "kernels/exp.h"
#include "kernels/reduce_dim.h"

namespace tg::kernels {

namespace detail {
// Sum of n contiguous values in double with independent accumulators.
template <class T>
inline double sum_contig(const T* x, int64_t n) {
  SumOp<T, T> op{nullptr};
  return fold_run(op, 0.0, x, n, 1, 0);
}
}  // namespace detail

template <class T>
void softmax_forward(const T* x, T* y, const DimGeom& g, bool log) {
  if (g.inner == 1) {
    parallel_for(g.outer, g.n * 8, [&](int64_t b, int64_t e) {
      ExtremeOp<true, T> max_op{nullptr};
      for (int64_t o = b; o < e; ++o) {
        const T* xr = x + o * g.n;
        T* yr = y + o * g.n;
        if constexpr (std::is_same_v<T, float>) {  // max, exp and sum in SIMD passes
          const float m = vec_row_max(xr, g.n);
          const double s = vec_exp_sum(xr, m, yr, g.n);
          if (log) {
            const float lse = float(std::log(s));
            for (int64_t i = 0; i < g.n; ++i) yr[i] = (xr[i] - m) - lse;
          } else {
            const float inv = float(1.0 / s);
            for (int64_t i = 0; i < g.n; ++i) yr[i] *= inv;
          }
          continue;
        }
        const T m = fold_run(max_op, max_op.init(), xr, g.n, 1, 0);
        for (int64_t i = 0; i < g.n; ++i) yr[i] = xr[i] - m;
        if (log) {
          // exp into y, sum, then overwrite y with the shifted logits again
          exp_inplace(yr, g.n);
          const T lse = T(std::log(detail::sum_contig(yr, g.n)));
          for (int64_t i = 0; i < g.n; ++i) yr[i] = (xr[i] - m) - lse;
        } else {
          exp_inplace(yr, g.n);
          const T inv = T(1.0 / detail::sum_contig(yr, g.n));
          for (int64_t i = 0; i < g.n; ++i) yr[i] *= inv;
        }
      }
    });
    return;
  }
  for_col_blocks(g, [&](int64_t o, int64_t j0, int64_t jn) {
    T m[kColBlock];
    double s[kColBlock];
    const int64_t base = o * g.n * g.inner + j0;
    for (int64_t j = 0; j < jn; ++j) m[j] = extreme_init<true, T>(), s[j] = 0;
    for (int64_t r = 0; r < g.n; ++r) {
      const T* xr = x + base + r * g.inner;
      for (int64_t j = 0; j < jn; ++j) m[j] = replaces<true>(xr[j], m[j]) ? xr[j] : m[j];
    }
    for (int64_t r = 0; r < g.n; ++r) {
      const T* xr = x + base + r * g.inner;
      T* yr = y + base + r * g.inner;
      for (int64_t j = 0; j < jn; ++j) yr[j] = xr[j] - m[j];
      exp_inplace(yr, jn);
      for (int64_t j = 0; j < jn; ++j) s[j] += double(yr[j]);
    }
    if (log) {
      T lse[kColBlock];
      for (int64_t j = 0; j < jn; ++j) lse[j] = T(std::log(s[j]));
      for (int64_t r = 0; r < g.n; ++r) {
        const T* xr = x + base + r * g.inner;
        T* yr = y + base + r * g.inner;
        for (int64_t j = 0; j < jn; ++j) yr[j] = (xr[j] - m[j]) - lse[j];
      }
    } else {
      T inv[kColBlock];
      for (int64_t j = 0; j < jn; ++j) inv[j] = T(1.0 / s[j]);
      for (int64_t r = 0; r < g.n; ++r) {
        T* yr = y + base + r * g.inner;
        for (int64_t j = 0; j < jn; ++j) yr[j] *= inv[j];
      }
    }
  });
}

// y is the forward output, dy the incoming gradient, dx the result (all [outer, n, inner]).
template <class T>
void softmax_backward(const T* y, const T* dy, T* dx, const DimGeom& g, bool log) {
  if (g.inner == 1) {
    parallel_for(g.outer, g.n * 4, [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        const T* yr = y + o * g.n;
        const T* gr = dy + o * g.n;
        T* dr = dx + o * g.n;
        if (log) {
          const T s = T(detail::sum_contig(gr, g.n));
          for (int64_t i = 0; i < g.n; ++i) dr[i] = yr[i];
          exp_inplace(dr, g.n);
          for (int64_t i = 0; i < g.n; ++i) dr[i] = gr[i] - dr[i] * s;
        } else {
          double acc[kLanes] = {};
          int64_t i = 0;
          for (; i + kLanes <= g.n; i += kLanes)
            for (int k = 0; k < kLanes; ++k) acc[k] += double(gr[i + k]) * double(yr[i + k]);
          for (; i < g.n; ++i) acc[0] += double(gr[i]) * double(yr[i]);
          double dot = 0;
          for (int k = 0; k < kLanes; ++k) dot += acc[k];
          const T d = T(dot);
          for (int64_t i = 0; i < g.n; ++i) dr[i] = yr[i] * (gr[i] - d);
        }
      }
    });
    return;
  }
  for_col_blocks(g, [&](int64_t o, int64_t j0, int64_t jn) {
    double s[kColBlock];
    const int64_t base = o * g.n * g.inner + j0;
    for (int64_t j = 0; j < jn; ++j) s[j] = 0;
    for (int64_t r = 0; r < g.n; ++r) {
      const int64_t row = base + r * g.inner;
      if (log)
        for (int64_t j = 0; j < jn; ++j) s[j] += double(dy[row + j]);
      else
        for (int64_t j = 0; j < jn; ++j) s[j] += double(dy[row + j]) * double(y[row + j]);
    }
    T st[kColBlock];
    for (int64_t j = 0; j < jn; ++j) st[j] = T(s[j]);
    for (int64_t r = 0; r < g.n; ++r) {
      const int64_t row = base + r * g.inner;
      if (log) {
        for (int64_t j = 0; j < jn; ++j) dx[row + j] = y[row + j];
        exp_inplace(dx + row, jn);
        for (int64_t j = 0; j < jn; ++j) dx[row + j] = dy[row + j] - dx[row + j] * st[j];
      } else {
        for (int64_t j = 0; j < jn; ++j) dx[row + j] = y[row + j] * (dy[row + j] - st[j]);
      }
    }
  });
}

}  // namespace tg::kernels
