// Fused optimizer steps: one call per parameter group. The Python optimizers keep the
// bookkeeping (param_groups, state); None entries of state lists arrive as null tensors.
#include "ops/ops.h"
#include "python/bind.h"

namespace tg::bind {

namespace {
int64_t total_numel(const std::vector<Tensor>& ts) {
  int64_t n = 0;
  for (auto& t : ts) n += t ? t->numel() : 0;
  return n;
}
}  // namespace

void bind_optim(py::module_& m, TensorClass&) {
  m.def("_sgd_step", [](const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                        const std::vector<OptTensor>& momentum_buffers, double lr, double momentum,
                        double dampening, double weight_decay, bool nesterov, bool maximize) {
    std::vector<Tensor> momentum_bufs;
    for (auto& b : momentum_buffers) momentum_bufs.push_back(or_null(b));
    return maybe_release(total_numel(params), [&] {
      return sgd_step(params, grads, momentum_bufs, lr, momentum, dampening, weight_decay, nesterov, maximize);
    });
  }, py::arg("params"), py::arg("grads"), py::arg("momentum_buffers"), py::arg("lr"),
     py::arg("momentum"), py::arg("dampening"), py::arg("weight_decay"), py::arg("nesterov"),
     py::arg("maximize"));

  m.def("_adam_step", [](const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                         const std::vector<Tensor>& exp_avgs, const std::vector<Tensor>& exp_avg_sqs,
                         const std::vector<Tensor>& max_exp_avg_sqs, const std::vector<Tensor>& steps,
                         double lr, double beta1, double beta2, double eps, double weight_decay,
                         bool amsgrad, bool maximize, bool decoupled_weight_decay) {
    maybe_release(total_numel(params), [&] {
      adam_step(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, lr, beta1, beta2, eps,
                weight_decay, amsgrad, maximize, decoupled_weight_decay);
      return 0;
    });
  }, py::arg("params"), py::arg("grads"), py::arg("exp_avgs"), py::arg("exp_avg_sqs"),
     py::arg("max_exp_avg_sqs"), py::arg("state_steps"), py::arg("lr"), py::arg("beta1"),
     py::arg("beta2"), py::arg("eps"), py::arg("weight_decay"), py::arg("amsgrad"),
     py::arg("maximize"), py::arg("decoupled_weight_decay"));

  m.def("_rmsprop_step", [](const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                            const std::vector<Tensor>& square_avgs, const std::vector<Tensor>& grad_avgs,
                            const std::vector<Tensor>& momentum_bufs, const std::vector<Tensor>& steps,
                            double lr, double alpha, double eps, double weight_decay, double momentum,
                            bool centered, bool maximize) {
    maybe_release(total_numel(params), [&] {
      rmsprop_step(params, grads, square_avgs, grad_avgs, momentum_bufs, steps, lr, alpha, eps,
                   weight_decay, momentum, centered, maximize);
      return 0;
    });
  }, py::arg("params"), py::arg("grads"), py::arg("square_avgs"), py::arg("grad_avgs"),
     py::arg("momentum_buffers"), py::arg("state_steps"), py::arg("lr"), py::arg("alpha"),
     py::arg("eps"), py::arg("weight_decay"), py::arg("momentum"), py::arg("centered"),
     py::arg("maximize"));

  m.def("_adadelta_step", [](const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                             const std::vector<Tensor>& square_avgs, const std::vector<Tensor>& acc_deltas,
                             const std::vector<Tensor>& steps, double lr, double rho, double eps,
                             double weight_decay, bool maximize) {
    maybe_release(total_numel(params), [&] {
      adadelta_step(params, grads, square_avgs, acc_deltas, steps, lr, rho, eps, weight_decay, maximize);
      return 0;
    });
  }, py::arg("params"), py::arg("grads"), py::arg("square_avgs"), py::arg("acc_deltas"),
     py::arg("state_steps"), py::arg("lr"), py::arg("rho"), py::arg("eps"), py::arg("weight_decay"),
     py::arg("maximize"));

  m.def("_adagrad_step", [](const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                            const std::vector<Tensor>& state_sums, const std::vector<Tensor>& steps,
                            double lr, double lr_decay, double weight_decay, double eps, bool maximize) {
    maybe_release(total_numel(params), [&] {
      adagrad_step(params, grads, state_sums, steps, lr, lr_decay, weight_decay, eps, maximize);
      return 0;
    });
  }, py::arg("params"), py::arg("grads"), py::arg("state_sums"), py::arg("state_steps"),
     py::arg("lr"), py::arg("lr_decay"), py::arg("weight_decay"), py::arg("eps"), py::arg("maximize"));
}

}  // namespace tg::bind
