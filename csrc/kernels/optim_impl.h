#pragma once
// The optimizer update rules as templates, for kernels/optim.cpp (baseline build) and
// kernels/optim_avx2.cpp (AVX2 + FMA build). Each mirrors the arithmetic (order and
// roundings) of PyTorch's single-tensor implementation, so results agree to float
// rounding. Hyperparameters come in as double and are rounded to T where PyTorch passes
// them as scalars to a T op. Options become template flags, so every combination is a
// branch-free loop the compiler vectorizes.
//
// Internal linkage on purpose (an anonymous namespace): each build keeps its own copy, so
// the linker can never hand AVX2-compiled code to a baseline caller.
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "core/parallel.h"
#include "kernels/optim.h"

namespace tg::kernels {
namespace {
// Calls f(std::bool_constant<b0>{}, std::bool_constant<b1>{}, ...) for runtime flags.
template <class F>
void with_flags(F&& f) {
  f();
}
template <class F, class... Rest>
void with_flags(F&& f, bool b, Rest... rest) {
  with_flags([&](auto... c) {
    if (b) f(std::true_type{}, c...);
    else f(std::false_type{}, c...);
  }, rest...);
}

// PyTorch's lerp, start + w * (end - start), taken from the nearer end (Low: w < 0.5).
template <bool Low, class T>
inline T lerp(T start, T end, T w) {
  if constexpr (Low) return start + w * (end - start);
  else return end - (end - start) * (T(1) - w);
}

// Runs body(begin, end) over [0, n) in parallel chunks; the body holds the loop.
template <class F>
void for_chunks(int64_t n, F&& body) {
  parallel_for(n, 16, body);
}


template <class T>
void sgd_update(T* p, const T* g, T* buf, int64_t n, const SgdHyper& h, bool init_buf) {
  const T sign = h.maximize ? T(-1) : T(1), wd = T(h.weight_decay), mom = T(h.momentum);
  const T damp = T(1 - h.dampening), neg_lr = T(-h.lr);
  with_flags([&](auto Wd, auto Mom, auto Init, auto Nest) {
    for_chunks(n, [&](int64_t b, int64_t e) {
      T* __restrict pp = p;
      const T* __restrict gp = g;
      T* __restrict bp = buf;
      const T sg = sign, wdc = wd, momc = mom, dampc = damp, nlr = neg_lr;
      for (int64_t i = b; i < e; ++i) {
        T d = sg * gp[i];
        if constexpr (Wd()) d = d + wdc * pp[i];
        if constexpr (Mom()) {
          T bi;
          if constexpr (Init()) bi = d;
          else bi = bp[i] * momc + dampc * d;
          bp[i] = bi;
          if constexpr (Nest()) d = d + momc * bi;
          else d = bi;
        }
        pp[i] = pp[i] + nlr * d;
      }
    });
  }, h.weight_decay != 0, buf != nullptr, init_buf, h.nesterov);
}


template <class T>
void adam_update(T* p, const T* g, T* m, T* v, T* vmax, int64_t n, const AdamHyper& h, double step) {
  const double bc1 = 1 - std::pow(h.beta1, step), bc2 = 1 - std::pow(h.beta2, step);
  const T neg_step_size = T(-(h.lr / bc1)), bc2_sqrt = T(std::sqrt(bc2)), eps = T(h.eps);
  const T sign = h.maximize ? T(-1) : T(1), wd = T(h.weight_decay), decay = T(1 - h.lr * h.weight_decay);
  const T w1 = T(1 - h.beta1), b2 = T(h.beta2), w2 = T(1 - h.beta2);
  with_flags([&](auto Wd, auto Decoupled, auto Ams, auto Low) {
    for_chunks(n, [&](int64_t b, int64_t e) {
      T* __restrict pp = p;
      const T* __restrict gp = g;
      T* __restrict mp = m;
      T* __restrict vp = v;
      T* __restrict xp = vmax;
      // locals, so the loop does not reload captured scalars around its stores
      const T sg = sign, wdc = wd, dec = decay, w1c = w1, b2c = b2, w2c = w2;
      const T bc2s = bc2_sqrt, epsc = eps, nss = neg_step_size;
      for (int64_t i = b; i < e; ++i) {
        T d = sg * gp[i];
        T pi = pp[i];
        if constexpr (Wd()) {
          if constexpr (Decoupled()) pi = pi * dec;
          else d = d + wdc * pi;
        }
        const T mi = lerp<Low()>(mp[i], d, w1c);
        mp[i] = mi;
        const T vi = vp[i] * b2c + w2c * d * d;
        vp[i] = vi;
        T second = vi;
        if constexpr (Ams()) {
          const T old = xp[i];
          second = (vi > old || vi != vi) ? vi : old;  // nan wins, as in torch.maximum
          xp[i] = second;
        }
        const T denom = std::sqrt(second) / bc2s + epsc;
        pp[i] = pi + nss * mi / denom;
      }
    });
  }, h.weight_decay != 0, h.decoupled, vmax != nullptr, w1 < T(0.5));
}


template <class T>
void rmsprop_update(T* p, const T* g, T* sq, T* gavg, T* buf, int64_t n, const RmspropHyper& h) {
  const T sign = h.maximize ? T(-1) : T(1), wd = T(h.weight_decay), a = T(h.alpha);
  const T w = T(1 - h.alpha), eps = T(h.eps), mom = T(h.momentum), neg_lr = T(-h.lr);
  with_flags([&](auto Wd, auto Centered, auto Mom, auto Low) {
    for_chunks(n, [&](int64_t b, int64_t e) {
      T* __restrict pp = p;
      const T* __restrict gp = g;
      T* __restrict sp = sq;
      T* __restrict ap = gavg;
      T* __restrict bp = buf;
      const T sg = sign, wdc = wd, ac = a, wc = w, epsc = eps, momc = mom, nlr = neg_lr;
      for (int64_t i = b; i < e; ++i) {
        T d = sg * gp[i];
        if constexpr (Wd()) d = d + wdc * pp[i];
        const T si = sp[i] * ac + wc * d * d;
        sp[i] = si;
        T avg;
        if constexpr (Centered()) {
          const T ai = lerp<Low()>(ap[i], d, wc);
          ap[i] = ai;
          avg = std::sqrt(si + T(-1) * ai * ai);
        } else {
          avg = std::sqrt(si);
        }
        avg = avg + epsc;
        if constexpr (Mom()) {
          const T bi = bp[i] * momc + d / avg;
          bp[i] = bi;
          pp[i] = pp[i] + nlr * bi;
        } else {
          pp[i] = pp[i] + nlr * d / avg;
        }
      }
    });
  }, h.weight_decay != 0, gavg != nullptr, buf != nullptr, w < T(0.5));
}


template <class T>
void adadelta_update(T* p, const T* g, T* sq, T* acc, int64_t n, const AdadeltaHyper& h) {
  const T sign = h.maximize ? T(-1) : T(1), wd = T(h.weight_decay), rho = T(h.rho);
  const T w = T(1 - h.rho), eps = T(h.eps), neg_lr = T(-h.lr);
  with_flags([&](auto Wd) {
    for_chunks(n, [&](int64_t b, int64_t e) {
      T* __restrict pp = p;
      const T* __restrict gp = g;
      T* __restrict sp = sq;
      T* __restrict ap = acc;
      const T sg = sign, wdc = wd, rc = rho, wc = w, epsc = eps, nlr = neg_lr;
      for (int64_t i = b; i < e; ++i) {
        T d = sg * gp[i];
        if constexpr (Wd()) d = d + wdc * pp[i];
        const T si = sp[i] * rc + wc * d * d;
        sp[i] = si;
        const T root = std::sqrt(si + epsc);
        // torch: delta = sqrt(acc + eps).div_(std).mul_(grad), with the old acc
        const T delta = std::sqrt(ap[i] + epsc) / root * d;
        ap[i] = ap[i] * rc + wc * delta * delta;
        pp[i] = pp[i] + nlr * delta;
      }
    });
  }, h.weight_decay != 0);
}


template <class T>
void adagrad_update(T* p, const T* g, T* sum, int64_t n, const AdagradHyper& h) {
  const T sign = h.maximize ? T(-1) : T(1), wd = T(h.weight_decay), eps = T(h.eps);
  const T neg_lr = T(-h.lr);
  with_flags([&](auto Wd) {
    for_chunks(n, [&](int64_t b, int64_t e) {
      T* __restrict pp = p;
      const T* __restrict gp = g;
      T* __restrict sp = sum;
      const T sg = sign, wdc = wd, epsc = eps, nlr = neg_lr;
      for (int64_t i = b; i < e; ++i) {
        T d = sg * gp[i];
        if constexpr (Wd()) d = d + wdc * pp[i];
        const T si = sp[i] + T(1) * d * d;  // addcmul_(grad, grad, value=1)
        sp[i] = si;
        pp[i] = pp[i] + nlr * d / (std::sqrt(si) + epsc);  // addcdiv_(grad, std, value=-clr)
      }
    });
  }, h.weight_decay != 0);
}

}  // namespace
}  // namespace tg::kernels
