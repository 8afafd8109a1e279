// The float32 elementwise kernels on 16 lanes, compiled for AVX-512 (vec_unary.cpp makes
// the run-time choice). As in vec_unary_avx2.cpp, only these entry points have external
// linkage.
#include "kernels/vec_unary_impl.h"

namespace tg::kernels {

namespace {
typedef float f16 __attribute__((vector_size(64)));
typedef int32_t i16 __attribute__((vector_size(64)));
}  // namespace

void vec_unary_avx512(VecFn f, const float* x, float* y, int64_t n) { vec_unary_impl<f16, i16>(f, x, y, n); }

void vec_grad_avx512(VecGrad f, const float* g, const float* x, float* dx, int64_t n) {
  vec_grad_impl<f16, i16>(f, g, x, dx, n);
}

float vec_row_max_avx512(const float* x, int64_t n) { return v_row_max<f16>(x, n); }

double vec_exp_sum_avx512(const float* x, float m, float* y, int64_t n) {
  return v_exp_sum<f16, i16>(x, m, y, n);
}

double vec_sum_avx512(const float* x, int64_t n) { return v_sum<f16>(x, n); }

}  // namespace tg::kernels
