// Chooses the float32 elementwise kernels: AVX2 + FMA where the CPU has them, else the
// baseline SIMD build of the same formulas (SSE2 on x86-64, NEON on aarch64).
#include "kernels/vec_unary_impl.h"

namespace tg::kernels {

#if defined(TG_X86)
void vec_unary_avx2(VecFn f, const float* x, float* y, int64_t n);  // vec_unary_avx2.cpp
void vec_grad_avx2(VecGrad f, const float* g, const float* x, float* dx, int64_t n);

namespace {
bool has_avx2_fma() {
  __builtin_cpu_init();  // we may run from a static initializer, before libgcc's own
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
const bool kHasAvx2 = has_avx2_fma();
}  // namespace
#endif

namespace {
typedef float f4 __attribute__((vector_size(16)));
typedef int32_t i4 __attribute__((vector_size(16)));
}  // namespace

void vec_unary(VecFn f, const float* x, float* y, int64_t n) {
#if defined(TG_X86)
  if (kHasAvx2) return vec_unary_avx2(f, x, y, n);
#endif
  vec_unary_impl<f4, i4>(f, x, y, n);
}

void vec_grad(VecGrad f, const float* g, const float* x, float* dx, int64_t n) {
#if defined(TG_X86)
  if (kHasAvx2) return vec_grad_avx2(f, g, x, dx, n);
#endif
  vec_grad_impl<f4, i4>(f, g, x, dx, n);
}

}  // namespace tg::kernels
