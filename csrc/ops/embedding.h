#pragma once
#include "core/tensor.h"

namespace tg {

// torch.embedding: the rows of the 2-D `weight` (V, D) that the int64 `indices` (any shape)
// name, shape indices.shape + [D]. An index outside [0, V) raises IndexError before
// anything is written. Backward node EmbeddingBackward0: the gradient rows added into a
// (V, D) weight gradient (repeated indices accumulate), row `padding_idx` (in [0, V), or
// -1 for none) left zero, each row divided by its index count with scale_grad_by_freq.
// sparse gradients are not implemented (NotImplementedError).
Tensor embedding(const Tensor& weight, const Tensor& indices, int64_t padding_idx, bool scale_grad_by_freq,
                 bool sparse);

// torch.embedding_renorm_: rescales in place (no autograd, version bumped) each row of
// `weight` named by `indices` whose norm_type-norm exceeds max_norm to norm max_norm
// (factor max_norm / (norm + 1e-7)). Returns weight.
Tensor embedding_renorm_(const Tensor& weight, const Tensor& indices, double max_norm, double norm_type);

// F.one_hot: int64 tensor of shape self.shape + [num_classes] with a 1 at each value;
// num_classes -1 means max(self) + 1.
Tensor one_hot(const Tensor& self, int64_t num_classes);

}  // namespace tg
