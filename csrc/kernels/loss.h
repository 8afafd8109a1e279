#pragma once
// Loss kernels on contiguous buffers: pointwise losses (MSE, L1, BCE, BCE with logits)
// and the fused log-softmax + negative log-likelihood of cross entropy. No autograd.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "core/parallel.h"
#include "kernels/exp.h"

namespace tg::kernels {

// Sum of f(i) over [0, n), accumulated in double in fixed blocks, so the result does not
// depend on the number of threads.
template <class F>
double blocked_sum(int64_t n, int64_t cost, F f) {
  constexpr int64_t kBlock = 4096;
  const int64_t nb = (n + kBlock - 1) / kBlock;
  std::vector<double> part(std::max<int64_t>(nb, 1), 0.0);
  parallel_for(nb, kBlock * cost, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) {
      double s = 0;
      const int64_t hi = std::min(n, (k + 1) * kBlock);
      for (int64_t i = k * kBlock; i < hi; ++i) s += f(i);
      part[k] = s;
    }
  });
  double s = 0;
  for (double v : part) s += v;
  return s;
}

// Reduction codes, PyTorch's numbering.
enum Reduction : int64_t { kNone = 0, kMean = 1, kSum = 2 };

// out = per-element loss f(i) (reduction none), or its sum / mean as out[0]. The mean
// divides by `divisor` (the element count, or the batch size of KL's 'batchmean').
template <class T, class F>
void pointwise_loss_forward(int64_t n, int64_t reduction, T* out, F f, double divisor) {
  if (reduction == kNone) {
    parallel_for(n, 8, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) out[i] = T(f(i));
    });
    return;
  }
  double s = blocked_sum(n, 8, [&](int64_t i) { return double(f(i)); });
  out[0] = T(reduction == kMean ? s / divisor : s);  // mean of nothing is nan, as in PyTorch
}

// grad[i] = dloss_i/dx_i * upstream_i, where upstream is grad_out[i] (reduction none) or
// grad_out[0] scaled for the reduction.
template <class T, class D>
void pointwise_loss_backward(int64_t n, int64_t reduction, const T* grad_out, T* grad, D d,
                             double divisor) {
  if (reduction == kNone) {
    parallel_for(n, 8, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) grad[i] = T(d(i) * grad_out[i]);
    });
    return;
  }
  const T up = reduction == kMean ? T(double(grad_out[0]) / divisor) : grad_out[0];
  parallel_for(n, 8, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) grad[i] = T(d(i) * up);
  });
}

// Pointwise loss terms: loss, d/dx and d/dy of one element with input x, target y,
// weight w, positive-class weight pw (1 where not given) and the loss's scalar option k
// (SmoothL1's beta, Huber's delta; unused by the others). PyTorch's formulas.
struct MseTerm {
  static constexpr const char* name = "MseLossBackward0";
  template <class T> static T loss(T x, T y, T, T, T) { return (x - y) * (x - y); }
  template <class T> static T dx(T x, T y, T, T, T) { return T(2) * (x - y); }
  template <class T> static T dy(T x, T y, T, T, T) { return T(-2) * (x - y); }
};

struct L1Term {
  static constexpr const char* name = "L1LossBackward0";
  template <class T> static T sign(T v) { return T((v > 0) - (v < 0)); }
  template <class T> static T loss(T x, T y, T, T, T) { return std::abs(x - y); }
  template <class T> static T dx(T x, T y, T, T, T) { return sign(x - y); }
  template <class T> static T dy(T x, T y, T, T, T) { return -sign(x - y); }
};

// Inputs are probabilities; logs are clamped to >= -100 so that x = 0 or 1 stays finite.
struct BceTerm {
  static constexpr const char* name = "BinaryCrossEntropyBackward0";
  template <class T> static T loss(T x, T y, T w, T, T) {
    return w * ((y - T(1)) * std::max(T(std::log1p(-x)), T(-100)) -
                y * std::max(T(std::log(x)), T(-100)));
  }
  template <class T> static T dx(T x, T y, T w, T, T) {
    return w * (x - y) / std::max((T(1) - x) * x, T(1e-12));
  }
  template <class T> static T dy(T x, T, T w, T, T) { return w * (T(std::log1p(-x)) - T(std::log(x))); }
};

