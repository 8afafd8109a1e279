// Batch normalization: one op whose forward (statistics, running-stat update, normalize +
// affine) and backward (input, weight and bias gradients in one kernel call) are the fused
// kernels of kernels/batchnorm.h.
#include "ops/batchnorm.h"

#include "ops/compute.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "autograd/node.h"
#include "autograd/trace.h"
#include "kernels/batchnorm.h"
#include "ops/creation.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "ops/shape.h"

namespace tg {

namespace {

kernels::BnShape bn_shape(const Tensor& x) {
  const int64_t n = x->shape[0], c = x->shape[1];
  int64_t s = 1;
  for (int64_t d = 2; d < x->ndim(); ++d) s *= x->shape[d];
  return {n, c, s};
}

template <class T>
T* ptr(const Tensor& t) {
  return t ? t->data_as<T>() : nullptr;
}

// A tensor of `t`'s values with `dt` and contiguous, without history; null for null.
Tensor dense(const Tensor& t, DType dt) {
  if (!t) return nullptr;
  Tensor c = contiguous(t);
  if (c->dtype == dt) return c;
  NoGradGuard ng;
  return to_dtype(c, dt);
}

// The per-channel tensors must match the input's channels and dtype; the running
// statistics take no gradient (they are updated in place).
void check_channel_tensor(const Tensor& t, const char* what, int64_t c, DType dt) {
  if (!t) return;
  TG_CHECK(t->numel() == c, RuntimeError, what, " should contain ", c, " elements not ", t->numel(),
           " (", what, " shape ", shape_str(t->shape), ")");
  TG_CHECK(t->dtype == dt, RuntimeError, "mixed dtype (CPU): all inputs must share same datatype: input is ",
           dtype_name(dt), ", ", what, " is ", dtype_name(t->dtype));
}

void check_running_stat(const Tensor& t, const char* what) {
  TG_CHECK(!t->requires_grad, RuntimeError,
           "The function 'native_batch_norm' is not differentiable with respect to argument '", what,
           "'. This input cannot have requires_grad True.");
}

// The running statistics are written in training: checked before anything is written, so a
// failure leaves both unchanged.
void check_running_stat_writable(const Tensor& t) {
  check_storage_writable(*t->storage);
  for (int64_t d = 0; d < t->ndim(); ++d)
    TG_CHECK(t->shape[d] <= 1 || t->strides[d] != 0, RuntimeError,
             "unsupported operation: more than one element of the written-to tensor refers to a "
             "single memory location. Please clone() the tensor before performing the operation. "
             "(running statistics of shape ", shape_str(t->shape), ", strides ", shape_str(t->strides), ")");
}

// stat = (1 - momentum) * stat + momentum * value[c] (times `scale`), through copy_, which
// bumps the version like any in-place op.
template <class T>
void update_running(const Tensor& stat, const std::vector<double>& value, double scale, double momentum) {
  Tensor cur = contiguous(stat);
  Tensor next = empty(stat->shape, stat->dtype);
  const T* p = cur->data_as<T>();
  T* q = next->data_as<T>();
  for (size_t c = 0; c < value.size(); ++c)
    q[c] = T((1.0 - momentum) * double(p[c]) + momentum * value[c] * scale);
  NoGradGuard ng;
  copy_(stat, next);
}

struct NativeBatchNormBackward0 : Node {
  SavedTensor input, weight;
  std::vector<double> mean, invstd;
  bool training;
  double eps;
  Shape weight_shape, bias_shape;
  NativeBatchNormBackward0(const Tensor& x, const Tensor& w, const Tensor& b, std::vector<double> mean,
                           std::vector<double> invstd, bool training, double eps)
      : input(x), mean(std::move(mean)), invstd(std::move(invstd)), training(training), eps(eps) {
    if (w) weight = SavedTensor(w), weight_shape = w->shape;
    if (b) bias_shape = b->shape;
  }
  std::string name() const override { return "NativeBatchNormBackward0"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    const Tensor& in = input.get(*this);
    const DType dt = in->dtype;
    Tensor x = contiguous(in), go = dense(g[0], dt);
    Tensor w = weight.t ? dense(weight.get(*this), dt) : nullptr;
    const kernels::BnShape sh = bn_shape(x);
    std::vector<Tensor> out(3);
    if (next_edges[0].fn) out[0] = empty(x->shape, dt);
    if (next_edges[1].fn) out[1] = empty(weight_shape, dt);
    if (next_edges[2].fn) out[2] = empty(bias_shape, dt);
    TG_DISPATCH_FLOAT(dt, T, {
      kernels::batchnorm_backward<T>(x->data_as<T>(), go->data_as<T>(), sh, mean.data(), invstd.data(),
                                     ptr<T>(w), training, ptr<T>(out[0]), ptr<T>(out[1]), ptr<T>(out[2]));
    });
    return out;
  }
  // create_graph: the same formula in public ops; in training the batch statistics are
  // recomputed from the saved input (they depend on it), in evaluation the running ones
  // are constants.
  std::vector<Tensor> apply_graph(std::vector<Tensor>& g) override {
    const Tensor x = input.get(*this);
    const int64_t nd = x->ndim(), C = x->shape[1];
    std::vector<int64_t> dims{0};
    Shape cshape{1, C};
    for (int64_t d = 2; d < nd; ++d) dims.push_back(d), cshape.push_back(1);
    auto channel_const = [&](const std::vector<double>& v) {
      Tensor t = empty({C}, DType::Float64);
      std::copy(v.begin(), v.end(), t->data_as<double>());
      return reshape(to_dtype(t, x->dtype), cshape);
    };
    const Tensor w = weight.t ? reshape(weight.get(*this), cshape) : nullptr;
    Tensor xhat, r;
    if (training) {
      const Tensor xc = sub(x, tg::mean(x, dims, true));
      r = rsqrt(add(tg::mean(mul(xc, xc), dims, true), scalar_tensor(eps, DType::Float64)));
      xhat = mul(xc, r);
    } else {
      r = channel_const(invstd);
      xhat = mul(sub(x, channel_const(mean)), r);
    }
    std::vector<Tensor> out(3);
    if (next_edges[0].fn) {
      const Tensor gw = w ? mul(g[0], w) : g[0];
      if (training)
        out[0] = mul(r, sub(sub(gw, tg::mean(gw, dims, true)), mul(xhat, tg::mean(mul(gw, xhat), dims, true))));
      else
        out[0] = mul(gw, r);
    }
    if (next_edges[1].fn) out[1] = reshape(sum(mul(g[0], xhat), dims, false), weight_shape);
    if (next_edges[2].fn) out[2] = reshape(sum(g[0], dims, false), bias_shape);
    return out;
  }
  void release_saved() override { input.reset(), weight.reset(); }
};

}  // namespace

Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, bool training, double momentum,
                  double eps) {
  return trace::op("batch_norm", {input, running_mean, running_var, weight, bias}, [&] { return trace::Attrs{{"training", int64_t(training)}, {"momentum", momentum}, {"eps", eps}}; }, [&]() -> Tensor {
  const DType dt = input->dtype;
  TG_CHECK(is_floating(dt), RuntimeError, "\"batch_norm\" not implemented for '", dtype_name(dt),
           "' (input ", shape_str(input->shape), ")");
  // Below 2 dimensions PyTorch reads no channel count: its errors are then those of the running
  // stats (defined in evaluation mode, and of the wrong size: RuntimeError), else IndexError.
  TG_CHECK(input->ndim() >= 2 || training || running_mean, RuntimeError,
           "running_mean must be defined in evaluation mode");
  TG_CHECK(input->ndim() >= 2 || !running_mean, RuntimeError,
           "batch_norm: expected an input with at least 2 dimensions (N, C, ...), got input size ",
           shape_str(input->shape), " (so running_mean should contain no elements, not ",
           running_mean ? running_mean->numel() : 0, ")");
  TG_CHECK(input->ndim() >= 2, IndexError,
           "batch_norm: expected an input with at least 2 dimensions (N, C, ...), got input size ",
           shape_str(input->shape));
  const kernels::BnShape sh = bn_shape(input);
  const int64_t C = sh.c;
  TG_CHECK(!training || sh.n * sh.s != 1, ValueError,
           "Expected more than 1 value per channel when training, got input size ",
           shape_str(input->shape));
  TG_CHECK(!training || eps > 0, ValueError,
           "batch_norm eps must be positive during training, but got ", eps);
  TG_CHECK(!(eps < 0), ValueError, "batch_norm eps must be non-negative, but got ", eps);
  // PyTorch's order: evaluation mode needs both running stats (RuntimeError) before the
  // "both or neither" check (ValueError).
  TG_CHECK(training || running_mean, RuntimeError, "running_mean must be defined in evaluation mode");
  TG_CHECK(training || running_var, RuntimeError, "running_var must be defined in evaluation mode");
  TG_CHECK(!running_mean == !running_var, ValueError,
           "running_mean and running_var must either both be None or neither be None");
  check_channel_tensor(weight, "weight", C, dt);
  check_channel_tensor(bias, "bias", C, dt);
  check_channel_tensor(running_mean, "running_mean", C, dt);
  check_channel_tensor(running_var, "running_var", C, dt);
  if (running_mean) {
    check_running_stat(running_mean, "running_mean");
    check_running_stat(running_var, "running_var");
  }
  const bool update = training && running_mean && sh.n * sh.s > 0;
  if (update) {
    check_running_stat_writable(running_mean);
    check_running_stat_writable(running_var);
  }

  if (is_half(dt)) {
    // half types: normalized in float32 (statistics on float32 copies of the running stats,
    // written back rounded), the output rounded once
    Tensor rm = dense(running_mean, DType::Float32), rv = dense(running_var, DType::Float32);
    Tensor out = batch_norm(widen(input), rm, rv, widen(weight), widen(bias), training, momentum, eps);
    if (update) {
      NoGradGuard ng;
      copy_(running_mean, rm);
      copy_(running_var, rv);
    }
    return narrow_to(out, dt);
  }
  Tensor x = contiguous(input);
  Tensor w = dense(weight, dt), b = dense(bias, dt);
  std::vector<double> mean(C, 0.0), var(C, 1.0), invstd(C);
  TG_DISPATCH_FLOAT(dt, T, {
    if (training) {
      if (sh.n * sh.s > 0) kernels::batchnorm_stats<T>(x->data_as<T>(), sh, mean.data(), var.data());
    } else {
      Tensor rm = contiguous(running_mean), rv = contiguous(running_var);
      for (int64_t c = 0; c < C; ++c)
        mean[c] = double(rm->data_as<T>()[c]), var[c] = double(rv->data_as<T>()[c]);
    }
  });
  for (int64_t c = 0; c < C; ++c) invstd[c] = 1.0 / std::sqrt(var[c] + eps);

  Tensor out = empty(input->shape, dt);
  TG_DISPATCH_FLOAT(dt, T, {
    kernels::batchnorm_apply<T>(x->data_as<T>(), sh, mean.data(), invstd.data(), ptr<T>(w), ptr<T>(b),
                                out->data_as<T>());
    if (update) {
      const double m = double(sh.n) * double(sh.s);
      update_running<T>(running_mean, mean, 1.0, momentum);
      update_running<T>(running_var, var, m / (m - 1.0), momentum);
    }
  });
  set_history(make_node<NativeBatchNormBackward0>({input, weight, bias}, input, weight, bias, std::move(mean),
                                                  std::move(invstd), training, eps),
              {out});
  return out;
  });
}

}  // namespace tg
