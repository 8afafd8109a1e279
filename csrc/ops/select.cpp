// Ops that pick one operand per element: maximum, minimum, where, clamp (and clamp_).
// Their gradients route the incoming gradient to whichever operand was picked, with
// PyTorch's conventions at ties and boundaries.
#include <cmath>
#include <limits>

#include "ops/elementwise_util.h"

namespace tg {

using namespace ew;

namespace {

// g where mask, else 0, over the broadcast shape of both.
template <class T>
Tensor masked_grad(const Tensor& g, const Tensor& mask) {
  Shape shape = broadcast_shapes(g->shape, mask->shape);
  Shape sg = broadcast_strides(g, shape), sm = broadcast_strides(mask, shape);
  Tensor out = empty(shape, g->dtype);
  kernels::map2(shape, out->data_as<T>(), out->strides.data(), g->data_as<T>(), sg.data(),
                mask->data_as<bool>(), sm.data(), [](T gv, bool m) { return m ? gv : T(0); });
  return out;
}

template <class T>
bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return std::isnan(v);
  else return false;
}

}  // namespace

// ---- maximum / minimum -------------------------------------------------------------------

namespace {
// NaN-propagating max and min.
struct Max {
  template <class T> T operator()(T x, T y) const { return (x > y || is_nan(x)) ? x : y; }
};
struct Min {
  template <class T> T operator()(T x, T y) const { return (x < y || is_nan(x)) ? x : y; }
};

// PyTorch splits the gradient evenly at ties: a tie is not a choice of one operand.
struct MaxMinBackward : Node {
  SavedTensor a, b;
  InputMeta ma, mb;
  bool is_max;
  MaxMinBackward(const Tensor& x, const Tensor& y, bool is_max)
      : a(x), b(y), ma(x), mb(y), is_max(is_max) {}
  std::string name() const override { return is_max ? "MaximumBackward0" : "MinimumBackward0"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    if (!is_base(g[0]->dtype)) return apply_graph(g);  // half types: the formula in public ops
    const Tensor& x = a.get(*this);
    const Tensor& y = b.get(*this);
    Tensor ga, gb;
    const bool mx = is_max;
    TG_DISPATCH_FLOAT(g[0]->dtype, T, {
      // an operand gets nothing only where the other one strictly won
      if (next_edges[0].fn)
        ga = grad_for(map_ternary<T>(g[0], x, y, [mx](T gv, T u, T v) {
               return u == v ? T(gv / 2) : ((mx ? u < v : u > v) ? T(0) : gv);
             }), ma.shape, ma.dtype);
      if (next_edges[1].fn)
        gb = grad_for(map_ternary<T>(g[0], x, y, [mx](T gv, T u, T v) {
               return u == v ? T(gv / 2) : ((mx ? u > v : u < v) ? T(0) : gv);
             }), mb.shape, mb.dtype);
    });
    return {ga, gb};
  }
  // create_graph: linear in g, with masks that are constants (comparisons of the inputs)
  std::vector<Tensor> apply_graph(std::vector<Tensor>& g) override {
    const Tensor x = a.get(*this), y = b.get(*this);
    const Tensor tie = eq(x, y), half = mul(g[0], num(0.5));
    Tensor ga, gb;
    if (next_edges[0].fn)
      ga = grad_for(where(tie, half, where(is_max ? lt(x, y) : gt(x, y), num(0), g[0])), ma.shape, ma.dtype);
    if (next_edges[1].fn)
      gb = grad_for(where(tie, half, where(is_max ? gt(x, y) : lt(x, y), num(0), g[0])), mb.shape, mb.dtype);
    return {ga, gb};
  }
  void release_saved() override { a.reset(), b.reset(); }
};
}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) {
  Tensor out = binary_kernel<Types::All>(a, b, result_type({a, b}), "maximum", Max{});
  set_history(make_node<MaxMinBackward>({a, b}, a, b, true), {out});
  return out;
}

Tensor minimum(const Tensor& a, const Tensor& b) {
  Tensor out = binary_kernel<Types::All>(a, b, result_type({a, b}), "minimum", Min{});
  set_history(make_node<MaxMinBackward>({a, b}, a, b, false), {out});
  return out;
}

// ---- where -------------------------------------------------------------------------------