template <class T>
inline T log_sigmoid(T x) {
  return std::min(x, T(0)) - std::log1p(std::exp(-std::abs(x)));
}

// Stable in x: log(sigmoid(x)) never overflows.
struct BceLogitsTerm {
  static constexpr const char* name = "BinaryCrossEntropyWithLogitsBackward0";
  template <class T> static T loss(T x, T y, T w, T pw, T) {
    return w * ((T(1) - y) * x - (T(1) + (pw - T(1)) * y) * log_sigmoid(x));
  }
  template <class T> static T dx(T x, T y, T w, T pw, T) {
    const T s = T(1) / (T(1) + std::exp(-x));
    return w * ((pw * y + T(1) - y) * s - pw * y);
  }
  template <class T> static T dy(T x, T, T w, T pw, T) {
    return w * (log_sigmoid(-x) - pw * log_sigmoid(x));
  }
};

// 0.5 z^2 / beta below beta, z - 0.5 beta above (z = |x - y|); beta > 0 here (beta == 0
// is L1, which the op calls instead). The gradient is (x - y) / beta clamped to [-1, 1].
struct SmoothL1Term {
  static constexpr const char* name = "SmoothL1LossBackward0";
  template <class T> static T loss(T x, T y, T, T, T beta) {
    const T z = std::abs(x - y);
    return z < beta ? T(0.5) * z * z / beta : z - T(0.5) * beta;
  }
  template <class T> static T dx(T x, T y, T, T, T beta) {
    const T d = x - y;
    return d <= -beta ? T(-1) : d >= beta ? T(1) : d / beta;
  }
  template <class T> static T dy(T x, T y, T w, T pw, T beta) { return -dx(x, y, w, pw, beta); }
};

// 0.5 z^2 below delta, delta (z - 0.5 delta) above: SmoothL1 scaled by delta.
struct HuberTerm {
  static constexpr const char* name = "HuberLossBackward0";
  template <class T> static T loss(T x, T y, T, T, T delta) {
    const T z = std::abs(x - y);
    return z < delta ? T(0.5) * z * z : delta * (z - T(0.5) * delta);
  }
  template <class T> static T dx(T x, T y, T, T, T delta) {
    const T d = x - y;
    return d <= -delta ? -delta : d >= delta ? delta : d;
  }
  template <class T> static T dy(T x, T y, T w, T pw, T delta) { return -dx(x, y, w, pw, delta); }
};

// xlogy(a, b): 0 where a == 0 (unless b is nan), else a * log(b); PyTorch's convention,
// so that a zero target contributes nothing to the KL divergence.
template <class T>
inline T xlogy(T a, T b) {
  if (std::isnan(b)) return b;
  return a == T(0) ? T(0) : a * T(std::log(b));
}

// KL divergence of input log-probabilities x from target probabilities y: y (log y - x),
// computed as PyTorch's composite does (xlogy(y, y) - y * x); d/dy is that composite's
// gradient too, xlogy(y != 0, y) + y / y - x (nan where y == 0, as in PyTorch).
struct KlDivTerm {
  static constexpr const char* name = "KlDivBackward0";
  template <class T> static T loss(T x, T y, T, T, T) { return xlogy(y, y) - y * x; }
  template <class T> static T dx(T, T y, T, T, T) { return -y; }
  template <class T> static T dy(T x, T y, T, T, T) {
    return xlogy(T(y != T(0)), y) + y / y - x;
  }
};

// The same with log-probability targets: exp(y) (y - x).
struct KlDivLogTerm {
  static constexpr const char* name = "KlDivBackward0";
  template <class T> static T loss(T x, T y, T, T, T) { return T(std::exp(y)) * (y - x); }
  template <class T> static T dx(T, T y, T, T, T) { return -T(std::exp(y)); }
  template <class T> static T dy(T x, T y, T, T, T) {
    const T e = T(std::exp(y));
    return e * (y - x) + e;
  }
};

