#pragma once
#include "core/tensor.h"

namespace tg {

Tensor full(const Shape& shape, double value, DType dtype);
// `value` (a 0-d tensor or wrapped number) converted exactly to `dtype`, as fill_ does:
// RuntimeError when it does not fit (a float beyond int64's range, nan into int64).
Tensor full(const Shape& shape, const Tensor& value, DType dtype);
Tensor zeros(const Shape& shape, DType dtype);
Tensor ones(const Shape& shape, DType dtype);
Tensor arange(double start, double end, double step, DType dtype);
Tensor linspace(double start, double end, int64_t steps, DType dtype);
Tensor eye(int64_t n, int64_t m, DType dtype);
// A 0-d tensor holding a Python number (a "wrapped number" for type promotion).
Tensor scalar_tensor(double value, DType dtype, bool wrapped = true);

// Copies into a fresh contiguous tensor of `dtype` (differentiable between float dtypes).
Tensor to_dtype(const Tensor& t, DType dtype);
Tensor contiguous(const Tensor& t);  // `t` itself when already contiguous
Tensor clone(const Tensor& t);
// dst[...] = src (broadcast, cast); no autograd. Used by copy_ and kernels.
void copy_into(const Tensor& dst, const Tensor& src);

}  // namespace tg
