// The rules every in-place op follows, and the in-place ops that are pure stores
// (copy_, fill_, zero_). Arithmetic in-place ops sit next to their out-of-place forms.
#include <cmath>
#include <cstring>

#include "ops/elementwise_util.h"

namespace tg {
namespace ew {

void check_writable(const Tensor& self) {
  check_inplace(self);
  for (int64_t d = 0; d < self->ndim(); ++d)
    TG_CHECK(self->shape[d] <= 1 || self->strides[d] != 0, RuntimeError,
             "unsupported operation: more than one element of the written-to tensor refers to a "
             "single memory location. Please clone() the tensor before performing the operation. "
             "(shape ", shape_str(self->shape), ", strides ", shape_str(self->strides), ")");
}

void check_castable(DType from, DType to) {
  bool ok = !(is_floating(from) && !is_floating(to)) && !(from != DType::Bool && to == DType::Bool);
  TG_CHECK(ok, RuntimeError, "result type ", dtype_name(from),
           " can't be cast to the desired output type ", dtype_name(to));
}

namespace {
// The bytes [lo, hi) that a non-empty tensor's elements span.
std::pair<const char*, const char*> byte_span(const Tensor& t) {
  int64_t lo = 0, hi = 0;
  for (int64_t d = 0; d < t->ndim(); ++d) {
    int64_t reach = (t->shape[d] - 1) * t->strides[d];
    (reach < 0 ? lo : hi) += reach;
  }
  const int64_t size = (int64_t)itemsize(t->dtype);
  return {t->data() + lo * size, t->data() + (hi + 1) * size};
}
}  // namespace

Tensor unaliased(const Tensor& self, const Tensor& src) {
  if (self->numel() == 0 || src->numel() == 0) return src;
  auto [a0, a1] = byte_span(self);
  auto [b0, b1] = byte_span(src);
  if (a1 <= b0 || b1 <= a0) return src;
  // the very same elements in the same order are fine: each is read before it is written
  if (src->data() == self->data() && src->dtype == self->dtype &&
      broadcast_strides(src, self->shape) == self->strides)
    return src;
  Tensor copy = empty(src->shape, src->dtype);
  copy_into(copy, src);
  return copy;
}

void check_inplace_binary(const Tensor& self, const Tensor& other, DType rt) {
  check_writable(self);
  check_castable(rt, self->dtype);
  Shape bs = broadcast_shapes(self->shape, other->shape);
  TG_CHECK(bs == self->shape, RuntimeError, "output with shape ", shape_str(self->shape),
           " doesn't match the broadcast shape ", shape_str(bs));
}

}  // namespace ew

using namespace ew;

namespace {
// The stores: self's old values get no gradient, the value written gets all of it.
struct StoreBackward : Node {
  const char* node_name;
  InputMeta self, src;
  StoreBackward(const char* n, const Tensor& s, const Tensor& v) : node_name(n), self(s), src(v) {}
  std::string name() const override { return node_name; }
  TG_APPLY_IS_DIFFERENTIABLE  // public ops
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    std::vector<Tensor> r(next_edges.size());
    if (next_edges[0].fn) r[0] = zeros(self.shape, self.dtype);
    if (r.size() > 1 && next_edges[1].fn) r[1] = grad_for(g[0], src.shape, src.dtype);
    return r;
  }
};
}  // namespace

void copy_(const Tensor& self, const Tensor& src) {
  check_writable(self);
  Shape bs = broadcast_shapes(self->shape, src->shape);
  TG_CHECK(bs == self->shape, RuntimeError, "copy_: the source of shape ", shape_str(src->shape),
           " can't be broadcast to the destination's shape ", shape_str(self->shape));
  auto node = make_node<StoreBackward>({self, src}, "CopyBackwards", self, src);
  copy_into(self, unaliased(self, src));  // casts to self's dtype
  bump_version(self);
  rebase_history(self, node);
}

void fill_(const Tensor& self, const Tensor& value) {
  check_writable(self);
  TG_CHECK(value->ndim() == 0, RuntimeError,
           "fill_ only supports 0-dimension value tensor but got tensor with ", value->ndim(),
           " dimensions.");
  Tensor v = empty({}, self->dtype);  // read once: `value` may be an element of self
  if (self->dtype == DType::Int64 && is_floating(value->dtype)) {
    double x = 0;
    TG_DISPATCH_FLOAT(value->dtype, T, { x = (double)*value->data_as<T>(); });
    // 2^63 is exactly representable; anything at or beyond it overflows int64
    TG_CHECK(std::isfinite(x) && x >= -9223372036854775808.0 && x < 9223372036854775808.0,
             RuntimeError, "value cannot be converted to type int64_t without overflow: ", x);
  }
  if (is_small_int(self->dtype)) {
    // PyTorch's range check for the narrow integers (c10's overflows(): uint8 also takes
    // -255..-1, wrapping them); half types take any value (out of range: inf)
    double x = 0;
    TG_DISPATCH_ALL(compute_dtype(value->dtype), T, { x = (double)*ew::cast(value, compute_dtype(value->dtype))->data_as<T>(); });
    double lo = 0, hi = 0;
    const char* cname = "";
    switch (self->dtype) {
      case DType::UInt8: lo = -255, hi = 255, cname = "uint8_t"; break;
      case DType::Int8: lo = -128, hi = 127, cname = "int8_t"; break;
      case DType::Int16: lo = -32768, hi = 32767, cname = "int16_t"; break;
      default: lo = -2147483648.0, hi = 2147483647.0, cname = "int32_t"; break;
    }
    const bool ok = x >= lo && x <= hi;
    TG_CHECK(ok, RuntimeError, "value cannot be converted to type ", cname, " without overflow");
  }
  const char* n = value->wrapped_number ? "FillBackward0" : "FillBackward1";
  auto node = make_node<StoreBackward>({self, value}, n, self, value);
  copy_into(v, value);
  copy_into(self, v);
  bump_version(self);
  rebase_history(self, node);
}

void zero_(const Tensor& self) {
  check_writable(self);
  auto node = make_node<StoreBackward>({self}, "ZeroBackward0", self, self);
  if (self->is_contiguous()) {
    std::memset(self->data(), 0, self->numel() * itemsize(self->dtype));
  } else {
    copy_into(self, zeros({}, self->dtype));
  }
  bump_version(self);
  rebase_history(self, node);
}

}  // namespace tg
