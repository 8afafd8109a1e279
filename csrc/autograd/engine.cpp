// The backward engine: counts how many gradients each node of the graph will receive,
// then runs nodes once all of them have arrived (newest first among those ready, leaf
// accumulators first of all), summing gradients per output as they flow. No Python is
// involved, except through hooks the user registered (the binding's callables take the GIL).
#include <queue>
#include <unordered_map>

#include "autograd/anomaly.h"
#include "autograd/node.h"
#include "ops/creation.h"
#include "ops/elementwise.h"

namespace tg {

namespace {

thread_local bool t_checkpoint_valid = true;
struct CheckpointValidGuard {
  bool prev;
  explicit CheckpointValidGuard(bool v) : prev(t_checkpoint_valid) { t_checkpoint_valid = v; }
  ~CheckpointValidGuard() { t_checkpoint_valid = prev; }
};

// Runs n's backward; in anomaly mode also checks its outputs for NaN, and warns with its
// forward stack when anything in there fails.
// create_graph: the recorded formula (Node::apply_graph).
std::vector<Tensor> call_node(Node& n, std::vector<Tensor>& grads, bool create_graph) {
  if (!anomaly::enabled()) return create_graph ? n.apply_graph(grads) : n.apply(grads);
  try {
    std::vector<Tensor> out = create_graph ? n.apply_graph(grads) : n.apply(grads);
    anomaly::check_outputs(n, out);
    return out;
  } catch (...) {
    anomaly::report_error(n);
    throw;
  }
}

struct ByNewest {
  bool operator()(const Node* a, const Node* b) const { return a->seq < b->seq; }
};

// Where autograd.grad wants the gradient flowing into output `nr` of `node`.
struct Capture {
  Node* node;
  uint32_t nr;
  size_t slot;
};

std::vector<Tensor> run(const std::vector<Tensor>& roots, const std::vector<Tensor>& grad_roots,
                        bool retain_graph, const std::vector<Edge>& capture_edges,
                        bool accumulate, bool create_graph, bool stop_at_captures = false,
                        bool accumulate_leaves = false) {
  // Backward formulas record nothing, except under create_graph, where they are recorded
  // like a forward (Node::apply_graph) so their results can be differentiated again.
  GradModeGuard mode(create_graph);
  TG_CHECK(roots.size() == grad_roots.size(), RuntimeError, "got ", roots.size(),
           " tensors and ", grad_roots.size(), " gradients");

  // Root edges and their initial gradients.
  std::vector<Edge> root_edges;
  for (size_t i = 0; i < roots.size(); ++i) {
    const Tensor& r = roots[i];
    refresh(r);
    TG_CHECK(r->requires_grad, RuntimeError, "element ", i,
             " of tensors does not require grad and does not have a grad_fn");
    const Tensor& g = grad_roots[i];
    TG_CHECK(g->shape == r->shape, RuntimeError, "Mismatch in shape: grad_output[", i,
             "] has a shape of ", shape_str(g->shape), " and output[", i, "] has a shape of ",
             shape_str(r->shape), ".");
    root_edges.push_back(gradient_edge(r));
  }

  std::vector<Tensor> captured(capture_edges.size());
  std::unordered_multimap<Node*, Capture> captures;
  for (size_t i = 0; i < capture_edges.size(); ++i)
    captures.emplace(capture_edges[i].fn.get(), Capture{capture_edges[i].fn.get(), capture_edges[i].input_nr, i});
  // stop_at_captures: the captured nodes are the border of the graph to run (what lies
  // beyond them belongs to an outer backward pass: checkpoint's recomputed segment)
  auto border = [&](Node* n) { return stop_at_captures && captures.count(n) > 0; };

  // Dependency counts over the reachable graph.
  std::unordered_map<Node*, int> deps;
  std::unordered_map<Node*, std::shared_ptr<Node>> keep;  // nodes stay alive while we run
  std::vector<Node*> stack;
  for (auto& e : root_edges) {
    if (keep.emplace(e.fn.get(), e.fn).second) stack.push_back(e.fn.get());
  }
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    if (border(n)) continue;
    for (auto& e : n->next_edges) {
      if (!e.fn) continue;
      deps[e.fn.get()]++;
      if (keep.emplace(e.fn.get(), e.fn).second) stack.push_back(e.fn.get());
    }
  }

  std::unordered_map<Node*, std::vector<Tensor>> buffers;
  auto deliver = [&](Node* n, uint32_t nr, Tensor g) {
    auto& buf = buffers[n];
    if (buf.size() <= nr) buf.resize(std::max<size_t>(n->outputs.size(), nr + 1));
    if (!buf[nr]) buf[nr] = std::move(g);
    else buf[nr] = add(buf[nr], g);
  };
  for (size_t i = 0; i < roots.size(); ++i) deliver(root_edges[i].fn.get(), root_edges[i].input_nr, grad_roots[i]);

  // autograd.grad runs only the nodes on a path to a captured edge (PyTorch's exec_info);
  // the captured nodes themselves are reached (their tensors' hooks run) but not run.
  std::unordered_map<Node*, bool> leads;  // n is captured or is needed
  std::unordered_map<Node*, bool> needed;
  if (!accumulate) {
    std::vector<std::pair<Node*, size_t>> st;
    for (auto& e : root_edges)
      if (leads.emplace(e.fn.get(), false).second) st.push_back({e.fn.get(), 0});
    while (!st.empty()) {
      Node* n = st.back().first;
      size_t i = st.back().second;
      if (i < n->next_edges.size() && !border(n)) {
        st.back().second++;
        Node* c = n->next_edges[i].fn.get();
        if (c && leads.emplace(c, false).second) st.push_back({c, 0});
        continue;
      }
      bool need = false;
      if (!border(n))
        for (auto& e : n->next_edges) need |= (e.fn && leads[e.fn.get()]);
      needed[n] = need;
      leads[n] = need || captures.count(n) > 0 || (accumulate_leaves && dynamic_cast<AccumulateGrad*>(n));
      st.pop_back();
    }
  }

