#pragma once
// Pooling kernels on contiguous planes (N*C planes of H x W; 1-d pooling runs here with
// H = 1): max pooling with the argmax of each window, average pooling, adaptive average
// and adaptive max pooling, forward and backward. No autograd.
//
// Argmaxes are flat indices into the input plane (h * W + w), int64, as PyTorch's
// return_indices. Windows are visited row by row, a value replaces the running max when
// it is greater or NaN: ties keep the first maximum, a NaN wins (the last NaN of the
// window), PyTorch's order. Planes never share an output element (forward) or an input
// element (backward), so every kernel runs over planes in parallel without atomics.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "core/parallel.h"

namespace tg::kernels {

struct PoolGeom {
  int64_t planes = 0, H = 0, W = 0, OH = 0, OW = 0;
  int64_t kH = 1, kW = 1, sH = 1, sW = 1, pH = 0, pW = 0, dH = 1, dW = 1;
  int64_t in_plane() const { return H * W; }
  int64_t out_plane() const { return OH * OW; }
};

namespace pool_detail {

// Work per plane for parallel_for: outputs times the elements a window visits (the kernel
// clipped to the plane). Capped far below overflow so that callers may add to it.
inline int64_t plane_cost(const PoolGeom& g) {
  using parallel_detail::saturating_mul;
  const int64_t c = saturating_mul(saturating_mul(g.out_plane(), std::min(g.kH, g.H)), std::min(g.kW, g.W));
  return std::clamp<int64_t>(c, 1, INT64_MAX / 4);
}

template <class T>
inline bool replaces(T v, T best) {
  return v > best || std::isnan(v);
}

// The window's first valid row/column and its end: PyTorch clips the start forward by
// whole dilation steps. A window that lies entirely in the padding (possible only with
// dilation) ends up empty; PyTorch then reports -inf and the clipped start as its index,
// which is outside the plane; we do the same and the backward skips such indices.
inline void max_window(int64_t o, int64_t s, int64_t p, int64_t k, int64_t d, int64_t n, int64_t& lo,
                       int64_t& hi) {
  lo = o * s - p;
  hi = std::min(lo + (k - 1) * d + 1, n);
  if (lo < 0) lo += (-lo + d - 1) / d * d;
}

template <class T, bool kIdx>
void max_plane(const PoolGeom& geom, const T* x, T* y, int64_t* idx) {
  const PoolGeom g = geom;  // a local copy: idx's stores cannot alias it
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    int64_t h0, h1;
    max_window(oh, g.sH, g.pH, g.kH, g.dH, g.H, h0, h1);
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      int64_t w0, w1;
      max_window(ow, g.sW, g.pW, g.kW, g.dW, g.W, w0, w1);
      T best = -std::numeric_limits<T>::infinity();
      int64_t at = h0 * g.W + w0;
      for (int64_t h = h0; h < h1; h += g.dH) {
        const T* row = x + h * g.W;
        for (int64_t w = w0; w < w1; w += g.dW) {
          if (replaces(row[w], best)) best = row[w], at = h * g.W + w;
        }
      }
      y[oh * g.OW + ow] = best;
      if constexpr (kIdx) idx[oh * g.OW + ow] = at;
    }
  }
}

// kernel 2, stride 2, no padding, no dilation: the CNN's pooling layer, in the same order
// as max_plane. Which of the four wins is unpredictable on real data, so the winner is
// found without branches (a mispredicted branch per output cost 15x the arithmetic): the
// plain max of the four, then the first element equal to it, or the last NaN if any.
template <class T, bool kIdx>
void max_plane_2x2(const PoolGeom& g, const T* x, T* y, int64_t* idx) {
  // the sizes in locals: idx's stores could alias g's int64 fields and force reloads
  const int64_t W = g.W, OH = g.OH, OW = g.OW;
  for (int64_t oh = 0; oh < OH; ++oh) {
    const T* r0 = x + 2 * oh * W;
    const T* r1 = r0 + W;
    T* yr = y + oh * OW;
    if constexpr (!kIdx) {
      for (int64_t ow = 0; ow < OW; ++ow) {
        const int64_t w = 2 * ow;
        T best = r0[w];
        if (replaces(r0[w + 1], best)) best = r0[w + 1];
        if (replaces(r1[w], best)) best = r1[w];
        if (replaces(r1[w + 1], best)) best = r1[w + 1];
        yr[ow] = best;
      }
    } else {
      int64_t* ir = idx + oh * OW;
      for (int64_t ow = 0; ow < OW; ++ow) {
        const int64_t w = 2 * ow;
        const T v[4] = {r0[w], r0[w + 1], r1[w], r1[w + 1]};
        T m = v[0];
        m = v[1] > m ? v[1] : m;
        m = v[2] > m ? v[2] : m;
        m = v[3] > m ? v[3] : m;
        const unsigned eq = unsigned(v[0] == m) | unsigned(v[1] == m) << 1 | unsigned(v[2] == m) << 2 |
                            unsigned(v[3] == m) << 3;
        const unsigned nan = unsigned(v[0] != v[0]) | unsigned(v[1] != v[1]) << 1 |
                             unsigned(v[2] != v[2]) << 2 | unsigned(v[3] != v[3]) << 3;
        // (| 16, | 1: never zero, so both builtins are defined; the unused one is discarded)
        const int k = nan ? 31 - __builtin_clz(nan | 1u) : __builtin_ctz(eq | 16u);
        yr[ow] = v[k];
        ir[ow] = (2 * oh + (k >> 1)) * W + w + (k & 1);
      }
    }
  }
}

