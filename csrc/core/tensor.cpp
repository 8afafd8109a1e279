#include "core/tensor.h"

#include <algorithm>
#include <limits>
#include <new>

namespace tg {

int64_t numel_of(const Shape& shape) {
  int64_t n = 1;
  for (int64_t s : shape) {
    if (s != 0 && n > std::numeric_limits<int64_t>::max() / s) throw std::bad_alloc();
    n *= s;
  }
  return n;
}

int64_t TensorImpl::numel() const { return numel_of(shape); }

bool TensorImpl::is_contiguous() const {
  int64_t expected = 1;
  for (int64_t i = ndim() - 1; i >= 0; --i) {
    if (shape[i] == 1) continue;
    if (strides[i] != expected) return false;
    expected *= shape[i];
  }
  return true;
}

int64_t TensorImpl::size(int64_t dim) const {
  // wrap_dim lets reductions take dim 0 of a 0-d tensor, but it has no size to read.
  TG_CHECK(ndim() > 0, IndexError, "Dimension specified as ", dim, " but tensor has no dimensions");
  return shape[wrap_dim(dim, ndim())];
}

Shape contiguous_strides(const Shape& shape) {
  Shape st(shape.size());
  int64_t acc = 1;
  for (int64_t i = (int64_t)shape.size() - 1; i >= 0; --i) {
    st[i] = acc;
    // Only an empty tensor whose other sizes multiply past int64 fails (PyTorch's message).
    TG_CHECK(i == 0 || !__builtin_mul_overflow(acc, std::max<int64_t>(shape[i], 1), &acc), RuntimeError,
             "Stride calculation overflowed (shape ", shape_str(shape), ")");
  }
  return st;
}

int64_t wrap_dim(int64_t dim, int64_t ndim) {
  int64_t n = std::max<int64_t>(ndim, 1);  // 0-d tensors accept dim 0 and -1, like PyTorch
  TG_CHECK(dim >= -n && dim < n, IndexError, "Dimension out of range (expected to be in range of [",
           -n, ", ", n - 1, "], but got ", dim, ")");
  return dim < 0 ? dim + n : dim;
}

void check_shape(const Shape& shape) {
  for (int64_t s : shape)
    TG_CHECK(s >= 0, ValueError, "negative dimension ", s, " in size ", shape_str(shape));
}

Tensor empty(const Shape& shape, DType dtype) {
  check_shape(shape);
  auto t = std::make_shared<TensorImpl>();
  int64_t n = numel_of(shape);
  if ((uint64_t)n > std::numeric_limits<uint64_t>::max() / 16) throw std::bad_alloc();
  t->storage = Storage::allocate((size_t)n * itemsize(dtype));
  t->shape = shape;
  t->strides = contiguous_strides(shape);
  t->dtype = dtype;
  return t;
}

Tensor make_view(const Tensor& base, Shape shape, Shape strides, int64_t offset) {
  auto t = std::make_shared<TensorImpl>();
  t->storage = base->storage;
  t->shape = std::move(shape);
  t->strides = std::move(strides);
  t->offset = offset;
  t->dtype = base->dtype;
  return t;
}

Tensor alias(const Tensor& t) { return make_view(t, t->shape, t->strides, t->offset); }

namespace {
constexpr int kUndef = -1;
int promote_skip_undefined(int a, int b) {
  if (a == kUndef) return b;
  if (b == kUndef) return a;
  return (int)promote((DType)a, (DType)b);
}
// PyTorch's combine_categories: a lower priority class only counts when it is of a
// higher category (bool < integer < float).
int combine_categories(int higher, int lower) {
  if (higher == kUndef) return lower;
  if (is_floating((DType)higher)) return higher;
  if (lower != kUndef && (higher == (int)DType::Bool || is_floating((DType)lower)))
    return promote_skip_undefined(higher, lower);
  return higher;
}
}  // namespace

DType result_type(TensorRefs operands) {
  int dim = kUndef, zero = kUndef, wrapped = kUndef;
  for (size_t i = 0; i < operands.size(); ++i) {
    const Tensor& t = operands[i];
    int d = (int)t->dtype;
    if (t->wrapped_number) {
      if (is_floating(t->dtype)) d = (int)DType::Float32;  // the default float dtype
      wrapped = promote_skip_undefined(wrapped, d);
    } else if (t->ndim() == 0) {
      zero = promote_skip_undefined(zero, d);
    } else {
      dim = promote_skip_undefined(dim, d);
    }
  }
  int r = combine_categories(dim, combine_categories(zero, wrapped));
  return r == kUndef ? DType::Float32 : (DType)r;
}

void throw_not_implemented(const char* what, DType dt) {
  throw NotImplementedError(cat_str("\"", what, "\" not implemented for '", scalar_type_name(dt), "'"));
}

}  // namespace tg
