// Fused pointwise gates of recurrent layers; see rnn.h. float32 runs its sigmoids and
// tanhs through the SIMD kernels of vec_unary.h, float64 through libm.
#include "kernels/rnn.h"

#include <cmath>

#include "core/parallel.h"
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

// Work per row, roughly in elements, for the grain of parallel_for.
int64_t row_cost(RnnMode mode, int64_t H) { return 12 * H * (rnn_gates(mode) + 1); }

template <class T>
void forward_rows(RnnMode mode, const RnnStepForward<T>& s, int64_t b0, int64_t b1) {
  const int64_t H = s.H, G = rnn_gates(mode) * H;
  for (int64_t b = b0; b < b1; ++b) {
    const T* gx = s.gx + b * s.gx_rs;
    const T* gh = s.gh + b * G;
    T* h = s.h + b * s.h_rs;
    switch (mode) {
      case RnnMode::Tanh:
        for (int64_t j = 0; j < H; ++j) h[j] = gx[j] + gh[j];
        tanh_(h, H);
        break;
      case RnnMode::Relu:
        for (int64_t j = 0; j < H; ++j) {
          const T a = gx[j] + gh[j];
          h[j] = a > T(0) ? a : (a != a ? a : T(0));
        }
        break;
      case RnnMode::Lstm: {
        T* a = s.act + b * s.act_rs;
        T* c = s.c + b * H;
        for (int64_t j = 0; j < G; ++j) a[j] = gx[j] + gh[j];
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
        for (int64_t j = 0; j < H; ++j) {
          const T d = dhn[j] + (go ? go[j] : T(0));
          dax[j] = mode == RnnMode::Tanh ? d * (T(1) - h[j] * h[j]) : (h[j] > T(0) ? d : T(0));
          dhp[j] = T(0);
        }
        break;
      }
      case RnnMode::Lstm: {
        const T* a = s.act + b * s.act_rs;
        const T *ig = a, *fg = a + H, *gg = a + 2 * H, *og = a + 3 * H, *tc = a + 4 * H;
        const T* cp = s.cp + b * s.cp_rs;
        T* dc = s.dc + b * H;
        for (int64_t j = 0; j < H; ++j) {
          const T d = dhn[j] + (go ? go[j] : T(0));
          const T dcj = dc[j] + d * og[j] * (T(1) - tc[j] * tc[j]);
          dax[j] = dcj * gg[j] * ig[j] * (T(1) - ig[j]);
          dax[H + j] = dcj * cp[j] * fg[j] * (T(1) - fg[j]);
          dax[2 * H + j] = dcj * ig[j] * (T(1) - gg[j] * gg[j]);
          dax[3 * H + j] = d * tc[j] * og[j] * (T(1) - og[j]);
          dc[j] = dcj * fg[j];
          dhp[j] = T(0);
        }
        break;
      }
      case RnnMode::Gru: {
        const T* a = s.act + b * s.act_rs;
        const T *r = a, *z = a + H, *n = a + 2 * H, *ghn = a + 3 * H;
        const T* hp = s.hp + b * s.hp_rs;
        T* dah = s.dah + b * s.dah_rs;
        for (int64_t j = 0; j < H; ++j) {
          const T d = dhn[j] + (go ? go[j] : T(0));
          const T dan = d * (T(1) - z[j]) * (T(1) - n[j] * n[j]);
          const T dar = dan * ghn[j] * r[j] * (T(1) - r[j]);
          const T daz = d * (hp[j] - n[j]) * z[j] * (T(1) - z[j]);
          dax[j] = dar, dax[H + j] = daz, dax[2 * H + j] = dan;
          dah[j] = dar, dah[H + j] = daz, dah[2 * H + j] = dan * r[j];
          dhp[j] = d * z[j];
        }
        break;
      }
    }
  }
}

}  // namespace

template <class T>
void rnn_step_forward(RnnMode mode, const RnnStepForward<T>& s) {
  parallel_for(s.B, row_cost(mode, s.H), [&](int64_t b0, int64_t b1) { forward_rows<T>(mode, s, b0, b1); });
}

template <class T>
void rnn_step_backward(RnnMode mode, const RnnStepBackward<T>& s) {
  parallel_for(s.B, row_cost(mode, s.H), [&](int64_t b0, int64_t b1) { backward_rows<T>(mode, s, b0, b1); });
}

template void rnn_step_forward<float>(RnnMode, const RnnStepForward<float>&);
template void rnn_step_forward<double>(RnnMode, const RnnStepForward<double>&);
template void rnn_step_backward<float>(RnnMode, const RnnStepBackward<float>&);
template void rnn_step_backward<double>(RnnMode, const RnnStepBackward<double>&);

}  // namespace tg::kernels
