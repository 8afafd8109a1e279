// Optimizer steps: argument checks and buffer handling around the fused kernels of
// kernels/optim.h. One call updates a whole parameter group; no autograd is involved.
#include "ops/optim.h"

#include "kernels/optim.h"
#include "ops/creation.h"

namespace tg {

namespace {

void check_count(const std::vector<Tensor>& list, size_t n, const char* what, const char* op) {
  TG_CHECK(list.size() == n, RuntimeError, op, ": expected ", n, " ", what, " (one per parameter), got ",
           list.size());
}

void check_param(const Tensor& p, size_t i, const char* op) {
  TG_CHECK(p, RuntimeError, op, ": parameter ", i, " is None");
  check_storage_writable(*p->storage);
  TG_CHECK(is_floating(p->dtype), RuntimeError, op, ": parameter ", i,
           " must have a floating dtype, got ", dtype_name(p->dtype));
}

// A gradient or state tensor must match its parameter exactly.
void check_like(const Tensor& t, const Tensor& p, size_t i, const char* what, const char* op) {
  TG_CHECK(t, RuntimeError, op, ": ", what, " of parameter ", i, " is None");
  TG_CHECK(t->shape == p->shape && t->dtype == p->dtype, RuntimeError, op, ": ", what,
           " of parameter ", i, " is ", dtype_name(t->dtype), " ", shape_str(t->shape),
           " but the parameter is ", dtype_name(p->dtype), " ", shape_str(p->shape));
}

void check_step(const Tensor& s, size_t i, const char* op) {
  TG_CHECK(s && s->numel() == 1 && s->dtype != DType::Bool, RuntimeError, op,
           ": step of parameter ", i, " must be a one-element number tensor");
}

// A contiguous copy, in float32 for half types (the kernels compute them in float32 and
// the commit rounds once).
Tensor dense_copy(const Tensor& t) {
  Tensor c = empty(t->shape, compute_dtype(t->dtype));
  copy_into(c, t);
  return c;
}

// A tensor the kernel updates: the tensor itself when contiguous, else a contiguous copy
// that commit() writes back. Null stays null (a state the options do not use).
struct Updated {
  Tensor orig, buf;
  explicit Updated(const Tensor& t)
      : orig(t), buf(t && (!t->is_contiguous() || is_half(t->dtype)) ? dense_copy(t) : t) {}
  template <class T> T* data() const { return buf ? buf->template data_as<T>() : nullptr; }
  void commit() const {
    if (!orig) return;
    if (buf != orig) copy_into(orig, buf);
    orig->storage->version++;  // autograd must see that saved copies changed
  }
};

Tensor readable(const Tensor& t) { return t->is_contiguous() && !is_half(t->dtype) ? t : dense_copy(t); }

// Increments a step counter and returns the new count.
double advance(const Tensor& step) {
  double v = 0;
  TG_DISPATCH_NUMERIC(step->dtype, T, {
    T* p = step->data_as<T>();
    *p = T(*p + T(1));
    v = double(*p);
  });
  step->storage->version++;
  return v;
}

const Tensor& entry(const std::vector<Tensor>& list, size_t i) {
  static const Tensor none;
  return i < list.size() ? list[i] : none;
}

}  // namespace

std::vector<Tensor> sgd_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                             std::vector<Tensor> momentum_bufs, double lr, double momentum,
                             double dampening, double weight_decay, bool nesterov, bool maximize) {
  const char* op = "sgd";
  const size_t n = params.size();
  check_count(grads, n, "gradients", op);
  if (momentum != 0) check_count(momentum_bufs, n, "momentum buffers", op);
  else momentum_bufs.clear();
  for (size_t i = 0; i < n; ++i) {
    check_param(params[i], i, op);
    check_like(grads[i], params[i], i, "gradient", op);
    if (momentum != 0 && momentum_bufs[i]) check_like(momentum_bufs[i], params[i], i, "momentum_buffer", op);
  }
  const kernels::SgdHyper h{lr, momentum, dampening, weight_decay, nesterov, maximize};
  for (size_t i = 0; i < n; ++i) {
    const Tensor& p = params[i];
    bool init = false;
    if (momentum != 0 && !momentum_bufs[i]) {
      momentum_bufs[i] = empty(p->shape, p->dtype);
      init = true;
    }
    Updated up(p), buf(entry(momentum_bufs, i));
    Tensor g = readable(grads[i]);
    TG_DISPATCH_FLOAT(compute_dtype(p->dtype), T, {
      kernels::sgd_step(up.data<T>(), g->data_as<T>(), buf.data<T>(), p->numel(), h, init);
    });
    up.commit(), buf.commit();
  }
  return momentum_bufs;
}

