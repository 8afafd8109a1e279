#pragma once
// Running an op on the narrow dtypes through the kernel of their compute dtype (half types
// in float32, small integers in int64): widen the inputs, run, narrow the result. The
// conversions are recorded for autograd when both dtypes are floating, so gradients flow
// back in the input's own dtype. Not part of the public API.
#include <string>

#include "autograd/node.h"
#include "ops/creation.h"

namespace tg {

// `t` in its compute dtype; `t` itself for the base dtypes.
inline Tensor widen(const Tensor& t) {
  return !t || is_base(t->dtype) ? t : to_dtype(t, compute_dtype(t->dtype));
}

// The backward of narrow_to: the gradient converted back to the compute dtype. It carries
// the name of the op it finishes (PyTorch's `MmBackward0` for a float16 matmul), so
// `grad_fn` reads as it does in PyTorch.
struct NarrowBackward : Node {
  std::string node_name;
  DType src_dtype;
  NarrowBackward(std::string n, DType d) : node_name(std::move(n)), src_dtype(d) {}
  std::string name() const override { return node_name; }
  TG_APPLY_IS_DIFFERENTIABLE
  std::vector<Tensor> apply(std::vector<Tensor>& g) override { return {to_dtype(g[0], src_dtype)}; }
};

// `r`, computed in the compute dtype of `dt`, converted back to `dt` (rounded to nearest
// even for half types, wrapped for small integers); other results as they are.
inline Tensor narrow_to(const Tensor& r, DType dt) {
  if (is_base(dt) || r->dtype != compute_dtype(dt)) return r;
  Tensor out = empty(r->shape, dt);
  copy_into(out, r);
  if (is_floating(dt) && r->grad_fn)
    set_history(make_node<NarrowBackward>({r}, r->grad_fn->name(), r->dtype), {out});
  return out;
}

}  // namespace tg
