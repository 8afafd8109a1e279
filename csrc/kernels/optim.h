#pragma once
// Optimizer update rules on contiguous buffers, in the parameter's dtype (PyTorch's
// single-tensor arithmetic; see optim_impl.h). float32 runs an AVX2 + FMA build where the
// CPU has it.
#include <cstdint>

namespace tg::kernels {

struct SgdHyper {
  double lr, momentum, dampening, weight_decay;
  bool nesterov, maximize;
};

struct AdamHyper {
  double lr, beta1, beta2, eps, weight_decay;
  bool amsgrad, maximize, decoupled;
};

struct RmspropHyper {
  double lr, alpha, eps, weight_decay, momentum;
  bool centered, maximize;
};

struct AdadeltaHyper {
  double lr, rho, eps, weight_decay;
  bool maximize;
};

// lr is the step's decayed rate, lr / (1 + (step - 1) * lr_decay) (it depends on the step).
struct AdagradHyper {
  double lr, eps, weight_decay;
  bool maximize;
};

// buf is null when momentum == 0; init_buf: the buffer starts as the first gradient.
void sgd_step(float* p, const float* g, float* buf, int64_t n, const SgdHyper& h, bool init_buf);
void sgd_step(double* p, const double* g, double* buf, int64_t n, const SgdHyper& h, bool init_buf);
// m, v: first and second moments; vmax: running max of v (amsgrad, else null); step:
// this step's number (from 1).
void adam_step(float* p, const float* g, float* m, float* v, float* vmax, int64_t n, const AdamHyper& h,
               double step);
void adam_step(double* p, const double* g, double* m, double* v, double* vmax, int64_t n,
               const AdamHyper& h, double step);
// sq: running mean of squared gradients; gavg: of gradients (centered, else null);
// buf: momentum buffer (momentum > 0, else null).
void rmsprop_step(float* p, const float* g, float* sq, float* gavg, float* buf, int64_t n,
                  const RmspropHyper& h);
void rmsprop_step(double* p, const double* g, double* sq, double* gavg, double* buf, int64_t n,
                  const RmspropHyper& h);

// sq: running mean of squared gradients; acc: of squared updates.
void adadelta_step(float* p, const float* g, float* sq, float* acc, int64_t n, const AdadeltaHyper& h);
void adadelta_step(double* p, const double* g, double* sq, double* acc, int64_t n,
                   const AdadeltaHyper& h);
// sum: the running sum of squared gradients.
void adagrad_step(float* p, const float* g, float* sum, int64_t n, const AdagradHyper& h);
void adagrad_step(double* p, const double* g, double* sum, int64_t n, const AdagradHyper& h);

}  // namespace tg::kernels
