// Reductions.
#include "ops/ops.h"
#include "python/bind.h"

namespace tg::bind {

void bind_reduce(py::module_& m, TensorClass& cls) {
  def_both(cls, m, "sum", [](const Tensor& a, py::handle dim, bool keepdim) {
    return sum(a, dims_arg(dim), keepdim);
  }, py::arg("dim") = py::none(), py::arg("keepdim") = false);
}

}  // namespace tg::bind
