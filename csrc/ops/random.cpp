// Random tensors and dropout. All draws go through a Generator so `manual_seed` makes a
// run reproducible.
#include "ops/random.h"

#include <limits>
#include <numeric>

#include "autograd/node.h"
#include "kernels/loops.h"
#include "kernels/random.h"
#include "ops/creation.h"
#include "ops/elementwise.h"

namespace tg {

void Generator::manual_seed(uint64_t s) {
  std::lock_guard<std::mutex> lock(mu);
  seed = kernels::rand64(s, ~0ull);  // decorrelate nearby seeds
  offset = 0;
}

uint64_t Generator::take(uint64_t n) {
  std::lock_guard<std::mutex> lock(mu);
  uint64_t start = offset;
  offset += n;
  return start;
}

Generator& default_generator() {
  static Generator g;
  return g;
}

namespace {
// A random fill recorded in place: the old values get no gradient.
struct RandomFillBackward : Node {
  const char* node_name;
  Shape shape;
  DType dtype;
  RandomFillBackward(const char* n, const Tensor& t) : node_name(n), shape(t->shape), dtype(t->dtype) {}
  std::string name() const override { return node_name; }
  TG_APPLY_IS_DIFFERENTIABLE  // public ops
  std::vector<Tensor> apply(std::vector<Tensor>&) override { return {zeros(shape, dtype)}; }
};

// Runs fill(contiguous_out) and copies into `t` when `t` is a non-contiguous view.
template <class Fill>
void fill_any(const Tensor& t, const char* node_name, Fill fill) {
  check_inplace(t);
  auto node = make_node<RandomFillBackward>({t}, node_name, t);
  if (is_half(t->dtype)) {  // drawn in float32, rounded on store
    Tensor tmp = empty(t->shape, DType::Float32);
    fill(tmp);
    copy_into(t, tmp);
  } else if (t->is_contiguous()) {
    fill(t);
  } else {
    Tensor tmp = empty(t->shape, t->dtype);
    fill(tmp);
    copy_into(t, tmp);
  }
  t->storage->version++;
  rebase_history(t, node);
}
}  // namespace

void uniform_(const Tensor& t, double from, double to, Generator& g) {
  // PyTorch's checks and exception type (RuntimeError; nan fails the first)
  TG_CHECK(from <= to, RuntimeError, "uniform_ expects to return a [from, to) range, but found from=",
           from, " > to=", to);
  const double limit = t->dtype == DType::Float32 ? (double)std::numeric_limits<float>::max()
                                                  : std::numeric_limits<double>::max();
  TG_CHECK(to - from <= limit, RuntimeError, "uniform_ expects to-from <= std::numeric_limits<",
           dtype_name(t->dtype), ">::max(), but found to=", to, " and from=", from,
           " which result in to-from to exceed the limit");
  fill_any(t, "UniformBackward0", [&](const Tensor& c) {
    int64_t n = c->numel();
    uint64_t off = g.take(n);
    TG_DISPATCH_FLOAT(c->dtype, T, { kernels::fill_uniform(c->data_as<T>(), n, g.seed, off, from, to); });
  });
}

void normal_(const Tensor& t, double mean, double std, Generator& g) {
  TG_CHECK(std >= 0, RuntimeError, "normal expects std >= 0.0, but found std ", std);
  fill_any(t, "NormalBackward0", [&](const Tensor& c) {
    int64_t n = c->numel();
    uint64_t off = g.take(n + 1);
    TG_DISPATCH_FLOAT(c->dtype, T, { kernels::fill_normal(c->data_as<T>(), n, g.seed, off, mean, std); });
  });
}

Tensor rand(const Shape& shape, DType dtype, Generator& g) {
  TG_CHECK(is_floating(dtype), NotImplementedError, "\"check_uniform_bounds\" not implemented for '",
           scalar_type_name(dtype), "'");
  if (is_half(dtype)) return to_dtype(rand(shape, DType::Float32, g), dtype);  // drawn in float32
  Tensor t = empty(shape, dtype);
  uniform_(t, 0.0, 1.0, g);
  t->storage->version = 0;  // a fresh tensor starts at version 0, as PyTorch's factories
  return t;
}

Tensor randn(const Shape& shape, DType dtype, Generator& g) {
  TG_CHECK(is_floating(dtype), NotImplementedError, "\"normal_kernel_cpu\" not implemented for '",
           scalar_type_name(dtype), "'");
  if (is_half(dtype)) return to_dtype(randn(shape, DType::Float32, g), dtype);  // drawn in float32
  Tensor t = empty(shape, dtype);
  normal_(t, 0.0, 1.0, g);
  t->storage->version = 0;  // a fresh tensor starts at version 0, as PyTorch's factories
  return t;
}

Tensor randint(int64_t low, int64_t high, const Shape& shape, DType dtype, Generator& g) {
  TG_CHECK(low < high, RuntimeError, "random_ expects 'from' to be less than 'to', but got from=",
           low, " >= to=", high);
  Tensor t = empty(shape, DType::Int64);
  int64_t n = t->numel();
  // In uint64 arithmetic: high - low can exceed INT64_MAX (signed overflow is undefined).
  uint64_t off = g.take(n), seed = g.seed, range = (uint64_t)high - (uint64_t)low;
  int64_t* p = t->data_as<int64_t>();
  parallel_for(n, 4, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      p[i] = (int64_t)((uint64_t)low + kernels::below(kernels::rand64(seed, off + i), range));
  });
  return dtype == DType::Int64 ? t : to_dtype(t, dtype);
}

