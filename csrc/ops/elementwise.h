#pragma once
#include "core/tensor.h"

namespace tg {

// Broadcast shape of two shapes; RuntimeError naming both when they do not broadcast.
Shape broadcast_shapes(const Shape& a, const Shape& b);
// Strides that read `t` as if it had `shape` (0 on broadcast dims).
Shape broadcast_strides(const Tensor& t, const Shape& shape);
// Sums `grad` down to `shape` (undoes broadcasting in backward).
Tensor sum_to(const Tensor& grad, const Shape& shape);

// binary arithmetic (broadcasting, PyTorch type promotion)
Tensor add(const Tensor& a, const Tensor& b, double alpha = 1.0);
Tensor sub(const Tensor& a, const Tensor& b, double alpha = 1.0);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);

// unary
Tensor neg(const Tensor& a);
Tensor exp(const Tensor& a);
Tensor relu(const Tensor& a);

// in place (no autograd history; bumps the storage version)
void add_(const Tensor& self, const Tensor& other, double alpha = 1.0);

}  // namespace tg
