// Custom autograd Functions (tinygrad_cpp.autograd.Function), anomaly mode and the RNG
// state checkpointing restores.
//
// A Function's backward node is a C++ PyFunctionNode, so the rest of backward stays in the
// engine: it holds the Python ctx object (an instance of MyFnBackward, see
// tinygrad_cpp/autograd/function.py) and calls its backward with the GIL. As in PyTorch, the
// node holds the ctx strongly and the ctx holds the node weakly (`_FunctionHandle`), so
// there is no reference cycle; `tensor.grad_fn` of a Function's output is the ctx itself.
#include <set>
#include <unordered_set>

#include "autograd/anomaly.h"
#include "autograd/node.h"
#include "ops/ops.h"
#include "python/bind.h"

namespace tg::bind {

namespace {

struct PyFunctionNode : Node {
  std::shared_ptr<py::object> ctx;     // the MyFnBackward instance
  std::string fn_name;                 // "MyFnBackward"
  std::vector<OutputMeta> input_meta;  // per tensor input (= per next edge)
  std::vector<bool> tensor_output;     // per forward output: was it a tensor
  std::vector<SavedTensor> saved;      // ctx.save_for_backward, in order
  std::vector<bool> saved_none;        // ... where None was saved

  PyFunctionNode() { materialize_grads = false; }  // apply() does it, unless told not to
  std::string name() const override { return fn_name; }

  std::vector<Tensor> apply(std::vector<Tensor>& grads) override {
    py::gil_scoped_acquire gil;
    const bool materialize = ctx->attr("materialize_grads").cast<bool>();
    py::tuple args(outputs.size());
    for (size_t i = 0; i < outputs.size(); ++i) {
      if (!tensor_output[i]) args[i] = py::none();
      else if (i < grads.size() && grads[i]) args[i] = py::cast(grads[i]);
      else if (materialize) args[i] = py::cast(zeros(outputs[i].shape, outputs[i].dtype));
      else args[i] = py::none();
    }
    // one entry per tensor input, checked for count and type in Python
    py::tuple res = ctx->attr("_call_backward")(args);
    std::vector<Tensor> out(next_edges.size());
    for (size_t k = 0; k < next_edges.size(); ++k) {
      py::handle h = res[k];
      if (h.is_none() || !next_edges[k].fn) continue;
      Tensor g = h.cast<Tensor>();
      const OutputMeta& m = input_meta[k];
      if (g->shape != m.shape) {
        bool expandable = m.shape.size() <= g->shape.size();
        for (size_t d = 0; expandable && d < m.shape.size(); ++d) {
          int64_t want = m.shape[m.shape.size() - 1 - d], have = g->shape[g->shape.size() - 1 - d];
          expandable = want == have || want == 1;
        }
        TG_CHECK(expandable, RuntimeError, "Function ", fn_name, " returned an invalid gradient at index ", k,
                 " - got ", shape_str(g->shape), " but expected shape compatible with ", shape_str(m.shape));
        g = sum_to(g, m.shape);
      }
      if (g->dtype != m.dtype) g = to_dtype(g, m.dtype);
      out[k] = std::move(g);
    }
    return out;
  }

  // create_graph: as PyTorch, the user's backward runs with grad mode on (the engine turned
  // it on), so a backward written with differentiable ops records itself and can be
  // differentiated again; @once_differentiable runs it under no_grad and attaches an error
  // node instead (autograd/function.py).
  TG_APPLY_IS_DIFFERENTIABLE

  void release_saved() override {
    for (auto& s : saved) s.reset();
  }
};

// What the ctx holds: its node, weakly.
struct FunctionHandle {
  std::weak_ptr<PyFunctionNode> node;
  std::shared_ptr<PyFunctionNode> lock(const char* what) const {
    auto n = node.lock();
    TG_CHECK(n, RuntimeError, "Attribute '", what, "' is invalid for this instance of _C._FunctionBase: "
             "its graph was already freed (no tensor refers to it any more).");
    return n;
  }
};

bool is_tensor(py::handle h) { return py::isinstance<TensorImpl>(h); }

// ---- anomaly mode: the Python side of recording and reporting --------------------------------
py::object* g_stack_fn = nullptr;   // () -> str, the current stack (leaked: lives until exit)
py::object* g_report_fn = nullptr;  // (node_name, stack or None) -> warns

std::shared_ptr<const std::string> record_python_stack() {
  if (!g_stack_fn || !Py_IsInitialized()) return nullptr;
  py::gil_scoped_acquire gil;
  return std::make_shared<const std::string>((*g_stack_fn)().cast<std::string>());
}

void report_python_error(const std::string& name, const std::string* stack) {
  if (!g_report_fn || !Py_IsInitialized()) return;
  py::gil_scoped_acquire gil;
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);  // (keep whatever is pending as it is)
  try {
    (*g_report_fn)(name, stack ? py::object(py::str(*stack)) : py::object(py::none()));
  } catch (py::error_already_set&) {
    // warnings turned into errors: the original exception is what propagates
  }
  PyErr_Restore(type, value, tb);
}

}  // namespace