// The operands of a pointwise loss, contiguous and of one shape; w and pw may be null.
// k: the term's scalar option; divisor: the mean's denominator (n unless set).
template <class T>
struct PointArgs {
  const T *x = nullptr, *y = nullptr, *w = nullptr, *pw = nullptr;
  int64_t n = 0;
  T k = T(0);
  double divisor = -1;
  T weight(int64_t i) const { return w ? w[i] : T(1); }
  T pos_weight(int64_t i) const { return pw ? pw[i] : T(1); }
  double mean_divisor() const { return divisor < 0 ? double(n) : divisor; }
};

template <class Term, class T>
void point_loss_forward(const PointArgs<T>& a, int64_t reduction, T* out) {
  pointwise_loss_forward(a.n, reduction, out, [&](int64_t i) {
    return Term::loss(a.x[i], a.y[i], a.weight(i), a.pos_weight(i), a.k);
  }, a.mean_divisor());
}

// wrt_target: the gradient w.r.t. y instead of x.
template <class Term, class T>
void point_loss_backward(const PointArgs<T>& a, int64_t reduction, const T* grad_out,
                         bool wrt_target, T* grad) {
  if (wrt_target)
    pointwise_loss_backward(a.n, reduction, grad_out, grad, [&](int64_t i) {
      return Term::dy(a.x[i], a.y[i], a.weight(i), a.pos_weight(i), a.k);
    }, a.mean_divisor());
  else
    pointwise_loss_backward(a.n, reduction, grad_out, grad, [&](int64_t i) {
      return Term::dx(a.x[i], a.y[i], a.weight(i), a.pos_weight(i), a.k);
    }, a.mean_divisor());
}

// Index of the first element outside [lo, hi] (nan included), or -1.
template <class T>
int64_t first_outside(const T* x, int64_t n, T lo, T hi) {
  for (int64_t i = 0; i < n; ++i)
    if (!(x[i] >= lo && x[i] <= hi)) return i;
  return -1;
}

// The layout of a cross-entropy input: `outer` batches of `classes` x `inner` values
// (class stride `inner`), i.e. [N, C, d1...] with inner = d1*...; one loss per (n, d).
struct ClassLayout {
  int64_t outer = 1, classes = 1, inner = 1;
  int64_t positions() const { return outer * inner; }
  int64_t base(int64_t p) const { return (p / inner) * classes * inner + p % inner; }
};

// Options of the fused (log-)softmax + NLL kernels.
template <class T>
struct ClassLossArgs {
  ClassLayout lay;
  const T* x = nullptr;             // logits (log_softmax) or log-probabilities (nll)
  const int64_t* target = nullptr;  // class indices, one per position, or
  const T* probs = nullptr;         // class probabilities, laid out like x
  const T* weight = nullptr;        // per-class weight, or null
  int64_t ignore_index = -100;
  double smoothing = 0;             // label smoothing
  bool log_softmax = true;          // false: x already holds log-probabilities (nll_loss)
};

// Work buffers of one thread for one position: its logits gathered contiguously, their
// exps, and the loss coefficients a_c (the loss is -sum_c a_c * logp_c).
template <class T>
struct ClassRow {
  std::vector<T> z, e;
  std::vector<double> coef;
  const T* zp = nullptr;  // the logits: in place when contiguous, else gathered into z
  explicit ClassRow(int64_t C) : z(C), e(C), coef(C) {}
};

template <class T>
inline void exp_row(T* y, int64_t n) {
  exp_inplace(y, n);  // vectorized for float
}

// Max and double sum of a contiguous row, with independent accumulators so that the
// dependency chain of one running value does not bound the speed. A nan never wins the
// max; it still turns the row's exp and sum into nan.
template <class T>
inline T row_max(const T* x, int64_t n) {
  T m[8];
  for (auto& v : m) v = -std::numeric_limits<T>::infinity();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) m[k] = x[i + k] > m[k] ? x[i + k] : m[k];
  for (; i < n; ++i) m[0] = x[i] > m[0] ? x[i] : m[0];
  T r = m[0];
  for (int k = 1; k < 8; ++k) r = m[k] > r ? m[k] : r;
  return r;
}