// PyTorch's adaptive window of output o: [floor(o * in / out), ceil((o + 1) * in / out)).
inline int64_t adaptive_start(int64_t o, int64_t out, int64_t in) { return (o * in) / out; }
inline int64_t adaptive_end(int64_t o, int64_t out, int64_t in) { return ((o + 1) * in + out - 1) / out; }

// Avg pooling's window of output o, clipped to the input, and its divisor (PyTorch's rule:
// the window counts the padding it covers, not what lies beyond it).
struct AvgWindow {
  int64_t lo, hi, size_with_pad;
};
inline AvgWindow avg_window(int64_t o, int64_t s, int64_t p, int64_t k, int64_t n) {
  int64_t lo = o * s - p, hi = std::min(lo + k, n + p);
  const int64_t size = hi - lo;
  return {std::max<int64_t>(lo, 0), std::min(hi, n), size};
}

}  // namespace pool_detail

// y (and idx, when not null) [planes, OH, OW] = window max of x [planes, H, W].
template <class T>
void max_pool2d_forward(const PoolGeom& g, const T* x, T* y, int64_t* idx) {
  using namespace pool_detail;
  const bool two = g.kH == 2 && g.kW == 2 && g.sH == 2 && g.sW == 2 && g.pH == 0 && g.pW == 0 &&
                   g.dH == 1 && g.dW == 1 && 2 * g.OH <= g.H && 2 * g.OW <= g.W;  // ceil_mode: a partial last window
  const int64_t cost = plane_cost(g);
  parallel_for(g.planes, cost, [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      const T* xp = x + p * g.in_plane();
      T* yp = y + p * g.out_plane();
      int64_t* ip = idx ? idx + p * g.out_plane() : nullptr;
      if (two) {
        if (ip) max_plane_2x2<T, true>(g, xp, yp, ip);
        else max_plane_2x2<T, false>(g, xp, yp, nullptr);
      } else {
        if (ip) max_plane<T, true>(g, xp, yp, ip);
        else max_plane<T, false>(g, xp, yp, nullptr);
      }
    }
  });
}

// gx [planes, in_plane] = 0, then gx[idx] += gy for each output: the backward of max and
// adaptive max pooling. Indices outside the plane (empty windows) receive nothing.
template <class T>
void max_pool_backward(int64_t planes, int64_t in_plane, int64_t out_plane, const T* gy,
                       const int64_t* idx, T* gx) {
  parallel_for(planes, std::max<int64_t>(1, in_plane + out_plane), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      T* gp = gx + p * in_plane;
      const T* gyp = gy + p * out_plane;
      const int64_t* ip = idx + p * out_plane;
      std::fill(gp, gp + in_plane, T(0));
      for (int64_t o = 0; o < out_plane; ++o) {
        const int64_t i = ip[o];
        if (i >= 0 && i < in_plane) gp[i] += gyp[o];
      }
    }
  });
}

// Average of each window; the divisor is divisor_override when > 0, else the window size
// with (count_include_pad) or without the padding it covers. Summed in T, as PyTorch does.
template <class T>
void avg_pool2d_forward(const PoolGeom& g, bool count_include_pad, int64_t divisor_override,
                        const T* x, T* y) {
  using namespace pool_detail;
  const int64_t cost = plane_cost(g);
  parallel_for(g.planes, cost, [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      const T* xp = x + p * g.in_plane();
      T* yp = y + p * g.out_plane();
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        const AvgWindow wh = avg_window(oh, g.sH, g.pH, g.kH, g.H);
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const AvgWindow ww = avg_window(ow, g.sW, g.pW, g.kW, g.W);
          T& out = yp[oh * g.OW + ow];
          if (wh.lo >= wh.hi || ww.lo >= ww.hi) {
            out = T(0);
            continue;
          }
          T sum = 0;
          for (int64_t h = wh.lo; h < wh.hi; ++h)
            for (int64_t w = ww.lo; w < ww.hi; ++w) sum += xp[h * g.W + w];
          const int64_t div = divisor_override ? divisor_override
                              : count_include_pad ? wh.size_with_pad * ww.size_with_pad
                                                  : (wh.hi - wh.lo) * (ww.hi - ww.lo);
          out = T(sum / T(div));
        }
      }
    }
  });
}