void adam_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
               const std::vector<Tensor>& exp_avgs, const std::vector<Tensor>& exp_avg_sqs,
               const std::vector<Tensor>& max_exp_avg_sqs, const std::vector<Tensor>& steps,
               double lr, double beta1, double beta2, double eps, double weight_decay,
               bool amsgrad, bool maximize, bool decoupled) {
  const char* op = decoupled ? "adamw" : "adam";
  const size_t n = params.size();
  check_count(grads, n, "gradients", op);
  check_count(exp_avgs, n, "exp_avg tensors", op);
  check_count(exp_avg_sqs, n, "exp_avg_sq tensors", op);
  if (amsgrad) check_count(max_exp_avg_sqs, n, "max_exp_avg_sq tensors", op);
  check_count(steps, n, "step tensors", op);
  for (size_t i = 0; i < n; ++i) {
    check_param(params[i], i, op);
    check_like(grads[i], params[i], i, "gradient", op);
    check_like(exp_avgs[i], params[i], i, "exp_avg", op);
    check_like(exp_avg_sqs[i], params[i], i, "exp_avg_sq", op);
    if (amsgrad) check_like(max_exp_avg_sqs[i], params[i], i, "max_exp_avg_sq", op);
    check_step(steps[i], i, op);
  }
  const kernels::AdamHyper h{lr, beta1, beta2, eps, weight_decay, amsgrad, maximize, decoupled};
  for (size_t i = 0; i < n; ++i) {
    const Tensor& p = params[i];
    const double step = advance(steps[i]);
    Updated up(p), m(exp_avgs[i]), v(exp_avg_sqs[i]), vmax(amsgrad ? max_exp_avg_sqs[i] : nullptr);
    Tensor g = readable(grads[i]);
    TG_DISPATCH_FLOAT(compute_dtype(p->dtype), T, {
      kernels::adam_step(up.data<T>(), g->data_as<T>(), m.data<T>(), v.data<T>(), vmax.data<T>(),
                            p->numel(), h, step);
    });
    up.commit(), m.commit(), v.commit(), vmax.commit();
  }
}