template <class T>
inline double row_sum(const T* x, int64_t n) {
  double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) s[k] += double(x[i + k]);
  for (; i < n; ++i) s[0] += double(x[i]);
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

// Points r.zp at position p's logits (gathered into r.z when strided) and returns the
// index of its class target (-1 for class probabilities).
template <class T>
inline int64_t gather_row(const ClassLossArgs<T>& a, int64_t base, int64_t p, ClassRow<T>& r) {
  const int64_t C = a.lay.classes, s = a.lay.inner;
  const T* x = a.x + base;
  if (s == 1) {
    r.zp = x;
  } else {
    for (int64_t c = 0; c < C; ++c) r.z[c] = x[c * s];
    r.zp = r.z.data();
  }
  return a.target ? a.target[p] : -1;
}

// Fills r.coef for a position and returns sum_c a_c; with class index y and smoothing
// eps: a_c = (1-eps)*w_y*[c == y] + (eps/C)*w_c; with probabilities t: a_c = w_c*((1-eps)
// t_c + eps/C). Dense: whether any a_c besides a_y can be nonzero.
template <class T>
inline double fill_coef(const ClassLossArgs<T>& a, int64_t base, int64_t y, ClassRow<T>& r, bool& dense) {
  const int64_t C = a.lay.classes, s = a.lay.inner;
  const double eps = a.smoothing, off = eps / double(C);
  dense = a.probs || eps != 0;
  if (!dense) return a.weight ? double(a.weight[y]) : 1.0;
  double S = 0;
  for (int64_t c = 0; c < C; ++c) {
    const double w = a.weight ? double(a.weight[c]) : 1.0;
    const double t = a.probs ? double(a.probs[base + c * s]) * (1 - eps) : (c == y ? 1 - eps : 0.0);
    r.coef[c] = w * (t + off);
    S += r.coef[c];
  }
  return S;
}

// log-sum-exp of the logits r.zp (0 in nll mode: x are log-probabilities already).
template <class T>
inline double row_lse(const ClassLossArgs<T>& a, ClassRow<T>& r) {
  if (!a.log_softmax) return 0;
  const int64_t C = a.lay.classes;
  const T* z = r.zp;
  T* e = r.e.data();
  if constexpr (std::is_same_v<T, float>) {
    const float mx = vec_row_max(z, C);
    if (std::isinf(mx)) return double(mx);  // all -inf (or a +inf): keep PyTorch's inf/nan
    return double(mx) + std::log(vec_exp_sum(z, mx, nullptr, C));
  }
  const T mx = row_max(z, C);
  if (std::isinf(mx)) return double(mx);
  for (int64_t c = 0; c < C; ++c) e[c] = z[c] - mx;  // exact near the max
  exp_row(e, C);
  return double(mx) + std::log(row_sum(e, C));
}

// y = softmax of the C logits z, given their log-sum-exp m.
template <class T>
inline void softmax_row(const T* z, double m, T* y, int64_t C) {
  if constexpr (std::is_same_v<T, float>) {
    // exp(z - max) / sum: z - max is exact for nearby logits, where z - m in float would
    // round away what m (a double) carries beyond float precision
    const float mx = vec_row_max(z, C);
    if (!std::isinf(mx)) {
      const float inv = float(1.0 / vec_exp_sum(z, mx, y, C));
      for (int64_t c = 0; c < C; ++c) y[c] *= inv;
      return;
    }
  }
  for (int64_t c = 0; c < C; ++c) y[c] = T(double(z[c]) - m);
  exp_row(y, C);
}

