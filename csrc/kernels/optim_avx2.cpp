// The float32 optimizer updates compiled for AVX2 + FMA (optim.cpp makes the run-time
// choice); the templates stay private to this file (see optim_impl.h).
#include "kernels/optim_impl.h"

namespace tg::kernels {

void sgd_step_avx2(float* p, const float* g, float* buf, int64_t n, const SgdHyper& h, bool init_buf) {
  sgd_update<float>(p, g, buf, n, h, init_buf);
}

void adam_step_avx2(float* p, const float* g, float* m, float* v, float* vmax, int64_t n,
                    const AdamHyper& h, double step) {
  adam_update<float>(p, g, m, v, vmax, n, h, step);
}

void rmsprop_step_avx2(float* p, const float* g, float* sq, float* gavg, float* buf, int64_t n,
                       const RmspropHyper& h) {
  rmsprop_update<float>(p, g, sq, gavg, buf, n, h);
}

void adadelta_step_avx2(float* p, const float* g, float* sq, float* acc, int64_t n,
                        const AdadeltaHyper& h) {
  adadelta_update<float>(p, g, sq, acc, n, h);
}

void adagrad_step_avx2(float* p, const float* g, float* sum, int64_t n, const AdagradHyper& h) {
  adagrad_update<float>(p, g, sum, n, h);
}

}  // namespace tg::kernels
