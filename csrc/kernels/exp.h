#pragma once
// Bulk exp for the softmax and loss kernels. float runs the SIMD polynomial of
// vec_unary (about 1 ulp; AVX2+FMA where the CPU has it); double stays on libm, since
// float64 results are what tests compare with finite differences.
#include <cmath>
#include <cstdint>

#include "kernels/vec_unary.h"

namespace tg::kernels {

// y[i] = exp(y[i]) for i < n, in place.
inline void exp_inplace(float* y, int64_t n) { vec_unary(VecFn::Exp, y, y, n); }
inline void exp_inplace(double* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::exp(y[i]);
}

}  // namespace tg::kernels
