// softmax and log_softmax along one dim: fused forward and backward kernels
// (kernels/softmax.h), each op's backward node next to its forward.
#include "autograd/node.h"
#include "autograd/trace.h"
#include "kernels/softmax.h"
#include "ops/compute.h"
#include "ops/creation.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "ops/reduce_dims.h"

namespace tg {

using namespace reduce_detail;

namespace {
struct SoftmaxBackward : Node {
  SavedTensor out;
  int64_t dim;
  bool log;
  SoftmaxBackward(const Tensor& out, int64_t dim, bool log) : out(out, /*is_output=*/true), dim(dim), log(log) {}
  std::string name() const override { return log ? "LogSoftmaxBackward0" : "SoftmaxBackward0"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    Tensor y = dense(out.get(*this));
    Tensor dy = dense(reduce_detail::cast(g[0], y->dtype));
    Tensor dx = empty(y->shape, y->dtype);
    TG_DISPATCH_FLOAT(y->dtype, T, {
      kernels::softmax_backward(y->data_as<T>(), dy->data_as<T>(), dx->data_as<T>(),
                                dim_geom(y->shape, dim), log);
    });
    return {dx};
  }
  // In public ops (create_graph): softmax dx = y (g - sum(g y)), log_softmax dx = g - e^y sum(g).
  std::vector<Tensor> apply_graph(std::vector<Tensor>& g) override {
    const Tensor y = out.get(*this);
    const Tensor dy = g[0]->dtype == y->dtype ? g[0] : to_dtype(g[0], y->dtype);
    if (log) return {sub(dy, mul(exp(y), sum(dy, {dim}, true)))};
    return {mul(y, sub(dy, sum(mul(dy, y), {dim}, true)))};
  }
  void release_saved() override { out.reset(); }
};

Tensor softmax_impl(const Tensor& in, int64_t dim, std::optional<DType> dtype, bool log) {
  Tensor a = dtype && *dtype != in->dtype ? to_dtype(in, *dtype) : in;
  // PyTorch's kernel names: the last dim has its own kernel
  const bool last = a->ndim() == 0 || wrap_dim(dim, a->ndim()) == a->ndim() - 1;
  TG_CHECK(is_floating(a->dtype), NotImplementedError, "\"", log ? "log_" : "",
           last ? "softmax_lastdim_kernel_impl" : "softmax_kernel_impl", "\" not implemented for '",
           scalar_type_name(a->dtype), "' (an input of dtype ", dtype_name(a->dtype),
           "; pass dtype= to compute in a floating dtype)");
  if (is_half(a->dtype)) return narrow_to(softmax_impl(widen(a), dim, std::nullopt, log), a->dtype);
  const int64_t d = wrap_dim(dim, a->ndim());
  Tensor x = dense(a);
  Tensor y = empty(a->shape, a->dtype);
  TG_DISPATCH_FLOAT(a->dtype, T, {
    kernels::softmax_forward(x->data_as<T>(), y->data_as<T>(), dim_geom(a->shape, d), log);
  });
  set_history(make_node<SoftmaxBackward>({a}, y, d, log), {y});
  return y;
}
}  // namespace

Tensor softmax(const Tensor& a, int64_t dim, std::optional<DType> dtype) {
  return trace::op("softmax", {a}, [&] { return trace::Attrs{{"dim", dim}}; }, [&]() -> Tensor {
  return softmax_impl(a, dim, dtype, false);
  });
}
Tensor log_softmax(const Tensor& a, int64_t dim, std::optional<DType> dtype) {
  return trace::op("log_softmax", {a}, [&] { return trace::Attrs{{"dim", dim}}; }, [&]() -> Tensor {
  return softmax_impl(a, dim, dtype, true);
  });
}

}  // namespace tg
