#pragma once
// The row loops of kernels/rnn.h, included by rnn.cpp (float64 and the baseline float32
// build) and by rnn_avx2.cpp / rnn_avx512.cpp (float32 compiled for those instruction
// sets). Everything here has internal linkage, so no code compiled for a newer instruction
// set can be picked by the linker for a baseline caller.
#include <cmath>
#include <cstdint>

#include "kernels/rnn.h"
#include "kernels/vec_unary.h"

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
    T* h = s.h + b * s.h_rs;
    switch (mode) {
      case RnnMode::Tanh:
        if (gh)
          for (int64_t j = 0; j < H; ++j) h[j] = gx[j] + gh[j];
        else
          for (int64_t j = 0; j < H; ++j) h[j] = gx[j];
        tanh_(h, H);
        break;
      case RnnMode::Relu:
        for (int64_t j = 0; j < H; ++j) {
          const T a = gh ? gx[j] + gh[j] : gx[j];
          h[j] = a > T(0) ? a : (a != a ? a : T(0));
        }
        break;
      case RnnMode::Lstm: {
        T* a = s.act + b * s.act_rs;
        T* c = s.c + b * H;
        if (gh)
          for (int64_t j = 0; j < G; ++j) a[j] = gx[j] + gh[j];
        else
          for (int64_t j = 0; j < G; ++j) a[j] = gx[j];
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
        for (int64_t j = 0; j < 2 * H; ++j) a[j] = gx[j] + gh[j];
        sigmoid_(a, 2 * H);
        T* ghn = a + 3 * H;
        if (s.bhn)
          for (int64_t j = 0; j < H; ++j) ghn[j] = gh[2 * H + j] + s.bhn[j];
        else
          for (int64_t j = 0; j < H; ++j) ghn[j] = gh[2 * H + j];
        T* n = a + 2 * H;
        const T *r = a, *z = a + H;
        for (int64_t j = 0; j < H; ++j) n[j] = gx[2 * H + j] + r[j] * ghn[j];
        tanh_(n, H);
        for (int64_t j = 0; j < H; ++j) h[j] = (T(1) - z[j]) * n[j] + z[j] * hp[j];
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
#define TG_RNN_KERNELS(isa)                                                                            \
  namespace tg::kernels {                                                                              \
  void rnn_forward_rows_##isa(RnnMode m, const RnnStepForward<float>& s, int64_t b0, int64_t b1) {    \
    forward_rows<float>(m, s, b0, b1);                                                                 \
  }                                                                                                    \
  void rnn_backward_rows_##isa(RnnMode m, const RnnStepBackward<float>& s, int64_t b0, int64_t b1) {  \
    backward_rows<float>(m, s, b0, b1);                                                                \
  }                                                                                                    \
  }
