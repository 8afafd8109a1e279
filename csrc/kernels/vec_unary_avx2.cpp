// The float32 elementwise kernels on 8 lanes, compiled for AVX2 + FMA (vec_unary.cpp makes
// the run-time choice). Only internal-linkage code besides these two entry points, so
// nothing compiled with AVX2 can be shared with baseline callers.
#include "kernels/vec_unary_impl.h"

namespace tg::kernels {

namespace {
typedef float f8 __attribute__((vector_size(32)));
typedef int32_t i8 __attribute__((vector_size(32)));
}  // namespace

void vec_unary_avx2(VecFn f, const float* x, float* y, int64_t n) { vec_unary_impl<f8, i8>(f, x, y, n); }

void vec_grad_avx2(VecGrad f, const float* g, const float* x, float* dx, int64_t n) {
  vec_grad_impl<f8, i8>(f, g, x, dx, n);
}

float vec_row_max_avx2(const float* x, int64_t n) { return v_row_max<f8>(x, n); }

double vec_exp_sum_avx2(const float* x, float m, float* y, int64_t n) {
  return v_exp_sum<f8, i8>(x, m, y, n);
}

double vec_sum_avx2(const float* x, int64_t n) { return v_sum<f8>(x, n); }

}  // namespace tg::kernels
