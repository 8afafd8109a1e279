// Factories. The Python layer parses `*size` and keyword arguments and calls these.
#include "ops/ops.h"
#include "python/bind.h"

namespace tg::bind {

void bind_creation(py::module_& m, TensorClass&) {
  m.def("_full", [](const Shape& shape, double value, DType dtype) { return full(shape, value, dtype); });
  m.def("_empty", [](const Shape& shape, DType dtype) { return empty(shape, dtype); });
  m.def("_zeros", [](const Shape& shape, DType dtype) { return zeros(shape, dtype); });
}

}  // namespace tg::bind
