// Chooses the float32 elementwise kernels: AVX-512 or AVX2 + FMA where the CPU has them,
// else the baseline SIMD build of the same formulas (SSE2 on x86-64, NEON on aarch64).
#include <atomic>
#include <string>

#include "core/error.h"
#include "kernels/cpu_features.h"
#include "kernels/vec_unary_impl.h"

namespace tg::kernels {

namespace {
typedef float f4 __attribute__((vector_size(16)));
typedef int32_t i4 __attribute__((vector_size(16)));

// Which build runs: the widest this CPU has, unless a test asked for a lower one.
enum class Level : int { Base = 0, Avx2 = 1, Avx512 = 2 };
Level best_level() {
  const CpuFeatures& f = cpu_features();  // all false off x86
  return f.avx512 ? Level::Avx512 : f.avx2_fma ? Level::Avx2 : Level::Base;
}
std::atomic<int>& current_level() {
  static std::atomic<int> l{(int)best_level()};
  return l;
}
}  // namespace

#if defined(TG_X86)
// vec_unary_avx2.cpp and vec_unary_avx512.cpp
void vec_unary_avx2(VecFn f, const float* x, float* y, int64_t n);
void vec_grad_avx2(VecGrad f, const float* g, const float* x, float* dx, int64_t n);
float vec_row_max_avx2(const float* x, int64_t n);
double vec_exp_sum_avx2(const float* x, float m, float* y, int64_t n);
double vec_sum_avx2(const float* x, int64_t n);
void vec_unary_avx512(VecFn f, const float* x, float* y, int64_t n);
void vec_grad_avx512(VecGrad f, const float* g, const float* x, float* dx, int64_t n);
float vec_row_max_avx512(const float* x, int64_t n);
double vec_exp_sum_avx512(const float* x, float m, float* y, int64_t n);
double vec_sum_avx512(const float* x, int64_t n);

// Returns from the calling function through the current build of `name`, unless that is
// the baseline one (which the caller runs itself).
#define TG_VEC_DISPATCH(name, ...)                                     \
  switch ((Level)current_level().load(std::memory_order_relaxed)) {    \
    case Level::Avx512: return name##_avx512(__VA_ARGS__);             \
    case Level::Avx2: return name##_avx2(__VA_ARGS__);                 \
    case Level::Base: break;                                           \
  }
#else
#define TG_VEC_DISPATCH(name, ...)
#endif

std::string vec_isa() {
  const int l = current_level().load();
  return l == 2 ? "avx512" : l == 1 ? "avx2" : "portable";
}

bool vec_avx2() { return current_level().load(std::memory_order_relaxed) >= (int)Level::Avx2; }

void set_vec_isa(const std::string& isa) {
  TG_CHECK(isa == "avx512" || isa == "avx2" || isa == "portable", ValueError,
           "unknown vector instruction set '", isa, "' (expected avx512, avx2 or portable)");
  const int want = isa == "avx512" ? 2 : isa == "avx2" ? 1 : 0;
  TG_CHECK(want <= (int)best_level(), ValueError, "this CPU cannot run the '", isa, "' vector kernels");
  current_level().store(want);
}

void vec_unary(VecFn f, const float* x, float* y, int64_t n) {
  TG_VEC_DISPATCH(vec_unary, f, x, y, n)
  vec_unary_impl<f4, i4>(f, x, y, n);
}

void vec_grad(VecGrad f, const float* g, const float* x, float* dx, int64_t n) {
  TG_VEC_DISPATCH(vec_grad, f, g, x, dx, n)
  vec_grad_impl<f4, i4>(f, g, x, dx, n);
}

float vec_row_max(const float* x, int64_t n) {
  TG_VEC_DISPATCH(vec_row_max, x, n)
  return v_row_max<f4>(x, n);
}

double vec_exp_sum(const float* x, float m, float* y, int64_t n) {
  TG_VEC_DISPATCH(vec_exp_sum, x, m, y, n)
  return v_exp_sum<f4, i4>(x, m, y, n);
}

double vec_sum(const float* x, int64_t n) {
  TG_VEC_DISPATCH(vec_sum, x, n)
  return v_sum<f4>(x, n);
}

}  // namespace tg::kernels
