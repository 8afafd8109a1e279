#pragma once
// Upsampling (F.interpolate) of [planes, spatial...] buffers. Nearest modes are a gather
// through one index map per spatial dim, the same kernel as padding (kernels/pad.h);
// linear modes blend two taps per dim. Source positions follow PyTorch's formulas
// (ATen's UpSample.h) in PyTorch's precision, so results match it to rounding.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/parallel.h"
#include "kernels/pad.h"

namespace tg::kernels {

// The ratio input/output of one dim: 1/scale when the caller passed a scale factor
// (scale > 0), else in/out; in T's precision (PyTorch computes it in float for the nearest
// modes, in the op's math type for the linear ones).
template <class T>
T upsample_ratio(int64_t in, int64_t out, double scale) {
  return scale > 0 ? T(1.0 / scale) : T(in) / T(out);
}

// Source index of each output position along one dim. 'nearest' is floor(o * ratio)
// (OpenCV's INTER_NEAREST, kept by PyTorch); 'nearest-exact' floor((o + 0.5) * ratio), the
// pixel centres (Pillow, scipy). Both in float, as PyTorch. With `shortcuts` equal sizes
// copy and doubled sizes take o / 2 whatever the scale factor: PyTorch's 2-d nearest
// kernel still does (its 1-d and 3-d ones use the scale), e.g. 2 -> 2 by scale 1.2 reads
// (0, 1) in 2-d and (0, 0) in 1-d.
inline std::vector<int64_t> nearest_map(int64_t in, int64_t out, double scale, bool exact,
                                        bool shortcuts) {
  const float r = upsample_ratio<float>(in, out, scale);
  std::vector<int64_t> map(out);
  for (int64_t o = 0; o < out; ++o) {
    if (shortcuts && (out == in || out == 2 * in)) {
      map[o] = out == in ? o : o >> 1;
      continue;
    }
    const float src = exact ? float((double(o) + 0.5) * r) : float(o) * r;
    map[o] = std::min<int64_t>(int64_t(std::floor(src)), in - 1);
  }
  return map;
}

// Nearest upsampling as a padding plan: no output falls outside the input.
inline PadPlan nearest_plan(int64_t planes, const std::vector<int64_t>& in,
                            const std::vector<int64_t>& out, const std::vector<double>& scales,
                            bool exact) {
  PadPlan p;
  p.planes = planes;
  p.in = in;
  p.out = out;
  const bool shortcuts = !exact && in.size() == 2;
  for (size_t d = 0; d < in.size(); ++d)
    p.maps.push_back(nearest_map(in[d], out[d], scales[d], exact, shortcuts));
  return p;
}

// Two taps per output position along one dim: out[o] = w0[o] x[i0[o]] + w1[o] x[i1[o]].
template <class T>
struct LinearTaps {
  std::vector<int64_t> i0, i1;
  std::vector<T> w0, w1;
};

// PyTorch's linear source positions: with align_corners the corner pixels' centres line
// up (ratio (in-1)/(out-1), position o * ratio); without, the pixel areas do (position
// (o + 0.5) * ratio - 0.5, clamped at 0). Equal sizes copy, whatever the scale.
template <class T>
LinearTaps<T> linear_taps(int64_t in, int64_t out, bool align_corners, double scale) {
  LinearTaps<T> t;
  t.i0.resize(out), t.i1.resize(out), t.w0.resize(out), t.w1.resize(out);
  const T ratio = align_corners ? (out > 1 ? T(in - 1) / T(out - 1) : T(0))
                                : upsample_ratio<T>(in, out, scale);
  for (int64_t o = 0; o < out; ++o) {
    if (in == out) {
      t.i0[o] = t.i1[o] = o, t.w0[o] = T(1), t.w1[o] = T(0);
      continue;
    }
    T real = align_corners ? ratio * T(o) : ratio * (T(o) + T(0.5)) - T(0.5);
    if (real < T(0)) real = T(0);
    // PyTorch floors in float (floorf) even for double, then clamps the weight to [0, 1]
    const int64_t i = std::min<int64_t>(int64_t(std::floor(float(real))), in - 1);
    const T lambda = std::min(std::max(real - T(i), T(0)), T(1));
    t.i0[o] = i;
    t.i1[o] = i + (i < in - 1 ? 1 : 0);
    t.w1[o] = lambda;
    t.w0[o] = T(1) - lambda;
  }
  return t;
}

// out[plane, oh, ow] from in[plane, ih, iw]; `h` null for one spatial dim (ih = oh = 1).
template <class T>
void linear_forward(const T* in, T* out, int64_t planes, int64_t ih, int64_t iw, int64_t oh,
                    int64_t ow, const LinearTaps<T>* h, const LinearTaps<T>& w) {
  const int64_t rows = planes * oh;
  parallel_for(rows, 4 * ow, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const int64_t plane = r / oh, y = r % oh;
      T* dst = out + r * ow;
      const T* src = in + plane * ih * iw;
      auto row = [&](const T* x, int64_t j) { return w.w0[j] * x[w.i0[j]] + w.w1[j] * x[w.i1[j]]; };
      if (!h) {
        for (int64_t j = 0; j < ow; ++j) dst[j] = row(src, j);
        continue;
      }
      const T* x0 = src + h->i0[y] * iw;
      const T* x1 = src + h->i1[y] * iw;
      const T a = h->w0[y], c = h->w1[y];
      for (int64_t j = 0; j < ow; ++j) dst[j] = a * row(x0, j) + c * row(x1, j);
    }
  });
}

// grad_in (zeroed here) += each output's gradient times its taps' weights. Taps of one
// plane overlap, so threads split the planes.
template <class T>
void linear_backward(const T* grad_out, T* grad_in, int64_t planes, int64_t ih, int64_t iw,
                     int64_t oh, int64_t ow, const LinearTaps<T>* h, const LinearTaps<T>& w) {
  std::fill(grad_in, grad_in + planes * ih * iw, T(0));
  parallel_for(planes, 4 * oh * ow, [&](int64_t b, int64_t e) {
    for (int64_t plane = b; plane < e; ++plane) {
      T* gi = grad_in + plane * ih * iw;
      const T* go = grad_out + plane * oh * ow;
      for (int64_t y = 0; y < oh; ++y) {
        const T* g = go + y * ow;
        auto add_row = [&](T* x, T scale) {
          for (int64_t j = 0; j < ow; ++j) {
            x[w.i0[j]] += scale * w.w0[j] * g[j];
            x[w.i1[j]] += scale * w.w1[j] * g[j];
          }
        };
        if (!h) {
          add_row(gi, T(1));
          continue;
        }
        add_row(gi + h->i0[y] * iw, h->w0[y]);
        add_row(gi + h->i1[y] * iw, h->w1[y]);
      }
    }
  });
}

}  // namespace tg::kernels
