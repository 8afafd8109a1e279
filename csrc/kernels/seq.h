#pragma once
// Kernels of the sequence-model tensor ops: triangular masks, cumulative sums and products,
// sorting and top-k along a dim. Each works on contiguous buffers viewed as [outer, n,
// inner] around the dim (kernels/reduce_dim.h's DimGeom), in parallel over outer rows (and
// column blocks when inner > 1). No autograd, no allocation of tensors.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <numeric>
#include <type_traits>
#include <vector>

#include "core/parallel.h"
#include "kernels/reduce_dim.h"

namespace tg::kernels {

// ---- tril / triu ---------------------------------------------------------------------------

// out[b, i, j] = x[b, i, j] where (j - i <= diagonal) for tril (upper == false) or
// (j - i >= diagonal) for triu, else 0. `out` may be `x` (in place).
template <class T>
void triangle(const T* x, T* out, int64_t batch, int64_t rows, int64_t cols, int64_t diagonal, bool upper) {
  parallel_for(batch * rows, cols, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const int64_t i = r % rows;
      const T* src = x + r * cols;
      T* dst = out + r * cols;
      // tril keeps j <= i + diagonal; triu keeps j >= i + diagonal (clamped to [0, cols])
      int64_t edge;
      if (!upper) {
        edge = diagonal >= cols ? cols : std::clamp<int64_t>(i + diagonal + 1, 0, cols);  // keep [0, edge)
        if (dst != src) std::copy(src, src + edge, dst);
        std::fill(dst + edge, dst + cols, T(0));
      } else {
        edge = diagonal >= cols ? cols : std::clamp<int64_t>(i + diagonal, 0, cols);  // keep [edge, cols)
        std::fill(dst, dst + edge, T(0));
        if (dst != src) std::copy(src + edge, src + cols, dst + edge);
      }
    }
  });
}

// ---- cumulative sum / product -------------------------------------------------------------

// The accumulator type PyTorch uses on the CPU: double for floats, int64 for integers.
template <class T>
using cum_acc_t = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;

// out = cumulative sum (Prod == false) or product along the dim, running backwards from
// the end when `reverse` (the gradient of cumsum).
template <bool Prod, class T>
void cumulate(const T* x, T* out, const DimGeom& g, bool reverse) {
  using A = cum_acc_t<T>;
  const A init = Prod ? A(1) : A(0);
  if (g.inner == 1) {
    parallel_for(g.outer, g.n, [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        const T* src = x + o * g.n;
        T* dst = out + o * g.n;
        A acc = init;
        for (int64_t r = 0; r < g.n; ++r) {
          const int64_t i = reverse ? g.n - 1 - r : r;
          if constexpr (Prod) acc *= A(src[i]);
          else acc += A(src[i]);
          dst[i] = T(acc);
        }
      }
    });
    return;
  }
  for_col_blocks(g, [&](int64_t o, int64_t j0, int64_t jn) {
    A acc[kColBlock];
    std::fill(acc, acc + jn, init);
    const int64_t base = o * g.n * g.inner + j0;
    for (int64_t r = 0; r < g.n; ++r) {
      const int64_t i = reverse ? g.n - 1 - r : r;
      const T* src = x + base + i * g.inner;
      T* dst = out + base + i * g.inner;
      for (int64_t j = 0; j < jn; ++j) {
        if constexpr (Prod) acc[j] *= A(src[j]);
        else acc[j] += A(src[j]);
        dst[j] = T(acc[j]);
      }
    }
  });
}

// The gradient of out = cumprod(x) along the dim, exact with zeros and without division:
// gx[k] = out[k-1] * S[k] with S[k] = g[k] + x[k+1] * S[k+1] (S[n-1] = g[n-1]), since
// d out[i] / d x[k] = prod_{j < k} x[j] * prod_{k < j <= i} x[j].
template <class T>
void cumprod_backward(const T* x, const T* out, const T* grad, T* gx, const DimGeom& g) {
  parallel_for(g.outer * g.inner, g.n, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t o = t / g.inner, j = t % g.inner, base = o * g.n * g.inner + j, st = g.inner;
      double s = 0;
      for (int64_t k = g.n - 1; k >= 0; --k) {
        s = k == g.n - 1 ? double(grad[base + k * st]) : double(grad[base + k * st]) + double(x[base + (k + 1) * st]) * s;
        const double prefix = k == 0 ? 1.0 : double(out[base + (k - 1) * st]);
        gx[base + k * st] = T(prefix * s);
      }
    }
  });
}

// ---- sort / topk ----------------------------------------------------------------------------

template <class T>
inline bool nan_of(T v) {
  if constexpr (std::is_floating_point_v<T>) return std::isnan(v);
  else return false;
}

// "a comes before b": ascending with nan last, or descending with nan first (PyTorch's
// order); equal values keep their positions (ties broken by index, so the result is the
// stable sort's).
template <class T>
struct SortLess {
  const T* v;
  bool descending;
  bool operator()(int64_t a, int64_t b) const {
    const T x = v[a], y = v[b];
    const bool nx = nan_of(x), ny = nan_of(y);
    if (nx || ny) {
      if (nx && ny) return a < b;
      return descending ? nx : ny;
    }
    if (x == y) return a < b;
    return descending ? y < x : x < y;
  }
};

// For each line along the dim: the first k elements in sorted order (all n when k == n),
// their values into `val` ([outer, k, inner]) and positions into `idx`.
template <class T>
void sort_lines(const T* x, const DimGeom& g, int64_t k, bool descending, T* val, int64_t* idx) {
  const int64_t lines = g.outer * g.inner;
  const int64_t cost = g.n * (1 + (int64_t)std::log2((double)std::max<int64_t>(g.n, 2)));
  parallel_for(lines, cost, [&](int64_t b, int64_t e) {
    std::unique_ptr<T[]> line(new T[std::max<int64_t>(g.n, 1)]);
    std::vector<int64_t> order(g.n);
    for (int64_t t = b; t < e; ++t) {
      const int64_t o = t / g.inner, j = t % g.inner;
      const T* src = x + o * g.n * g.inner + j;
      for (int64_t r = 0; r < g.n; ++r) line[r] = src[r * g.inner];
      std::iota(order.begin(), order.end(), int64_t(0));
      SortLess<T> less{line.get(), descending};
      if (k < g.n) std::partial_sort(order.begin(), order.begin() + k, order.end(), less);
      else std::sort(order.begin(), order.end(), less);
      const int64_t dst = o * k * g.inner + j;
      for (int64_t r = 0; r < k; ++r) {
        if (val) val[dst + r * g.inner] = line[order[r]];
        idx[dst + r * g.inner] = order[r];
      }
    }
  });
}

// The gradient of values picked at idx ([outer, k, inner], distinct positions per line):
// gx ([outer, n, inner]) is zero except gx[o, idx[o, r, j], j] = grad[o, r, j].
template <class T>
void scatter_lines(const T* grad, const int64_t* idx, const DimGeom& g, int64_t k, T* gx) {
  std::memset(gx, 0, sizeof(T) * g.numel());
  parallel_for(g.outer, k * g.inner, [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      const int64_t* ib = idx + o * k * g.inner;
      const T* gb = grad + o * k * g.inner;
      T* dst = gx + o * g.n * g.inner;
      for (int64_t r = 0; r < k; ++r)
        for (int64_t j = 0; j < g.inner; ++j) dst[ib[r * g.inner + j] * g.inner + j] += gb[r * g.inner + j];
    }
  });
}

}  // namespace tg::kernels
