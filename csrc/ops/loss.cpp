// Losses: each is one op whose forward and backward are fused kernels (kernels/loss.h);
// the backward node of each stands next to its forward.
#include "ops/loss.h"

#include "ops/compute.h"

#include "autograd/node.h"
#include "kernels/loss.h"
#include "ops/creation.h"
#include "ops/elementwise.h"
#include "ops/elementwise_util.h"
#include "ops/shape.h"
#include "ops/reduce.h"
#include "ops/index.h"
#include "ops/embedding.h"

namespace tg {

namespace {

using kernels::kMean;
using kernels::kNone;
using kernels::kSum;
constexpr int64_t kBatchMean = 3;  // kl_div only: the sum divided by the batch size

void check_reduction(int64_t r) {
  TG_CHECK(r == kNone || r == kMean || r == kSum, ValueError, r,
           " is not a valid value for reduction (expected 0 none, 1 mean or 2 sum)");
}

// `t` broadcast to `shape` and cast to `dt`, contiguous, without autograd history; `t`
// itself when it already is all that.
Tensor dense(const Tensor& t, const Shape& shape, DType dt) {
  if (t->shape == shape && t->dtype == dt && t->is_contiguous()) return t;
  Tensor out = empty(shape, dt);
  copy_into(out, t);
  return out;
}

Tensor dense_opt(const Tensor& t, const Shape& shape, DType dt) {
  return t ? dense(t, shape, dt) : nullptr;
}

// The gradient for an input of the given shape and dtype (undoes broadcasting).
Tensor reduce_grad(const Tensor& g, const Shape& shape, DType dt) {
  Tensor r = sum_to(g, shape);
  return r->dtype == dt ? r : to_dtype(r, dt);
}

Shape output_shape(const Shape& loss_shape, int64_t reduction) {
  return reduction == kNone ? loss_shape : Shape{};
}

template <class T>
const T* ptr(const Tensor& t) {
  return t ? t->data_as<T>() : nullptr;
}

// PyTorch differentiates bce and bce_with_logits with respect to input and target only.
void check_no_grad(const Tensor& t, const char* what, const char* op) {
  TG_CHECK(!t || !any_needs_grad(t), RuntimeError, "The function '", op,
           "' is not differentiable with respect to argument '", what,
           "'. This input cannot have requires_grad True.");
}

void check_floating(const Tensor& t, const char* what, const char* op) {
  TG_CHECK(is_floating(t->dtype), RuntimeError, op, ": expected ", what,
           " of a floating dtype, got ", dtype_name(t->dtype), " ", shape_str(t->shape));
}

}  // namespace

// ---- pointwise losses: mse, l1, binary cross entropy (with logits) --------------------

namespace {

// Each term's derivatives in public ops, recorded under create_graph (double backward):
// x, y are the loss's own operands (with their history), w / pw the dense weights (no
// history: PyTorch does not differentiate these losses with respect to their weights).
// The same formulas as kernels/loss.h's dx / dy, which the plain backward runs fused.
template <class Term> struct LossFormula;

template <> struct LossFormula<kernels::MseTerm> {
  static Tensor dx(const Tensor& x, const Tensor& y, const Tensor&, const Tensor&, double) {
    return mul(sub(x, y), ew::num(2));
  }
  static Tensor dy(const Tensor& x, const Tensor& y, const Tensor& w, const Tensor& pw, double o) {
    return neg(dx(x, y, w, pw, o));
  }
};

template <> struct LossFormula<kernels::L1Term> {
  static Tensor dx(const Tensor& x, const Tensor& y, const Tensor&, const Tensor&, double) {
    return sign(sub(x, y));
  }
  static Tensor dy(const Tensor& x, const Tensor& y, const Tensor&, const Tensor&, double) {
    return neg(sign(sub(x, y)));
  }
};

// (x - y) / beta inside the quadratic zone, sign(x - y) outside
template <> struct LossFormula<kernels::SmoothL1Term> {
  static Tensor dx(const Tensor& x, const Tensor& y, const Tensor&, const Tensor&, double beta) {
    const Tensor d = sub(x, y);
    return where(lt(abs(d), ew::num(beta)), div(d, ew::num(beta)), sign(d));
  }
  static Tensor dy(const Tensor& x, const Tensor& y, const Tensor& w, const Tensor& pw, double o) {
    return neg(dx(x, y, w, pw, o));
  }
};

// x - y clamped to [-delta, delta]
template <> struct LossFormula<kernels::HuberTerm> {
  static Tensor dx(const Tensor& x, const Tensor& y, const Tensor&, const Tensor&, double delta) {
    return clamp(sub(x, y), ew::num(-delta), ew::num(delta));
  }
  static Tensor dy(const Tensor& x, const Tensor& y, const Tensor& w, const Tensor& pw, double o) {
    return neg(dx(x, y, w, pw, o));
  }
};

inline Tensor weighted(const Tensor& t, const Tensor& w) { return w ? mul(t, w) : t; }

// w (x - y) / max(x (1 - x), 1e-12) and w (log(1 - x) - log(x))
template <> struct LossFormula<kernels::BceTerm> {
  static Tensor dx(const Tensor& x, const Tensor& y, const Tensor& w, const Tensor&, double) {
    const Tensor den = clamp(mul(sub(ew::num(1), x), x), ew::num(1e-12), nullptr);
    return weighted(div(sub(x, y), den), w);
  }
  static Tensor dy(const Tensor& x, const Tensor&, const Tensor& w, const Tensor&, double) {
    return weighted(sub(log1p(neg(x)), log(x)), w);
  }
};

// log(sigmoid(v)) = -softplus(-v)
inline Tensor log_sigmoid(const Tensor& v) { return neg(softplus(neg(v))); }

// w ((pw y + 1 - y) sigmoid(x) - pw y) and w (log_sigmoid(-x) - pw log_sigmoid(x))
template <> struct LossFormula<kernels::BceLogitsTerm> {
  static Tensor dx(const Tensor& x, const Tensor& y, const Tensor& w, const Tensor& pw, double) {
    const Tensor py = pw ? mul(pw, y) : y;
    return weighted(sub(mul(sub(add(py, ew::num(1)), y), sigmoid(x)), py), w);
  }
  static Tensor dy(const Tensor& x, const Tensor&, const Tensor& w, const Tensor& pw, double) {
    const Tensor ls = log_sigmoid(x);
    return weighted(sub(log_sigmoid(neg(x)), pw ? mul(pw, ls) : ls), w);
  }
};

// -y and log(y) + 1 - x (where y == 0: 0 + y / y - x, nan, as the fused kernel and PyTorch)
template <> struct LossFormula<kernels::KlDivTerm> {
  static Tensor dx(const Tensor&, const Tensor& y, const Tensor&, const Tensor&, double) { return neg(y); }
  static Tensor dy(const Tensor& x, const Tensor& y, const Tensor&, const Tensor&, double) {
    const Tensor nz = ne(y, ew::num(0));
    // log of y where y != 0, of 1 elsewhere: the masked branch must not send nan back
    const Tensor logy = where(nz, log(where(nz, y, ew::num(1))), ew::num(0));
    return sub(add(logy, div(y, y)), x);
  }
};

// -exp(y) and exp(y) (y - x + 1)
template <> struct LossFormula<kernels::KlDivLogTerm> {
  static Tensor dx(const Tensor&, const Tensor& y, const Tensor&, const Tensor&, double) {
    return neg(exp(y));
  }
  static Tensor dy(const Tensor& x, const Tensor& y, const Tensor&, const Tensor&, double) {
    return mul(exp(y), add(sub(y, x), ew::num(1)));
  }
};

// Saves the dense operands (compute dtype, broadcast shape) and the inputs' geometry.
template <class Term>
struct PointwiseLossBackward : Node {
  SavedTensor x, y, w, pw;
  Shape shape, in_shape, tgt_shape;
  DType dt, in_dtype, tgt_dtype;
  int64_t reduction;
  double option, divisor;  // the term's scalar option; the mean's denominator (-1: numel)
  SavedTensor xin, yin;  // the operands themselves, for the recorded formulas
  PointwiseLossBackward(const Tensor& input, const Tensor& target, const Tensor& dx,
                        const Tensor& dy, const Tensor& dw, const Tensor& dpw, int64_t reduction,
                        double option, double divisor)
      : x(dx), y(dy), shape(dx->shape), in_shape(input->shape), tgt_shape(target->shape),
        dt(dx->dtype), in_dtype(input->dtype), tgt_dtype(target->dtype), reduction(reduction),
        option(option), divisor(divisor), xin(input), yin(target) {
    if (dw) w = SavedTensor(dw);
    if (dpw) pw = SavedTensor(dpw);
  }
  // In public ops (create_graph): the term's derivative times g, g divided by the mean's
  // count; broadcasting undone per operand.
  std::vector<Tensor> apply_graph(std::vector<Tensor>& g) override {
    using F = LossFormula<Term>;
    Tensor go = g[0]->dtype == dt ? g[0] : to_dtype(g[0], dt);
    if (reduction == kMean)
      go = div(go, ew::num(divisor < 0 ? double(numel_of(shape)) : divisor));
    const Tensor xi = xin.get(*this), yi = yin.get(*this);
    const Tensor wi = w.t ? w.get(*this) : nullptr, pwi = pw.t ? pw.get(*this) : nullptr;
    std::vector<Tensor> out(2);
    if (next_edges[0].fn) out[0] = ew::grad_for(mul(F::dx(xi, yi, wi, pwi, option), go), in_shape, in_dtype);
    if (next_edges[1].fn) out[1] = ew::grad_for(mul(F::dy(xi, yi, wi, pwi, option), go), tgt_shape, tgt_dtype);
    return out;
  }
  std::string name() const override { return Term::name; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    Tensor go = dense(g[0], output_shape(shape, reduction), dt);
    std::vector<Tensor> out(2);
    for (int k = 0; k < 2; ++k) {
      if (!next_edges[k].fn) continue;
      Tensor gr = empty(shape, dt);
      TG_DISPATCH_FLOAT(dt, T, {
        kernels::PointArgs<T> a;
        a.x = ptr<T>(x.get(*this));
        a.y = ptr<T>(y.get(*this));
        a.w = w.t ? ptr<T>(w.get(*this)) : nullptr;
        a.pw = pw.t ? ptr<T>(pw.get(*this)) : nullptr;
        a.n = numel_of(shape), a.k = T(option), a.divisor = divisor;
        kernels::point_loss_backward<Term>(a, reduction, go->data_as<T>(), k == 1, gr->data_as<T>());
      });
      out[k] = k == 0 ? reduce_grad(gr, in_shape, in_dtype) : reduce_grad(gr, tgt_shape, tgt_dtype);
    }
    return out;
  }
  void release_saved() override { x.reset(), y.reset(), w.reset(), pw.reset(), xin.reset(), yin.reset(); }
};

// Runs Term on dense operands of `shape` in dtype `dt` and records the node. k: the
// term's scalar option; divisor: the mean's denominator (-1: the number of elements).
template <class Term>
Tensor pointwise_loss(const Tensor& input, const Tensor& target, const Tensor& weight,
                      const Tensor& pos_weight, const Shape& shape, DType dt, int64_t reduction,
                      double k = 0, double divisor = -1) {
  check_reduction(reduction);
  Tensor x = dense(input, shape, dt), y = dense(target, shape, dt);
  Tensor w = dense_opt(weight, shape, dt), pw = dense_opt(pos_weight, shape, dt);
  Tensor out = empty(output_shape(shape, reduction), dt);
  TG_DISPATCH_FLOAT(dt, T, {
    kernels::PointArgs<T> a;
    a.x = x->data_as<T>(), a.y = y->data_as<T>(), a.w = ptr<T>(w), a.pw = ptr<T>(pw);
    a.n = numel_of(shape), a.k = T(k), a.divisor = divisor;
    kernels::point_loss_forward<Term>(a, reduction, out->data_as<T>());
  });
  set_history(make_node<PointwiseLossBackward<Term>>({input, target}, input, target, x, y, w, pw,
                                                     reduction, k, divisor),
              {out});
  return out;
}

// The compute dtype of mse/l1: PyTorch's promotion of input and target, a float.
DType regression_dtype(const Tensor& input, const Tensor& target, const char* op) {
  DType dt = result_type({input, target});
  TG_CHECK(is_floating(dt), RuntimeError, op, ": expected floating inputs, got input ",
           dtype_name(input->dtype), " and target ", dtype_name(target->dtype));
  return dt;
}

}  // namespace

Tensor mse_loss(const Tensor& input, const Tensor& target, int64_t reduction) {
  // half types: computed in float32, the result rounded once
  if (is_half(input->dtype) && target->dtype == input->dtype)
    return narrow_to(mse_loss(widen(input), widen(target), reduction), input->dtype);
  DType dt = regression_dtype(input, target, "mse_loss");
  return pointwise_loss<kernels::MseTerm>(input, target, nullptr, nullptr,
                                          broadcast_shapes(input->shape, target->shape), dt, reduction);
}

Tensor l1_loss(const Tensor& input, const Tensor& target, int64_t reduction) {
  if (is_half(input->dtype) && target->dtype == input->dtype)
    return narrow_to(l1_loss(widen(input), widen(target), reduction), input->dtype);
  DType dt = regression_dtype(input, target, "l1_loss");
  return pointwise_loss<kernels::L1Term>(input, target, nullptr, nullptr,
                                         broadcast_shapes(input->shape, target->shape), dt, reduction);
}

Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, int64_t reduction, double beta) {
  DType dt = regression_dtype(input, target, "smooth_l1_loss");
  TG_CHECK(beta >= 0, RuntimeError, "smooth_l1_loss does not support negative values for beta. Got: ",
           beta);
  // PyTorch computes beta == 0 as l1_loss (its gradient is 0, not nan, where x == y)
  if (beta == 0) return l1_loss(input, target, reduction);
  return pointwise_loss<kernels::SmoothL1Term>(input, target, nullptr, nullptr,
                                               broadcast_shapes(input->shape, target->shape), dt,
                                               reduction, beta);
}

