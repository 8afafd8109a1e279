#pragma once
// Counter-based random numbers: value i of a draw is a pure function of (seed, offset + i),
// so tensors fill in parallel and give the same numbers for any thread count.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "core/parallel.h"

namespace tg::kernels {

// SplitMix64's output function on the counter; statistically strong and stateless.
inline uint64_t rand64(uint64_t seed, uint64_t counter) {
  uint64_t z = seed + (counter + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Uniform in [0, 1) with the precision of T.
template <class T>
inline T uniform01(uint64_t bits) {
  if constexpr (sizeof(T) == 4) return T(bits >> 40) * T(1.0 / 16777216.0);
  else return T(bits >> 11) * T(1.0 / 9007199254740992.0);
}

// Uniform integer in [0, range) by multiply-high (no modulo bias worth noting).
inline uint64_t below(uint64_t bits, uint64_t range) {
  return (uint64_t)(((unsigned __int128)bits * range) >> 64);
}

template <class T>
void fill_uniform(T* out, int64_t n, uint64_t seed, uint64_t offset, double lo, double hi) {
  parallel_for(n, 4, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      out[i] = T(lo + (hi - lo) * uniform01<double>(rand64(seed, offset + i)));
  });
}

// Dropout's mask in one pass: `scale` where the draw is >= p, else 0 (the draws
// fill_uniform would give over [0, 1), compared in T). Branch-free: a kept/dropped
// branch mispredicts on a fraction p of the elements (it tripled the time at p = 0.25).
template <class T>
void fill_keep_mask(T* out, int64_t n, uint64_t seed, uint64_t offset, double p, double scale) {
  using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  const T thr = T(p), keep_value = T(scale);
  Bits keep;
  std::memcpy(&keep, &keep_value, sizeof(T));
  parallel_for(n, 4, [=](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      // all ones where kept: `keep` masked, a select the compiler cannot turn into a branch
      const Bits m = Bits(0) - Bits(T(uniform01<double>(rand64(seed, offset + i))) >= thr);
      const Bits v = keep & m;
      std::memcpy(out + i, &v, sizeof(T));
    }
  });
}

// Box-Muller on pairs: element 2j and 2j+1 share counters 2j and 2j+1.
template <class T>
void fill_normal(T* out, int64_t n, uint64_t seed, uint64_t offset, double mean, double std) {
  int64_t pairs = (n + 1) / 2;
  parallel_for(pairs, 8, [&](int64_t b, int64_t e) {
    for (int64_t j = b; j < e; ++j) {
      double u1 = 1.0 - uniform01<double>(rand64(seed, offset + 2 * j));  // (0, 1]
      double u2 = uniform01<double>(rand64(seed, offset + 2 * j + 1));
      double r = std::sqrt(-2.0 * std::log(u1)), th = 6.283185307179586 * u2;
      out[2 * j] = T(mean + std * r * std::cos(th));
      if (2 * j + 1 < n) out[2 * j + 1] = T(mean + std * r * std::sin(th));
    }
  });
}

}  // namespace tg::kernels
