// The optimizer updates: the baseline build of optim_impl.h, and for float32 the AVX2 +
// FMA build (optim_avx2.cpp) where the CPU has it (and _set_vec_isa allows it): these
// loops are bound by arithmetic as much as by memory, and 8 lanes with fused
// multiply-adds halve their instructions.
#include "kernels/optim_impl.h"

#include "kernels/vec_unary.h"

namespace tg::kernels {

#if defined(TG_X86)
void sgd_step_avx2(float* p, const float* g, float* buf, int64_t n, const SgdHyper& h, bool init_buf);
void adam_step_avx2(float* p, const float* g, float* m, float* v, float* vmax, int64_t n,
                    const AdamHyper& h, double step);
void rmsprop_step_avx2(float* p, const float* g, float* sq, float* gavg, float* buf, int64_t n,
                       const RmspropHyper& h);
void adadelta_step_avx2(float* p, const float* g, float* sq, float* acc, int64_t n,
                        const AdadeltaHyper& h);
void adagrad_step_avx2(float* p, const float* g, float* sum, int64_t n, const AdagradHyper& h);
#define TG_OPTIM_AVX2(call) \
  if (vec_avx2()) return call
#else
#define TG_OPTIM_AVX2(call)
#endif

void sgd_step(float* p, const float* g, float* buf, int64_t n, const SgdHyper& h, bool init_buf) {
  TG_OPTIM_AVX2(sgd_step_avx2(p, g, buf, n, h, init_buf));
  sgd_update<float>(p, g, buf, n, h, init_buf);
}
void sgd_step(double* p, const double* g, double* buf, int64_t n, const SgdHyper& h, bool init_buf) {
  sgd_update<double>(p, g, buf, n, h, init_buf);
}

void adam_step(float* p, const float* g, float* m, float* v, float* vmax, int64_t n, const AdamHyper& h,
               double step) {
  TG_OPTIM_AVX2(adam_step_avx2(p, g, m, v, vmax, n, h, step));
  adam_update<float>(p, g, m, v, vmax, n, h, step);
}
void adam_step(double* p, const double* g, double* m, double* v, double* vmax, int64_t n,
               const AdamHyper& h, double step) {
  adam_update<double>(p, g, m, v, vmax, n, h, step);
}

void rmsprop_step(float* p, const float* g, float* sq, float* gavg, float* buf, int64_t n,
                  const RmspropHyper& h) {
  TG_OPTIM_AVX2(rmsprop_step_avx2(p, g, sq, gavg, buf, n, h));
  rmsprop_update<float>(p, g, sq, gavg, buf, n, h);
}
void rmsprop_step(double* p, const double* g, double* sq, double* gavg, double* buf, int64_t n,
                  const RmspropHyper& h) {
  rmsprop_update<double>(p, g, sq, gavg, buf, n, h);
}


void adadelta_step(float* p, const float* g, float* sq, float* acc, int64_t n, const AdadeltaHyper& h) {
  TG_OPTIM_AVX2(adadelta_step_avx2(p, g, sq, acc, n, h));
  adadelta_update<float>(p, g, sq, acc, n, h);
}
void adadelta_step(double* p, const double* g, double* sq, double* acc, int64_t n,
                   const AdadeltaHyper& h) {
  adadelta_update<double>(p, g, sq, acc, n, h);
}

void adagrad_step(float* p, const float* g, float* sum, int64_t n, const AdagradHyper& h) {
  TG_OPTIM_AVX2(adagrad_step_avx2(p, g, sum, n, h));
  adagrad_update<float>(p, g, sum, n, h);
}
void adagrad_step(double* p, const double* g, double* sum, int64_t n, const AdagradHyper& h) {
  adagrad_update<double>(p, g, sum, n, h);
}

}  // namespace tg::kernels
