// Convolution kernels: per-thread tiled im2col / col2im around the packed GEMM (conv.h).
#include "kernels/conv.h"

#include <algorithm>
#include <vector>

#include "core/parallel.h"
#include "kernels/gemm.h"

namespace tg::kernels {

namespace {

// Elements of one thread's unfolded band: half of a 1 MB L2 in float32, so the GEMM's
// small path reads it in place and a band stays cached between unfolding and use.
constexpr int64_t kColElems = int64_t(1) << 17;
// The weight gradient sums the batch in this many parts (threads take whole parts).
constexpr int64_t kWeightGradParts = 8;

template <class T>
T* col_scratch(int64_t elems) {
  thread_local std::vector<T> buf;
  if ((int64_t)buf.size() < elems) buf.resize(elems);
  return buf.data();
}

// The output positions [j0, j1) of the map plane as row pieces: calls f(oh, ow0, ow1, at)
// for each map row oh touched, `at` counting positions from j0.
template <class F>
void for_band_rows(const ConvGeom& g, int64_t j0, int64_t j1, F&& f) {
  // one division per band, not per piece: rows are short and this runs for every row of
  // the unfolded matrix
  int64_t oh = j0 / g.OW, ow0 = j0 % g.OW;
  for (int64_t j = j0; j < j1; ++oh, ow0 = 0) {
    const int64_t ow1 = std::min(g.OW, ow0 + (j1 - j));
    f(oh, ow0, ow1, j - j0);
    j += ow1 - ow0;
  }
}

// Map columns [lo, hi) whose window tap at image column offset `off` (= kj*dw - pw) lands
// inside the image: 0 <= ow*sw + off < W.
inline void valid_cols(const ConvGeom& g, int64_t off, int64_t& lo, int64_t& hi) {
  lo = off >= 0 ? 0 : (-off + g.sw - 1) / g.sw;
  hi = g.W - 1 - off < 0 ? 0 : (g.W - 1 - off) / g.sw + 1;
  hi = std::min(hi, g.OW);
  lo = std::min(lo, hi);
}

// Unfolds channels [c0, c0 + Cg) of one image over map positions [j0, j1) into col, a
// [Cg*kh*kw, j1 - j0] row-major matrix (zeros where the window hangs over the padding).
template <class T>
void im2col(const ConvGeom& g, const T* image, int64_t c0, int64_t j0, int64_t j1, T* col) {
  const int64_t band = j1 - j0;
  for (int64_t c = 0; c < g.Cg(); ++c) {
    const T* plane = image + (c0 + c) * g.image_plane();
    for (int64_t ki = 0; ki < g.kh; ++ki)
      for (int64_t kj = 0; kj < g.kw; ++kj) {
        T* dst = col + ((c * g.kh + ki) * g.kw + kj) * band;
        const int64_t off = kj * g.dw - g.pw;
        int64_t lo, hi;
        valid_cols(g, off, lo, hi);
        for_band_rows(g, j0, j1, [&](int64_t oh, int64_t ow0, int64_t ow1, int64_t at) {
          T* d = dst + at;  // d[ow - ow0] is map column ow of this row
          const int64_t ih = oh * g.sh - g.ph + ki * g.dh;
          if (ih < 0 || ih >= g.H) {
            std::fill(d, d + (ow1 - ow0), T(0));
            return;
          }
          const T* row = plane + ih * g.W;  // row[ow*sw + off] is the tap of column ow
          const int64_t a = std::clamp(lo, ow0, ow1), b = std::clamp(hi, ow0, ow1);
          std::fill(d, d + (a - ow0), T(0));
          if (g.sw == 1)  // rows are short (tens of pixels): a loop beats a memcpy call
            for (int64_t ow = a; ow < b; ++ow) d[ow - ow0] = row[ow + off];
          else
            for (int64_t ow = a; ow < b; ++ow) d[ow - ow0] = row[ow * g.sw + off];
          std::fill(d + (b - ow0), d + (ow1 - ow0), T(0));
        });
      }
  }
}

// The adjoint of im2col: adds col's entries back onto the image pixels they came from.
template <class T>
void col2im(const ConvGeom& g, const T* col, int64_t c0, int64_t j0, int64_t j1, T* image) {
  const int64_t band = j1 - j0;
  for (int64_t c = 0; c < g.Cg(); ++c) {
    T* plane = image + (c0 + c) * g.image_plane();
    for (int64_t ki = 0; ki < g.kh; ++ki)
      for (int64_t kj = 0; kj < g.kw; ++kj) {
        const T* src = col + ((c * g.kh + ki) * g.kw + kj) * band;
        const int64_t off = kj * g.dw - g.pw;
        int64_t lo, hi;
        valid_cols(g, off, lo, hi);
        for_band_rows(g, j0, j1, [&](int64_t oh, int64_t ow0, int64_t ow1, int64_t at) {
          const int64_t ih = oh * g.sh - g.ph + ki * g.dh;
          if (ih < 0 || ih >= g.H) return;
          const T* s = src + at;  // s[ow - ow0] is map column ow of this row
          T* row = plane + ih * g.W;
          const int64_t a = std::clamp(lo, ow0, ow1), b = std::clamp(hi, ow0, ow1);
          if (g.sw == 1)  // contiguous: vectorizes
            for (int64_t ow = a; ow < b; ++ow) row[ow + off] += s[ow - ow0];
          else
            for (int64_t ow = a; ow < b; ++ow) row[ow * g.sw + off] += s[ow - ow0];
        });
      }
  }
}

// Map positions per band: the plane cut into equal bands, each keeping one group's
// unfolded band within kColElems, rounded up to 32 columns (the widest micro-tile), so no
// band is a thin remainder the GEMM runs at a fraction of its speed.
int64_t band_width(const ConvGeom& g) {
  const int64_t S = g.map_plane();
  if (g.pointwise() || S == 0) return std::max<int64_t>(S, 1);
  const int64_t widest = std::max<int64_t>(kColElems / std::max<int64_t>(g.Kg(), 1), 1);
  const int64_t bands = (S + widest - 1) / widest;
  const int64_t even = (S + bands - 1) / bands, rounded = (even + 31) / 32 * 32;
  return std::min(S, rounded <= widest ? rounded : even);
}

int64_t image_macs(const ConvGeom& g) { return g.O * g.Kg() * g.map_plane(); }

// Images go to threads whole when there are enough of them to share evenly; otherwise
// one image at a time, the GEMM threading inside.
bool images_in_parallel(const ConvGeom& g) {
  return g.N >= 2 * get_num_threads() && g.N * image_macs(g) >= 2 * kParallelGrain;
}

template <class F>
void for_images(const ConvGeom& g, F&& f) {
  if (images_in_parallel(g))
    parallel_for(g.N, image_macs(g), [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n) f(n);
    });
  else
    for (int64_t n = 0; n < g.N; ++n) f(n);
}

}  // namespace