Tensor huber_loss(const Tensor& input, const Tensor& target, int64_t reduction, double delta) {
  DType dt = regression_dtype(input, target, "huber_loss");
  TG_CHECK(delta > 0, RuntimeError, "huber_loss does not support non-positive values for delta. Got: ",
           delta);
  return pointwise_loss<kernels::HuberTerm>(input, target, nullptr, nullptr,
                                            broadcast_shapes(input->shape, target->shape), dt,
                                            reduction, delta);
}

Tensor kl_div(const Tensor& input, const Tensor& target, int64_t reduction, bool log_target) {
  TG_CHECK(is_floating(input->dtype) && is_floating(target->dtype), RuntimeError,
           "kl_div: Integral inputs not supported (input ", dtype_name(input->dtype), " ",
           shape_str(input->shape), ", target ", dtype_name(target->dtype), " ",
           shape_str(target->shape), ")");
  TG_CHECK(reduction >= kNone && reduction <= kBatchMean, ValueError, reduction,
           " is not a valid value for reduction (expected 0 none, 1 mean, 2 sum or 3 batchmean)");
  const Shape shape = broadcast_shapes(input->shape, target->shape);
  const DType dt = result_type({input, target});
  // batchmean: the sum over the input's first dimension's size (the sum for a 0-d input)
  double divisor = -1;
  if (reduction == kBatchMean) {
    divisor = input->ndim() == 0 ? 1.0 : double(input->shape[0]);
    reduction = kMean;
  }
  if (log_target)
    return pointwise_loss<kernels::KlDivLogTerm>(input, target, nullptr, nullptr, shape, dt, reduction,
                                                 0, divisor);
  return pointwise_loss<kernels::KlDivTerm>(input, target, nullptr, nullptr, shape, dt, reduction, 0,
                                            divisor);
}

Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight,
                            int64_t reduction) {
  const char* op = "binary_cross_entropy";
  check_floating(input, "input", op);
  check_floating(target, "target", op);
  TG_CHECK(target->shape == input->shape, ValueError, "Using a target size (",
           shape_str(target->shape), ") that is different to the input size (",
           shape_str(input->shape), ") is deprecated. Please ensure they have the same size.");
  if (weight) {
    check_floating(weight, "weight", op);
    broadcast_strides(weight, input->shape);  // RuntimeError naming both shapes
  }
  check_no_grad(weight, "weight", op);
  const DType dt = result_type({input, target});
  Tensor x = dense(input, input->shape, dt), y = dense(target, input->shape, dt);
  TG_DISPATCH_FLOAT(dt, T, {
    TG_CHECK(kernels::first_outside(x->data_as<T>(), x->numel(), T(0), T(1)) < 0, RuntimeError,
             "all elements of input should be between 0 and 1");
    TG_CHECK(kernels::first_outside(y->data_as<T>(), y->numel(), T(0), T(1)) < 0, RuntimeError,
             "all elements of target should be between 0 and 1");
  });
  return pointwise_loss<kernels::BceTerm>(input, target, weight, nullptr, input->shape, dt, reduction);
}

Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        const Tensor& weight, const Tensor& pos_weight,
                                        int64_t reduction) {
  const char* op = "binary_cross_entropy_with_logits";
  check_floating(input, "input", op);
  check_floating(target, "target", op);
  TG_CHECK(target->shape == input->shape, ValueError, "Target size (", shape_str(target->shape),
           ") must be the same as input size (", shape_str(input->shape), ")");
  if (weight) {
    check_floating(weight, "weight", op);
    broadcast_strides(weight, input->shape);
  }
  if (pos_weight) {
    check_floating(pos_weight, "pos_weight", op);
    broadcast_strides(pos_weight, input->shape);
  }
  check_no_grad(weight, "weight", op);
  check_no_grad(pos_weight, "pos_weight", op);
  return pointwise_loss<kernels::BceLogitsTerm>(input, target, weight, pos_weight, input->shape,
                                                result_type({input, target}), reduction);
}

