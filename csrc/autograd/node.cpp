#include "autograd/node.h"

#include "autograd/adjoint.h"
#include "autograd/anomaly.h"

#include <atomic>

#include "ops/creation.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "ops/shape.h"

namespace tg {

namespace {
thread_local bool t_grad_enabled = true;
std::atomic<uint64_t> g_next_seq{0};
}  // namespace

bool grad_enabled() { return t_grad_enabled; }
uint64_t next_node_seq() { return g_next_seq.load(std::memory_order_relaxed); }
void set_grad_enabled(bool enabled) { t_grad_enabled = enabled; }

bool needs_grad(const Tensor& t) {
  if (!grad_enabled() || !t) return false;
  refresh(t);
  return t->requires_grad;
}

void Node::check_not_released() const {
  TG_CHECK(!released, RuntimeError,
           "Trying to backward through the graph a second time (or directly access saved tensors "
           "after they have already been freed). Saved intermediate values of the graph are freed "
           "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
           "backward through the graph a second time or if you need to access saved tensors after "
           "calling backward. (node ", name(), ")");
}

SavedTensor::SavedTensor(const Tensor& x, bool is_output)
    : t(is_output ? alias(x) : x),
      version(x->storage->version.load()),
      output_nr(x->output_nr),
      is_output(is_output) {}

namespace {
// PyTorch's legacy type names, as its version error prints them.
const char* type_name(DType d) {
  switch (d) {
    case DType::Float32: return "FloatTensor";
    case DType::Float64: return "DoubleTensor";
    case DType::Int64: return "LongTensor";
    case DType::Bool: return "BoolTensor";
    case DType::Float16: return "HalfTensor";
    case DType::BFloat16: return "BFloat16Tensor";
    case DType::UInt8: return "ByteTensor";
    case DType::Int8: return "CharTensor";
    case DType::Int16: return "ShortTensor";
    case DType::Int32: return "IntTensor";
  }
  return "Tensor";
}

// "ReluBackward0" -> "Relu", as PyTorch names the op that produced a tensor.
std::string op_name(const Node& n) {
  std::string s = n.name();
  size_t k = s.size();
  while (k > 0 && s[k - 1] >= '0' && s[k - 1] <= '9') --k;
  const std::string suffix = "Backward";
  if (k >= suffix.size() && s.compare(k - suffix.size(), suffix.size(), suffix) == 0)
    return s.substr(0, k - suffix.size());
  return s;
}
}  // namespace

Tensor SavedTensor::get(const Node& owner) const {
  owner.check_not_released();
  TG_CHECK(t, RuntimeError, "saved tensor of ", owner.name(), " is missing");
  const uint64_t now = t->storage->version.load();
  if (now != version) {
    // an input names the op that produced it (its history as it is now), an output its owner
    std::string which;
    const Node* producer = is_output ? &owner : t->grad_fn.get();
    if (producer)
      which = cat_str(", which is output ", is_output ? output_nr : t->output_nr, " of ", op_name(*producer), ",");
    throw RuntimeError(cat_str(
        "one of the variables needed for gradient computation has been modified by an inplace "
        "operation: [tinygrad_cpp.", type_name(t->dtype), " ", shape_str(t->shape), "]", which,
        " is at version ", now, "; expected version ", version,
        " instead. Hint: the gradient of ", owner.name(),
        " needs this tensor as it was; modify a clone() of it instead, or do the in-place "
        "operation after backward."));
  }
  if (is_output && grad_enabled()) {  // create_graph: the output with its history
    Tensor o = alias(t);
    o->grad_fn = std::const_pointer_cast<Node>(owner.shared_from_this());
    o->output_nr = output_nr;
    o->requires_grad = true;
    return o;
  }
  return t;
}

namespace {
// Stands for a backward computed by a fused kernel in a create_graph backward: reached by
// a later backward (a gradient of that gradient), it raises instead of returning a wrong
// (constant) derivative.
struct NotImplementedBackward : Node {
  std::string of;
  explicit NotImplementedBackward(std::string n) : of(std::move(n)) {}
  std::string name() const override { return "NotImplemented"; }
  std::vector<Tensor> apply(std::vector<Tensor>&) override {
    throw RuntimeError(cat_str("derivative for ", of, " is not implemented: the backward of ", of,
                               " cannot be differentiated again (double backward, create_graph=True)"));
  }
};
}  // namespace

std::vector<Tensor> Node::apply_graph(std::vector<Tensor>& g) {
  std::vector<Tensor> r;
  {
    NoGradGuard no_grad;
    r = apply(g);
  }
  auto err = std::make_shared<NotImplementedBackward>(name());
  err->next_edges = next_edges;  // the inputs, whose values the formula read
  for (auto& t : g)
    if (t && t->requires_grad) err->next_edges.push_back(gradient_edge(t));
  std::vector<Tensor> outs;
  for (auto& t : r)
    if (t) outs.push_back(t = alias(t));  // its own history, never that of a grad passed through
  set_history(err, outs);
  return r;
}

std::vector<Tensor> AccumulateGrad::apply_graph(std::vector<Tensor>& grads) {
  Tensor& g = grads[0];
  if (!g) return {};
  Tensor& acc = variable->grad;
  Tensor ng = g->shape == variable->shape ? g : expand(g, variable->shape);  // as apply()
  if (ng->dtype != variable->dtype) ng = to_dtype(ng, variable->dtype);
  acc = acc ? add(acc, ng) : ng;  // out of place: the new .grad has its history
  if (variable->hooks && variable->hooks->post_accumulate) variable->hooks->post_accumulate(variable);
  return {};
}

std::vector<Tensor> AccumulateGrad::apply(std::vector<Tensor>& grads) {
  Tensor& g = grads[0];
  if (!g) return {};
  Tensor& acc = variable->grad;
  if (!acc) {
    // Steal the incoming buffer when nobody else holds it, as PyTorch does.
    bool own = g.use_count() == 1 && g->is_contiguous() && g->storage.use_count() == 1 &&
               g->shape == variable->shape && g->dtype == variable->dtype;
    acc = own ? g : to_dtype(expand(g, variable->shape), variable->dtype);
    if (acc == g) acc->grad_fn.reset();
  } else {
    add_(acc, g);
  }
  if (variable->hooks && variable->hooks->post_accumulate) variable->hooks->post_accumulate(variable);
  return {};
}

TensorHooks& tensor_hooks(const Tensor& t) {
  refresh(t);
  if (!t->hooks) t->hooks = std::make_shared<TensorHooks>();
  if (t->grad_fn) {  // (again after an in-place op gave it a new grad_fn)
    auto& outs = node_hooks(*t->grad_fn).outputs;
    bool found = false;
    for (auto& [nr, h] : outs) found |= (nr == t->output_nr && h == t->hooks);
    if (!found) outs.emplace_back(t->output_nr, t->hooks);
  }
  return *t->hooks;
}

NodeHooks& node_hooks(Node& n) {
  if (!n.hooks) n.hooks = std::make_unique<NodeHooks>();
  return *n.hooks;
}

void retain_grad(const Tensor& t) {
  refresh(t);
  TG_CHECK(t->requires_grad, RuntimeError, "can't retain_grad on Tensor that has requires_grad=False");
  if (t->is_leaf() || t->retains_grad) return;
  tensor_hooks(t).retains = t;
  t->retains_grad = true;
}

Tensor run_tensor_hooks(const TensorHooks& h, Tensor g) {
  if (h.pre) {
    Tensor r = h.pre(g);
    if (r) g = std::move(r);
  }
  if (Tensor t = h.retains.lock()) {
    if (!t->grad) t->grad = clone(g);  // a fresh contiguous copy, as PyTorch's
    else t->grad = add(t->grad, g);
  }
  return g;
}

Edge gradient_edge(const Tensor& t) {
  refresh(t);
  if (!t || !t->requires_grad) return {};
  if (t->grad_fn) return {t->grad_fn, t->output_nr};
  auto acc = t->grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(t);
    acc->seq = UINT64_MAX;  // runs as soon as ready, as PyTorch's: .grad is final early
    t->grad_accumulator = acc;
  }
  return {acc, 0};
}