template <class T>
void avg_pool2d_backward(const PoolGeom& g, bool count_include_pad, int64_t divisor_override,
                         const T* gy, T* gx) {
  using namespace pool_detail;
  const int64_t cost = plane_cost(g) + g.in_plane();
  parallel_for(g.planes, cost, [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      T* gp = gx + p * g.in_plane();
      const T* gyp = gy + p * g.out_plane();
      std::fill(gp, gp + g.in_plane(), T(0));
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        const AvgWindow wh = avg_window(oh, g.sH, g.pH, g.kH, g.H);
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const AvgWindow ww = avg_window(ow, g.sW, g.pW, g.kW, g.W);
          if (wh.lo >= wh.hi || ww.lo >= ww.hi) continue;
          const int64_t div = divisor_override ? divisor_override
                              : count_include_pad ? wh.size_with_pad * ww.size_with_pad
                                                  : (wh.hi - wh.lo) * (ww.hi - ww.lo);
          const T d = gyp[oh * g.OW + ow] / T(div);
          for (int64_t h = wh.lo; h < wh.hi; ++h)
            for (int64_t w = ww.lo; w < ww.hi; ++w) gp[h * g.W + w] += d;
        }
      }
    }
  });
}

// Adaptive pooling: g.OH x g.OW windows that tile H x W (kernel/stride/padding unused).
// Each output is its window's sum divided by the window's height, then by its width (two
// divisions, PyTorch's rounding).
template <class T>
void adaptive_avg_pool2d_forward(const PoolGeom& g, const T* x, T* y) {
  using namespace pool_detail;
  parallel_for(g.planes, std::max<int64_t>(1, g.in_plane() + g.out_plane()), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      const T* xp = x + p * g.in_plane();
      T* yp = y + p * g.out_plane();
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        const int64_t h0 = adaptive_start(oh, g.OH, g.H), h1 = adaptive_end(oh, g.OH, g.H);
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const int64_t w0 = adaptive_start(ow, g.OW, g.W), w1 = adaptive_end(ow, g.OW, g.W);
          T sum = 0;
          for (int64_t h = h0; h < h1; ++h)
            for (int64_t w = w0; w < w1; ++w) sum += xp[h * g.W + w];
          yp[oh * g.OW + ow] = sum / T(h1 - h0) / T(w1 - w0);
        }
      }
    }
  });
}

template <class T>
void adaptive_avg_pool2d_backward(const PoolGeom& g, const T* gy, T* gx) {
  using namespace pool_detail;
  parallel_for(g.planes, std::max<int64_t>(1, 2 * g.in_plane() + g.out_plane()), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      T* gp = gx + p * g.in_plane();
      const T* gyp = gy + p * g.out_plane();
      std::fill(gp, gp + g.in_plane(), T(0));
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        const int64_t h0 = adaptive_start(oh, g.OH, g.H), h1 = adaptive_end(oh, g.OH, g.H);
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const int64_t w0 = adaptive_start(ow, g.OW, g.W), w1 = adaptive_end(ow, g.OW, g.W);
          const T d = gyp[oh * g.OW + ow] / T(h1 - h0) / T(w1 - w0);
          for (int64_t h = h0; h < h1; ++h)
            for (int64_t w = w0; w < w1; ++w) gp[h * g.W + w] += d;
        }
      }
    }
  });
}

template <class T>
void adaptive_max_pool2d_forward(const PoolGeom& g, const T* x, T* y, int64_t* idx) {
  using namespace pool_detail;
  parallel_for(g.planes, std::max<int64_t>(1, g.in_plane() + g.out_plane()), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      const T* xp = x + p * g.in_plane();
      T* yp = y + p * g.out_plane();
      int64_t* ip = idx + p * g.out_plane();
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        const int64_t h0 = adaptive_start(oh, g.OH, g.H), h1 = adaptive_end(oh, g.OH, g.H);
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const int64_t w0 = adaptive_start(ow, g.OW, g.W), w1 = adaptive_end(ow, g.OW, g.W);
          T best = -std::numeric_limits<T>::infinity();
          int64_t at = h0 * g.W + w0;
          for (int64_t h = h0; h < h1; ++h)
            for (int64_t w = w0; w < w1; ++w)
              if (replaces(xp[h * g.W + w], best)) best = xp[h * g.W + w], at = h * g.W + w;
          yp[oh * g.OW + ow] = best;
          ip[oh * g.OW + ow] = at;
        }
      }
    }
  });
}

}  // namespace tg::kernels
