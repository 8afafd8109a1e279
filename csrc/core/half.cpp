// Bulk float16 / bfloat16 conversions: F16C / AVX2 where the CPU has them (chosen at run
// time), the portable scalar routines of core/half.h elsewhere.
#include "core/half.h"

namespace tg {

#if defined(TG_X86)
namespace kernels {
void half_to_float_n_f16c(const uint16_t* src, float* dst, int64_t n);
void float_to_half_n_f16c(const float* src, uint16_t* dst, int64_t n);
void bf16_to_float_n_avx2(const uint16_t* src, float* dst, int64_t n);
}  // namespace kernels

namespace {
bool has_f16c() {
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0 && __builtin_cpu_supports("f16c") != 0;
  }();
  return yes;
}
}  // namespace
#endif

void half_to_float_n(const uint16_t* src, float* dst, int64_t n) {
#if defined(TG_X86)
  if (has_f16c()) return kernels::half_to_float_n_f16c(src, dst, n);
#endif
  for (int64_t i = 0; i < n; ++i) dst[i] = half_bits_to_float(src[i]);
}

void float_to_half_n(const float* src, uint16_t* dst, int64_t n) {
#if defined(TG_X86)
  if (has_f16c()) return kernels::float_to_half_n_f16c(src, dst, n);
#endif
  for (int64_t i = 0; i < n; ++i) dst[i] = float_to_half_bits(src[i]);
}

void bf16_to_float_n(const uint16_t* src, float* dst, int64_t n) {
#if defined(TG_X86)
  if (has_f16c()) return kernels::bf16_to_float_n_avx2(src, dst, n);
#endif
  for (int64_t i = 0; i < n; ++i) dst[i] = bf16_bits_to_float(src[i]);
}

// The scalar loop vectorizes well enough (integer adds and shifts); no intrinsics needed.
void float_to_bf16_n(const float* src, uint16_t* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = float_to_bf16_bits(src[i]);
}

}  // namespace tg