// ---- cross entropy and nll: fused (log_)softmax + negative log-likelihood --------------

namespace {

struct ClassLossBackward : Node {
  SavedTensor x, target, weight, lse;  // dense input, targets, weight; per-position lse (double)
  SavedTensor xin;                     // the input itself, for the recorded formula
  kernels::ClassLayout lay;
  Shape in_shape, tgt_shape, loss_shape;
  DType in_dtype, tgt_dtype, dt;
  int64_t reduction, ignore_index;
  double smoothing, denom;
  bool log_softmax, probs;
  std::string name() const override {
    return log_softmax ? "CrossEntropyLossBackward0" : "NllLossBackward0";
  }

  template <class T>
  kernels::ClassLossArgs<T> args() const {
    kernels::ClassLossArgs<T> a;
    a.lay = lay;
    a.x = x.get(*this)->data_as<T>();
    if (probs) a.probs = target.get(*this)->data_as<T>();
    else a.target = target.get(*this)->data_as<int64_t>();
    a.weight = weight.t ? weight.get(*this)->data_as<T>() : nullptr;
    a.ignore_index = ignore_index, a.smoothing = smoothing, a.log_softmax = log_softmax;
    return a;
  }

  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    Tensor go = dense(g[0], output_shape(loss_shape, reduction), dt);
    const bool per_pos = reduction == kNone;
    const double scale = reduction == kMean ? 1.0 / denom : 1.0;
    Tensor gx, gt;
    TG_DISPATCH_FLOAT(dt, T, {
      auto a = args<T>();
      const double* l = lse.get(*this)->data_as<double>();
      if (next_edges[0].fn) {
        gx = empty(in_shape, dt);
        kernels::class_loss_backward_input(a, l, go->data_as<T>(), per_pos, scale, gx->data_as<T>());
        if (in_dtype != dt) gx = to_dtype(gx, in_dtype);
      }
      if (probs && next_edges[1].fn) {
        gt = empty(in_shape, dt);
        kernels::class_loss_backward_probs(a, l, go->data_as<T>(), per_pos, scale, gt->data_as<T>());
        if (tgt_dtype != dt) gt = to_dtype(gt, tgt_dtype);
      }
    });
    return {gx, gt};
  }
  // In public ops (create_graph), class-index targets without label smoothing:
  //   d input = c (softmax(x) - onehot(t))   (cross entropy),   -c onehot(t)   (nll),
  // c = g * weight[t] * (t != ignore_index), divided by the mean's denominator.
  std::vector<Tensor> apply_graph(std::vector<Tensor>& g) override {
    if (probs || smoothing != 0.0 || !next_edges[0].fn) return Node::apply_graph(g);
    const Tensor X = xin.get(*this), t = target.get(*this);
    const int64_t cdim = X->ndim() == 1 ? 0 : 1;
    const Tensor valid = ne(t, scalar_tensor(double(ignore_index), DType::Int64));
    const Tensor tc = where(valid, t, scalar_tensor(0.0, DType::Int64));
    const Tensor onehot = to_dtype(movedim(one_hot(tc, lay.classes), {-1}, {cdim}), dt);
    Tensor c = to_dtype(valid, dt);
    if (weight.t) c = mul(c, reshape(index_select(weight.get(*this), 0, flatten(tc)), tc->shape));
    Tensor go = g[0]->dtype == dt ? g[0] : to_dtype(g[0], dt);
    if (reduction == kMean) go = div(go, scalar_tensor(denom, DType::Float64));
    c = unsqueeze(mul(c, go), cdim);
    const Tensor d = log_softmax ? sub(softmax(X, cdim), onehot) : neg(onehot);
    Tensor gx = mul(c, d);
    if (gx->dtype != in_dtype) gx = to_dtype(gx, in_dtype);
    return {gx, Tensor()};
  }
  void release_saved() override { x.reset(), target.reset(), weight.reset(), lse.reset(), xin.reset(); }
};

