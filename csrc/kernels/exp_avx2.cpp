// The float exp polynomial on 8 lanes, compiled for AVX2 + FMA (see exp.cpp for the
// run-time choice). Only builtins and internal-linkage code here, so nothing compiled
// with AVX2 can be shared with baseline callers.
#include "kernels/exp_poly.h"

namespace tg::kernels {

void exp_inplace_avx2(float* y, int64_t n) {
  typedef float f8 __attribute__((vector_size(32)));
  typedef int32_t i8 __attribute__((vector_size(32)));
  exp_poly_inplace<f8, i8>(y, n);
}

}  // namespace tg::kernels