template <class T>
void conv_map_from_image(const ConvGeom& g, const T* image, const T* weight, T* map) {
  const int64_t S = g.map_plane(), Kg = g.Kg(), Og = g.Og(), band = band_width(g);
  for_images(g, [&](int64_t n) {
    const T* img = image + n * g.C * g.image_plane();
    T* out = map + n * g.O * S;
    T* col = g.pointwise() ? nullptr : col_scratch<T>(Kg * band);
    for (int64_t j0 = 0; j0 < S; j0 += band) {
      const int64_t j1 = std::min(S, j0 + band), w = j1 - j0;
      for (int64_t gi = 0; gi < g.groups; ++gi) {
        const T* B = img + gi * g.Cg() * g.image_plane() + j0;
        int64_t rsb = g.image_plane();
        if (col) im2col(g, img, gi * g.Cg(), j0, j1, col), B = col, rsb = w;
        gemm(Og, w, Kg, weight + gi * Og * Kg, Kg, int64_t(1), B, rsb, int64_t(1),
             out + gi * Og * S + j0, S, false);
      }
    }
  });
}

template <class T>
void conv_image_from_map(const ConvGeom& g, const T* map, const T* weight, T* image) {
  const int64_t S = g.map_plane(), Kg = g.Kg(), Og = g.Og(), band = band_width(g);
  // W^T of each group, [Kg, Og] row-major, so the GEMM reads it in place.
  std::vector<T> wt((size_t)(g.O * Kg));
  for (int64_t gi = 0; gi < g.groups; ++gi)
    for (int64_t o = 0; o < Og; ++o)
      for (int64_t k = 0; k < Kg; ++k) wt[gi * Kg * Og + k * Og + o] = weight[(gi * Og + o) * Kg + k];
  for_images(g, [&](int64_t n) {
    T* img = image + n * g.C * g.image_plane();
    const T* gm = map + n * g.O * S;
    if (g.pointwise()) {
      for (int64_t gi = 0; gi < g.groups; ++gi)
        gemm(Kg, S, Og, wt.data() + gi * Kg * Og, Og, int64_t(1), gm + gi * Og * S, S, int64_t(1),
             img + gi * g.Cg() * S, S, false);
      return;
    }
    std::fill(img, img + g.C * g.image_plane(), T(0));
    T* col = col_scratch<T>(Kg * band);
    for (int64_t j0 = 0; j0 < S; j0 += band) {
      const int64_t j1 = std::min(S, j0 + band), w = j1 - j0;
      for (int64_t gi = 0; gi < g.groups; ++gi) {
        gemm(Kg, w, Og, wt.data() + gi * Kg * Og, Og, int64_t(1), gm + gi * Og * S + j0, S,
             int64_t(1), col, w, false);
        col2im(g, col, gi * g.Cg(), j0, j1, img);
      }
    }
  });
}

