#pragma once
// Kernels along one dim of a contiguous tensor viewed as [outer, n, inner]: element
// (o, r, j) sits at (o * n + r) * inner + j. With inner == 1 each (o) is one contiguous
// row; with inner > 1 (a dim that is not the last) the loops run over blocks of columns,
// so the innermost loop is contiguous and vectorizable.
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "core/parallel.h"
#include "kernels/reduce.h"
#include "kernels/reduce_ops.h"

namespace tg::kernels {

constexpr int64_t kColBlock = 256;  // columns per task when inner > 1 (fits L1)

struct DimGeom {
  int64_t outer, n, inner;
  int64_t numel() const { return outer * n * inner; }
};

// Calls f(o, j0, jn) over [outer] x column blocks [j0, j0 + jn), in parallel when large.
template <class F>
void for_col_blocks(const DimGeom& g, F&& f) {
  const int64_t nblk = (g.inner + kColBlock - 1) / kColBlock;
  parallel_for(g.outer * nblk, std::max<int64_t>(g.n, 1) * std::min(g.inner, kColBlock),
               [&](int64_t b, int64_t e) {
                 for (int64_t t = b; t < e; ++t) {
                   const int64_t o = t / nblk, j0 = (t % nblk) * kColBlock;
                   f(o, j0, std::min(kColBlock, g.inner - j0));
                 }
               });
}

// values/indices of the max (IsMax) or min along the dim; the first of ties wins and a nan
// beats everything, as in PyTorch. n must be > 0. `val` may be null (argmax).
template <bool IsMax, class T>
void arg_reduce(const T* x, const DimGeom& g, T* val, int64_t* idx) {
  if (g.inner == 1) {
    parallel_for(g.outer, g.n, [&](int64_t b, int64_t e) {
      ExtremeOp<IsMax, T> op{nullptr};
      for (int64_t o = b; o < e; ++o) {
        const T* row = x + o * g.n;
        // the value with a vectorizable fold, then its first position
        const T best = fold_run(op, op.init(), row, g.n, 1, 0);
        int64_t i = 0;
        if (is_nan(best)) while (!is_nan(row[i])) ++i;
        else while (!(row[i] == best)) ++i;
        if (val) val[o] = best;
        idx[o] = i;
      }
    });
    return;
  }
  for_col_blocks(g, [&](int64_t o, int64_t j0, int64_t jn) {
    T bv[kColBlock];
    int64_t bi[kColBlock];
    const T* base = x + o * g.n * g.inner + j0;
    for (int64_t j = 0; j < jn; ++j) bv[j] = base[j], bi[j] = 0;
    for (int64_t r = 1; r < g.n; ++r) {
      const T* row = base + r * g.inner;
      for (int64_t j = 0; j < jn; ++j) {
        const bool take = better<IsMax>(row[j], bv[j]);
        bv[j] = take ? row[j] : bv[j];
        bi[j] = take ? r : bi[j];
      }
    }
    const int64_t out = o * g.inner + j0;
    if (val) std::copy(bv, bv + jn, val + out);
    std::copy(bi, bi + jn, idx + out);
  });
}

// The gradient of a value picked at idx along the dim: zeros except gx[o, idx, j] = g[o, j].
// idx entries must be in [0, n) (they come from arg_reduce).
template <class T>
void scatter_along_dim(const T* grad, const int64_t* idx, const DimGeom& g, T* gx) {
  std::memset(gx, 0, sizeof(T) * g.numel());
  parallel_for(g.outer, g.n * g.inner, [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o)
      for (int64_t j = 0; j < g.inner; ++j) {
        const int64_t k = o * g.inner + j;
        gx[(o * g.n + idx[k]) * g.inner + j] = grad[k];
      }
  });
}

// Gradient of prod along the dim: gx[r] = g * prod of the other elements, as prefix times
// suffix products, so zeros in x need no special case.
template <class T>
void prod_backward(const T* x, const T* grad, const DimGeom& g, T* gx) {
  using Acc = SumAcc<T>;
  for_col_blocks(g, [&](int64_t o, int64_t j0, int64_t jn) {
    Acc run[kColBlock];
    const int64_t base = o * g.n * g.inner + j0;
    const T* gr = grad + o * g.inner + j0;
    for (int64_t j = 0; j < jn; ++j) run[j] = 1;
    for (int64_t r = 0; r < g.n; ++r) {  // gx = product of the elements before r
      const int64_t row = base + r * g.inner;
      for (int64_t j = 0; j < jn; ++j) {
        gx[row + j] = T(run[j]);
        run[j] *= Acc(x[row + j]);
      }
    }
    for (int64_t j = 0; j < jn; ++j) run[j] = Acc(gr[j]);
    for (int64_t r = g.n - 1; r >= 0; --r) {  // times g * product of the elements after r
      const int64_t row = base + r * g.inner;
      for (int64_t j = 0; j < jn; ++j) {
        gx[row + j] = T(Acc(gx[row + j]) * run[j]);
        run[j] *= Acc(x[row + j]);
      }
    }
  });
}

}  // namespace tg::kernels
