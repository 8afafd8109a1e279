#pragma once
// The folds that kernels::reduce runs (see reduce.h for the Op interface). float32 folds
// accumulate in double: sums of millions of float32 values stay accurate to float32.
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "kernels/wrapping.h"

namespace tg::kernels {

// What a sum of T accumulates in: double for floats, int64 for bool and int64.
template <class T>
using SumAcc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;

// out[o] = sum / divisor (1 for sum, the element count for mean).
template <class T, class TO>
struct SumOp {
  using Acc = SumAcc<T>;
  static constexpr bool kVecSum = std::is_same_v<T, float>;
  TO* out;
  double divisor = 1;  // mean divides; 0/0 gives the nan PyTorch gives for an empty mean
  Acc init() const { return 0; }
  Acc step(Acc a, T x, int64_t) const { return wrap_add(a, Acc(x)); }
  Acc combine(Acc a, Acc b) const { return wrap_add(a, b); }
  void write(int64_t o, Acc a) const {
    if constexpr (std::is_floating_point_v<Acc>) out[o] = TO(divisor == 1 ? a : a / divisor);
    else out[o] = TO(a);
  }
};

template <class T, class TO>
struct ProdOp {
  using Acc = SumAcc<T>;
  TO* out;
  Acc init() const { return 1; }
  Acc step(Acc a, T x, int64_t) const { return wrap_mul(a, Acc(x)); }
  Acc combine(Acc a, Acc b) const { return wrap_mul(a, b); }
  void write(int64_t o, Acc a) const { out[o] = TO(a); }
};

// max / min of the values; nan wins over everything, as in PyTorch.
template <class T>
inline bool is_nan(T x) {
  if constexpr (std::is_floating_point_v<T>) return x != x;
  else return false;
}
// x replaces best: strictly better (the first of ties stays), or the first nan. Bitwise
// operators instead of && and || keep the loops free of branches, so they vectorize.
template <bool IsMax, class T>
inline bool better(T x, T best) {
  if constexpr (IsMax) return (x > best) | (is_nan(x) & !is_nan(best));
  else return (x < best) | (is_nan(x) & !is_nan(best));
}
// Whether x replaces a running max/min value; once the value is nan it stays nan.
template <bool IsMax, class T>
inline bool replaces(T x, T value) {
  if constexpr (IsMax) return (x > value) | is_nan(x);
  else return (x < value) | is_nan(x);
}
template <bool IsMax, class T>
inline T extreme_init() {
  if constexpr (std::is_same_v<T, bool>) return !IsMax;
  else if constexpr (std::is_floating_point_v<T>)
    return IsMax ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity();
  else return IsMax ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max();
}

template <bool IsMax, class T, class TO = T>
struct ExtremeOp {
  using Acc = T;
  TO* out;
  Acc init() const { return extreme_init<IsMax, T>(); }
  Acc step(Acc a, T x, int64_t) const { return replaces<IsMax>(x, a) ? x : a; }
  Acc combine(Acc a, Acc b) const { return replaces<IsMax>(b, a) ? b : a; }
  void write(int64_t o, Acc a) const { out[o] = TO(a); }
};

// Sum of squared deviations from a per-output mean (the second pass of var/std).
// out[o] = sqrt?(ss / divisor).
template <class T>
struct SqDevOp {
  using Acc = double;
  const double* mean;
  T* out;
  double divisor;
  bool take_sqrt;
  Acc init() const { return 0; }
  Acc step(Acc a, T x, int64_t o) const {
    double d = double(x) - mean[o];
    return a + d * d;
  }
  Acc combine(Acc a, Acc b) const { return a + b; }
  void write(int64_t o, Acc a) const {
    double v = a / divisor;
    out[o] = T(take_sqrt ? std::sqrt(v) : v);
  }
};

// Sum of exp(x - shift[o]) (the second pass of logsumexp); out[o] = log(sum) + shift[o].
template <class T>
struct SumExpOp {
  using Acc = double;
  const T* shift;
  T* out;
  Acc init() const { return 0; }
  Acc step(Acc a, T x, int64_t o) const { return a + double(std::exp(x - shift[o])); }
  Acc combine(Acc a, Acc b) const { return a + b; }
  void write(int64_t o, Acc a) const { out[o] = T(std::log(a) + double(shift[o])); }
};

}  // namespace tg::kernels
