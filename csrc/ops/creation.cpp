#include "ops/creation.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "autograd/node.h"
#include "autograd/trace.h"
#include "core/convert.h"
#include "kernels/loops.h"
#include "ops/elementwise.h"

namespace tg {

Tensor full(const Shape& shape, double value, DType dtype) {
  Tensor t = empty(shape, dtype);
  int64_t n = t->numel();
  TG_DISPATCH_ALL_TYPES(dtype, T, {
    T v = convert<T>(value);
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
  TG_DISPATCH_ALL_TYPES(dtype, T, {
    T* p = t->data_as<T>();
    for (int64_t i = 0; i < (int64_t)n; ++i) p[i] = convert<T>(start + i * step);
  });
  return t;
}

Tensor linspace(double start, double end, int64_t steps, DType dtype) {
  TG_CHECK(steps >= 0, RuntimeError, "linspace: number of steps must be non-negative, got ", steps);
  Tensor t = empty({steps}, dtype);
  double step = steps > 1 ? (end - start) / double(steps - 1) : 0.0;
  TG_DISPATCH_ALL_TYPES(dtype, T, {
    T* p = t->data_as<T>();
    // Fill from both ends like PyTorch so the last value is exactly `end`.
    int64_t half = steps / 2;
    for (int64_t i = 0; i < steps; ++i)
      p[i] = convert<T>(i < half ? start + step * i : end - step * (steps - 1 - i));
  });
  return t;
}

Tensor eye(int64_t n, int64_t m, DType dtype) {
  TG_CHECK(n >= 0 && m >= 0, RuntimeError, "eye: n and m must be non-negative, got n=", n, ", m=", m);
  Tensor t = zeros({n, m}, dtype);
  TG_DISPATCH_ALL_TYPES(dtype, T, {
    T* p = t->data_as<T>();
    for (int64_t i = 0; i < std::min(n, m); ++i) p[i * m + i] = convert<T>(1.0);
  });
  return t;
}

Tensor scalar_tensor(double value, DType dtype, bool wrapped) {
  Tensor t = full({}, value, dtype);
  t->wrapped_number = wrapped;
  return t;
}


namespace {
// One row of dst = convert(src), any element strides (in bytes). One small function per
// pair of types, run by a single strided loop: 100 pairs of dtypes cost 100 short loops in
// the binary, not 100 instantiations of the parallel strided iteration.
using RowConvert = void (*)(char* dst, int64_t ds, const char* src, int64_t ss, int64_t n);

template <class TD, class TS>
void convert_row(char* dst, int64_t ds, const char* src, int64_t ss, int64_t n) {
  if (ds == sizeof(TD) && ss == sizeof(TS)) {
    TD* o = reinterpret_cast<TD*>(dst);
    const TS* x = reinterpret_cast<const TS*>(src);
    for (int64_t i = 0; i < n; ++i) o[i] = convert<TD>(x[i]);
  } else if (ss == 0) {  // a broadcast scalar
    const TD v = convert<TD>(*reinterpret_cast<const TS*>(src));
    for (int64_t i = 0; i < n; ++i) *reinterpret_cast<TD*>(dst + i * ds) = v;
  } else {
    for (int64_t i = 0; i < n; ++i)
      *reinterpret_cast<TD*>(dst + i * ds) = convert<TD>(*reinterpret_cast<const TS*>(src + i * ss));
  }
}

void run_rows(const Tensor& dst, const Tensor& src, const Shape& bs, RowConvert fn) {
  kernels::strided_loop<2>(dst->shape, {dst->strides.data(), bs.data()}, {dst->data(), src->data()},
                           {(int64_t)itemsize(dst->dtype), (int64_t)itemsize(src->dtype)},
                           [fn](std::array<char*, 2> p, std::array<int64_t, 2> s, int64_t n) {
                             fn(p[0], s[0], p[1], s[1], n);
                           });
}

// The bulk half <-> float32 conversions for contiguous tensors of the same shape.
bool copy_half_bulk(const Tensor& dst, const Tensor& src) {
  if (dst->shape != src->shape || !dst->is_contiguous() || !src->is_contiguous()) return false;
  const int64_t n = dst->numel();
  auto run = [n](auto fn, auto* s, auto* d) {
    parallel_for(n, 1 << 14, [&](int64_t b, int64_t e) { fn(s + b, d + b, e - b); });
  };
  const DType sd = src->dtype, dd = dst->dtype;
  if (sd == DType::Float16 && dd == DType::Float32)
    run(half_to_float_n, src->data_as<uint16_t>(), dst->data_as<float>());
  else if (sd == DType::Float32 && dd == DType::Float16)
    run(float_to_half_n, src->data_as<float>(), dst->data_as<uint16_t>());
  else if (sd == DType::BFloat16 && dd == DType::Float32)
    run(bf16_to_float_n, src->data_as<uint16_t>(), dst->data_as<float>());
  else if (sd == DType::Float32 && dd == DType::BFloat16)
    run(float_to_bf16_n, src->data_as<float>(), dst->data_as<uint16_t>());
  else
    return false;
  return true;
}
}  // namespace

void copy_into(const Tensor& dst, const Tensor& src) {
  Shape bs = broadcast_strides(src, dst->shape);
  RowConvert fn = nullptr;
  if (dst->dtype == src->dtype) {
    // a pure move of elements: one kernel per element size serves every dtype
    TG_DISPATCH_BY_SIZE(dst->dtype, T, fn = &convert_row<T, T>);
  } else {
    if (copy_half_bulk(dst, src)) return;
    TG_DISPATCH_ALL_TYPES(dst->dtype, TD, {
      TG_DISPATCH_ALL_TYPES(src->dtype, TS, fn = &convert_row<TD, TS>);
    });
  }
  run_rows(dst, src, bs, fn);
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