namespace {
struct WhereBackward0 : Node {
  SavedTensor cond;
  InputMeta ma, mb;
  WhereBackward0(const Tensor& c, const Tensor& a, const Tensor& b) : cond(c), ma(a), mb(b) {}
  std::string name() const override { return "WhereBackward0"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    if (!is_base(g[0]->dtype)) return apply_graph(g);  // half types: the formula in public ops
    const Tensor& c = cond.get(*this);
    Tensor ga, gb;
    TG_DISPATCH_FLOAT(g[0]->dtype, T, {
      if (next_edges[0].fn) ga = grad_for(masked_grad<T>(g[0], c), ma.shape, ma.dtype);
      if (next_edges[1].fn) {
        Tensor not_c = map_unary<bool>(c, [](bool v) { return !v; });
        gb = grad_for(masked_grad<T>(g[0], not_c), mb.shape, mb.dtype);
      }
    });
    return {ga, gb};
  }
  std::vector<Tensor> apply_graph(std::vector<Tensor>& g) override {  // recorded (create_graph)
    const Tensor c = cond.get(*this);
    Tensor ga, gb;
    if (next_edges[0].fn) ga = grad_for(where(c, g[0], num(0)), ma.shape, ma.dtype);
    if (next_edges[1].fn) gb = grad_for(where(c, num(0), g[0]), mb.shape, mb.dtype);
    return {ga, gb};
  }
  void release_saved() override { cond.reset(); }
};
}  // namespace

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  TG_CHECK(cond->dtype == DType::Bool, RuntimeError,
           "where expected condition to be a boolean tensor, but got a tensor with dtype ",
           dtype_name(cond->dtype));
  DType rt = result_type({a, b});
  Shape shape = broadcast_shapes(broadcast_shapes(cond->shape, a->shape), b->shape);
  Tensor out;
  // a selection only moves elements: one kernel per element size serves every dtype
  TG_DISPATCH_BY_SIZE(rt, T, {
    Tensor ca = cast(a, rt), cb = cast(b, rt);
    Shape sc = broadcast_strides(cond, shape), sa = broadcast_strides(ca, shape),
          sb = broadcast_strides(cb, shape);
    out = empty(shape, rt);
    kernels::map3(shape, out->data_as<T>(), out->strides.data(), cond->data_as<bool>(), sc.data(),
                  ca->data_as<T>(), sa.data(), cb->data_as<T>(), sb.data(),
                  [](bool c, T x, T y) { return c ? x : y; });
  });
  set_history(make_node<WhereBackward0>({a, b}, cond, a, b), {out});
  return out;
}

// ---- clamp -------------------------------------------------------------------------------

namespace {
// Clamps into [lo, hi] applying lo first, so lo > hi gives hi (PyTorch's order). NaN in x
// stays NaN; a NaN bound gives NaN.
template <class T>
struct Clamp {
  bool has_lo, has_hi;
  T operator()(T x, T lo, T hi) const {
    if (is_nan(lo) || is_nan(hi)) return is_nan(lo) ? lo : hi;
    if (has_lo && x < lo) x = lo;
    if (has_hi && x > hi) x = hi;
    return x;
  }
};

bool scalar_bounds(const Tensor& lo, const Tensor& hi) {
  return (!lo || lo->ndim() == 0) && (!hi || hi->ndim() == 0);
}

// Calls k(f) with f the clamp of one element to the 0-d bounds, read once. An absent bound
// is the type's extreme, so one compare-and-select formula covers every case and the loop
// vectorizes; a NaN bound makes every result NaN (PyTorch's rule).
template <class T, class K>
void with_scalar_clamp(const Tensor& lo, const Tensor& hi, K k) {
  using L = std::numeric_limits<T>;
  const DType dt = dtype_of<T>::value;
  const T l = lo ? cast(lo, dt)->template data_as<T>()[0] : L::has_infinity ? -L::infinity() : L::lowest();
  const T h = hi ? cast(hi, dt)->template data_as<T>()[0] : L::has_infinity ? L::infinity() : L::max();
  if (is_nan(l) || is_nan(h)) {
    const T nan = is_nan(l) ? l : h;
    return k([nan](T) { return nan; });
  }
  k([l, h](T x) {
    const T v = x < l ? l : x;
    return v > h ? h : v;
  });
}

std::vector<Tensor> clamp_operands(const Tensor& x, const Tensor& lo, const Tensor& hi) {
  TG_CHECK(lo || hi, RuntimeError, "torch.clamp: At least one of 'min' or 'max' must not be None");
  std::vector<Tensor> ops{x};
  if (lo) ops.push_back(lo);
  if (hi) ops.push_back(hi);
  return ops;
}

// x clamped, computed in rt; absent bounds are null.
Tensor clamp_kernel(const Tensor& x, const Tensor& lo, const Tensor& hi, DType rt) {
  Tensor out;
  dispatch<Types::Numeric>(rt, "clamp", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (scalar_bounds(lo, hi))
      with_scalar_clamp<T>(lo, hi, [&](auto f) { out = map_unary<T>(x, f); });
    else
      out = map_ternary<T>(x, lo ? lo : x, hi ? hi : x, Clamp<T>{(bool)lo, (bool)hi});
  });
  return narrow_result(out, rt);
}

