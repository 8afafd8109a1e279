// Autograd: backward, grad, grad mode and graph nodes.
#include "autograd/node.h"
#include "ops/ops.h"
#include "python/bind.h"

namespace tg::bind {

void bind_autograd(py::module_& m, TensorClass& cls) {
  py::class_<Node, std::shared_ptr<Node>>(m, "Node")
      .def("name", &Node::name)
      .def_property_readonly("next_functions", [](const Node& n) {
        py::list out;
        for (auto& e : n.next_edges) out.append(py::make_tuple(node_object(e.fn), e.input_nr));
        return py::tuple(out);
      })
      .def("__repr__", [](const Node& n) { return "<" + n.name() + ">"; });

  cls.def("_backward", [](const Tensor& t, py::object gradient, bool retain_graph, bool create_graph) {
    Tensor g;
    if (gradient.is_none()) {
      TG_CHECK(t->numel() == 1, RuntimeError, "grad can be implicitly created only for scalar "
               "outputs (got a tensor of shape ", shape_str(t->shape), ")");
      g = ones(t->shape, t->dtype);
    } else {
      g = to_tensor(gradient, "gradient");
    }
    py::gil_scoped_release release;
    backward({t}, {g}, retain_graph, create_graph);
  }, py::arg("gradient") = py::none(), py::arg("retain_graph") = false, py::arg("create_graph") = false);

  m.def("_grad", [](const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                    const std::vector<Tensor>& grad_outputs, bool retain_graph, bool allow_unused,
                    bool create_graph) {
    py::gil_scoped_release release;
    return grad(outputs, inputs, grad_outputs, retain_graph, allow_unused, create_graph);
  }, py::arg("outputs"), py::arg("inputs"), py::arg("grad_outputs"), py::arg("retain_graph"),
     py::arg("allow_unused"), py::arg("create_graph") = false);
  m.def("is_grad_enabled", &grad_enabled);
  m.def("_set_grad_enabled", &set_grad_enabled, py::arg("mode"));
}

}  // namespace tg::bind
