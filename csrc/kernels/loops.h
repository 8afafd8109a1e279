#pragma once
// Strided iteration over N operands that share one (broadcast) shape. The caller gives
// each operand's base pointer and element strides (0 on broadcast dims); the loop merges
// dims that are contiguous for every operand, then hands the body whole inner rows:
//   body(ptrs, byte_strides, n)
// so the common contiguous case becomes one vectorizable loop.
#include <array>
#include <cstdint>
#include <vector>

#include "core/parallel.h"

namespace tg::kernels {

template <size_t N>
struct Geometry {
  std::vector<int64_t> shape;                  // coalesced, outermost first
  std::array<std::vector<int64_t>, N> stride;  // in bytes
};

template <size_t N>
Geometry<N> coalesce(const std::vector<int64_t>& shape,
                     const std::array<const int64_t*, N>& strides,
                     const std::array<int64_t, N>& itemsize) {
  Geometry<N> g;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (!g.shape.empty()) {
      bool merge = true;
      for (size_t k = 0; k < N; ++k)
        merge &= g.stride[k].back() == strides[k][d] * itemsize[k] * shape[d];
      if (merge) {
        g.shape.back() *= shape[d];
        for (size_t k = 0; k < N; ++k) g.stride[k].back() = strides[k][d] * itemsize[k];
        continue;
      }
    }
    g.shape.push_back(shape[d]);
    for (size_t k = 0; k < N; ++k) g.stride[k].push_back(strides[k][d] * itemsize[k]);
  }
  return g;
}

// The element count when every operand is laid out densely in row-major order over
// `shape` (dims of size 1 aside), so the whole loop is one row; -1 otherwise. Checked
// first because it is the common case and needs no coalescing (which allocates).
template <size_t N>
int64_t dense_numel(const std::vector<int64_t>& shape, const std::array<const int64_t*, N>& strides) {
  int64_t numel = 1;
  for (size_t k = 0; k < N; ++k) {
    int64_t expect = 1;
    for (size_t d = shape.size(); d-- > 0;) {
      if (shape[d] == 1) continue;
      if (strides[k][d] != expect) return -1;
      expect *= shape[d];
    }
    numel = expect;
  }
  return numel;
}

// body over one row of n elements, split across threads.
template <size_t N, class Body>
void row_loop(int64_t n, const std::array<char*, N>& base, const std::array<int64_t, N>& stride,
              Body& body) {
  parallel_for(n, 1, [&](int64_t b, int64_t e) {
    std::array<char*, N> p;
    for (size_t k = 0; k < N; ++k) p[k] = base[k] + b * stride[k];
    body(p, stride, e - b);
  });
}

template <size_t N, class Body>
void strided_loop(const std::vector<int64_t>& shape, const std::array<const int64_t*, N>& strides,
                  std::array<char*, N> base, const std::array<int64_t, N>& itemsize, Body&& body) {
  for (int64_t s : shape)
    if (s == 0) return;
  if (int64_t n = dense_numel<N>(shape, strides); n >= 0) return row_loop<N>(n, base, itemsize, body);
  Geometry<N> g = coalesce<N>(shape, strides, itemsize);
  std::array<int64_t, N> inner_stride{};
  const int64_t nd = (int64_t)g.shape.size();  // >= 1: dense layouts returned above
  const int64_t inner = g.shape[nd - 1];
  for (size_t k = 0; k < N; ++k) inner_stride[k] = g.stride[k][nd - 1];
  int64_t outer = 1;
  for (int64_t d = 0; d + 1 < nd; ++d) outer *= g.shape[d];
  if (outer == 1) return row_loop<N>(inner, base, inner_stride, body);
  parallel_for(outer, inner, [&](int64_t b, int64_t e) {
    std::vector<int64_t> idx(nd - 1, 0);
    std::array<char*, N> p = base;
    int64_t rem = b;
    for (int64_t d = nd - 2; d >= 0; --d) {
      idx[d] = rem % g.shape[d];
      rem /= g.shape[d];
      for (size_t k = 0; k < N; ++k) p[k] += idx[d] * g.stride[k][d];
    }
    for (int64_t o = b; o < e; ++o) {
      body(p, inner_stride, inner);
      for (int64_t d = nd - 2; d >= 0; --d) {  // odometer step
        for (size_t k = 0; k < N; ++k) p[k] += g.stride[k][d];
        if (++idx[d] < g.shape[d]) break;
        for (size_t k = 0; k < N; ++k) p[k] -= g.stride[k][d] * g.shape[d];
        idx[d] = 0;
      }
    }
  });
}

