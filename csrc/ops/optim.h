#pragma once
#include <vector>

#include "core/tensor.h"

namespace tg {

// Fused optimizer steps over one parameter group: every tensor is updated in place, with
// PyTorch's documented algorithms. Lists are parallel (one entry per parameter); a state
// list that the options do not use may be empty. `steps` are 0-d tensors counting steps;
// each step increments them. All inputs are checked before anything is written.

// momentum_bufs: null entries start as the first gradient; returns the buffers (new ones
// filled in), or an empty list when momentum == 0.
std::vector<Tensor> sgd_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                             std::vector<Tensor> momentum_bufs, double lr, double momentum,
                             double dampening, double weight_decay, bool nesterov, bool maximize);

// decoupled: AdamW's weight decay (scales the parameters) instead of L2 on the gradient.
void adam_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
               const std::vector<Tensor>& exp_avgs, const std::vector<Tensor>& exp_avg_sqs,
               const std::vector<Tensor>& max_exp_avg_sqs, const std::vector<Tensor>& steps,
               double lr, double beta1, double beta2, double eps, double weight_decay,
               bool amsgrad, bool maximize, bool decoupled);

void rmsprop_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                  const std::vector<Tensor>& square_avgs, const std::vector<Tensor>& grad_avgs,
                  const std::vector<Tensor>& momentum_bufs, const std::vector<Tensor>& steps,
                  double lr, double alpha, double eps, double weight_decay, double momentum,
                  bool centered, bool maximize);

void adadelta_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                   const std::vector<Tensor>& square_avgs, const std::vector<Tensor>& acc_deltas,
                   const std::vector<Tensor>& steps, double lr, double rho, double eps,
                   double weight_decay, bool maximize);

// Each parameter's rate decays with its own step: lr / (1 + (step - 1) * lr_decay).
void adagrad_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                  const std::vector<Tensor>& state_sums, const std::vector<Tensor>& steps, double lr,
                  double lr_decay, double weight_decay, double eps, bool maximize);

}  // namespace tg
