#pragma once
#include "core/tensor.h"

namespace tg {

// Losses, each one fused op with one backward node. `reduction` uses PyTorch's codes:
// 0 none, 1 mean, 2 sum. Optional tensors (weight, pos_weight) may be null.
Tensor mse_loss(const Tensor& input, const Tensor& target, int64_t reduction);
Tensor l1_loss(const Tensor& input, const Tensor& target, int64_t reduction);
// beta >= 0 (0 is l1_loss); delta > 0. Target broadcasts against input.
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, int64_t reduction, double beta);
Tensor huber_loss(const Tensor& input, const Tensor& target, int64_t reduction, double delta);
// KL divergence of log-probabilities `input` from `target` (probabilities, or log-probabilities
// with log_target); reduction may also be 3, 'batchmean' (the sum / input.size(0)).
Tensor kl_div(const Tensor& input, const Tensor& target, int64_t reduction, bool log_target);
// log_softmax + NLL over dim 1 of input [N, C, d...] (or [C]); int64 class targets
// [N, d...] (or 0-d), or class probabilities shaped like input.
Tensor cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight,
                     int64_t reduction, int64_t ignore_index, double label_smoothing);
Tensor nll_loss(const Tensor& input, const Tensor& target, const Tensor& weight,
                int64_t reduction, int64_t ignore_index);
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight,
                            int64_t reduction);
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        const Tensor& weight, const Tensor& pos_weight,
                                        int64_t reduction);

}  // namespace tg
