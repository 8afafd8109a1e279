#pragma once
// Bulk exp for the softmax family. libm's expf is one scalar call per element; the float
// version here runs a polynomial (about 1 ulp, exp_poly.h) on SIMD lanes, with an AVX2+FMA
// build chosen at run time where the CPU has it. The double version stays on std::exp:
// float64 results are what tests compare with finite differences, so they keep libm's
// accuracy.
#include <cmath>
#include <cstdint>

namespace tg::kernels {

// y[i] = exp(y[i]) for i < n, in place.
void exp_inplace(float* y, int64_t n);
inline void exp_inplace(double* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::exp(y[i]);
}

}  // namespace tg::kernels
