#pragma once
// Reductions over any set of dims of a strided tensor. The plan splits the dims into
// kept dims (one output each) and reduced dims; for every output the reduced block is
// walked as inner runs, so a reduction over the innermost contiguous dim is a plain loop.
#include <cstdint>
#include <vector>

#include "core/parallel.h"

namespace tg::kernels {

struct ReducePlan {
  std::vector<int64_t> kept_shape, kept_strides;  // element strides of the input
  std::vector<int64_t> red_shape, red_strides;    // innermost last
  int64_t n_out = 1, n_red = 1;
};

// dims must be sorted, unique and in range.
inline ReducePlan make_plan(const std::vector<int64_t>& shape, const std::vector<int64_t>& strides,
                            const std::vector<int64_t>& dims) {
  ReducePlan p;
  std::vector<bool> red(shape.size(), false);
  for (int64_t d : dims) red[d] = true;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (red[d]) {
      p.red_shape.push_back(shape[d]);
      p.red_strides.push_back(strides[d]);
      p.n_red *= shape[d];
    } else {
      p.kept_shape.push_back(shape[d]);
      p.kept_strides.push_back(strides[d]);
      p.n_out *= shape[d];
    }
  }
  // Walk the reduced block with its smallest stride innermost.
  if (p.red_shape.size() > 1) {
    std::vector<size_t> order(p.red_shape.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
      return std::abs(p.red_strides[x]) > std::abs(p.red_strides[y]);
    });
    std::vector<int64_t> s, st;
    for (size_t i : order) s.push_back(p.red_shape[i]), st.push_back(p.red_strides[i]);
    p.red_shape = s, p.red_strides = st;
  }
  return p;
}

// Offset (in elements) of output `o`'s reduced block.
inline int64_t kept_offset(const ReducePlan& p, int64_t o) {
  int64_t off = 0;
  for (int64_t d = (int64_t)p.kept_shape.size() - 1; d >= 0; --d) {
    off += (o % p.kept_shape[d]) * p.kept_strides[d];
    o /= p.kept_shape[d];
  }
  return off;
}

// Calls run(ptr, n, stride, flat_index_of_first) for each inner run of output o's block;
// flat_index is the position in the reduced block in row-major order of red_shape.
template <class T, class Run>
void for_each_run(const ReducePlan& p, const T* base, Run&& run) {
  const int64_t nd = (int64_t)p.red_shape.size();
  if (nd == 0) { run(base, int64_t(1), int64_t(0), int64_t(0)); return; }
  const int64_t inner = p.red_shape[nd - 1], is = p.red_strides[nd - 1];
  if (p.n_red == 0) return;
  std::vector<int64_t> idx(nd, 0);
  const T* ptr = base;
  for (int64_t start = 0; start < p.n_red; start += inner) {
    run(ptr, inner, is, start);
    for (int64_t d = nd - 2; d >= 0; --d) {
      ptr += p.red_strides[d];
      if (++idx[d] < p.red_shape[d]) break;
      ptr -= p.red_strides[d] * p.red_shape[d];
      idx[d] = 0;
    }
  }
}

// out[o] = finish(fold of the block of o) for every output, in parallel over outputs.
template <class T, class TO, class Acc, class Step, class Finish>
void reduce(const ReducePlan& p, const T* base, TO* out, Acc init, Step step, Finish finish) {
  parallel_for(p.n_out, p.n_red, [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      Acc acc = init;
      for_each_run(p, base + kept_offset(p, o), [&](const T* x, int64_t n, int64_t s, int64_t) {
        if (s == 1)
          for (int64_t i = 0; i < n; ++i) acc = step(acc, x[i]);
        else
          for (int64_t i = 0; i < n; ++i) acc = step(acc, x[i * s]);
      });
      out[o] = finish(acc);
    }
  });
}

}  // namespace tg::kernels