void rmsprop_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                  const std::vector<Tensor>& square_avgs, const std::vector<Tensor>& grad_avgs,
                  const std::vector<Tensor>& momentum_bufs, const std::vector<Tensor>& steps,
                  double lr, double alpha, double eps, double weight_decay, double momentum,
                  bool centered, bool maximize) {
  const char* op = "rmsprop";
  const size_t n = params.size();
  check_count(grads, n, "gradients", op);
  check_count(square_avgs, n, "square_avg tensors", op);
  if (centered) check_count(grad_avgs, n, "grad_avg tensors", op);
  if (momentum > 0) check_count(momentum_bufs, n, "momentum buffers", op);
  check_count(steps, n, "step tensors", op);
  for (size_t i = 0; i < n; ++i) {
    check_param(params[i], i, op);
    check_like(grads[i], params[i], i, "gradient", op);
    check_like(square_avgs[i], params[i], i, "square_avg", op);
    if (centered) check_like(grad_avgs[i], params[i], i, "grad_avg", op);
    if (momentum > 0) check_like(momentum_bufs[i], params[i], i, "momentum_buffer", op);
    check_step(steps[i], i, op);
  }
  const kernels::RmspropHyper h{lr, alpha, eps, weight_decay, momentum, centered, maximize};
  for (size_t i = 0; i < n; ++i) {
    const Tensor& p = params[i];
    advance(steps[i]);
    Updated up(p), sq(square_avgs[i]), gavg(centered ? grad_avgs[i] : nullptr),
        buf(momentum > 0 ? momentum_bufs[i] : nullptr);
    Tensor g = readable(grads[i]);
    TG_DISPATCH_FLOAT(compute_dtype(p->dtype), T, {
      kernels::rmsprop_step(up.data<T>(), g->data_as<T>(), sq.data<T>(), gavg.data<T>(),
                               buf.data<T>(), p->numel(), h);
    });
    up.commit(), sq.commit(), gavg.commit(), buf.commit();
  }
}

void adadelta_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                   const std::vector<Tensor>& square_avgs, const std::vector<Tensor>& acc_deltas,
                   const std::vector<Tensor>& steps, double lr, double rho, double eps,
                   double weight_decay, bool maximize) {
  const char* op = "adadelta";
  const size_t n = params.size();
  check_count(grads, n, "gradients", op);
  check_count(square_avgs, n, "square_avg tensors", op);
  check_count(acc_deltas, n, "acc_delta tensors", op);
  check_count(steps, n, "step tensors", op);
  for (size_t i = 0; i < n; ++i) {
    check_param(params[i], i, op);
    check_like(grads[i], params[i], i, "gradient", op);
    check_like(square_avgs[i], params[i], i, "square_avg", op);
    check_like(acc_deltas[i], params[i], i, "acc_delta", op);
    check_step(steps[i], i, op);
  }
  const kernels::AdadeltaHyper h{lr, rho, eps, weight_decay, maximize};
  for (size_t i = 0; i < n; ++i) {
    const Tensor& p = params[i];
    advance(steps[i]);
    Updated up(p), sq(square_avgs[i]), acc(acc_deltas[i]);
    Tensor g = readable(grads[i]);
    TG_DISPATCH_FLOAT(compute_dtype(p->dtype), T, {
      kernels::adadelta_step(up.data<T>(), g->data_as<T>(), sq.data<T>(), acc.data<T>(), p->numel(), h);
    });
    up.commit(), sq.commit(), acc.commit();
  }
}

void adagrad_step(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                  const std::vector<Tensor>& state_sums, const std::vector<Tensor>& steps, double lr,
                  double lr_decay, double weight_decay, double eps, bool maximize) {
  const char* op = "adagrad";
  const size_t n = params.size();
  check_count(grads, n, "gradients", op);
  check_count(state_sums, n, "sum tensors", op);
  check_count(steps, n, "step tensors", op);
  for (size_t i = 0; i < n; ++i) {
    check_param(params[i], i, op);
    check_like(grads[i], params[i], i, "gradient", op);
    check_like(state_sums[i], params[i], i, "sum", op);
    check_step(steps[i], i, op);
  }
  for (size_t i = 0; i < n; ++i) {
    const Tensor& p = params[i];
    const double step = advance(steps[i]);
    // the decayed rate in double, as torch computes it from the step's Python value
    const kernels::AdagradHyper h{lr / (1 + (step - 1) * lr_decay), eps, weight_decay, maximize};
    Updated up(p), sum(state_sums[i]);
    Tensor g = readable(grads[i]);
    TG_DISPATCH_FLOAT(compute_dtype(p->dtype), T, {
      kernels::adagrad_step(up.data<T>(), g->data_as<T>(), sum.data<T>(), p->numel(), h);
    });
    up.commit(), sum.commit();
  }
}

}  // namespace tg