namespace {
// A tensor given a new grad_fn (in-place op, regenerated view) leaves its hooks with the old
// one, where they still see the gradient of the old value; later hooks go to the new one.
// Only retain_grad moves along (PyTorch's update_tensor_hooks_on_new_gradfn).
void hooks_on_new_grad_fn(const Tensor& t) {
  std::shared_ptr<TensorHooks> old = std::move(t->hooks);
  if (old->retains.expired()) return;
  old->retains.reset();
  t->hooks = std::make_shared<TensorHooks>();
  t->hooks->retains = t;
  node_hooks(*t->grad_fn).outputs.emplace_back(t->output_nr, t->hooks);
}
}  // namespace

void set_history(const std::shared_ptr<Node>& node, TensorRefs outputs) {
  if (!node) return;
  node->seq = g_next_seq.fetch_add(1, std::memory_order_relaxed);
  if (anomaly::enabled() && !node->anomaly_stack) node->anomaly_stack = anomaly::record_stack();
  node->outputs.clear();
  node->outputs.reserve(outputs.size());
  for (size_t i = 0; i < outputs.size(); ++i) {
    auto& o = outputs[i];
    node->outputs.push_back({o->shape, o->dtype});
    if (!is_floating(o->dtype)) continue;  // integer outputs (indices) carry no gradient
    o->grad_fn = node;
    o->output_nr = (uint32_t)i;
    o->requires_grad = true;
    if (o->hooks) hooks_on_new_grad_fn(o);
  }
}