py::object node_object(const std::shared_ptr<Node>& n) {
  if (!n) return py::none();
  if (auto* f = dynamic_cast<PyFunctionNode*>(n.get())) return *f->ctx;
  return py::cast(n);
}

void bind_function(py::module_& m, TensorClass&) {
  py::class_<FunctionHandle>(m, "_FunctionHandle")
      .def("node", [](const FunctionHandle& h) -> py::object {
        auto n = h.node.lock();
        return n ? py::cast(std::static_pointer_cast<Node>(n)) : py::none();
      })
      .def("next_functions", [](const FunctionHandle& h) {
        auto n = h.lock("next_functions");
        py::tuple out(n->next_edges.size());
        for (size_t i = 0; i < n->next_edges.size(); ++i)
          out[i] = py::make_tuple(node_object(n->next_edges[i].fn), n->next_edges[i].input_nr);
        return out;
      })
      .def("saved_tensors", [](const FunctionHandle& h) {
        auto n = h.lock("saved_tensors");
        py::tuple out(n->saved.size());
        for (size_t i = 0; i < n->saved.size(); ++i)
          out[i] = n->saved_none[i] ? py::object(py::none()) : py::cast(n->saved[i].get(*n));
        return out;
      });

  // Wires the outputs of a Function's forward into the graph. `args`: forward's arguments
  // (tensors among them are the inputs), `outputs`: what forward returned (as a tuple),
  // `dirty` / `non_differentiable`: ctx.mark_dirty / mark_non_differentiable, `to_save`:
  // ctx.save_for_backward. Returns (outputs to hand the caller, handle or None when nothing
  // was recorded).
  m.def("_function_record", [](py::object ctx, const std::string& name, py::tuple args, py::tuple outputs,
                               py::list dirty, py::list non_differentiable, py::object to_save) -> py::tuple {
    std::vector<Tensor> inputs;
    for (py::handle a : args)
      if (is_tensor(a)) inputs.push_back(a.cast<Tensor>());
    bool executable = false;
    if (grad_enabled())
      for (auto& t : inputs) executable |= needs_grad(t);
    if (!executable) return py::make_tuple(outputs, py::none());

    std::unordered_set<const TensorImpl*> dirty_set, nondiff_set, input_set;
    for (py::handle d : dirty) dirty_set.insert(d.cast<Tensor>().get());
    for (py::handle d : non_differentiable) nondiff_set.insert(d.cast<Tensor>().get());
    for (auto& t : inputs) input_set.insert(t.get());

    auto node = std::make_shared<PyFunctionNode>();
    node->fn_name = name;
    node->next_edges.reserve(inputs.size());
    for (auto& t : inputs) {
      node->next_edges.push_back(gradient_edge(t));
      node->input_meta.push_back({t->shape, t->dtype});
    }
    const size_t n_out = outputs.size();
    std::vector<Tensor> wired(n_out);  // what set_history gives the node's history
    py::tuple result(n_out);
    for (size_t i = 0; i < n_out; ++i) {
      py::handle o = outputs[i];
      node->tensor_output.push_back(is_tensor(o));
      if (!is_tensor(o)) {
        wired[i] = empty({0}, DType::Float32);  // a slot that never receives a gradient
        result[i] = o;
        continue;
      }
      Tensor t = o.cast<Tensor>();
      Tensor out = t;
      if (dirty_set.count(t.get())) {
        TG_CHECK(!(t->requires_grad && t->is_leaf()), RuntimeError,
                 "a leaf Variable that requires grad has been used in an in-place operation.");
        TG_CHECK(!t->view_base, NotImplementedError,
                 "mark_dirty() on a view of another tensor is not supported by tinygrad_cpp's Functions");
      } else if (input_set.count(t.get())) {
        out = alias(t);  // an input handed back: the output is a new tensor on its memory
      }
      wired[i] = nondiff_set.count(t.get()) ? alias(out) : out;
      result[i] = py::cast(out);
    }
    set_history(node, TensorRefs(wired));
    for (size_t i = 0; i < n_out; ++i)
      if (!node->tensor_output[i]) node->outputs[i] = {{0}, DType::Float32};

    if (!to_save.is_none()) {
      for (py::handle s : to_save) {
        if (s.is_none()) {
          node->saved.emplace_back();
          node->saved_none.push_back(true);
          continue;
        }
        Tensor t = s.cast<Tensor>();
        bool is_output = false;
        for (size_t i = 0; i < n_out; ++i) is_output |= node->tensor_output[i] && wired[i] == t;
        node->saved.emplace_back(t, is_output);
        node->saved_none.push_back(false);
      }
    }
    node->ctx = py_ref(ctx);
    FunctionHandle h{node};
    return py::make_tuple(result, py::cast(h));
  });

  // Non-reentrant checkpointing: `outputs` were computed with grad on, their graph being the
  // nodes recorded from seq `start` on. That graph is replaced by one PyFunctionNode whose
  // edges are where it left off (the inputs' histories, the parameters' accumulators), so
  // dropping the outputs frees everything it saved; backward recomputes it (ctx's
  // _call_backward) and runs it up to those edges (_grad_at_edges). `to_save`: the input
  // tensors, version-checked. Returns (outputs to hand the caller, handle or None).
  m.def("_checkpoint_record", [](py::object ctx, const std::string& name, py::tuple outputs, uint64_t start,
                                 py::list to_save) -> py::tuple {
    auto internal_node = [&](Node* n) { return n && n->seq >= start && !dynamic_cast<AccumulateGrad*>(n); };
    std::unordered_set<Node*> internal;
    std::vector<Node*> stack;
    std::vector<Edge> border;
    std::set<std::pair<Node*, uint32_t>> seen;
    auto visit = [&](const Edge& e) {
      if (!e.fn) return;
      if (internal_node(e.fn.get())) {
        if (internal.insert(e.fn.get()).second) stack.push_back(e.fn.get());
      } else if (seen.insert({e.fn.get(), e.input_nr}).second) {
        border.push_back(e);
      }
    };
    const size_t n_out = outputs.size();
    for (size_t i = 0; i < n_out; ++i)
      if (is_tensor(outputs[i])) visit(gradient_edge(outputs[i].cast<Tensor>()));
    while (!stack.empty()) {
      Node* n = stack.back();
      stack.pop_back();
      for (auto& e : n->next_edges) visit(e);
    }
    if (border.empty()) return py::make_tuple(outputs, py::none());

    auto node = std::make_shared<PyFunctionNode>();
    node->fn_name = name;
    node->next_edges = border;
    for (auto& e : border) {
      if (auto* acc = dynamic_cast<AccumulateGrad*>(e.fn.get()))
        node->input_meta.push_back({acc->variable->shape, acc->variable->dtype});
      else
        node->input_meta.push_back(e.fn->outputs.at(e.input_nr));
    }
    std::vector<Tensor> wired(n_out);
    py::tuple result(n_out);
    for (size_t i = 0; i < n_out; ++i) {
      py::handle o = outputs[i];
      node->tensor_output.push_back(is_tensor(o));
      if (!is_tensor(o)) {
        wired[i] = empty({0}, DType::Float32);
        result[i] = o;
        continue;
      }
      Tensor t = o.cast<Tensor>();
      if (!t->requires_grad) {
        wired[i] = alias(t);  // a slot without gradient
        result[i] = o;
        continue;
      }
      wired[i] = alias(t);
      result[i] = py::cast(wired[i]);
    }
    set_history(node, TensorRefs(wired));
    for (size_t i = 0; i < n_out; ++i)
      if (!node->tensor_output[i]) node->outputs[i] = {{0}, DType::Float32};
    for (py::handle s : to_save) {
      node->saved.emplace_back(s.cast<Tensor>(), false);
      node->saved_none.push_back(false);
    }
    node->ctx = py_ref(ctx);
    return py::make_tuple(result, py::cast(FunctionHandle{node}));
  });
  m.def("_grad_at_edges", [](const FunctionHandle& h, const std::vector<Tensor>& outputs,
                             const std::vector<Tensor>& grads, bool accumulate_leaves) {
    std::vector<Edge> edges = h.lock("next_functions")->next_edges;
    py::gil_scoped_release release;
    return grad_at_edges(outputs, grads, edges, accumulate_leaves);
  });
  m.def("_next_node_seq", &next_node_seq);

  // ---- anomaly mode ----
  m.def("_set_anomaly_enabled", [](Bool enabled, Bool check_nan) { anomaly::set_enabled(enabled, check_nan); },
        py::arg("enabled"), py::arg("check_nan") = true);
  m.def("is_anomaly_enabled", [] { return anomaly::enabled(); });
  m.def("is_anomaly_check_nan_enabled", [] { return anomaly::check_nan(); });
  m.def("_set_anomaly_handlers", [](py::object stack_fn, py::object report_fn) {
    delete g_stack_fn;
    delete g_report_fn;
    g_stack_fn = new py::object(std::move(stack_fn));
    g_report_fn = new py::object(std::move(report_fn));
    anomaly::set_handlers(&record_python_stack, &report_python_error);
  });
  m.def("_is_checkpoint_valid", &checkpoint_valid);
  // backward from several roots at once (checkpoint's recomputed graph), accumulating into .grad
  m.def("_run_backward", [](const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph) {
    py::gil_scoped_release release;
    backward(roots, grads, retain_graph);
  });

  // ---- RNG state (the default generator's seed and counter) ----
  m.def("_get_rng_state", [] {
    Generator& g = default_generator();
    std::lock_guard<std::mutex> lock(g.mu);
    return std::make_pair((int64_t)g.seed, (int64_t)g.offset);
  });
  m.def("_set_rng_state", [](int64_t seed, int64_t offset) {
    Generator& g = default_generator();
    std::lock_guard<std::mutex> lock(g.mu);
    g.seed = (uint64_t)seed;
    g.offset = (uint64_t)offset;
  });
}

}  // namespace tg::bind