// out[i] = f(a[i]) over strided operands.
template <class TO, class TA, class F>
void map1(const std::vector<int64_t>& shape, TO* out, const int64_t* so, const TA* a,
          const int64_t* sa, F f) {
  strided_loop<2>(shape, {so, sa}, {(char*)out, (char*)a}, {sizeof(TO), sizeof(TA)},
                  [&](std::array<char*, 2> p, std::array<int64_t, 2> s, int64_t n) {
                    TO* o = (TO*)p[0];
                    const TA* x = (const TA*)p[1];
                    if (s[0] == sizeof(TO) && s[1] == sizeof(TA)) {
                      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i]);
                    } else {
                      for (int64_t i = 0; i < n; ++i)
                        *(TO*)(p[0] + i * s[0]) = f(*(const TA*)(p[1] + i * s[1]));
                    }
                  });
}

// out[i] = f(a[i], b[i]) over strided operands.
template <class TO, class TA, class TB, class F>
void map2(const std::vector<int64_t>& shape, TO* out, const int64_t* so, const TA* a,
          const int64_t* sa, const TB* b, const int64_t* sb, F f) {
  strided_loop<3>(
      shape, {so, sa, sb}, {(char*)out, (char*)a, (char*)b}, {sizeof(TO), sizeof(TA), sizeof(TB)},
      [&](std::array<char*, 3> p, std::array<int64_t, 3> s, int64_t n) {
        TO* o = (TO*)p[0];
        const TA* x = (const TA*)p[1];
        const TB* y = (const TB*)p[2];
        if (s[0] == sizeof(TO) && s[1] == sizeof(TA) && s[2] == sizeof(TB)) {
          for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
        } else if (s[0] == sizeof(TO) && s[1] == sizeof(TA) && s[2] == 0) {
          const TB yv = *y;
          for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], yv);
        } else if (s[0] == sizeof(TO) && s[1] == 0 && s[2] == sizeof(TB)) {
          const TA xv = *x;
          for (int64_t i = 0; i < n; ++i) o[i] = f(xv, y[i]);
        } else {
          for (int64_t i = 0; i < n; ++i)
            *(TO*)(p[0] + i * s[0]) =
                f(*(const TA*)(p[1] + i * s[1]), *(const TB*)(p[2] + i * s[2]));
        }
      });
}

// out[i] = f(a[i], b[i], c[i]) over strided operands.
template <class TO, class TA, class TB, class TC, class F>
void map3(const std::vector<int64_t>& shape, TO* out, const int64_t* so, const TA* a,
          const int64_t* sa, const TB* b, const int64_t* sb, const TC* c, const int64_t* sc, F f) {
  strided_loop<4>(shape, {so, sa, sb, sc}, {(char*)out, (char*)a, (char*)b, (char*)c},
                  {sizeof(TO), sizeof(TA), sizeof(TB), sizeof(TC)},
                  [&](std::array<char*, 4> p, std::array<int64_t, 4> s, int64_t n) {
                    for (int64_t i = 0; i < n; ++i)
                      *(TO*)(p[0] + i * s[0]) = f(*(const TA*)(p[1] + i * s[1]),
                                                  *(const TB*)(p[2] + i * s[2]),
                                                  *(const TC*)(p[3] + i * s[3]));
                  });
}

}  // namespace tg::kernels
