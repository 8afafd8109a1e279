#pragma once
// Optimizer update rules on contiguous buffers, one element at a time, in the parameter's
// dtype. Each mirrors the arithmetic (order and roundings) of PyTorch's single-tensor
// implementation, so results agree to float rounding. Hyperparameters come in as double
// and are rounded to T where PyTorch passes them as scalars to a T op.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "core/parallel.h"

namespace tg::kernels {

// PyTorch's lerp: start + w * (end - start), computed from the nearer end for accuracy.
template <class T>
inline T lerp(T start, T end, T w) {
  return w < T(0.5) ? start + w * (end - start) : end - (end - start) * (T(1) - w);
}

template <class F>
void for_elements(int64_t n, F f) {
  parallel_for(n, 16, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) f(i);
  });
}

struct SgdHyper {
  double lr, momentum, dampening, weight_decay;
  bool nesterov, maximize;
};

// buf is null when momentum == 0; init_buf: the buffer starts as the first gradient.
template <class T>
void sgd_step(T* p, const T* g, T* buf, int64_t n, const SgdHyper& h, bool init_buf) {
  const T wd = T(h.weight_decay), mom = T(h.momentum), damp = T(1 - h.dampening), neg_lr = T(-h.lr);
  for_elements(n, [&](int64_t i) {
    T d = h.maximize ? -g[i] : g[i];
    if (h.weight_decay != 0) d = d + wd * p[i];
    if (buf) {
      buf[i] = init_buf ? d : buf[i] * mom + damp * d;
      d = h.nesterov ? d + mom * buf[i] : buf[i];
    }
    p[i] = p[i] + neg_lr * d;
  });
}

struct AdamHyper {
  double lr, beta1, beta2, eps, weight_decay;
  bool amsgrad, maximize, decoupled;
};

// m, v: first and second moments; vmax: running max of v (amsgrad, else null); step:
// this step's number (from 1).
template <class T>
void adam_step(T* p, const T* g, T* m, T* v, T* vmax, int64_t n, const AdamHyper& h, double step) {
  const double bc1 = 1 - std::pow(h.beta1, step), bc2 = 1 - std::pow(h.beta2, step);
  const T neg_step_size = T(-(h.lr / bc1)), bc2_sqrt = T(std::sqrt(bc2)), eps = T(h.eps);
  const T wd = T(h.weight_decay), decay = T(1 - h.lr * h.weight_decay);
  const T w1 = T(1 - h.beta1), b2 = T(h.beta2), w2 = T(1 - h.beta2);
  for_elements(n, [&](int64_t i) {
    T d = h.maximize ? -g[i] : g[i];
    if (h.weight_decay != 0) {
      if (h.decoupled) p[i] = p[i] * decay;
      else d = d + wd * p[i];
    }
    m[i] = lerp(m[i], d, w1);
    v[i] = v[i] * b2 + w2 * d * d;
    T second = v[i];
    if (vmax) second = vmax[i] = (std::isnan(v[i]) || v[i] > vmax[i]) ? v[i] : vmax[i];  // nan wins, as in torch.maximum
    const T denom = std::sqrt(second) / bc2_sqrt + eps;
    p[i] = p[i] + neg_step_size * m[i] / denom;
  });
}

struct RmspropHyper {
  double lr, alpha, eps, weight_decay, momentum;
  bool centered, maximize;
};

// sq: running mean of squared gradients; gavg: of gradients (centered, else null);
// buf: momentum buffer (momentum > 0, else null).
template <class T>
void rmsprop_step(T* p, const T* g, T* sq, T* gavg, T* buf, int64_t n, const RmspropHyper& h) {
  const T wd = T(h.weight_decay), a = T(h.alpha), w = T(1 - h.alpha), eps = T(h.eps);
  const T mom = T(h.momentum), neg_lr = T(-h.lr);
  for_elements(n, [&](int64_t i) {
    T d = h.maximize ? -g[i] : g[i];
    if (h.weight_decay != 0) d = d + wd * p[i];
    sq[i] = sq[i] * a + w * d * d;
    T avg;
    if (gavg) {
      gavg[i] = lerp(gavg[i], d, w);
      avg = std::sqrt(sq[i] + T(-1) * gavg[i] * gavg[i]);
    } else {
      avg = std::sqrt(sq[i]);
    }
    avg = avg + eps;
    if (buf) {
      buf[i] = buf[i] * mom + d / avg;
      p[i] = p[i] + neg_lr * buf[i];
    } else {
      p[i] = p[i] + neg_lr * d / avg;
    }
  });
}

}  // namespace tg::kernels