// Checks shapes, dtypes and target values the way PyTorch does and returns the layout.
// Class-probability targets are those shaped like the input (cross entropy only).
kernels::ClassLayout class_layout(const Tensor& input, const Tensor& target, bool probs,
                                  const char* op) {
  TG_CHECK(input->ndim() >= 1, RuntimeError, op, ": input must have at least 1 dimension, got ",
           shape_str(input->shape));
  check_floating(input, "input", op);
  kernels::ClassLayout lay;
  const Shape& s = input->shape;
  if (input->ndim() == 1) {
    lay.classes = s[0];
  } else {
    lay.outer = s[0], lay.classes = s[1];
    for (size_t d = 2; d < s.size(); ++d) lay.inner *= s[d];
  }
  if (probs) {
    check_floating(target, "target with class probabilities", op);
    return lay;
  }
  TG_CHECK(target->dtype == DType::Int64, RuntimeError, op,
           ": expected target of class indices of dtype int64 (or class probabilities of the "
           "input's shape ", shape_str(s), "), got ", dtype_name(target->dtype), " ",
           shape_str(target->shape));
  Shape expected = s;
  expected.erase(expected.begin() + (input->ndim() == 1 ? 0 : 1));
  TG_CHECK(!(input->ndim() == 1 && target->ndim() == 1 && target->shape[0] != 1), ValueError,
           "For 1D input, 1D target must have size 1, but got target size: ", target->shape[0]);
  if (input->ndim() >= 2 && target->ndim() >= 1 && target->shape[0] != s[0])
    throw ValueError(cat_str(op, ": Expected input batch_size (", s[0], ") to match target batch_size (",
                             target->shape[0], ") (input ", shape_str(s), ", target ",
                             shape_str(target->shape), ")"));
  TG_CHECK(target->shape == expected, RuntimeError, op, ": expected target of shape ",
           shape_str(expected), " for input of shape ", shape_str(s), ", got ",
           shape_str(target->shape));
  return lay;
}

