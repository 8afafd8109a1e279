#pragma once
// Padding as a gather through per-dimension index maps: every padding mode (constant,
// reflect, replicate, circular) and negative pads (crops) only differ in which input
// position each output position reads, so one forward (gather) and one backward
// (scatter-add) serve them all. No autograd, no allocation of tensors.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/parallel.h"

namespace tg::kernels {

enum PadMode : int64_t { kPadConstant = 0, kPadReflect = 1, kPadReplicate = 2, kPadCircular = 3 };

// The input position that output position `j` reads along one dimension of size `n`
// padded by `before` (negative: cropped), or -1 for the fill value. The caller has checked
// the mode's limits: reflect pads are below n (one reflection suffices), circular pads at
// most the cropped size m (one wrap suffices).
inline int64_t pad_source(int64_t mode, int64_t j, int64_t n, int64_t before, int64_t after) {
  const int64_t x = j - before;  // position in input coordinates
  switch (mode) {
    case kPadReflect:
      return x < 0 ? -x : x >= n ? 2 * (n - 1) - x : x;
    case kPadReplicate:
      return std::clamp<int64_t>(x, 0, n - 1);
    case kPadCircular: {
      // PyTorch wraps around the cropped input [lo, hi), not around the whole input
      const int64_t lo = std::max<int64_t>(-before, 0), hi = n - std::max<int64_t>(-after, 0);
      const int64_t m = hi - lo;
      return lo + (((x - lo) % m) + m) % m;
    }
    default:
      return x >= 0 && x < n ? x : -1;
  }
}

// Geometry of one pad: `planes` leading positions that are not padded, then k >= 1 padded
// dims with input sizes `in` and output sizes `out` (contiguous, row-major). maps[d] holds
// out[d] source positions (pad_source) for padded dim d.
struct PadPlan {
  int64_t planes = 0;
  std::vector<int64_t> in, out;
  std::vector<std::vector<int64_t>> maps;
  bool injective = false;  // no two outputs read one input (constant mode): rows never collide

  int64_t in_plane() const { return product(in); }
  int64_t out_plane() const { return product(out); }
  int64_t row_len() const { return out.back(); }
  int64_t rows_per_plane() const { return out_plane() / std::max<int64_t>(row_len(), 1); }
  static int64_t product(const std::vector<int64_t>& v) {  // 0 before any overflow
    if (std::find(v.begin(), v.end(), 0) != v.end()) return 0;
    int64_t p = 1;
    for (int64_t s : v) p *= s;
    return p;
  }
  // Offset, within an input plane, of the input row that output row `r` (an index into the
  // plane's rows) reads; -1 when any padded dim before the last maps to the fill value.
  int64_t source_row(int64_t r) const {
    const int64_t k = (int64_t)out.size();
    int64_t off = 0, stride = in.back();
    for (int64_t d = k - 2; d >= 0; --d) {
      const int64_t o = r % out[d];
      r /= out[d];
      const int64_t s = maps[d][o];
      if (s < 0) return -1;
      off += s * stride;
      stride *= in[d];
    }
    return off;
  }
};

// out = pad(in): each output row is gathered from its source row (or filled).
template <class T>
void pad_forward(const T* in, T* out, const PadPlan& p, T value) {
  const int64_t rows = p.rows_per_plane(), len = p.row_len(), in_plane = p.in_plane();
  const int64_t* last = p.maps.back().data();
  parallel_for(p.planes * rows, len, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      T* dst = out + i * len;
      const int64_t src_row = p.source_row(i % rows);
      if (src_row < 0) {
        std::fill(dst, dst + len, value);
        continue;
      }
      const T* src = in + (i / rows) * in_plane + src_row;
      for (int64_t j = 0; j < len; ++j) dst[j] = last[j] < 0 ? value : src[last[j]];
    }
  });
}

// grad_in (zeroed here) = the sum, over the outputs that read each input, of grad_out.
// Outputs of different planes never share an input, so planes run in parallel; within a
// plane rows run in parallel only when no two of them read one input row.
template <class T>
void pad_backward(const T* grad_out, T* grad_in, const PadPlan& p) {
  const int64_t rows = p.rows_per_plane(), len = p.row_len(), in_plane = p.in_plane();
  const int64_t out_plane = p.out_plane();
  const int64_t* last = p.maps.back().data();
  std::fill(grad_in, grad_in + p.planes * in_plane, T(0));
  auto row = [&](int64_t plane, int64_t r) {
    const int64_t src_row = p.source_row(r);
    if (src_row < 0) return;
    T* dst = grad_in + plane * in_plane + src_row;
    const T* g = grad_out + plane * out_plane + r * len;
    for (int64_t j = 0; j < len; ++j)
      if (last[j] >= 0) dst[last[j]] += g[j];
  };
  if (p.injective) {
    parallel_for(p.planes * rows, len, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) row(i / rows, i % rows);
    });
    return;
  }
  parallel_for(p.planes, out_plane, [&](int64_t b, int64_t e) {
    for (int64_t plane = b; plane < e; ++plane)
      for (int64_t r = 0; r < rows; ++r) row(plane, r);
  });
}

}  // namespace tg::kernels
