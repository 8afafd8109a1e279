#pragma once
// Reductions over any set of dims of a strided tensor.
//
// The plan coalesces dims (drops size-1 dims, merges neighbours that are contiguous with
// each other) and splits them into kept dims (one output each, in output order) and
// reduced dims (walked largest stride first, so the innermost run has the smallest
// stride). Then one of two layouts runs:
//  - rows: the innermost kept dim is contiguous in the input and the reduced dims are not
//    (sum over dim 0 of a [N, C] matrix: the bias gradient). Whole rows of outputs are
//    accumulated at once, a vectorizable loop, instead of walking each column.
//  - runs: every output folds its reduced block run by run; contiguous runs go through
//    several independent accumulators (vectorizable, and pairwise-like accuracy).
// A reduced block longer than kRedChunk is cut into fixed chunks whose partial results
// are combined in chunk order: big full reductions run in parallel, and the result
// depends only on the shapes, never on the thread count.
//
// An Op says how to fold (see reduce_ops.h):
//   using Acc;  Acc init();  Acc step(Acc, T x, int64_t o);  Acc combine(Acc, Acc);
//   void write(int64_t o, Acc)      (o: the flat output index)
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <type_traits>
#include <vector>

#include "core/parallel.h"
#include "kernels/vec_unary.h"

namespace tg::kernels {

constexpr int64_t kRedChunk = 1 << 14;  // reduced positions per task
constexpr int64_t kRowBlock = 1024;     // max outputs per task in the rows layout (fits L1)
constexpr int kLanes = 8;               // independent accumulators for contiguous runs

struct ReducePlan {
  std::vector<int64_t> kept_shape, kept_strides;  // output order, coalesced
  std::vector<int64_t> red_shape, red_strides;    // largest |stride| first, coalesced
  int64_t n_out = 1, n_red = 1;

  // The rows layout applies: outputs are contiguous along the innermost kept dim.
  bool rows() const {
    return !kept_shape.empty() && kept_strides.back() == 1 &&
           (red_shape.empty() || red_strides.back() != 1);
  }
};

// dims must be sorted, unique and in range.
inline ReducePlan make_plan(const std::vector<int64_t>& shape, const std::vector<int64_t>& strides,
                            const std::vector<int64_t>& dims) {
  ReducePlan p;
  std::vector<bool> red(shape.size(), false);
  for (int64_t d : dims) red[d] = true;
  std::vector<std::pair<int64_t, int64_t>> rd;  // (stride, size)
  for (size_t d = 0; d < shape.size(); ++d) {
    if (red[d]) {
      p.n_red *= shape[d];
      if (shape[d] != 1) rd.push_back({strides[d], shape[d]});
      continue;
    }
    p.n_out *= shape[d];
    if (shape[d] == 1) continue;
    if (!p.kept_shape.empty() && p.kept_strides.back() == strides[d] * shape[d]) {
      p.kept_shape.back() *= shape[d];
      p.kept_strides.back() = strides[d];
    } else {
      p.kept_shape.push_back(shape[d]);
      p.kept_strides.push_back(strides[d]);
    }
  }
  if (p.n_red == 0 || p.n_out == 0) return p;  // nothing to walk
  std::stable_sort(rd.begin(), rd.end(), [](auto& x, auto& y) {
    return std::abs(x.first) > std::abs(y.first);
  });
  for (auto& [st, sz] : rd) {
    if (!p.red_shape.empty() && p.red_strides.back() == st * sz) {
      p.red_shape.back() *= sz;
      p.red_strides.back() = st;
    } else {
      p.red_shape.push_back(sz);
      p.red_strides.push_back(st);
    }
  }
  return p;
}

// Input offset (in elements) of position `o` of the first `nd` kept dims.
inline int64_t kept_offset(const ReducePlan& p, int64_t o, size_t nd) {
  int64_t off = 0;
  for (int64_t d = (int64_t)nd - 1; d >= 0; --d) {
    off += (o % p.kept_shape[d]) * p.kept_strides[d];
    o /= p.kept_shape[d];
  }
  return off;
}

// Calls run(ptr, n, stride) for the inner runs covering positions [begin, end) of the
// reduced block (row-major over red_shape).
template <class T, class Run>
void walk_reduced(const ReducePlan& p, const T* base, int64_t begin, int64_t end, Run&& run) {
  if (begin >= end) return;
  const int64_t nd = (int64_t)p.red_shape.size();
  if (nd == 0) { run(base, int64_t(1), int64_t(0)); return; }
  const int64_t inner = p.red_shape[nd - 1], is = p.red_strides[nd - 1];
  if (nd == 1) { run(base + begin * is, end - begin, is); return; }
  int64_t stack_idx[16];
  std::vector<int64_t> heap_idx;
  int64_t* idx = nd <= 16 ? stack_idx : (heap_idx.resize(nd), heap_idx.data());
  int64_t rem = begin / inner, i0 = begin % inner;
  const T* ptr = base;
  for (int64_t d = nd - 2; d >= 0; --d) {
    idx[d] = rem % p.red_shape[d];
    rem /= p.red_shape[d];
    ptr += idx[d] * p.red_strides[d];
  }
  for (int64_t pos = begin; pos < end;) {
    int64_t n = std::min(inner - i0, end - pos);
    run(ptr + i0 * is, n, is);
    pos += n;
    i0 = 0;
    for (int64_t d = nd - 2; d >= 0; --d) {  // odometer step
      ptr += p.red_strides[d];
      if (++idx[d] < p.red_shape[d]) break;
      ptr -= p.red_strides[d] * p.red_shape[d];
      idx[d] = 0;
    }
  }
}

// An Op with `static constexpr bool kVecSum = true` is a plain float sum: contiguous runs
// go through the SIMD sum.
template <class Op, class = void>
struct is_vec_sum : std::false_type {};
template <class Op>
struct is_vec_sum<Op, std::void_t<decltype(Op::kVecSum)>> : std::bool_constant<Op::kVecSum> {};

// Folds n elements spaced by `stride` into acc.
template <class T, class Op>
typename Op::Acc fold_run(const Op& op, typename Op::Acc acc, const T* x, int64_t n,
                          int64_t stride, int64_t o) {
  using Acc = typename Op::Acc;
  if constexpr (is_vec_sum<Op>::value)
    if (stride == 1) return op.combine(acc, vec_sum(x, n));
  if (stride == 1 && n >= 2 * kLanes) {
    Acc l[kLanes];
    for (int k = 0; k < kLanes; ++k) l[k] = op.init();
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes) {
      // Kept as a loop so that GCC vectorizes it across the lanes; fully unrolled it
      // stays scalar (and branchy for max/min).
#pragma GCC unroll 1
      for (int k = 0; k < kLanes; ++k) l[k] = op.step(l[k], x[i + k], o);
    }
    for (int w = kLanes / 2; w >= 1; w /= 2)
      for (int k = 0; k < w; ++k) l[k] = op.combine(l[k], l[k + w]);
    acc = op.combine(acc, l[0]);
    for (; i < n; ++i) acc = op.step(acc, x[i], o);
  } else {
    for (int64_t i = 0; i < n; ++i) acc = op.step(acc, x[i * stride], o);
  }
  return acc;
}