// Forward: loss[p] for every position and lse[p] (saved for backward, in double so that
// softmax = exp(x - lse) stays accurate for logits of large magnitude). Targets must
// have been validated (in range or ignore_index). Returns the mean's denominator: the
// summed weights of non-ignored targets (class indices) or the number of positions.
template <class T>
double class_loss_forward(const ClassLossArgs<T>& a, T* loss, double* lse) {
  const ClassLayout& L = a.lay;
  const int64_t P = L.positions(), C = L.classes;
  parallel_for(P, C * 8, [&](int64_t b, int64_t e) {
    ClassRow<T> r(C);
    for (int64_t p = b; p < e; ++p) {
      const int64_t base = L.base(p);
      if (a.target && a.target[p] == a.ignore_index) {
        loss[p] = T(0), lse[p] = 0;
        continue;
      }
      const int64_t y = gather_row(a, base, p, r);
      const double m = row_lse(a, r);
      bool dense;
      const double S = fill_coef(a, base, y, r, dense);
      double l = 0;
      if (!dense) {
        l = S * (m - double(r.zp[y]));
      } else {
        for (int64_t c = 0; c < C; ++c) l += r.coef[c] * (m - double(r.zp[c]));
      }
      loss[p] = T(l), lse[p] = m;
    }
  });
  if (!a.target) return double(P);
  double wsum = 0;
  for (int64_t p = 0; p < P; ++p) {
    const int64_t y = a.target[p];
    if (y != a.ignore_index) wsum += a.weight ? double(a.weight[y]) : 1.0;
  }
  return wsum;
}

// Backward w.r.t. x: dL/dx_c = up_p * (softmax_c * sum_k a_k - a_c) with log_softmax,
// -up_p * a_c without; up_p = grad_out[p] or grad_out[0] * scale. Writes every element.
template <class T>
void class_loss_backward_input(const ClassLossArgs<T>& a, const double* lse, const T* grad_out,
                               bool per_position, double scale, T* gx) {
  const ClassLayout& L = a.lay;
  const int64_t P = L.positions(), C = L.classes, s = L.inner;
  parallel_for(P, C * 8, [&](int64_t b, int64_t e) {
    ClassRow<T> r(C);
    T* g = r.e.data();
    for (int64_t p = b; p < e; ++p) {
      const int64_t base = L.base(p);
      if (a.target && a.target[p] == a.ignore_index) {
        for (int64_t c = 0; c < C; ++c) gx[base + c * s] = T(0);
        continue;
      }
      const double up = per_position ? double(grad_out[p]) : double(grad_out[0]) * scale;
      const int64_t y = gather_row(a, base, p, r);
      bool dense;
      const double S = fill_coef(a, base, y, r, dense);
      if (a.log_softmax) {
        const double m = lse[p], k = S * up;
        softmax_row(r.zp, m, g, C);
        if (dense)
          for (int64_t c = 0; c < C; ++c) g[c] = T(double(g[c]) * k - r.coef[c] * up);
        else
          for (int64_t c = 0; c < C; ++c) g[c] = T(double(g[c]) * k);
      } else if (dense) {
        for (int64_t c = 0; c < C; ++c) g[c] = T(-r.coef[c] * up);
      } else {
        std::fill(g, g + C, T(0));
      }
      if (!dense) g[y] = T(double(g[y]) - S * up);
      if (s == 1) std::copy(g, g + C, gx + base);
      else
        for (int64_t c = 0; c < C; ++c) gx[base + c * s] = g[c];
    }
  });
}

// Backward w.r.t. class-probability targets: dL/dt_c = -up_p * w_c * (1-eps) * logp_c.
template <class T>
void class_loss_backward_probs(const ClassLossArgs<T>& a, const double* lse, const T* grad_out,
                               bool per_position, double scale, T* gt) {
  const ClassLayout& L = a.lay;
  const int64_t P = L.positions(), C = L.classes, s = L.inner;
  parallel_for(P, C * 2, [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      const int64_t base = L.base(p);
      const double up = per_position ? double(grad_out[p]) : double(grad_out[0]) * scale;
      const double m = lse[p];
      for (int64_t c = 0; c < C; ++c) {
        const double w = a.weight ? double(a.weight[c]) : 1.0;
        gt[base + c * s] = T(up * w * (1 - a.smoothing) * (m - double(a.x[base + c * s])));
      }
    }
  });
}

}  // namespace tg::kernels