  std::priority_queue<Node*, std::vector<Node*>, ByNewest> ready;
  for (auto& e : root_edges)
    if (deps[e.fn.get()] == 0) ready.push(e.fn.get());
  std::unordered_map<Node*, bool> done;

  while (!ready.empty()) {
    Node* n = ready.top();
    ready.pop();
    if (done[n]) continue;
    done[n] = true;
    if (!accumulate && !leads[n]) continue;
    std::vector<Tensor> grads = std::move(buffers[n]);
    buffers.erase(n);
    grads.resize(std::max<size_t>(grads.size(), n->outputs.size()));
    bool is_leaf_acc = dynamic_cast<AccumulateGrad*>(n) != nullptr;
    if (border(n)) {  // its hooks run in the outer pass, which gets this gradient
      auto range = captures.equal_range(n);
      for (auto it = range.first; it != range.second; ++it)
        if (it->second.nr < grads.size()) captured[it->second.slot] = grads[it->second.nr];
      continue;
    }
    if (n->hooks) {
      for (auto& [nr, h] : n->hooks->outputs)
        if (nr < grads.size() && grads[nr]) grads[nr] = run_tensor_hooks(*h, std::move(grads[nr]));
    }
    if (is_leaf_acc) {
      auto& hooks = static_cast<AccumulateGrad*>(n)->variable->hooks;
      if (hooks && hooks->pre && !grads.empty() && grads[0]) grads[0] = run_tensor_hooks(*hooks, std::move(grads[0]));
    }
    auto range = captures.equal_range(n);
    for (auto it = range.first; it != range.second; ++it) captured[it->second.slot] = grads[it->second.nr];
    if (!accumulate && !(is_leaf_acc && accumulate_leaves)) {
      if (is_leaf_acc || !needed[n]) continue;
    }

    bool any = false;
    for (auto& g : grads) any |= (bool)g;
    std::vector<Tensor> in_grads;
    if (any) {
      for (size_t i = 0; i < grads.size(); ++i)
        if (!grads[i] && n->materialize_grads) grads[i] = zeros(n->outputs[i].shape, n->outputs[i].dtype);
      if (n->hooks && n->hooks->pre) n->hooks->pre(grads);
      if (n->hooks && n->hooks->post) {
        std::vector<Tensor> grad_outputs = grads;  // apply may consume its argument
        in_grads = call_node(*n, grads, create_graph);
        n->hooks->post(in_grads, grad_outputs);
      } else {
        in_grads = call_node(*n, grads, create_graph);
      }
      if (!retain_graph) {
        n->release_saved();
        n->released = true;
      }
    }
    for (size_t i = 0; i < n->next_edges.size(); ++i) {
      auto& e = n->next_edges[i];
      if (!e.fn) continue;
      if (i < in_grads.size() && in_grads[i]) deliver(e.fn.get(), e.input_nr, std::move(in_grads[i]));
      if (--deps[e.fn.get()] == 0) ready.push(e.fn.get());
    }
  }
  return captured;
}

}  // namespace

bool checkpoint_valid() { return t_checkpoint_valid; }

void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grad_roots,
              bool retain_graph, bool create_graph) {
  CheckpointValidGuard checkpoint_valid(true);
  run(roots, grad_roots, retain_graph, {}, /*accumulate=*/true, create_graph);
}

std::vector<Tensor> grad_at_edges(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs,
                                  const std::vector<Edge>& edges, bool accumulate_leaves) {
  if (!accumulate_leaves) return run(outputs, grad_outputs, false, edges, false, false, /*stop_at_captures=*/true);
  std::vector<Edge> inner;  // the border minus leaf accumulators (run here: null gradients)
  std::vector<size_t> slot;
  for (size_t i = 0; i < edges.size(); ++i)
    if (!dynamic_cast<AccumulateGrad*>(edges[i].fn.get())) inner.push_back(edges[i]), slot.push_back(i);
  auto res = run(outputs, grad_outputs, false, inner, false, false, /*stop_at_captures=*/true, /*accumulate_leaves=*/true);
  std::vector<Tensor> out(edges.size());
  for (size_t k = 0; k < inner.size(); ++k) out[slot[k]] = std::move(res[k]);
  return out;
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, bool retain_graph,
                         bool allow_unused, bool create_graph) {
  std::vector<Edge> edges;
  for (size_t i = 0; i < inputs.size(); ++i) {
    refresh(inputs[i]);
    TG_CHECK(inputs[i]->requires_grad, RuntimeError, "One of the differentiated Tensors (input ", i,
             ") does not require grad");
    edges.push_back(gradient_edge(inputs[i]));
  }
  CheckpointValidGuard checkpoint_valid(false);
  auto res = run(outputs, grad_outputs, retain_graph, edges, /*accumulate=*/false, create_graph);
  for (size_t i = 0; i < res.size(); ++i) {
    TG_CHECK(res[i] || allow_unused, RuntimeError, "One of the differentiated Tensors (input ", i,
             ") appears to not have been used in the graph. Set allow_unused=True if this is the "
             "desired behavior.");
  }
  return res;
}

}  // namespace tg
