#pragma once
#include "core/tensor.h"

namespace tg {

// PyTorch's matmul: 1-D . 1-D (dot), 2-D . 1-D, 1-D . 2-D, 2-D . 2-D, and batched N-D
// with broadcasting of the batch dims. float32, float64 and int64 (int64: no gradients).
Tensor matmul(const Tensor& a, const Tensor& b);
// The strict forms: mm (2-D . 2-D), bmm (3-D . 3-D, equal batch), dot (1-D . 1-D),
// mv (2-D . 1-D).
Tensor mm(const Tensor& a, const Tensor& b);
Tensor bmm(const Tensor& a, const Tensor& b);
Tensor dot(const Tensor& a, const Tensor& b);
Tensor mv(const Tensor& a, const Tensor& b);
// x @ weight.T + bias as one node (bias may be null); x is [..., in], weight [out, in].
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);
// out (+)= a @ b for 2-D tensors of one dtype, written through out's strides; no autograd.
// Exposes the kernel's accumulate and strided-output paths.
void matmul_into(const Tensor& out, const Tensor& a, const Tensor& b, bool accumulate);

}  // namespace tg
