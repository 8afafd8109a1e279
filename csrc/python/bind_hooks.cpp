// Autograd hooks: the Python callables the engine calls (tensor hooks, post-accumulate
// hooks, grad_fn pre/post hooks) and the identity node behind Module full backward hooks.
// Each kind is stored as ONE callable Python object (an ordered dict of the user's hooks,
// see tinygrad_cpp/utils/hooks.py), so handles remove hooks by deleting dict entries.
#include "autograd/node.h"
#include "ops/ops.h"
#include "python/bind.h"

namespace tg::bind {

std::shared_ptr<py::object> py_ref(py::object o) {  // (bind.h)
  return std::shared_ptr<py::object>(new py::object(std::move(o)), [](py::object* p) {
#if PY_VERSION_HEX >= 0x030D0000
    const bool finalizing = Py_IsFinalizing();
#else
    const bool finalizing = _Py_IsFinalizing();
#endif
    if (!Py_IsInitialized() || finalizing) return;  // leaked at exit, never touched
    py::gil_scoped_acquire gil;
    delete p;
  });
}

namespace {

py::object as_py(const Tensor& t) { return t ? py::cast(t) : py::none(); }

py::tuple as_tuple(const std::vector<Tensor>& ts) {
  py::tuple out(ts.size());
  for (size_t i = 0; i < ts.size(); ++i) out[i] = as_py(ts[i]);
  return out;
}

// Python's exceptions raised by a hook leave backward() as themselves (error_already_set).
struct PyGradHook {  // fn(grad) -> Tensor or None
  std::shared_ptr<py::object> fn;
  Tensor operator()(const Tensor& g) const {
    py::gil_scoped_acquire gil;
    py::object r = (*fn)(as_py(g));
    return r.is_none() ? Tensor() : r.cast<Tensor>();
  }
};
struct PyPostAccumulateHook {  // fn(tensor)
  std::shared_ptr<py::object> fn;
  void operator()(const Tensor& t) const {
    py::gil_scoped_acquire gil;
    (*fn)(py::cast(t));
  }
};
// fn(grad_outputs) -> tuple or None; its entries replace the gradients (None: kept)
struct PyNodePreHook {
  std::shared_ptr<py::object> fn;
  void operator()(std::vector<Tensor>& grads) const {
    py::gil_scoped_acquire gil;
    py::object r = (*fn)(as_tuple(grads));
    if (r.is_none()) return;
    auto seq = r.cast<py::sequence>();
    for (size_t i = 0; i < grads.size() && i < (size_t)seq.size(); ++i)
      if (!seq[i].is_none()) grads[i] = seq[i].cast<Tensor>();
  }
};
// fn(grad_inputs, grad_outputs) -> tuple or None replacing grad_inputs
struct PyNodePostHook {
  std::shared_ptr<py::object> fn;
  void operator()(std::vector<Tensor>& grad_inputs, const std::vector<Tensor>& grad_outputs) const {
    py::gil_scoped_acquire gil;
    py::object r = (*fn)(as_tuple(grad_inputs), as_tuple(grad_outputs));
    if (r.is_none()) return;
    auto seq = r.cast<py::sequence>();
    grad_inputs.resize(std::max(grad_inputs.size(), (size_t)seq.size()));
    for (size_t i = 0; i < (size_t)seq.size(); ++i)
      grad_inputs[i] = seq[i].is_none() ? Tensor() : seq[i].cast<Tensor>();
  }
};

template <class Fn, class Slot>
py::object stored(const Slot& slot) {
  if (!slot) return py::none();
  auto* f = slot.template target<Fn>();
  return f ? *f->fn : py::none();
}

// Identity on its inputs, so that hooks on it see the gradients of a module's inputs or
// outputs all at once (PyTorch's BackwardHookFunction).
struct BackwardHookFunctionBackward : Node {
  std::string name() const override { return "BackwardHookFunctionBackward"; }
  TG_APPLY_IS_DIFFERENTIABLE  // the identity
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    return g;  // (zeros for an input that needs no gradient, as PyTorch's materialized grads)
  }
};

}  // namespace

void bind_hooks(py::module_& m, TensorClass& cls) {
  cls.def_property_readonly("_backward_hooks", [](const Tensor& t) {
    return t->hooks ? stored<PyGradHook>(t->hooks->pre) : py::none();
  });
  cls.def("_set_backward_hooks", [](const Tensor& t, py::object fn) {
    tensor_hooks(t).pre = PyGradHook{py_ref(std::move(fn))};
  });
  cls.def_property_readonly("_post_accumulate_grad_hooks", [](const Tensor& t) {
    return t->hooks ? stored<PyPostAccumulateHook>(t->hooks->post_accumulate) : py::none();
  });
  cls.def("_set_post_accumulate_grad_hooks", [](const Tensor& t, py::object fn) {
    tensor_hooks(t).post_accumulate = PyPostAccumulateHook{py_ref(std::move(fn))};
  });
  cls.def("retain_grad", [](const Tensor& t) { retain_grad(t); });
  cls.def_property_readonly("retains_grad", [](const Tensor& t) { return t->retains_grad; });

  auto node_cls = py::reinterpret_borrow<py::class_<Node, std::shared_ptr<Node>>>(m.attr("Node"));
  node_cls.def_property_readonly("_pre_hooks", [](const Node& n) {
    return n.hooks ? stored<PyNodePreHook>(n.hooks->pre) : py::none();
  });
  node_cls.def("_set_pre_hooks", [](Node& n, py::object fn) {
    node_hooks(n).pre = PyNodePreHook{py_ref(std::move(fn))};
  });
  node_cls.def_property_readonly("_post_hooks", [](const Node& n) {
    return n.hooks ? stored<PyNodePostHook>(n.hooks->post) : py::none();
  });
  node_cls.def("_set_post_hooks", [](Node& n, py::object fn) {
    node_hooks(n).post = PyNodePostHook{py_ref(std::move(fn))};
  });

  // The tensors (aliases) behind one BackwardHookFunctionBackward node; those that need no
  // gradient come back as they are.
  m.def("_backward_hook_identity", [](const std::vector<Tensor>& ts) {
    std::vector<Tensor> out(ts.begin(), ts.end());
    auto node = make_node<BackwardHookFunctionBackward>(TensorRefs(ts));
    if (!node) return out;
    std::vector<Tensor> outs;
    for (size_t i = 0; i < ts.size(); ++i) {
      out[i] = alias(ts[i]);
      outs.push_back(out[i]);
    }
    set_history(node, TensorRefs(outs));
    for (size_t i = 0; i < ts.size(); ++i)
      if (!node->next_edges[i].fn) out[i] = ts[i];  // (its output slot gets no gradient)
    return out;
  });
}

}  // namespace tg::bind