// op.write(o, fold of output o's block) for every output.
template <class T, class Op>
void reduce(const ReducePlan& p, const T* x, const Op& op) {
  using Acc = typename Op::Acc;
  if (p.n_out == 0) return;
  const int64_t nchunks = std::max<int64_t>(1, (p.n_red + kRedChunk - 1) / kRedChunk);
  auto chunk_end = [&](int64_t c) { return std::min(p.n_red, (c + 1) * kRedChunk); };
  // Partial results, [n_out][nchunks], only when blocks are chunked.
  std::unique_ptr<Acc[]> part(nchunks > 1 ? new Acc[p.n_out * nchunks] : nullptr);

  if (p.rows()) {
    const int64_t K = p.kept_shape.back(), groups = p.n_out / K;
    // Narrower column blocks when there would be fewer tasks than threads. Columns are
    // independent, so this does not change any result.
    const int64_t nt = get_num_threads();
    const int64_t bw = groups * nchunks >= nt ? kRowBlock
                                              : std::clamp<int64_t>((K + nt - 1) / nt, 64, kRowBlock);
    const int64_t nblk = (K + bw - 1) / bw, ntasks = groups * nblk * nchunks;
    parallel_for(ntasks, bw * std::min(p.n_red, kRedChunk), [&](int64_t b, int64_t e) {
      Acc acc[kRowBlock];
      for (int64_t t = b; t < e; ++t) {
        const int64_t c = t % nchunks, blk = (t / nchunks) % nblk, g = t / nchunks / nblk;
        const int64_t j0 = blk * bw, jn = std::min(bw, K - j0), o0 = g * K + j0;
        const T* base = x + kept_offset(p, g, p.kept_shape.size() - 1) + j0;
        for (int64_t j = 0; j < jn; ++j) acc[j] = op.init();
        walk_reduced(p, base, c * kRedChunk, chunk_end(c), [&](const T* r, int64_t n, int64_t s) {
          for (int64_t i = 0; i < n; ++i, r += s)
            for (int64_t j = 0; j < jn; ++j) acc[j] = op.step(acc[j], r[j], o0 + j);
        });
        if (nchunks == 1) {
          for (int64_t j = 0; j < jn; ++j) op.write(o0 + j, acc[j]);
        } else {
          for (int64_t j = 0; j < jn; ++j) part[(o0 + j) * nchunks + c] = acc[j];
        }
      }
    });
  } else {
    parallel_for(p.n_out * nchunks, std::min(p.n_red, kRedChunk), [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        const int64_t o = t / nchunks, c = t % nchunks;
        Acc acc = op.init();
        walk_reduced(p, x + kept_offset(p, o, p.kept_shape.size()), c * kRedChunk, chunk_end(c),
                     [&](const T* r, int64_t n, int64_t s) { acc = fold_run(op, acc, r, n, s, o); });
        if (nchunks == 1) op.write(o, acc);
        else part[t] = acc;
      }
    });
  }
  if (nchunks > 1) {
    for (int64_t o = 0; o < p.n_out; ++o) {
      Acc acc = part[o * nchunks];
      for (int64_t c = 1; c < nchunks; ++c) acc = op.combine(acc, part[o * nchunks + c]);
      op.write(o, acc);
    }
  }
}

}  // namespace tg::kernels
