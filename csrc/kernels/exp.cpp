// Chooses the float exp kernel: AVX2 + FMA where the CPU has them, else the baseline
// SIMD build of the same polynomial (SSE2 on x86-64, NEON on aarch64).
#include "kernels/exp.h"

#if defined(__GNUC__)
#include "kernels/exp_poly.h"
#endif

namespace tg::kernels {

#if defined(TG_X86)
void exp_inplace_avx2(float* y, int64_t n);  // exp_avx2.cpp

namespace {
bool has_avx2_fma() {
  __builtin_cpu_init();  // we may run from a static initializer, before libgcc's own
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
const bool kHasAvx2 = has_avx2_fma();
}  // namespace
#endif

void exp_inplace(float* y, int64_t n) {
#if defined(TG_X86)
  if (kHasAvx2) return exp_inplace_avx2(y, n);
#endif
#if defined(__GNUC__)
  typedef float f4 __attribute__((vector_size(16)));
  typedef int32_t i4 __attribute__((vector_size(16)));
  exp_poly_inplace<f4, i4>(y, n);
#else
  for (int64_t i = 0; i < n; ++i) y[i] = std::exp(y[i]);
#endif
}

}  // namespace tg::kernels
