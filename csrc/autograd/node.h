#pragma once
// The autograd graph: every differentiable op that ran with grad enabled leaves a Node
// whose edges point at the nodes (or leaf accumulators) of its inputs. The backward
// engine walks it in C++.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace tg {

struct Node;
struct Edge {
  std::shared_ptr<Node> fn;  // null: that input needs no gradient
  uint32_t input_nr = 0;     // which output of `fn` the gradient flows into
};

// Shape and dtype of one output, so the engine can stand in zeros for an output that
// received no gradient.
struct OutputMeta {
  Shape shape;
  DType dtype;
};

// ---- hooks ---------------------------------------------------------------------------------
// PyTorch's order when a node is reached (NOTE [Hooks ordering]): the hooks of the tensors
// whose gradients it receives (register_hook, then retain_grad), then the node's pre-hooks,
// its backward, its post-hooks; a leaf's accumulator calls post-accumulate hooks after
// adding into .grad. The callables come from the binding; they take the GIL themselves.

// A hook on the gradient flowing into a tensor: returns the gradient to use from here on,
// or null to keep it.
using GradHook = std::function<Tensor(const Tensor&)>;
struct TensorHooks {
  GradHook pre;                                        // register_hook (all of them, in order)
  std::function<void(const Tensor&)> post_accumulate;  // leaves: after .grad was accumulated
  std::weak_ptr<TensorImpl> retains;                   // a non-leaf's retain_grad(): its .grad
};
struct NodeHooks {
  // the hooks of non-leaf tensors, by the output of this node they are
  std::vector<std::pair<uint32_t, std::shared_ptr<TensorHooks>>> outputs;
  std::function<void(std::vector<Tensor>& grad_outputs)> pre;  // may replace grad_outputs
  std::function<void(std::vector<Tensor>& grad_inputs, const std::vector<Tensor>& grad_outputs)> post;
};

struct Node : std::enable_shared_from_this<Node> {
  std::vector<Edge> next_edges;  // one per differentiable input, in order
  std::vector<OutputMeta> outputs;
  uint64_t seq = 0;              // creation order; later nodes run first
  bool released = false;
  std::unique_ptr<NodeHooks> hooks;  // null when none (the common case costs one test)
  // false: the engine hands apply() null for an output that received no gradient instead
  // of zeros (Python Functions, which materialize them themselves unless told not to)
  bool materialize_grads = true;
  std::shared_ptr<const std::string> anomaly_stack;  // forward stack, recorded in anomaly mode

  virtual ~Node() = default;
  virtual std::string name() const = 0;
  // Gradients w.r.t. each input (null where the input needs none), given the gradients
  // w.r.t. each output.
  virtual std::vector<Tensor> apply(std::vector<Tensor>& grad_outputs) = 0;
  // The same for backward(create_graph=True), run with grad mode on: the formula in public
  // ops, which record their own nodes, so the gradients can be differentiated again (MLX's
  // vjps, PyTorch's derivatives.yaml). Nodes whose apply() is already written in public
  // ops return apply(g); the default runs apply() under no_grad and gives the results a
  // node that raises if anything ever differentiates through them.
  virtual std::vector<Tensor> apply_graph(std::vector<Tensor>& grad_outputs);
  // Frees saved tensors once backward ran without retain_graph.
  virtual void release_saved() {}
  void check_not_released() const;
};

// For a node whose apply() is written in public ops (they record themselves under
// create_graph): its differentiable backward is apply() itself.
#define TG_APPLY_IS_DIFFERENTIABLE \
  std::vector<Tensor> apply_graph(std::vector<Tensor>& g) override { return apply(g); }

// A tensor saved for backward. Outputs are saved as aliases without history so the
// saved copy does not keep its own grad_fn alive (no reference cycle).
struct SavedTensor {
  Tensor t;
  uint64_t version = 0;
  uint32_t output_nr = 0;  // of the owner, for an output (named in the version error)
  bool is_output = false;
  SavedTensor() = default;
  explicit SavedTensor(const Tensor& x, bool is_output = false);
  // Throws if freed or modified in place. In a create_graph backward (grad mode on) a
  // saved output comes back with its history (owner, output_nr), as PyTorch unpacks it.
  Tensor get(const Node& owner) const;
  void reset() { t.reset(); }
};

// The accumulator of a leaf tensor: adds incoming gradient into `variable->grad`.
struct AccumulateGrad : Node {
  Tensor variable;
  explicit AccumulateGrad(Tensor v) : variable(std::move(v)) {}
  std::string name() const override { return "AccumulateGrad"; }
  std::vector<Tensor> apply(std::vector<Tensor>& grads) override;
  std::vector<Tensor> apply_graph(std::vector<Tensor>& grads) override;  // .grad keeps its history
};

