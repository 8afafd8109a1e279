#pragma once
#include <vector>

#include "core/tensor.h"
#include "kernels/rnn.h"

namespace tg {

// One layer of a recurrent network (RNN tanh/relu, LSTM or GRU; both directions when
// bidirectional) over a whole sequence, PyTorch's gate order and equations.
//   input  [T, B, I] ([B, T, I] with batch_first), any strides;
//   hx     [D, B, H] initial hidden state per direction, null for zeros;
//   cx     [D, B, H] LSTM's initial cell state, null for zeros (ignored by the others);
//   weights: per direction {w_ih [G*H, I], w_hh [G*H, H], b_ih [G*H], b_hh [G*H]}, the
//     biases null when the layer has none (G = 1, 4, 3 gate blocks).
// Returns {output [T, B, D*H] (batch-first like input), h_n [D, B, H]} and for LSTM also
// c_n [D, B, H]. The input projection of the whole sequence is one GEMM per direction;
// each step is one GEMM for the recurrent projection and one fused gate kernel. Backward
// (node MkldnnRnnLayerBackward0, as PyTorch's CPU LSTM) runs through time in C++ and
// gives the gradients of input, hx, cx and every weight and bias, the weight gradients
// as one GEMM over all steps.
std::vector<Tensor> rnn_layer(kernels::RnnMode mode, const Tensor& input, const Tensor& hx, const Tensor& cx,
                              const std::vector<Tensor>& weights, bool bidirectional, bool batch_first);

}  // namespace tg
