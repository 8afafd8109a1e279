#pragma once
// Embedding lookup and its backward on contiguous buffers: a (V, D) table, n int64 indices
// already checked to lie in [0, V). No autograd.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/parallel.h"

namespace tg::kernels {

// out[i, :] = table[idx[i], :] for each of the n indices; rows of `row_bytes` bytes, so any
// dtype goes through the same copy.
inline void embedding_gather(const char* table, const int64_t* idx, int64_t n, int64_t row_bytes, char* out) {
  if (row_bytes == 0) return;
  parallel_for(n, std::max<int64_t>(row_bytes / 4, 1), [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) std::memcpy(out + i * row_bytes, table + idx[i] * row_bytes, (size_t)row_bytes);
  });
}

// The rows of a (V, D) table that n indices name, grouped: `rows` lists each distinct row
// once (ascending), and the positions naming rows[k] are pos[start[k] .. start[k + 1]),
// ascending. A counting sort: O(n + V), no comparisons.
struct RowGroups {
  std::vector<int64_t> rows, start, pos;
};

inline RowGroups group_rows(const int64_t* idx, int64_t n, int64_t V) {
  std::vector<int64_t> count((size_t)V + 1, 0);
  for (int64_t i = 0; i < n; ++i) ++count[(size_t)idx[i] + 1];
  RowGroups g;
  for (int64_t v = 0; v < V; ++v)
    if (count[(size_t)v + 1]) g.rows.push_back(v);
  for (int64_t v = 0; v < V; ++v) count[(size_t)v + 1] += count[(size_t)v];  // count[v]: first slot of row v
  g.pos.resize((size_t)n);
  std::vector<int64_t> next(count.begin(), count.end() - 1);
  for (int64_t i = 0; i < n; ++i) g.pos[(size_t)next[(size_t)idx[i]]++] = i;
  g.start.reserve(g.rows.size() + 1);
  for (int64_t r : g.rows) g.start.push_back(count[(size_t)r]);
  g.start.push_back(n);
  return g;
}

// The backward of embedding_gather: gw (V, D), zero on entry, gets for every row v the sum
// of the gradient rows g[i, :] over the positions i with idx[i] == v, in ascending i, except
// row `padding_idx` (-1: none); with `scale_by_freq` each sum is divided by how often v
// occurs. Rows are grouped first (group_rows), then each task owns one (row, column block)
// of gw: no two threads write one element, repeated indices need no atomics, and a row
// named by most indices still spreads over the column blocks. The result does not depend
// on the thread count.
template <class T>
void embedding_backward(const T* g, const int64_t* idx, int64_t n, int64_t V, int64_t D, int64_t padding_idx,
                        bool scale_by_freq, T* gw) {
  if (n == 0 || D == 0) return;
  const RowGroups grp = group_rows(idx, n, V);
  const int64_t nrows = (int64_t)grp.rows.size();
  constexpr int64_t kCols = 256;
  const int64_t ncb = (D + kCols - 1) / kCols;
  const int64_t avg = std::max<int64_t>(n / std::max<int64_t>(nrows, 1), 1);
  parallel_for(nrows * ncb, avg * std::min(D, kCols), [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      const int64_t k = t / ncb, c0 = (t % ncb) * kCols, c1 = std::min(D, c0 + kCols);
      const int64_t v = grp.rows[(size_t)k];
      if (v == padding_idx) continue;
      T* dst = gw + v * D;
      const int64_t b = grp.start[(size_t)k], e = grp.start[(size_t)k + 1];
      for (int64_t j = b; j < e; ++j) {
        const T* src = g + grp.pos[(size_t)j] * D;
        for (int64_t c = c0; c < c1; ++c) dst[c] += src[c];
      }
      if (scale_by_freq) {
        const T f = T(e - b);
        for (int64_t c = c0; c < c1; ++c) dst[c] /= f;
      }
    }
  });
}

}  // namespace tg::kernels