// ---- in place and views ------------------------------------------------------------------

namespace {

// Where a view's elements sit in gradient buffers laid out as its base: a view of a
// contiguous base is found at its offset from the base's; for any other base the buffer
// mirrors the base's whole storage, so the view's own strides and offset apply unchanged.
struct BaseLayout {
  Shape base_shape, base_strides, view_shape, view_strides;
  int64_t base_offset, view_offset, storage_numel;
  bool contiguous;
  BaseLayout(const Tensor& base, const Tensor& view)
      : base_shape(base->shape), base_strides(base->strides), view_shape(view->shape),
        view_strides(view->strides), base_offset(base->offset), view_offset(view->offset),
        storage_numel((int64_t)(base->storage->nbytes / itemsize(base->dtype))),
        contiguous(base->is_contiguous()) {}

  // A base-shaped buffer of dtype dt (a copy of `init`, or zeros) and its region `shape`
  // (the view's shape, or one with some dims cut to 1).
  std::pair<Tensor, Tensor> make(const Tensor& init, DType dt, const Shape& shape) const {
    if (contiguous) {
      Tensor buf = init ? empty(base_shape, dt) : zeros(base_shape, dt);
      if (init) copy_into(buf, init);
      return {buf, make_view(buf, shape, view_strides, view_offset - base_offset)};
    }
    Tensor flat = zeros({storage_numel}, dt);
    Tensor buf = make_view(flat, base_shape, base_strides, base_offset);
    if (init) copy_into(buf, init);
    return {buf, make_view(flat, shape, view_strides, view_offset)};
  }
};

// The two linear maps between a base-shaped gradient and its view's region, each the
// other's adjoint, recorded (create_graph) through adjoint.h so they differentiate again:
// take(g) copies the view's elements out of base-shaped g; place(r) puts r into zeros of
// the base's shape (summing what an expanded view shows several times).
// place(r) unrecorded (the fused kernel of AsStridedBackward0)
Tensor place_plain(const BaseLayout& layout, const Tensor& r) {
  // an expanded view shows one element many times: its gradient is their sum
  Tensor gv = r;
  Shape shape = layout.view_shape;
  std::vector<int64_t> repeated;
  for (size_t d = 0; d < shape.size(); ++d)
    if (layout.view_strides[d] == 0 && shape[d] > 1) repeated.push_back((int64_t)d), shape[d] = 1;
  if (!repeated.empty()) gv = sum(gv, repeated, /*keepdim=*/true);
  auto [buf, region] = layout.make(nullptr, gv->dtype, shape);
  copy_into(region, gv);
  return buf;
}
Tensor place_in_base(const BaseLayout& layout, const Tensor& r);
Tensor take_from_base(const BaseLayout& layout, const Tensor& g) {
  return linear_in_grad(
      g, "AsStridedBackward0",
      [&](const Tensor& gb) {
        auto [buf, region] = layout.make(gb, gb->dtype, layout.view_shape);
        return contiguous(region);
      },
      [layout](const Tensor& gg) { return place_in_base(layout, gg); });
}
Tensor place_in_base(const BaseLayout& layout, const Tensor& r) {
  return linear_in_grad(
      r, "AsStridedBackward0Backward0",
      [&](const Tensor& rv) { return place_plain(layout, rv); },
      [layout](const Tensor& gg) { return take_from_base(layout, gg); });
}

// The grad_fn of a view regenerated from its base's history: the view's gradient placed
// into zeros of the base's shape (PyTorch's AsStridedBackward0).
struct AsStridedBackward0 : Node {
  BaseLayout layout;
  AsStridedBackward0(const Tensor& base, const Tensor& view) : layout(base, view) {}
  std::string name() const override { return "AsStridedBackward0"; }
  std::vector<Tensor> apply_graph(std::vector<Tensor>& g) override { return {place_in_base(layout, g[0])}; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override { return {place_plain(layout, g[0])}; }
};

// The base's history after an in-place op on one of its views: `fn` (the op's node, whose
// input 0 was the view) runs on the view's region of the gradient, which its result for
// the view replaces; the rest of the gradient passes through to the base's old history.
struct CopySlices : Node {
  BaseLayout layout;
  std::shared_ptr<Node> fn;
  CopySlices(const Tensor& base, const Tensor& view, std::shared_ptr<Node> f)
      : layout(base, view), fn(std::move(f)) {}
  std::string name() const override { return "CopySlices"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    auto [result, region] = layout.make(g[0], g[0]->dtype, layout.view_shape);
    Tensor slice = empty(region->shape, region->dtype);  // fn may hand its input back
    copy_into(slice, region);
    std::vector<Tensor> fg{slice};
    std::vector<Tensor> res = fn->apply(fg);
    if (!res.empty() && res[0]) copy_into(region, res[0]);
    else copy_into(region, zeros({}, region->dtype));
    std::vector<Tensor> out(next_edges.size());
    out[0] = std::move(result);
    for (size_t i = 1; i < out.size() && i < res.size(); ++i) out[i] = std::move(res[i]);
    return out;
  }
  // Recorded (create_graph): g with the view's region replaced by fn's recorded gradient,
  // g * (1 - mask) + place(fn(take(g))), mask marking the region.
  std::vector<Tensor> apply_graph(std::vector<Tensor>& g) override {
    std::vector<Tensor> fg{take_from_base(layout, g[0])};
    std::vector<Tensor> res = fn->apply_graph(fg);
    Tensor keep;
    {
      NoGradGuard ng;
      auto [mask, region] = layout.make(nullptr, g[0]->dtype, layout.view_shape);
      copy_into(region, ones({}, g[0]->dtype));
      keep = sub(ones({}, g[0]->dtype), mask);
    }
    std::vector<Tensor> out(next_edges.size());
    out[0] = mul(g[0], keep);
    if (!res.empty() && res[0]) out[0] = add(out[0], place_in_base(layout, res[0]));
    for (size_t i = 1; i < out.size() && i < res.size(); ++i) out[i] = std::move(res[i]);
    return out;
  }
  void release_saved() override {
    fn->release_saved();
    fn->released = true;
  }
};

void regenerate_view(const Tensor& t) {
  const Tensor& base = t->view_base;
  auto n = std::make_shared<AsStridedBackward0>(base, t);
  n->next_edges.push_back(gradient_edge(base));
  set_history(n, {t});
  t->view_version = t->storage->version.load();
}

}  // namespace

void refresh_view(const Tensor& t) {
  t->view_version = t->storage->version.load();
  if (t->view_creation == ViewCreation::NoGrad || !t->view_base->requires_grad) return;
  regenerate_view(t);
}

void track_view(const Tensor& t, const Tensor& of) {
  const bool grad = grad_enabled();
  if (!grad && !of->requires_grad) return;
  t->view_base = of->view_base ? of->view_base : of;
  t->view_version = t->storage->version.load();
  // a view of a view keeps the restriction its source had
  t->view_creation = !grad ? ViewCreation::NoGrad : of->view_base ? of->view_creation : ViewCreation::Default;
}

void check_inplace(const Tensor& self) {
  check_storage_writable(*self->storage);
  if (!grad_enabled()) return;
  if (const Tensor& base = self->view_base) {
    TG_CHECK(!(base->requires_grad && base->is_leaf()), RuntimeError,
             "a view of a leaf Variable that requires grad is being used in an in-place operation.");
    TG_CHECK(!(self->view_creation == ViewCreation::NoGrad && base->requires_grad), RuntimeError,
             "A view was created in no_grad mode and is being modified inplace with grad mode "
             "enabled. Given that this use case is ambiguous and error-prone, it is forbidden. You "
             "can clarify your code by moving both the view and the inplace either both inside the "
             "no_grad block (if you don't want the inplace to be tracked) or both outside (if you "
             "want the inplace to be tracked).");
    TG_CHECK(!(self->view_creation == ViewCreation::MultiOutput && base->requires_grad), RuntimeError,
             "Output ", self->output_nr, " of ", self->grad_fn ? op_name(*self->grad_fn) : "split",
             " is a view and is being modified inplace. This view is the output of a function that "
             "returns multiple views. Such functions do not allow the output views to be modified "
             "inplace. You should replace the inplace operation by an out-of-place one.");
  }
  TG_CHECK(!(self->requires_grad && self->is_leaf()), RuntimeError,
           "a leaf Variable that requires grad is being used in an in-place operation.");
}

void rebase_history_of(const Tensor& self, const std::shared_ptr<Node>& node) {
  if (self->view_base && self->view_creation != ViewCreation::NoGrad) {
    const Tensor& base = self->view_base;
    auto cs = std::make_shared<CopySlices>(base, self, node);
    cs->next_edges.reserve(node->next_edges.size());
    cs->next_edges.push_back(gradient_edge(base));
    for (size_t i = 1; i < node->next_edges.size(); ++i) cs->next_edges.push_back(node->next_edges[i]);
    node->outputs = {{self->shape, self->dtype}};
    set_history(cs, {base});
    regenerate_view(self);
    return;
  }
  set_history(node, {self});
}

}  // namespace tg