Tensor randperm(int64_t n, DType dtype, Generator& g) {
  TG_CHECK(n >= 0, RuntimeError, "randperm: n must be non-negative, got ", n);
  Tensor t = empty({n}, DType::Int64);
  int64_t* p = t->data_as<int64_t>();
  std::iota(p, p + n, int64_t(0));
  uint64_t off = g.take(n), seed = g.seed;
  for (int64_t i = n - 1; i > 0; --i)  // Fisher-Yates
    std::swap(p[i], p[kernels::below(kernels::rand64(seed, off + i), (uint64_t)i + 1)]);
  return dtype == DType::Int64 ? t : to_dtype(t, dtype);
}

Tensor bernoulli(const Tensor& p, Generator& g) {
  TG_CHECK(is_floating(p->dtype), RuntimeError, "bernoulli expects a floating tensor of probabilities, got ",
           dtype_name(p->dtype));
  Tensor u = rand(p->shape, p->dtype, g);
  Tensor out = empty(p->shape, p->dtype);
  Shape sp = broadcast_strides(p, p->shape);
  TG_DISPATCH_FLOAT(p->dtype, T, {
    kernels::map2(p->shape, out->data_as<T>(), out->strides.data(), u->data_as<T>(),
                  u->strides.data(), p->data_as<T>(), sp.data(), [](T x, T prob) {
                    return T(x < prob ? 1 : 0);
                  });
  });
  return out;
}

namespace {
struct NativeDropoutBackward0 : Node {
  Tensor mask;  // already scaled by 1/(1-p); not an input or output, so no cycle
  explicit NativeDropoutBackward0(Tensor m) : mask(std::move(m)) {}
  std::string name() const override { return "NativeDropoutBackward0"; }
  TG_APPLY_IS_DIFFERENTIABLE
  std::vector<Tensor> apply(std::vector<Tensor>& g) override { return {mul(g[0], mask)}; }
  void release_saved() override { mask.reset(); }
};
}  // namespace

namespace {
void check_dropout(const Tensor& x, double p) {
  TG_CHECK(p >= 0 && p <= 1, RuntimeError, "dropout probability has to be between 0 and 1, but got ", p);
  TG_CHECK(is_floating(x->dtype), RuntimeError, "dropout expects a floating tensor, got ",
           dtype_name(x->dtype));
}

// 0 with probability p, else 1 / (1 - p), shaped as `shape` (a fresh tensor of `dtype`).
Tensor keep_mask(const Shape& shape, DType dtype, double p, Generator& g) {
  Tensor mask = empty(shape, dtype);
  const int64_t n = mask->numel();
  const uint64_t off = g.take(n);
  const double scale = p == 1 ? 0.0 : 1.0 / (1.0 - p);
  TG_DISPATCH_FLOAT(dtype, T, { kernels::fill_keep_mask(mask->data_as<T>(), n, g.seed, off, p, scale); });
  return mask;
}

Tensor dropout_mask(const Tensor& x, double p, Generator& g) { return keep_mask(x->shape, x->dtype, p, g); }
}  // namespace

// In place it is x *= mask, recorded as that product (MulBackward0, as PyTorch records it).
void dropout_(const Tensor& x, double p, bool train, Generator& g) {
  check_dropout(x, p);
  if (!train || p == 0) return;
  check_inplace(x);  // before drawing, so a refused call leaves the generator alone
  mul_(x, dropout_mask(x, p, g));
}

Tensor dropout(const Tensor& x, double p, bool train, Generator& g) {
  check_dropout(x, p);
  if (!train || p == 0) return x;
  Tensor mask = dropout_mask(x, p, g);
  Tensor out;
  {
    NoGradGuard ng;
    out = mul(x, mask);
  }
  set_history(make_node<NativeDropoutBackward0>({x}, mask), {out});
  return out;
}

Tensor feature_dropout(const Tensor& x, double p, bool train, Generator& g) {
  TG_CHECK(p >= 0 && p <= 1, RuntimeError, "dropout probability has to be between 0 and 1, but got ", p);
  // PyTorch's order: nothing to drop returns the input itself, p == 1 zeroes any input
  if (!train || p == 0 || x->numel() == 0) return x;
  if (p == 1) return mul(x, scalar_tensor(0.0, x->dtype, false));
  TG_CHECK(x->ndim() >= 2, RuntimeError,
           "Feature dropout requires at least 2 dimensions in the input (got input size ",
           shape_str(x->shape), ")");
  TG_CHECK(is_floating(x->dtype), RuntimeError, "result type Float can't be cast to the desired output type ",
           dtype_name(x->dtype), " (feature dropout of an input of size ", shape_str(x->shape), ")");
  // one draw per (n, c), broadcast over the trailing dims by the multiply
  Shape noise(x->ndim(), 1);
  noise[0] = x->shape[0], noise[1] = x->shape[1];
  return mul(x, keep_mask(noise, x->dtype, p, g));  // MulBackward0, as in PyTorch
}

}  // namespace tg