template <class T>
void conv_weight_grad(const ConvGeom& g, const T* image, const T* map, T* weight_grad) {
  const int64_t S = g.map_plane(), Kg = g.Kg(), Og = g.Og(), band = band_width(g);
  const int64_t wsize = g.O * Kg;
  // Images [n0, n1) summed into acc (zeroed here), per group the transposed gradient
  // [Kg, Og] = col [Kg, band] @ map^T [band, Og]: the unfolded band is then read in place
  // by the GEMM and only the map's band (Og rows, far smaller) is packed.
  auto accumulate = [&](int64_t n0, int64_t n1, T* acc) {
    std::fill(acc, acc + wsize, T(0));
    T* col = g.pointwise() ? nullptr : col_scratch<T>(Kg * band);
    for (int64_t n = n0; n < n1; ++n) {
      const T* img = image + n * g.C * g.image_plane();
      const T* gm = map + n * g.O * S;
      for (int64_t j0 = 0; j0 < S; j0 += band) {
        const int64_t j1 = std::min(S, j0 + band), w = j1 - j0;
        for (int64_t gi = 0; gi < g.groups; ++gi) {
          const T* A = img + gi * g.Cg() * g.image_plane() + j0;
          int64_t rsa = g.image_plane();
          if (col) im2col(g, img, gi * g.Cg(), j0, j1, col), A = col, rsa = w;
          gemm(Kg, Og, w, A, rsa, int64_t(1), gm + gi * Og * S + j0, int64_t(1), S,
               acc + gi * Kg * Og, Og, true);
        }
      }
    }
  };
  // The batch is cut into a fixed number of parts, each summed into its own buffer, the
  // buffers then added in order (and transposed back): the result does not depend on the
  // number of threads or on which thread ran what.
  const int64_t parts = std::min<int64_t>(g.N, kWeightGradParts);
  std::vector<T> partial((size_t)(parts * wsize));
  auto part = [&](int64_t t) { accumulate(g.N * t / parts, g.N * (t + 1) / parts, partial.data() + t * wsize); };
  if (parts > 1 && images_in_parallel(g))
    parallel_tasks(parts, get_num_threads(), part);
  else
    for (int64_t t = 0; t < parts; ++t) part(t);
  // weight_grad[gi, o, k] = sum over parts of partial[t][gi, k, o]
  parallel_for(g.O, Kg * parts, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t gi = r / Og, o = r % Og;
      for (int64_t k = 0; k < Kg; ++k) {
        const int64_t at = gi * Kg * Og + k * Og + o;
        T s = partial[at];
        for (int64_t t = 1; t < parts; ++t) s += partial[t * wsize + at];
        weight_grad[r * Kg + k] = s;
      }
    }
  });
}

template <class T>
void channel_bias_add(int64_t N, int64_t C, int64_t S, const T* bias, T* out) {
  parallel_for(N * C, S, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const T b = bias[p % C];
      T* o = out + p * S;
      for (int64_t s = 0; s < S; ++s) o[s] += b;
    }
  });
}

template <class T>
void channel_sum(int64_t N, int64_t C, int64_t S, const T* x, T* sum) {
  parallel_for(C, N * S, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      double acc = 0;
      for (int64_t n = 0; n < N; ++n) {
        const T* p = x + (n * C + c) * S;
        // One plane in 16 independent lanes of T (a single running sum would wait on
        // each add's latency and not vectorize), the planes in double.
        T lane[16] = {};
        int64_t s = 0;
        for (; s + 16 <= S; s += 16)
          for (int l = 0; l < 16; ++l) lane[l] += p[s + l];
        for (; s < S; ++s) lane[0] += p[s];
        for (int l = 0; l < 16; ++l) acc += lane[l];
      }
      sum[c] = T(acc);
    }
  });
}

#define TG_CONV_INSTANTIATE(T)                                                            \
  template void conv_map_from_image<T>(const ConvGeom&, const T*, const T*, T*);          \
  template void conv_image_from_map<T>(const ConvGeom&, const T*, const T*, T*);          \
  template void conv_weight_grad<T>(const ConvGeom&, const T*, const T*, T*);             \
  template void channel_bias_add<T>(int64_t, int64_t, int64_t, const T*, T*);             \
  template void channel_sum<T>(int64_t, int64_t, int64_t, const T*, T*);
TG_CONV_INSTANTIATE(float)
TG_CONV_INSTANTIATE(double)
TG_CONV_INSTANTIATE(int64_t)  // PyTorch convolves integer tensors too (no gradients)
#undef TG_CONV_INSTANTIATE

}  // namespace tg::kernels
