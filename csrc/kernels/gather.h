#pragma once
// Gather and scatter over element offsets. Row copies take offsets that ops/index.cpp
// built after checking every index; the along-a-dim kernels check each index as they read
// it. Either way no loop touches memory outside the tensors.
#include <atomic>
#include <cstdint>
#include <vector>

#include "core/parallel.h"

namespace tg::kernels {

// The element offset of every position of `shape` (row-major order) in a tensor with
// `strides`.
inline std::vector<int64_t> strided_offsets(const std::vector<int64_t>& shape,
                                            const std::vector<int64_t>& strides) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  std::vector<int64_t> out((size_t)n);
  if (n == 0) return out;
  const int64_t nd = (int64_t)shape.size();
  std::vector<int64_t> idx(nd, 0);
  int64_t off = 0;
  for (int64_t i = 0; i < n; ++i) {
    out[i] = off;
    for (int64_t d = nd - 1; d >= 0; --d) {  // odometer step
      off += strides[d];
      if (++idx[d] < shape[d]) break;
      off -= strides[d] * shape[d];
      idx[d] = 0;
    }
  }
  return out;
}

inline bool is_iota(const std::vector<int64_t>& v) {
  for (size_t i = 0; i < v.size(); ++i)
    if (v[i] != (int64_t)i) return false;
  return true;
}

// One side (source or destination) of a row copy: element (o, r, i) lives at
// outer[o] + row[r] + inner[i].
struct RowSide {
  std::vector<int64_t> outer, row, inner;
  bool inner_unit = false;  // inner == 0, 1, 2, ...: a plain run
};

// dst(o, r, i) = src(o, r, i), or += with `accumulate`. With `rows_collide` (two rows may
// name the same destination: repeated indices) each thread owns whole outer positions or
// a slice of the inner positions, so no two threads ever write one element and repeated
// rows apply in order.
template <class T>
void copy_rows(T* dst, const RowSide& d, const T* src, const RowSide& s, bool accumulate,
               bool rows_collide) {
  const int64_t n_outer = (int64_t)d.outer.size(), n_row = (int64_t)d.row.size();
  const int64_t n_inner = (int64_t)d.inner.size();
  if (n_outer == 0 || n_row == 0 || n_inner == 0) return;
  const bool unit = d.inner_unit && s.inner_unit;
  auto run = [&](int64_t o, int64_t r, int64_t i0, int64_t i1) {
    T* dp = dst + d.outer[o] + d.row[r];
    const T* sp = src + s.outer[o] + s.row[r];
    if (unit) {
      if (accumulate)
        for (int64_t i = i0; i < i1; ++i) dp[i] += sp[i];
      else
        for (int64_t i = i0; i < i1; ++i) dp[i] = sp[i];
    } else {
      const int64_t* di = d.inner.data();
      const int64_t* si = s.inner.data();
      if (accumulate)
        for (int64_t i = i0; i < i1; ++i) dp[di[i]] += sp[si[i]];
      else
        for (int64_t i = i0; i < i1; ++i) dp[di[i]] = sp[si[i]];
    }
  };
  if (!rows_collide) {
    parallel_for(n_outer * n_row, n_inner, [&](int64_t b, int64_t e) {
      int64_t o = b / n_row, r = b % n_row;
      for (int64_t k = b; k < e; ++k) {
        run(o, r, 0, n_inner);
        if (++r == n_row) r = 0, ++o;
      }
    });
  } else if (n_outer >= n_inner) {
    parallel_for(n_outer, n_row * n_inner, [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o)
        for (int64_t r = 0; r < n_row; ++r) run(o, r, 0, n_inner);
    });
  } else {
    parallel_for(n_inner, n_outer * n_row, [&](int64_t b, int64_t e) {
      for (int64_t o = 0; o < n_outer; ++o)
        for (int64_t r = 0; r < n_row; ++r) run(o, r, b, e);
    });
  }
}

// Element offsets of the lines along one dim: line l starts at base[l] on each operand,
// and `step` is that operand's stride along the dim.
struct Lines {
  std::vector<int64_t> base;
  int64_t step = 0;
};

// torch.gather along a dim: out(l, j) = src(l, index(l, j)). An index outside [0, size)
// is skipped (its output left as is) and makes the call return false, so the caller can
// raise after the parallel region; checking inside saves a second pass over the index.
template <class T>
bool gather_lines(T* out, const Lines& o, const T* src, const Lines& s, const int64_t* index,
                  const Lines& ix, int64_t len, int64_t size) {
  const int64_t n = (int64_t)o.base.size();
  std::atomic<bool> ok{true};
  parallel_for(n, len, [&](int64_t b, int64_t e) {
    bool good = true;
    for (int64_t l = b; l < e; ++l) {
      T* op = out + o.base[l];
      const T* sp = src + s.base[l];
      const int64_t* ip = index + ix.base[l];
      for (int64_t j = 0; j < len; ++j) {
        const int64_t v = ip[j * ix.step];
        if ((uint64_t)v < (uint64_t)size) op[j * o.step] = sp[v * s.step];
        else good = false;
      }
    }
    if (!good) ok = false;
  });
  return ok;
}

// scatter_add along a dim: dst(l, index(l, j)) += src(l, j). Lines are disjoint in dst, so
// threads split lines and repeated indices within a line accumulate in order. Bad indices
// are skipped and reported as in gather_lines.
template <class T>
bool scatter_add_lines(T* dst, const Lines& d, const T* src, const Lines& s, const int64_t* index,
                       const Lines& ix, int64_t len, int64_t size) {
  const int64_t n = (int64_t)d.base.size();
  std::atomic<bool> ok{true};
  parallel_for(n, len, [&](int64_t b, int64_t e) {
    bool good = true;
    for (int64_t l = b; l < e; ++l) {
      T* dp = dst + d.base[l];
      const T* sp = src + s.base[l];
      const int64_t* ip = index + ix.base[l];
      for (int64_t j = 0; j < len; ++j) {
        const int64_t v = ip[j * ix.step];
        if ((uint64_t)v < (uint64_t)size) dp[v * d.step] += sp[j * s.step];
        else good = false;
      }
    }
    if (!good) ok = false;
  });
  return ok;
}

}  // namespace tg::kernels
