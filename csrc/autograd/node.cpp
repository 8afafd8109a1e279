#include "autograd/node.h"

#include <atomic>

#include "ops/creation.h"
#include "ops/elementwise.h"
#include "ops/shape.h"

namespace tg {

namespace {
thread_local bool t_grad_enabled = true;
std::atomic<uint64_t> g_next_seq{0};
}  // namespace

bool grad_enabled() { return t_grad_enabled; }
void set_grad_enabled(bool enabled) { t_grad_enabled = enabled; }

bool needs_grad(const Tensor& t) { return grad_enabled() && t && t->requires_grad; }

void Node::check_not_released() const {
  TG_CHECK(!released, RuntimeError,
           "Trying to backward through the graph a second time (or directly access saved tensors "
           "after they have already been freed). Saved intermediate values of the graph are freed "
           "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
           "backward through the graph a second time or if you need to access saved tensors after "
           "calling backward. (node ", name(), ")");
}

SavedTensor::SavedTensor(const Tensor& x, bool is_output)
    : t(is_output ? alias(x) : x), version(x->storage->version.load()) {}

const Tensor& SavedTensor::get(const Node& owner) const {
  owner.check_not_released();
  TG_CHECK(t, RuntimeError, "saved tensor of ", owner.name(), " is missing");
  TG_CHECK(t->storage->version.load() == version, RuntimeError,
           "one of the variables needed for gradient computation has been modified by an inplace "
           "operation: [", dtype_name(t->dtype), " ", shape_str(t->shape), "] is at version ",
           t->storage->version.load(), "; expected version ", version, " instead (node ",
           owner.name(), ")");
  return t;
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
  return {};
}

Edge gradient_edge(const Tensor& t) {
  if (!t || !t->requires_grad) return {};
  if (t->grad_fn) return {t->grad_fn, t->output_nr};
  auto acc = t->grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(t);
    t->grad_accumulator = acc;
  }
  return {acc, 0};
}

void set_history(const std::shared_ptr<Node>& node, TensorRefs outputs) {
  if (!node) return;
  node->seq = g_next_seq.fetch_add(1, std::memory_order_relaxed);
  node->outputs.clear();
  node->outputs.reserve(outputs.size());
  for (size_t i = 0; i < outputs.size(); ++i) {
    auto& o = outputs[i];
    node->outputs.push_back({o->shape, o->dtype});
    if (!is_floating(o->dtype)) continue;  // integer outputs (indices) carry no gradient
    o->grad_fn = node;
    o->output_nr = (uint32_t)i;
    o->requires_grad = true;
  }
}

}  // namespace tg