// The hooks of `t`, created on first use; a non-leaf's are attached to its grad_fn.
TensorHooks& tensor_hooks(const Tensor& t);
NodeHooks& node_hooks(Node& n);
// PyTorch's retain_grad(): a non-leaf's .grad is set when backward reaches it (no-op on a leaf).
void retain_grad(const Tensor& t);
// Runs `h` on the gradient `g` flowing into its tensor; returns the gradient to use.
Tensor run_tensor_hooks(const TensorHooks& h, Tensor g);

// Grad mode is per thread, as in PyTorch.
bool grad_enabled();
void set_grad_enabled(bool enabled);
struct NoGradGuard {
  bool prev;
  NoGradGuard() : prev(grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(prev); }
};
struct GradModeGuard {
  bool prev;
  explicit GradModeGuard(bool on) : prev(grad_enabled()) { set_grad_enabled(on); }
  ~GradModeGuard() { set_grad_enabled(prev); }
};

// A tracked view whose storage was written in place since its grad_fn was recorded gets
// a fresh grad_fn, a view of its base's current history (PyTorch regenerates it lazily
// the same way). Called wherever autograd reads a tensor's requires_grad or grad_fn.
void refresh_view(const Tensor& t);
inline void refresh(const Tensor& t) {
  if (t && t->view_base && t->view_version != t->storage->version.load(std::memory_order_relaxed))
    refresh_view(t);
}

// The edge a gradient for `t` must flow into (its grad_fn, its leaf accumulator, or none).
Edge gradient_edge(const Tensor& t);

bool needs_grad(const Tensor& t);
template <class... Ts>
bool any_needs_grad(const Ts&... ts) {
  if (!grad_enabled()) return false;
  (refresh(ts), ...);
  return (... || (ts && ts->requires_grad));
}


// Creates NodeT and wires it when grad mode is on and some input requires grad;
// returns null otherwise (then the op records nothing).
template <class NodeT, class... Args>
std::shared_ptr<NodeT> make_node(TensorRefs inputs, Args&&... args) {
  if (!grad_enabled()) return nullptr;
  bool any = false;
  for (size_t i = 0; i < inputs.size(); ++i) {
    refresh(inputs[i]);
    any |= (inputs[i] && inputs[i]->requires_grad);
  }
  if (!any) return nullptr;
  auto n = std::make_shared<NodeT>(std::forward<Args>(args)...);
  n->next_edges.reserve(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) n->next_edges.push_back(gradient_edge(inputs[i]));
  return n;
}
// Records `node` as the history of `outputs` (no-op when node is null).
void set_history(const std::shared_ptr<Node>& node, TensorRefs outputs);
// The creation number the next recorded node will get (nodes recorded from here on have
// seq >= it, leaf accumulators aside).
uint64_t next_node_seq();

// ---- in place ----------------------------------------------------------------------------
// An in-place op checks `self` with check_inplace before writing, creates its node (with
// make_node, from the inputs as they were) and after the write hands it to rebase_history,
// which makes it self's new grad_fn ("rebase history"). When self is a tracked view, the
// node instead becomes part of a CopySlices node on the base: the base's new history
// applies the node's backward on the view's region of the gradient and passes the rest
// through, and the view's grad_fn becomes a view of the base's new history.

// RuntimeError (PyTorch's messages) when `self` may not be written: read-only memory, a
// leaf that requires grad or a view of one (with grad mode on), a view created under
// no_grad of a base that requires grad, or one of several views split/chunk/unbind made.
void check_inplace(const Tensor& self);
void rebase_history_of(const Tensor& self, const std::shared_ptr<Node>& node);
inline void rebase_history(const Tensor& self, const std::shared_ptr<Node>& node) {
  if (node) rebase_history_of(self, node);  // null: nothing recorded (the no-grad fast path)
}
// Marks `t` as a view of `of` (of's own base when `of` is a view), when autograd may need
// it: grad mode is on or `of` requires grad.
void track_view(const Tensor& t, const Tensor& of);

// Backward entry points. create_graph: the backward is recorded (Node::apply_graph), so
// the gradients it produces have a history of their own.
void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grad_roots,
              bool retain_graph, bool create_graph = false);
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, bool retain_graph,
                         bool allow_unused, bool create_graph = false);
// The gradients flowing into `edges` from `outputs`, running only the part of the graph
// between them: the nodes of `edges` are neither run nor passed (nor their hooks run). For
// a recomputed checkpoint segment whose border belongs to an outer backward pass.
// accumulate_leaves: leaf accumulators among `edges` do run (into .grad, with their hooks)
// and get null, so the segment's parameter gradients are not all held at once.
std::vector<Tensor> grad_at_edges(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs,
                                  const std::vector<Edge>& edges, bool accumulate_leaves);
// False while this thread runs the engine for autograd.grad (nothing accumulates into
// .grad), true otherwise: reentrant checkpointing relies on .backward()'s accumulation
// (PyTorch's _is_checkpoint_valid).
bool checkpoint_valid();

}  // namespace tg
