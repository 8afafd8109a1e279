// The forward-pass recorder of tg.onnx.export (autograd/trace.h): start, stop (the
// records as tuples), and the identity of a tensor (its TensorImpl's address).
#include <variant>

#include "autograd/trace.h"
#include "python/bind.h"

namespace tg::bind {

void bind_trace(py::module_& m) {
  m.def("_trace_start", &trace::start);
  m.def("_trace_active", [] { return trace::current != nullptr; });
  // [(op, [inputs], [outputs], {attr: value})]; absent optional inputs are None
  m.def("_trace_stop", [] {
    py::list out;
    for (auto& r : trace::stop()) {
      py::list ins, outs;
      for (auto& t : r.inputs) ins.append(t ? py::cast(t) : py::none());
      for (auto& t : r.outputs) outs.append(t ? py::cast(t) : py::none());
      py::dict attrs;
      for (auto& [k, v] : r.attrs) std::visit([&](const auto& x) { attrs[py::str(k)] = py::cast(x); }, v);
      out.append(py::make_tuple(r.op, ins, outs, attrs));
    }
    return out;
  });
  m.def("_trace_id", [](const Tensor& t) { return reinterpret_cast<uintptr_t>(t.get()); }, py::arg("tensor"));
}

}  // namespace tg::bind
