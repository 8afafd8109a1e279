#include "ops/creation.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "autograd/node.h"
#include "autograd/trace.h"
#include "kernels/loops.h"
#include "ops/elementwise.h"

namespace tg {

Tensor full(const Shape& shape, double value, DType dtype) {
  Tensor t = empty(shape, dtype);
  int64_t n = t->numel();
  TG_DISPATCH_ALL(dtype, T, {
    T v = static_cast<T>(value);
    T* p = t->data_as<T>();
    parallel_for(n, 1, [&](int64_t b, int64_t e) { std::fill(p + b, p + e, v); });
  });
  return t;
}

Tensor full(const Shape& shape, const Tensor& value, DType dtype) {
  Tensor t = empty(shape, dtype);
  {
    NoGradGuard no_grad;  // a factory: the result has no history
    fill_(t, value);
  }
  t->storage->version = 0;  // a fresh tensor starts at version 0, as PyTorch's factories
  return t;
}

Tensor zeros(const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  std::memset(t->data(), 0, t->numel() * itemsize(dtype));
  return t;
}

Tensor ones(const Shape& shape, DType dtype) { return full(shape, 1.0, dtype); }

Tensor arange(double start, double end, double step, DType dtype) {
  TG_CHECK(step != 0, RuntimeError, "arange: step must be nonzero");
  TG_CHECK(std::isfinite(start) && std::isfinite(end), RuntimeError,
           "arange: unsupported range: ", start, " -> ", end);
  TG_CHECK((step > 0 && end >= start) || (step < 0 && end <= start), RuntimeError,
           "arange: upper bound and larger bound inconsistent with step sign (start=", start,
           ", end=", end, ", step=", step, ")");
  double n = std::ceil((end - start) / step);
  TG_CHECK(n < 9.2e18, RuntimeError, "arange: too many elements for range ", start, " -> ", end);
  Tensor t = empty({(int64_t)n}, dtype);
  TG_DISPATCH_ALL(dtype, T, {
    T* p = t->data_as<T>();
    for (int64_t i = 0; i < (int64_t)n; ++i) p[i] = static_cast<T>(start + i * step);
  });
  return t;
}

Tensor linspace(double start, double end, int64_t steps, DType dtype) {
  TG_CHECK(steps >= 0, RuntimeError, "linspace: number of steps must be non-negative, got ", steps);
  Tensor t = empty({steps}, dtype);
  double step = steps > 1 ? (end - start) / double(steps - 1) : 0.0;
  TG_DISPATCH_ALL(dtype, T, {
    T* p = t->data_as<T>();
    // Fill from both ends like PyTorch so the last value is exactly `end`.
    int64_t half = steps / 2;
    for (int64_t i = 0; i < steps; ++i)
      p[i] = static_cast<T>(i < half ? start + step * i : end - step * (steps - 1 - i));
  });
  return t;
}

Tensor eye(int64_t n, int64_t m, DType dtype) {
  TG_CHECK(n >= 0 && m >= 0, RuntimeError, "eye: n and m must be non-negative, got n=", n, ", m=", m);
  Tensor t = zeros({n, m}, dtype);
  TG_DISPATCH_ALL(dtype, T, {
    T* p = t->data_as<T>();
    for (int64_t i = 0; i < std::min(n, m); ++i) p[i * m + i] = T(1);
  });
  return t;
}

Tensor scalar_tensor(double value, DType dtype, bool wrapped) {
  Tensor t = full({}, value, dtype);
  t->wrapped_number = wrapped;
  return t;
}

namespace {
// static_cast, except that a float outside int64's range (or nan) becomes INT64_MIN, as
// on x86 hardware and in PyTorch, instead of undefined behaviour.
template <class TD, class TS>
inline TD convert(TS x) {
  if constexpr (std::is_same_v<TD, int64_t> && std::is_floating_point_v<TS>) {
    if (!(x >= TS(-9223372036854775808.0) && x < TS(9223372036854775808.0)))
      return std::numeric_limits<int64_t>::min();
  }
  return static_cast<TD>(x);
}
}  // namespace

void copy_into(const Tensor& dst, const Tensor& src) {
  Shape bs = broadcast_strides(src, dst->shape);
  TG_DISPATCH_ALL(dst->dtype, TD, {
    TG_DISPATCH_ALL(src->dtype, TS, {
      kernels::map1(dst->shape, dst->data_as<TD>(), dst->strides.data(), src->data_as<TS>(),
                    bs.data(), [](TS x) { return convert<TD>(x); });
    });
  });
}

namespace {
struct ToCopyBackward0 : Node {
  DType src_dtype;
  explicit ToCopyBackward0(DType d) : src_dtype(d) {}
  std::string name() const override { return "ToCopyBackward0"; }
  TG_APPLY_IS_DIFFERENTIABLE
  std::vector<Tensor> apply(std::vector<Tensor>& g) override { return {to_dtype(g[0], src_dtype)}; }
};
struct CloneBackward0 : Node {
  std::string name() const override { return "CloneBackward0"; }
  TG_APPLY_IS_DIFFERENTIABLE
  std::vector<Tensor> apply(std::vector<Tensor>& g) override { return {g[0]}; }
};
}  // namespace

Tensor to_dtype(const Tensor& t, DType dtype) {
  return trace::op("to_dtype", {t}, [&]() -> Tensor {
  Tensor out = empty(t->shape, dtype);
  copy_into(out, t);
  if (is_floating(dtype) && is_floating(t->dtype))
    set_history(make_node<ToCopyBackward0>({t}, t->dtype), {out});
  return out;
  });
}

Tensor clone(const Tensor& t) {
  Tensor out = empty(t->shape, t->dtype);
  copy_into(out, t);
  set_history(make_node<CloneBackward0>({t}), {out});
  return out;
}

Tensor contiguous(const Tensor& t) {
  return trace::op("identity", {t}, [&]() -> Tensor {
    return t->is_contiguous() ? t : clone(t);
  });
}

}  // namespace tg