void check_targets(const Tensor& t, int64_t classes, int64_t ignore_index) {
  const int64_t* p = t->data_as<int64_t>();
  for (int64_t i = 0, n = t->numel(); i < n; ++i) {
    const int64_t y = p[i];
    TG_CHECK(y == ignore_index || (y >= 0 && y < classes), IndexError, "Target ", y,
             " is out of bounds: expected a class index in [0, ", classes - 1, "] for ", classes,
             " classes (or ignore_index ", ignore_index, ")");
  }
}

Tensor class_loss(const Tensor& input, const Tensor& target, const Tensor& weight,
                  int64_t reduction, int64_t ignore_index, double smoothing, bool log_softmax) {
  const char* op = log_softmax ? "cross_entropy" : "nll_loss";
  check_reduction(reduction);
  // PyTorch's check and type (nan passes it)
  TG_CHECK(!(smoothing < 0 || smoothing > 1), RuntimeError,
           "label_smoothing must be between 0.0 and 1.0. Got: ", smoothing);
  const bool probs = log_softmax && target->shape == input->shape && input->ndim() >= 1;
  kernels::ClassLayout lay = class_layout(input, target, probs, op);
  // computed in the input's dtype, promoted with class-probability targets
  const DType dt = probs ? result_type({input, target}) : input->dtype;
  if (weight) {
    TG_CHECK(weight->ndim() == 1 && weight->shape[0] == lay.classes, RuntimeError, op,
             ": weight tensor should be defined either for all ", lay.classes,
             " classes or no classes but got weight tensor of shape: ", shape_str(weight->shape));
    check_floating(weight, "weight", op);
  }
  // PyTorch's class-index path (nll_loss_forward) refuses a weight that requires grad; its
  // probability-target path would differentiate it, which this fused op does not: refused
  // too, rather than a silently missing gradient
  check_no_grad(weight, "weight", probs ? "cross_entropy (probability targets)" : "nll_loss_forward");
  Tensor x = dense(input, input->shape, dt);
  Tensor t = probs ? dense(target, input->shape, dt) : dense(target, target->shape, DType::Int64);
  Tensor w = dense_opt(weight, {lay.classes}, dt);
  if (!probs) check_targets(t, lay.classes, ignore_index);

  Shape loss_shape = input->shape;
  loss_shape.erase(loss_shape.begin() + (input->ndim() == 1 ? 0 : 1));
  const int64_t P = lay.positions();
  // per-position losses in row-major order of loss_shape: they are the output of 'none'
  Tensor per = empty(loss_shape, dt), lse = empty({P}, DType::Float64);
  Tensor out = reduction == kNone ? per : empty({}, dt);
  double denom = 0;
  TG_DISPATCH_FLOAT(dt, T, {
    kernels::ClassLossArgs<T> a;
    a.lay = lay, a.x = x->data_as<T>(), a.weight = ptr<T>(w);
    if (probs) a.probs = t->data_as<T>();
    else a.target = t->data_as<int64_t>();
    a.ignore_index = ignore_index, a.smoothing = smoothing, a.log_softmax = log_softmax;
    denom = kernels::class_loss_forward(a, per->data_as<T>(), lse->data_as<double>());
    if (reduction != kNone) {
      const T* l = per->data_as<T>();
      double s = kernels::blocked_sum(P, 1, [&](int64_t i) { return double(l[i]); });
      *out->data_as<T>() = T(reduction == kMean ? s / denom : s);
    }
  });
  auto node = make_node<ClassLossBackward>({input, target});
  if (node) {
    node->x = SavedTensor(x), node->target = SavedTensor(t), node->lse = SavedTensor(lse);
    if (!probs && smoothing == 0.0) node->xin = SavedTensor(input);
    if (w) node->weight = SavedTensor(w);
    node->lay = lay, node->in_shape = input->shape, node->tgt_shape = target->shape;
    node->loss_shape = loss_shape, node->in_dtype = input->dtype, node->tgt_dtype = target->dtype;
    node->dt = dt, node->reduction = reduction, node->ignore_index = ignore_index;
    node->smoothing = smoothing, node->denom = denom, node->log_softmax = log_softmax;
    node->probs = probs;
  }
  set_history(node, {out});
  return out;
}

}  // namespace

Tensor cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight,
                     int64_t reduction, int64_t ignore_index, double label_smoothing) {
  // half types: computed in float32, the result rounded once (PyTorch CPU computes them in float too)
  if (is_half(input->dtype) && (!weight || weight->dtype == input->dtype) &&
      (target->dtype == DType::Int64 || target->dtype == input->dtype))
    return narrow_to(cross_entropy(widen(input), widen(target), widen(weight), reduction, ignore_index, label_smoothing),
                     input->dtype);
  return class_loss(input, target, weight, reduction, ignore_index, label_smoothing, true);
}

Tensor nll_loss(const Tensor& input, const Tensor& target, const Tensor& weight,
                int64_t reduction, int64_t ignore_index) {
  return class_loss(input, target, weight, reduction, ignore_index, 0.0, false);
}

}  // namespace tg
