#pragma once
// Internal helpers of the elementwise op files (elementwise.cpp, pow.cpp, select.cpp,
// compare.cpp, unary.cpp, activation.cpp, inplace.cpp, vec_rows.cpp): dtype dispatch,
// kernels that allocate their outputs, gradient reduction, the float32 SIMD hook and the
// checks in-place ops share. Not part of the public API.
#include <string>
#include <type_traits>

#include "autograd/node.h"
#include "kernels/loops.h"
#include "kernels/vec_unary.h"
#include "ops/creation.h"
#include "ops/elementwise.h"

namespace tg::ew {

// The dtypes an op's kernel is instantiated for. Instantiating only what an op supports
// keeps compile time down, and the others raise PyTorch's message as a RuntimeError
// (PyTorch's NotImplementedError is a RuntimeError subclass).
enum class Types { All, Numeric, Float, Integral };

template <class T>
struct Tag { using type = T; };

// The narrow dtypes run the kernel of their compute dtype (compute_dtype(): half types in
// float32, small integers in int64); the *_kernel helpers below then round the result back
// to the narrow dtype, and in-place ops store through copy_into (round / wrap on store).
template <Types K, class F>
void dispatch(DType dt, const char* op, F&& f) {
  switch (dt) {
    case DType::Float16:
    case DType::BFloat16:
      if constexpr (K != Types::Integral) { f(Tag<float>{}); return; }
      break;
    case DType::UInt8:
    case DType::Int8:
    case DType::Int16:
    case DType::Int32:
      if constexpr (K != Types::Float) { f(Tag<int64_t>{}); return; }
      break;
    case DType::Float32:
      if constexpr (K != Types::Integral) { f(Tag<float>{}); return; }
      break;
    case DType::Float64:
      if constexpr (K != Types::Integral) { f(Tag<double>{}); return; }
      break;
    case DType::Int64:
      if constexpr (K != Types::Float) { f(Tag<int64_t>{}); return; }
      break;
    case DType::Bool:
      if constexpr (K == Types::All || K == Types::Integral) { f(Tag<bool>{}); return; }
      break;
  }
  throw NotImplementedError(cat_str("\"", op, "\" not implemented for '", dtype_name(dt), "'"));
}

// `out` computed in the compute dtype of `ct`, rounded (half types) or wrapped (small
// integers) back to `ct`; other results (bool from comparisons) as they are.
Tensor narrow_result(const Tensor& out, DType ct);

// Float functions on integer or bool inputs compute in the default float dtype.
inline DType float_type(DType d) { return is_floating(d) ? d : DType::Float32; }

// `t` converted to `dt` without autograd history (the op's own node covers it); `t`
// itself when the dtype already matches, so matching dtypes never copy.
Tensor cast(const Tensor& t, DType dt);
// The gradient for an input of `shape` and `dtype`: undoes broadcasting, then casts.
Tensor grad_for(const Tensor& g, const Shape& shape, DType dtype);

// out = f(a) computed in T; the output dtype is what f returns.
template <class T, class F>
Tensor map_unary(const Tensor& a, F f) {
  using TO = decltype(f(T{}));
  Tensor ca = cast(a, dtype_of<T>::value);
  Tensor out = empty(a->shape, dtype_of<TO>::value);
  kernels::map1(a->shape, out->data_as<TO>(), out->strides.data(), ca->data_as<T>(),
                ca->strides.data(), f);
  return out;
}

// out = f(a, b) over the broadcast shape, both operands converted to T first.
template <class T, class F>
Tensor map_binary(const Tensor& a, const Tensor& b, F f) {
  using TO = decltype(f(T{}, T{}));
  constexpr DType dt = dtype_of<T>::value;
  if (a->shape == b->shape && a->dtype == dt && b->dtype == dt) {  // the common case, no copies
    Tensor out = empty(a->shape, dtype_of<TO>::value);
    kernels::map2(a->shape, out->data_as<TO>(), out->strides.data(), a->data_as<T>(),
                  a->strides.data(), b->data_as<T>(), b->strides.data(), f);
    return out;
  }
  Shape shape = broadcast_shapes(a->shape, b->shape);
  Tensor ca = cast(a, dtype_of<T>::value), cb = cast(b, dtype_of<T>::value);
  Shape sa = broadcast_strides(ca, shape), sb = broadcast_strides(cb, shape);
  Tensor out = empty(shape, dtype_of<TO>::value);
  kernels::map2(shape, out->data_as<TO>(), out->strides.data(), ca->data_as<T>(), sa.data(),
                cb->data_as<T>(), sb.data(), f);
  return out;
}

// out = f(a, b, c) over the broadcast shape, all operands converted to T first.
template <class T, class F>
Tensor map_ternary(const Tensor& a, const Tensor& b, const Tensor& c, F f) {
  using TO = decltype(f(T{}, T{}, T{}));
  Shape shape = broadcast_shapes(broadcast_shapes(a->shape, b->shape), c->shape);
  const DType ct = dtype_of<T>::value;
  Tensor ca = cast(a, ct), cb = cast(b, ct), cc = cast(c, ct);
  Shape sa = broadcast_strides(ca, shape), sb = broadcast_strides(cb, shape),
        sc = broadcast_strides(cc, shape);
  Tensor out = empty(shape, dtype_of<TO>::value);
  kernels::map3(shape, out->data_as<TO>(), out->strides.data(), ca->data_as<T>(), sa.data(),
                cb->data_as<T>(), sb.data(), cc->data_as<T>(), sc.data(), f);
  return out;
}

// The same, dispatched on the compute dtype `ct` (f is generic over T).
template <Types K, class F>
Tensor unary_kernel(const Tensor& a, DType ct, const char* op, F f) {
  Tensor out;
  dispatch<K>(ct, op, [&](auto tag) { out = map_unary<typename decltype(tag)::type>(a, f); });
  return narrow_result(out, ct);
}
template <Types K, class F>
Tensor binary_kernel(const Tensor& a, const Tensor& b, DType ct, const char* op, F f) {
  Tensor out;
  if (is_small_int(ct)) {  // operands wrapped to ct first, as PyTorch casts them (uint8 == 300)
    Tensor ca = cast(a, ct), cb = cast(b, ct);
    dispatch<K>(ct, op, [&](auto tag) { out = map_binary<typename decltype(tag)::type>(ca, cb, f); });
    return narrow_result(out, ct);
  }
  dispatch<K>(ct, op, [&](auto tag) { out = map_binary<typename decltype(tag)::type>(a, b, f); });
  return narrow_result(out, ct);
}
template <Types K, class F>
Tensor ternary_kernel(const Tensor& a, const Tensor& b, const Tensor& c, DType ct, const char* op,
                      F f) {
  Tensor out;
  dispatch<K>(ct, op, [&](auto tag) { out = map_ternary<typename decltype(tag)::type>(a, b, c, f); });
  return narrow_result(out, ct);
}

// ---- float32 SIMD kernels ----------------------------------------------------------------
// A forward functor may name a bulk float32 kernel (`static constexpr VecFn vec`), a
// derivative functor one for its gradient (`static constexpr VecGrad vec_grad`); float32
// tensors then go through kernels/vec_unary.h instead of one libm call per element.
template <class F, class = void>
struct has_vec : std::false_type {};
template <class F>
struct has_vec<F, std::void_t<decltype(F::vec)>> : std::true_type {};
template <class D, class = void>
struct has_vec_grad : std::false_type {};
template <class D>
struct has_vec_grad<D, std::void_t<decltype(D::vec_grad)>> : std::true_type {};
// A derivative functor with `Tensor graph(g, saved) const`: its formula in public ops, for
// create_graph (double backward).
template <class D, class = void>
struct has_graph : std::false_type {};
template <class D>
struct has_graph<D, std::void_t<decltype(std::declval<const D&>().graph(std::declval<const Tensor&>(),
                                                                         std::declval<const Tensor&>()))>>
    : std::true_type {};
// A Python number in a formula (a wrapped 0-d tensor: it does not promote the result).
inline Tensor num(double v) { return scalar_tensor(v, DType::Float64); }

// fn(a) as float32 (vec_rows.cpp), any layout.
Tensor vec_unary_f32(const Tensor& a, kernels::VecFn fn);
void vec_unary_f32_inplace(const Tensor& self, kernels::VecFn fn);
// g * f'(x) as float32, over the broadcast shape of g and x.
Tensor vec_grad_f32(const Tensor& g, const Tensor& x, kernels::VecGrad fn);

// f(a) computed in `ct`, through f's float32 kernel when it has one.
template <Types K, class F>
Tensor unary_op(const Tensor& a, DType ct, const char* op, F f) {
  if constexpr (has_vec<F>::value) {
    if (ct == DType::Float32) return vec_unary_f32(a, F::vec);
    if (is_half(ct)) return narrow_result(vec_unary_f32(cast(a, DType::Float32), F::vec), ct);
  }
  return unary_kernel<K>(a, ct, op, f);
}

// Shape and dtype of an input, kept by nodes that need no saved values of it.
struct InputMeta {
  Shape shape;
  DType dtype;
  InputMeta(const Tensor& t) : shape(t->shape), dtype(t->dtype) {}  // NOLINT
};

// Backward of an elementwise y = f(x) whose derivative needs one saved tensor, the input
// or the output: dx = D(g, saved) in one fused pass. D supplies `name` (PyTorch's node
// name) and `T operator()(T g, T saved)`.
template <class D>
struct PointwiseBackward : Node {
  SavedTensor saved;
  D d;
  PointwiseBackward(const Tensor& s, bool is_output, D d) : saved(s, is_output), d(d) {}
  std::string name() const override { return D::name; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    const Tensor& s = saved.get(*this);
    if constexpr (has_vec_grad<D>::value)
      if (s->dtype == DType::Float32) return {vec_grad_f32(g[0], s, D::vec_grad)};
    return {binary_kernel<Types::Float>(g[0], s, s->dtype, D::name, d)};
  }
  // The derivative functor's `graph(g, saved)`: the same formula in public ops.
  std::vector<Tensor> apply_graph(std::vector<Tensor>& g) override {
    if constexpr (has_graph<D>::value) return {d.graph(g[0], saved.get(*this))};
    else return Node::apply_graph(g);
  }
  void release_saved() override { saved.reset(); }
};

// Backward of a piecewise-constant function (floor, sign, rounding division): a zero
// gradient for each input.
struct ZeroBackward : Node {
  const char* node_name;
  std::vector<InputMeta> inputs;
  ZeroBackward(const char* n, std::vector<InputMeta> in) : node_name(n), inputs(std::move(in)) {}
  std::string name() const override { return node_name; }
  TG_APPLY_IS_DIFFERENTIABLE
  std::vector<Tensor> apply(std::vector<Tensor>&) override {
    std::vector<Tensor> r(inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i)
      if (next_edges[i].fn) r[i] = zeros(inputs[i].shape, inputs[i].dtype);
    return r;
  }
};

// Which tensor a pointwise backward reads: the op's input or its output.
enum class Saves { Input, Output };

// y = f(x) for a float function (integer and bool inputs compute in float32), recording
// PointwiseBackward<D> when x requires grad.
template <class F, class D>
Tensor float_op(const Tensor& a, const char* op, F f, D d, Saves saves) {
  Tensor out = unary_op<Types::Float>(a, float_type(a->dtype), op, f);
  const bool is_out = saves == Saves::Output;
  set_history(make_node<PointwiseBackward<D>>({a}, is_out ? out : a, is_out, d), {out});
  return out;
}

// ---- in place ----------------------------------------------------------------------------
// Each in-place op: the checks, its node made from the inputs as they are (make_node),
// the write and the version bump, then rebase_history(self, node). Under no_grad, or when
// nothing requires grad, make_node returns null and nothing more happens.

// Throws unless `self` may be written in place: check_inplace's autograd rules, and no two
// of its elements may share memory.
void check_writable(const Tensor& self);
// PyTorch's canCast: a float result can't go into an integer or bool tensor, nor an
// integer one into a bool tensor.
void check_castable(DType from, DType to);
// `src`, or a copy of it when it overlaps `self` in memory without being the very same
// elements (an in-place write must never read an element it already wrote).
Tensor unaliased(const Tensor& self, const Tensor& src);
inline void bump_version(const Tensor& self) { self->storage->version++; }
// A copy of `t` without history: what a node saves of self (or of an operand sharing self's
// memory) when its backward needs the value from before the write.
// A copy of t's value as it is now, for a node to save across an in-place write to t.
// When t requires grad it is a recorded clone (PyTorch's original_self = self.clone()), so a
// create_graph backward that reads it differentiates back into t's history as it was.
inline Tensor copy_of(const Tensor& t) {
  if (any_needs_grad(t)) return clone(t);
  Tensor c = empty(t->shape, t->dtype);
  copy_into(c, t);
  return c;
}
// `other` as a node may save it: a copy when it shares self's memory (the write would
// change it under the node).
inline Tensor saveable(const Tensor& self, const Tensor& other) {
  return other->storage == self->storage ? copy_of(other) : other;
}

// The checks of an in-place binary op computing in `rt`: self writable, rt castable to
// self's dtype, and other broadcastable to self's shape (never the other way round).
void check_inplace_binary(const Tensor& self, const Tensor& other, DType rt);

// self = f(self, other) computed in T (the promoted dtype) and stored into self's dtype;
// call after check_inplace_binary.
template <class T, class F>
void store_binary(const Tensor& self, const Tensor& other, F f) {
  if (dtype_of<T>::value != self->dtype) {
    // only float32 self with a float64 operand: compute wide, round once when storing
    copy_into(self, map_binary<T>(self, other, f));
  } else {
    Tensor o = cast(unaliased(self, other), self->dtype);
    Shape so = broadcast_strides(o, self->shape);
    kernels::map2(self->shape, self->data_as<T>(), self->strides.data(), self->data_as<T>(),
                  self->strides.data(), o->data_as<T>(), so.data(), f);
  }
  bump_version(self);
}

// self = f(self, other); `record()` returns the op's node (or null), made before the write.
template <Types K, class F, class R>
void inplace_binary(const Tensor& self, const Tensor& other, DType rt, const char* op, F f, R record) {
  check_inplace_binary(self, other, rt);
  std::shared_ptr<Node> node = record();
  dispatch<K>(rt, op, [&](auto tag) { store_binary<typename decltype(tag)::type>(self, other, f); });
  rebase_history(self, node);
}

// self = f(self) written in place (dtype checks done by the caller), version bumped.
template <Types K, class F>
void store_unary(const Tensor& self, const char* op, F f) {
  if (!is_base(self->dtype)) {  // computed in the compute dtype, rounded / wrapped on store
    dispatch<K>(self->dtype, op, [&](auto tag) {
      using T = typename decltype(tag)::type;
      copy_into(self, map_unary<T>(self, [&f](T x) { return T(f(x)); }));
    });
    return bump_version(self);
  }
  if constexpr (has_vec<F>::value) {
    if (self->dtype == DType::Float32) {
      vec_unary_f32_inplace(self, F::vec);
      return bump_version(self);
    }
  }
  dispatch<K>(self->dtype, op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::map1(self->shape, self->data_as<T>(), self->strides.data(), self->data_as<T>(),
                  self->strides.data(), [&f](T x) { return T(f(x)); });
  });
  bump_version(self);
}

// self = f(self) in place, for ops whose result dtype `rt` is castable to self's; `record()`
// returns the op's node (or null), made before the write.
template <Types K, class F, class R>
void inplace_unary(const Tensor& self, DType rt, const char* op, F f, R record) {
  check_writable(self);
  check_castable(rt, self->dtype);
  std::shared_ptr<Node> node = record();
  store_unary<K>(self, op, f);
  rebase_history(self, node);
}

// The same for an op recorded as PointwiseBackward<D>: a backward that reads the input
// saves a copy of self taken before the write, one that reads the output saves self after.
template <Types K, class F, class D>
void inplace_pointwise(const Tensor& self, DType rt, const char* op, F f, D d, Saves saves) {
  check_writable(self);
  check_castable(rt, self->dtype);
  std::shared_ptr<Node> node;
  if (saves == Saves::Input && needs_grad(self))
    node = make_node<PointwiseBackward<D>>({self}, copy_of(self), false, d);
  store_unary<K>(self, op, f);
  if (saves == Saves::Output) node = make_node<PointwiseBackward<D>>({self}, self, true, d);
  rebase_history(self, node);
}

}  // namespace tg::ew
