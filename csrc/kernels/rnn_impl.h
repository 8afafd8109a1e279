#pragma once
// The row loops of kernels/rnn.h, included by rnn.cpp (float64 and the baseline float32
// build) and by rnn_avx2.cpp / rnn_avx512.cpp (float32 compiled for those instruction
// sets). Everything here has internal linkage, so no code compiled for a newer instruction
// set can be picked by the linker for a baseline caller.
#include <cmath>
#include <cstdint>

#include "kernels/rnn.h"
#include "kernels/vec_unary.h"
#include "kernels/vmath.h"

namespace tg::kernels {
namespace {

inline void sigmoid_(float* p, int64_t n) { vec_unary(VecFn::Sigmoid, p, p, n); }
inline void tanh_(float* p, int64_t n) { vec_unary(VecFn::Tanh, p, p, n); }
inline void sigmoid_(double* p, int64_t n) {
  for (int64_t i = 0; i < n; ++i) p[i] = 1.0 / (1.0 + std::exp(-p[i]));
}
inline void tanh_(double* p, int64_t n) {
  for (int64_t i = 0; i < n; ++i) p[i] = std::tanh(p[i]);
}
inline void tanh_to(const float* x, float* y, int64_t n) { vec_unary(VecFn::Tanh, x, y, n); }
inline void tanh_to(const double* x, double* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
}

template <class T>
void forward_rows(RnnMode mode, const RnnStepForward<T>& s, int64_t b0, int64_t b1) {
  const int64_t H = s.H, G = rnn_gates(mode) * H;
  for (int64_t b = b0; b < b1; ++b) {
    const T* gx = s.gx + b * s.gx_rs;
    const T* gh = s.gh ? s.gh + b * G : nullptr;
    const T* bs = s.bias;
    T* h = s.h + b * s.h_rs;
    switch (mode) {
      case RnnMode::Tanh:
        for (int64_t j = 0; j < H; ++j) h[j] = gx[j] + (gh ? gh[j] : T(0)) + (bs ? bs[j] : T(0));
        tanh_(h, H);
        break;
      case RnnMode::Relu:
        for (int64_t j = 0; j < H; ++j) {
          const T a = gx[j] + (gh ? gh[j] : T(0)) + (bs ? bs[j] : T(0));
          h[j] = a > T(0) ? a : (a != a ? a : T(0));
        }
        break;
      case RnnMode::Lstm: {
        T* a = s.act + b * s.act_rs;
        T* c = s.c + b * H;
        for (int64_t j = 0; j < G; ++j) a[j] = gx[j] + (gh ? gh[j] : T(0)) + (bs ? bs[j] : T(0));
        sigmoid_(a, 2 * H);
        tanh_(a + 2 * H, H);
        sigmoid_(a + 3 * H, H);
        const T *ig = a, *fg = a + H, *gg = a + 2 * H;
        for (int64_t j = 0; j < H; ++j) c[j] = fg[j] * c[j] + ig[j] * gg[j];
        T* tc = a + 4 * H;
        tanh_to(c, tc, H);
        const T* og = a + 3 * H;
        for (int64_t j = 0; j < H; ++j) h[j] = og[j] * tc[j];
        break;
      }
      case RnnMode::Gru: {
        T* a = s.act + b * s.act_rs;
        const T* hp = s.hp + b * s.hp_rs;
        for (int64_t j = 0; j < 2 * H; ++j) a[j] = gx[j] + gh[j] + (bs ? bs[j] : T(0));
        sigmoid_(a, 2 * H);
        T* ghn = a + 3 * H;
        if (s.bhn)
          for (int64_t j = 0; j < H; ++j) ghn[j] = gh[2 * H + j] + s.bhn[j];
        else
          for (int64_t j = 0; j < H; ++j) ghn[j] = gh[2 * H + j];
        T* n = a + 2 * H;
        const T *r = a, *z = a + H;
        for (int64_t j = 0; j < H; ++j) n[j] = gx[2 * H + j] + (bs ? bs[2 * H + j] : T(0)) + r[j] * ghn[j];
        tanh_(n, H);
        for (int64_t j = 0; j < H; ++j) h[j] = (T(1) - z[j]) * n[j] + z[j] * hp[j];
        break;
      }
    }
  }
}

// float32 forward rows in one pass on SIMD lanes of type F (vmath.h's sigmoid and tanh, the
// formulas vec_unary uses): each vector of H columns loads its gates, computes them and
// stores the saved activations, c and h, with no intermediate pass over the row.
template <class F>
inline F ld(const float* p, int64_t w) {
  constexpr int64_t W = sizeof(F) / sizeof(float);
  if (w == W) {
    F v;
    __builtin_memcpy(&v, p, sizeof(F));
    return v;
  }
  return v_load_n<F>(p, w);
}
template <class F>
inline void st(float* p, F v, int64_t w) {
  constexpr int64_t W = sizeof(F) / sizeof(float);
  if (w == W) __builtin_memcpy(p, &v, sizeof(F));
  else v_store_n<F>(p, v, w);
}

template <class F, class I>
void forward_rows_simd(RnnMode mode, const RnnStepForward<float>& s, int64_t b0, int64_t b1) {
  if (mode == RnnMode::Relu) return forward_rows<float>(mode, s, b0, b1);
  constexpr int64_t W = sizeof(F) / sizeof(float);
  const int64_t H = s.H, G = rnn_gates(mode) * H;
  for (int64_t b = b0; b < b1; ++b) {
    const float* gx = s.gx + b * s.gx_rs;
    const float* gh = s.gh ? s.gh + b * G : nullptr;
    float* h = s.h + b * s.h_rs;
    auto pre_at = [&](int64_t k, int64_t j, int64_t w) {  // gate block k's pre-activation at j..j+w
      F v = ld<F>(gx + k * H + j, w);
      if (s.bias) v += ld<F>(s.bias + k * H + j, w);
      return gh ? v + ld<F>(gh + k * H + j, w) : v;
    };
    if (mode == RnnMode::Lstm) {
      // Two passes over the row, each a run of independent vectors: the four gates (one
      // transcendental per vector), then c, tanh(c) and h. In one fused pass every vector
      // chained five transcendentals, hundreds of cycles of latency that out-of-order
      // execution could overlap only a vector or two deep (measured: the fused pass took
      // 1.5x this one's time on AVX2). The gates go to the saved activations anyway.
      float* a = s.act + b * s.act_rs;
      float* c = s.c + b * H;
      for (int64_t k = 0; k < 4; ++k)
        for (int64_t j = 0; j < H; j += W) {
          const int64_t w = H - j < W ? H - j : W;
          const F x = pre_at(k, j, w);
          st<F>(a + k * H + j, k == 2 ? v_tanh<F, I>(x) : v_sigmoid<F, I>(x), w);
        }
      for (int64_t j = 0; j < H; j += W) {
        const int64_t w = H - j < W ? H - j : W;
        const F cn = ld<F>(a + H + j, w) * ld<F>(c + j, w) + ld<F>(a + j, w) * ld<F>(a + 2 * H + j, w);
        const F tc = v_tanh<F, I>(cn);
        st<F>(a + 4 * H + j, tc, w);
        st<F>(c + j, cn, w);
        st<F>(h + j, ld<F>(a + 3 * H + j, w) * tc, w);
      }
      continue;
    }
    for (int64_t j = 0; j < H; j += W) {
      const int64_t w = H - j < W ? H - j : W;
      auto pre = [&](int64_t k) { return pre_at(k, j, w); };
      switch (mode) {
        case RnnMode::Tanh:
          st<F>(h + j, v_tanh<F, I>(pre(0)), w);
          break;
        case RnnMode::Lstm:  // above
          break;
        case RnnMode::Gru: {
          float* a = s.act + b * s.act_rs;
          const F r = v_sigmoid<F, I>(pre(0)), z = v_sigmoid<F, I>(pre(1));
          F ghn = gh ? ld<F>(gh + 2 * H + j, w) : F{};
          if (s.bhn) ghn += ld<F>(s.bhn + j, w);
          F xn = ld<F>(gx + 2 * H + j, w);
          if (s.bias) xn += ld<F>(s.bias + 2 * H + j, w);
          const F n = v_tanh<F, I>(xn + r * ghn);
          st<F>(a + j, r, w), st<F>(a + H + j, z, w), st<F>(a + 2 * H + j, n, w), st<F>(a + 3 * H + j, ghn, w);
          st<F>(h + j, (1.f - z) * n + z * ld<F>(s.hp + b * s.hp_rs + j, w), w);
          break;
        }
        case RnnMode::Relu:
          break;
      }
    }
  }
}

// One row of backward per mode, restrict-qualified and branch-free inside so the compiler
// vectorizes it; HasGo: the step's output has a gradient of its own.
template <class T, bool HasGo>
inline void plain_row(bool tanh_mode, const T* __restrict go, const T* __restrict dhn, const T* __restrict h,
                      T* __restrict dax, T* __restrict dhp, int64_t H) {
  if (tanh_mode) {
    for (int64_t j = 0; j < H; ++j) {
      const T d = HasGo ? dhn[j] + go[j] : dhn[j];
      dax[j] = d * (T(1) - h[j] * h[j]);
      dhp[j] = T(0);
    }
  } else {
    for (int64_t j = 0; j < H; ++j) {
      const T d = HasGo ? dhn[j] + go[j] : dhn[j];
      dax[j] = h[j] > T(0) ? d : T(0);
      dhp[j] = T(0);
    }
  }
}

template <class T, bool HasGo>
inline void lstm_row(const T* __restrict go, const T* __restrict dhn, const T* __restrict a, const T* __restrict cp,
                     T* __restrict dc, T* __restrict dax, T* __restrict dhp, int64_t H) {
  const T *__restrict ig = a, *__restrict fg = a + H, *__restrict gg = a + 2 * H, *__restrict og = a + 3 * H,
                      *__restrict tc = a + 4 * H;
  T *__restrict di = dax, *__restrict df = dax + H, *__restrict dg = dax + 2 * H, *__restrict dout = dax + 3 * H;
  for (int64_t j = 0; j < H; ++j) {
    const T d = HasGo ? dhn[j] + go[j] : dhn[j];
    const T dcj = dc[j] + d * og[j] * (T(1) - tc[j] * tc[j]);
    di[j] = dcj * gg[j] * ig[j] * (T(1) - ig[j]);
    df[j] = dcj * cp[j] * fg[j] * (T(1) - fg[j]);
    dg[j] = dcj * ig[j] * (T(1) - gg[j] * gg[j]);
    dout[j] = d * tc[j] * og[j] * (T(1) - og[j]);
    dc[j] = dcj * fg[j];
    dhp[j] = T(0);
  }
}

template <class T, bool HasGo>
inline void gru_row(const T* __restrict go, const T* __restrict dhn, const T* __restrict a, const T* __restrict hp,
                    T* __restrict dax, T* __restrict dah, T* __restrict dhp, int64_t H) {
  const T *__restrict r = a, *__restrict z = a + H, *__restrict n = a + 2 * H, *__restrict ghn = a + 3 * H;
  for (int64_t j = 0; j < H; ++j) {
    const T d = HasGo ? dhn[j] + go[j] : dhn[j];
    const T dan = d * (T(1) - z[j]) * (T(1) - n[j] * n[j]);
    const T dar = dan * ghn[j] * r[j] * (T(1) - r[j]);
    const T daz = d * (hp[j] - n[j]) * z[j] * (T(1) - z[j]);
    dax[j] = dar, dax[H + j] = daz, dax[2 * H + j] = dan;
    dah[j] = dar, dah[H + j] = daz, dah[2 * H + j] = dan * r[j];
    dhp[j] = d * z[j];
  }
}

template <class T>
void backward_rows(RnnMode mode, const RnnStepBackward<T>& s, int64_t b0, int64_t b1) {
  const int64_t H = s.H;
  for (int64_t b = b0; b < b1; ++b) {
    const T* go = s.gout ? s.gout + b * s.gout_rs : nullptr;
    const T* dhn = s.dh + b * H;
    T* dax = s.dax + b * s.dax_rs;
    T* dhp = s.dhp + b * H;
    switch (mode) {
      case RnnMode::Tanh:
      case RnnMode::Relu: {
        const T* h = s.h + b * s.h_rs;
        const bool th = mode == RnnMode::Tanh;
        go ? plain_row<T, true>(th, go, dhn, h, dax, dhp, H) : plain_row<T, false>(th, go, dhn, h, dax, dhp, H);
        break;
      }
      case RnnMode::Lstm: {
        const T* a = s.act + b * s.act_rs;
        const T* cp = s.cp + b * s.cp_rs;
        T* dc = s.dc + b * H;
        go ? lstm_row<T, true>(go, dhn, a, cp, dc, dax, dhp, H) : lstm_row<T, false>(go, dhn, a, cp, dc, dax, dhp, H);
        break;
      }
      case RnnMode::Gru: {
        const T* a = s.act + b * s.act_rs;
        const T* hp = s.hp + b * s.hp_rs;
        T* dah = s.dah + b * s.dah_rs;
        go ? gru_row<T, true>(go, dhn, a, hp, dax, dah, dhp, H) : gru_row<T, false>(go, dhn, a, hp, dax, dah, dhp, H);
        break;
      }
    }
  }
}

}  // namespace
}  // namespace tg::kernels

// The float32 entry points of one instruction set.
#define TG_RNN_KERNELS(isa, BYTES)                                                                     \
  namespace tg::kernels {                                                                              \
  namespace {                                                                                          \
  typedef float RF_##isa __attribute__((vector_size(BYTES)));                                          \
  typedef int32_t RI_##isa __attribute__((vector_size(BYTES)));                                        \
  }                                                                                                    \
  void rnn_forward_rows_##isa(RnnMode m, const RnnStepForward<float>& s, int64_t b0, int64_t b1) {    \
    forward_rows_simd<RF_##isa, RI_##isa>(m, s, b0, b1);                                               \
  }                                                                                                    \
  void rnn_backward_rows_##isa(RnnMode m, const RnnStepBackward<float>& s, int64_t b0, int64_t b1) {  \
    backward_rows<float>(m, s, b0, b1);                                                                \
  }                                                                                                    \
  }
