// Layer normalization: one op whose forward (row statistics, normalize + affine) and
// backward (input, weight and bias gradients) are each one fused kernel of
// kernels/layernorm.h.
#include "ops/layernorm.h"

#include "ops/compute.h"

#include <utility>
#include <vector>

#include "autograd/node.h"
#include "autograd/trace.h"
#include "kernels/layernorm.h"
#include "ops/creation.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "ops/shape.h"

namespace tg {

namespace {

template <class T>
T* ptr(const Tensor& t) {
  return t ? t->data_as<T>() : nullptr;
}

// PyTorch's names of the dtypes in its kernel messages.
const char* scalar_name(DType d) { return scalar_type_name(d); }

Tensor dense(const Tensor& t, DType dt) {
  if (!t) return nullptr;
  Tensor c = contiguous(t);
  if (c->dtype == dt) return c;
  NoGradGuard ng;
  return to_dtype(c, dt);
}

struct NativeLayerNormBackward0 : Node {
  SavedTensor input, weight;
  std::vector<double> mean, rstd;
  int64_t M, N;
  Shape weight_shape, bias_shape;
  int64_t k;   // number of normalized (trailing) dims
  double eps;
  NativeLayerNormBackward0(const Tensor& x, const Tensor& w, const Tensor& b, std::vector<double> mean,
                           std::vector<double> rstd, int64_t M, int64_t N, int64_t k, double eps)
      : input(x), mean(std::move(mean)), rstd(std::move(rstd)), M(M), N(N), k(k), eps(eps) {
    if (w) weight = SavedTensor(w), weight_shape = w->shape;
    if (b) bias_shape = b->shape;
  }
  std::string name() const override { return "NativeLayerNormBackward0"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    const Tensor& in = input.get(*this);
    const DType dt = in->dtype;
    Tensor x = contiguous(in), go = dense(g[0], dt);
    Tensor w = weight.t ? dense(weight.get(*this), dt) : nullptr;
    std::vector<Tensor> out(3);
    if (next_edges[0].fn) out[0] = empty(x->shape, dt);
    if (next_edges[1].fn) out[1] = empty(weight_shape, dt);
    if (next_edges[2].fn) out[2] = empty(bias_shape, dt);
    TG_DISPATCH_FLOAT(dt, T, {
      kernels::layernorm_backward<T>(x->data_as<T>(), go->data_as<T>(), M, N, mean.data(), rstd.data(), ptr<T>(w),
                                     ptr<T>(out[0]), ptr<T>(out[1]), ptr<T>(out[2]));
    });
    return out;
  }
  // create_graph: the same formula in public ops (the statistics recomputed from the saved
  // input, so they carry its history), differentiable again to any order.
  std::vector<Tensor> apply_graph(std::vector<Tensor>& g) override {
    const Tensor x = input.get(*this);
    const Tensor w = weight.t ? weight.get(*this) : nullptr;
    const int64_t nd = x->ndim();
    std::vector<int64_t> dims;
    for (int64_t d = nd - k; d < nd; ++d) dims.push_back(d);
    const Tensor mu = tg::mean(x, dims, true);
    const Tensor xc = sub(x, mu);
    const Tensor r = rsqrt(add(tg::mean(mul(xc, xc), dims, true), scalar_tensor(eps, DType::Float64)));
    const Tensor xhat = mul(xc, r);
    std::vector<Tensor> out(3);
    if (next_edges[0].fn) {
      const Tensor gw = w ? mul(g[0], w) : g[0];
      out[0] = mul(r, sub(sub(gw, tg::mean(gw, dims, true)), mul(xhat, tg::mean(mul(gw, xhat), dims, true))));
    }
    if (next_edges[1].fn) out[1] = sum_to(mul(g[0], xhat), weight_shape);
    if (next_edges[2].fn) out[2] = sum_to(g[0], bias_shape);
    return out;
  }
  void release_saved() override { input.reset(), weight.reset(); }
};

struct NativeGroupNormBackward0 : Node {
  SavedTensor input, weight;
  std::vector<double> mean, rstd;
  int64_t N, C, HW, G;
  double eps;
  NativeGroupNormBackward0(const Tensor& x, const Tensor& w, std::vector<double> mean, std::vector<double> rstd,
                           int64_t N, int64_t C, int64_t HW, int64_t G, double eps)
      : input(x), mean(std::move(mean)), rstd(std::move(rstd)), N(N), C(C), HW(HW), G(G), eps(eps) {
    if (w) weight = SavedTensor(w);
  }
  std::string name() const override { return "NativeGroupNormBackward0"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    const Tensor& in = input.get(*this);
    const DType dt = in->dtype;
    Tensor x = contiguous(in), go = dense(g[0], dt);
    Tensor w = weight.t ? dense(weight.get(*this), dt) : nullptr;
    std::vector<Tensor> out(3);
    if (next_edges[0].fn) out[0] = empty(x->shape, dt);
    if (next_edges[1].fn) out[1] = empty({C}, dt);
    if (next_edges[2].fn) out[2] = empty({C}, dt);
    TG_DISPATCH_FLOAT(dt, T, {
      kernels::groupnorm_backward<T>(x->data_as<T>(), go->data_as<T>(), N, C, HW, G, mean.data(), rstd.data(),
                                     ptr<T>(w), ptr<T>(out[0]), ptr<T>(out[1]), ptr<T>(out[2]));
    });
    // the parameter gradients take the parameters' own shapes (a (C,) gradient for them)
    return out;
  }
  // create_graph: the same formula in public ops, the group statistics recomputed from the
  // saved input (over (N, G, C/G * HW) rows), differentiable again.
  std::vector<Tensor> apply_graph(std::vector<Tensor>& g) override {
    const Tensor x = input.get(*this);
    const Shape rows{N, G, (C / G) * HW};
    Shape cshape{1, C};
    std::vector<int64_t> dims{0};
    for (int64_t d = 2; d < x->ndim(); ++d) cshape.push_back(1), dims.push_back(d);
    const Tensor xr = reshape(x, rows);
    const Tensor xc = sub(xr, tg::mean(xr, {2}, true));
    const Tensor r = rsqrt(add(tg::mean(mul(xc, xc), {2}, true), scalar_tensor(eps, DType::Float64)));
    const Tensor xhat_r = mul(xc, r);
    std::vector<Tensor> out(3);
    if (next_edges[0].fn) {
      const Tensor gw = weight.t ? mul(g[0], reshape(weight.get(*this), cshape)) : g[0];
      const Tensor gr = reshape(gw, rows);
      const Tensor dx = mul(r, sub(sub(gr, tg::mean(gr, {2}, true)), mul(xhat_r, tg::mean(mul(gr, xhat_r), {2}, true))));
      out[0] = reshape(dx, x->shape);
    }
    if (next_edges[1].fn) out[1] = sum(mul(g[0], reshape(xhat_r, x->shape)), dims, false);
    if (next_edges[2].fn) out[2] = sum(g[0], dims, false);
    return out;
  }
  void release_saved() override { input.reset(), weight.reset(); }
};

// Both of layer_norm's and group_norm's kernels refuse an input of another dtype than
// float32/float64 and parameters of another dtype than the input's, in PyTorch's words.
void check_dtypes(const char* kernel, DType dt, const Tensor& weight, const Tensor& bias) {
  TG_CHECK(is_floating(dt), NotImplementedError, "\"", kernel, "\" not implemented for '", scalar_name(dt), "'");
  for (const Tensor* p : {&weight, &bias}) {
    if (!*p || (*p)->dtype == dt) continue;
    TG_CHECK(dt != DType::Float32, RuntimeError, "mixed dtype (CPU): expect parameter to have scalar type of Float");
    throw RuntimeError("mixed dtype (CPU): all inputs must share same datatype.");
  }
}

void check_param(const Tensor& t, const char* what, const Shape& normalized_shape) {
  TG_CHECK(!t || t->shape == normalized_shape, RuntimeError, "Expected ", what,
           " to be of same shape as normalized_shape, but got ", what, " of shape ",
           shape_str(t->shape), " and normalized_shape = ", shape_str(normalized_shape));
}

}  // namespace

Tensor layer_norm(const Tensor& input, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps) {
  return trace::op("layer_norm", {input, weight, bias}, [&] { return trace::Attrs{{"normalized_shape", normalized_shape}, {"eps", eps}}; }, [&]() -> Tensor {
  // half types: computed in float32, the result rounded once (PyTorch CPU computes them in float too)
  if (is_half(input->dtype) && (!weight || weight->dtype == input->dtype) && (!bias || bias->dtype == input->dtype))
    return narrow_to(layer_norm(widen(input), normalized_shape, widen(weight), widen(bias), eps), input->dtype);
  const int64_t k = (int64_t)normalized_shape.size(), nd = input->ndim();
  TG_CHECK(k >= 1, RuntimeError,
           "Expected normalized_shape to be at least 1-dimensional, i.e., containing at least one element, "
           "but got normalized_shape = ", shape_str(normalized_shape));
  check_param(weight, "weight", normalized_shape);
  check_param(bias, "bias", normalized_shape);
  bool match = nd >= k;
  for (int64_t i = 0; match && i < k; ++i) match = input->shape[nd - k + i] == normalized_shape[i];
  if (!match) {
    std::string expect = "[*";
    for (int64_t s : normalized_shape) expect += cat_str(", ", s);
    throw RuntimeError(cat_str("Given normalized_shape=", shape_str(normalized_shape),
                               ", expected input with shape ", expect, "], but got input of size",
                               shape_str(input->shape)));
  }
  const DType dt = input->dtype;
  check_dtypes("LayerNormKernelImpl", dt, weight, bias);
  const int64_t N = numel_of(normalized_shape), M = N == 0 ? numel_of(Shape(input->shape.begin(), input->shape.end() - k)) : input->numel() / N;
  Tensor x = contiguous(input), w = dense(weight, dt), b = dense(bias, dt);
  Tensor out = empty(input->shape, dt);
  std::vector<double> mean((size_t)M), rstd((size_t)M);
  TG_DISPATCH_FLOAT(dt, T, {
    kernels::layernorm_forward<T>(x->data_as<T>(), M, N, ptr<T>(w), ptr<T>(b), eps, out->data_as<T>(), mean.data(),
                                  rstd.data());
  });
  set_history(make_node<NativeLayerNormBackward0>({input, weight, bias}, input, weight, bias, std::move(mean),
                                                  std::move(rstd), M, N, k, eps),
              {out});
  return out;
  });
}

Tensor group_norm(const Tensor& input, int64_t num_groups, const Tensor& weight, const Tensor& bias, double eps) {
  return trace::op("group_norm", {input, weight, bias}, [&] { return trace::Attrs{{"num_groups", num_groups}, {"eps", eps}}; }, [&]() -> Tensor {
  TG_CHECK(input->ndim() >= 2, RuntimeError, "Expected at least 2 dimensions for input tensor but received ",
           input->ndim());
  const int64_t N = input->shape[0], C = input->shape[1];
  TG_CHECK(num_groups > 0 && C % num_groups == 0, RuntimeError,
           "Expected number of channels in input to be divisible by num_groups, but got input of shape ",
           shape_str(input->shape), " and num_groups=", num_groups);
  for (auto [t, what] : {std::pair<const Tensor*, const char*>{&weight, "weight"}, {&bias, "bias"}})
    TG_CHECK(!*t || ((*t)->ndim() == 1 && (*t)->numel() == C), RuntimeError, "Expected ", what,
             " to be a vector of size equal to the number of channels in input, but got ", what, " of shape ",
             shape_str((*t)->shape), " and input of shape ", shape_str(input->shape));
  const DType dt = input->dtype;
  check_dtypes("GroupNormKernelImpl", dt, weight, bias);
  const int64_t HW = numel_of(Shape(input->shape.begin() + 2, input->shape.end()));
  Tensor x = contiguous(input), w = dense(weight, dt), b = dense(bias, dt);
  Tensor out = empty(input->shape, dt);
  std::vector<double> mean((size_t)(N * num_groups)), rstd((size_t)(N * num_groups));
  if (N * C * HW > 0)
    TG_DISPATCH_FLOAT(dt, T, {
      kernels::groupnorm_forward<T>(x->data_as<T>(), N, C, HW, num_groups, ptr<T>(w), ptr<T>(b), eps,
                                    out->data_as<T>(), mean.data(), rstd.data());
    });
  set_history(make_node<NativeGroupNormBackward0>({input, weight, bias}, input, weight, std::move(mean),
                                                  std::move(rstd), N, C, HW, num_groups, eps),
              {out});
  return out;
  });
}

}  // namespace tg
