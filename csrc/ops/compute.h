#pragma once
// Running an op on the narrow dtypes through the kernel of their compute dtype (half types
// in float32, small integers in int64): widen the inputs, run, narrow the result. The
// conversions are recorded for autograd (ToCopyBackward0) when both dtypes are floating,
// so gradients flow back in the input's own dtype. Not part of the public API.
#include "ops/creation.h"

namespace tg {

// `t` in its compute dtype; `t` itself for the base dtypes.
inline Tensor widen(const Tensor& t) {
  return !t || is_base(t->dtype) ? t : to_dtype(t, compute_dtype(t->dtype));
}

// `r`, computed in the compute dtype of `dt`, converted back to `dt` (rounded to nearest
// even for half types, wrapped for small integers); other results as they are.
inline Tensor narrow_to(const Tensor& r, DType dt) {
  return !is_base(dt) && r->dtype == compute_dtype(dt) ? to_dtype(r, dt) : r;
}

}  // namespace tg
