#pragma once
#include <vector>

#include "core/tensor.h"
#include "kernels/rnn.h"

namespace tg {

// One layer of a recurrent network (RNN tanh/relu, LSTM or GRU; both directions when
// bidirectional) over a whole sequence, PyTorch's gate order and equations.
//   input  [T, B, I] ([B, T, I] with batch_first), any strides;
//   hx     [D, B, P] initial hidden state per direction, null for zeros;
//   cx     [D, B, H] LSTM's initial cell state, null for zeros (ignored by the others);
//   weights: per direction {w_ih [G*H, I], w_hh [G*H, P], b_ih [G*H], b_hh [G*H], w_hr [P, H]},
//     the biases null when the layer has none, w_hr null but for an LSTM with a projection
//     (proj_size P; otherwise P = H). G = 1, 4, 3 gate blocks.
// Returns {output [T, B, D*P] (batch-first like input), h_n [D, B, P]} and for LSTM also
// c_n [D, B, H]. The input projection of the whole sequence is one GEMM per direction;
// each step is one GEMM for the recurrent projection and one fused gate kernel (and one
// for W_hr). Backward (node MkldnnRnnLayerBackward0, as PyTorch's CPU LSTM) runs through
// time in C++ and gives the gradients of input, hx, cx and every weight and bias, the
// weight gradients as one GEMM over all steps.
std::vector<Tensor> rnn_layer(kernels::RnnMode mode, const Tensor& input, const Tensor& hx, const Tensor& cx,
                              const std::vector<Tensor>& weights, bool bidirectional, bool batch_first);

}  // namespace tg