// x's gradient flows where lo <= x <= hi (both ends included); a tensor bound gets the
// gradient where it was the one picked: x < lo (and lo < hi) for lo, x > hi or hi < lo for hi.
struct ClampBackward : Node {
  SavedTensor x, lo, hi;
  InputMeta mx;
  std::vector<InputMeta> mbounds;
  bool has_lo, has_hi, scalar_bounds;
  ClampBackward(const Tensor& xt, const Tensor& l, const Tensor& h)
      : x(xt), mx(xt), has_lo((bool)l), has_hi((bool)h) {
    if (l) lo = SavedTensor(l), mbounds.push_back(l);
    if (h) hi = SavedTensor(h), mbounds.push_back(h);
    scalar_bounds = (!l || l->wrapped_number) && (!h || h->wrapped_number);
  }
  std::string name() const override { return scalar_bounds ? "ClampBackward1" : "ClampBackward0"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    if (!is_base(g[0]->dtype)) return apply_graph(g);  // half types: the formula in public ops
    const Tensor& xv = x.get(*this);
    const Tensor l = has_lo ? lo.get(*this) : nullptr;
    const Tensor h = has_hi ? hi.get(*this) : nullptr;
    std::vector<Tensor> r(next_edges.size());
    TG_DISPATCH_FLOAT(g[0]->dtype, T, {
      auto mask = [&](auto pred) {
        return map_ternary<T>(xv, l ? l : xv, h ? h : xv, pred);
      };
      const bool hl = has_lo, hh = has_hi;
      if (next_edges[0].fn) {
        Tensor m = mask([hl, hh](T v, T a, T b) { return (!hl || v >= a) && (!hh || v <= b); });
        r[0] = grad_for(masked_grad<T>(g[0], m), mx.shape, mx.dtype);
      }
      size_t i = 1;
      if (has_lo) {
        if (next_edges[i].fn) {
          Tensor m = mask([hh](T v, T a, T b) { return v < a && (!hh || a < b); });
          r[i] = grad_for(masked_grad<T>(g[0], m), mbounds[i - 1].shape, mbounds[i - 1].dtype);
        }
        ++i;
      }
      if (has_hi && next_edges[i].fn) {
        Tensor m = mask([hl](T v, T a, T b) { return v > b || (hl && b < a); });
        r[i] = grad_for(masked_grad<T>(g[0], m), mbounds[i - 1].shape, mbounds[i - 1].dtype);
      }
    });
    return r;
  }
  // create_graph: g routed by the same (constant) masks, recorded
  std::vector<Tensor> apply_graph(std::vector<Tensor>& g) override {
    const Tensor xv = x.get(*this);
    const Tensor l = has_lo ? lo.get(*this) : nullptr;
    const Tensor h = has_hi ? hi.get(*this) : nullptr;
    std::vector<Tensor> r(next_edges.size());
    if (next_edges[0].fn) {
      Tensor m;
      if (l) m = ge(xv, l);
      if (h) m = m ? logical_and(m, le(xv, h)) : le(xv, h);
      r[0] = grad_for(where(m, g[0], num(0)), mx.shape, mx.dtype);
    }
    size_t i = 1;
    if (has_lo) {
      if (next_edges[i].fn) {
        Tensor m = lt(xv, l);
        if (h) m = logical_and(m, lt(l, h));
        r[i] = grad_for(where(m, g[0], num(0)), mbounds[i - 1].shape, mbounds[i - 1].dtype);
      }
      ++i;
    }
    if (has_hi && next_edges[i].fn) {
      Tensor m = gt(xv, h);
      if (l) m = logical_or(m, lt(h, l));
      r[i] = grad_for(where(m, g[0], num(0)), mbounds[i - 1].shape, mbounds[i - 1].dtype);
    }
    return r;
  }
  void release_saved() override { x.reset(), lo.reset(), hi.reset(); }
};
}  // namespace

Tensor clamp(const Tensor& x, const Tensor& lo, const Tensor& hi) {
  std::vector<Tensor> ops = clamp_operands(x, lo, hi);
  Tensor out = clamp_kernel(x, lo, hi, result_type(ops));
  set_history(make_node<ClampBackward>(ops, x, lo, hi), {out});
  return out;
}

void clamp_(const Tensor& self, const Tensor& lo, const Tensor& hi) {
  std::vector<Tensor> ops = clamp_operands(self, lo, hi);
  DType rt = result_type(ops);
  check_writable(self);
  check_castable(rt, self->dtype);
  std::shared_ptr<Node> node;
  if (grad_enabled()) {
    bool any = false;
    for (auto& t : ops) any |= needs_grad(t);
    // every gradient reads x as it was
    if (any) node = make_node<ClampBackward>(ops, copy_of(self), lo ? saveable(self, lo) : lo,
                                             hi ? saveable(self, hi) : hi);
  }
  if (rt == self->dtype && is_base(rt) && scalar_bounds(lo, hi)) {
    dispatch<Types::Numeric>(rt, "clamp_", [&](auto tag) {
      using T = typename decltype(tag)::type;
      with_scalar_clamp<T>(lo, hi, [&](auto f) {
        kernels::map1(self->shape, self->data_as<T>(), self->strides.data(), self->data_as<T>(),
                      self->strides.data(), f);
      });
    });
  } else {
    Tensor out = clamp_kernel(self, lo, hi, rt);
    TG_CHECK(out->shape == self->shape, RuntimeError, "output with shape ", shape_str(self->shape),
             " doesn't match the broadcast shape ", shape_str(out->shape));
    copy_into(self, out);
  }
  bump_version(self);
  rebase_history(self, node);
}

}  // namespace tg
