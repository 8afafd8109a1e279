// Factories. The Python layer parses `*size` and keyword arguments and calls these.
#include "ops/ops.h"
#include "python/bind.h"

namespace tg::bind {

void bind_creation(py::module_& m, TensorClass&) {
  m.def("_full", [](const Shape& shape, py::handle value, DType dtype) {
    return full(shape, to_tensor(value, "fill_value"), dtype);
  });
  m.def("_empty", [](const Shape& shape, DType dtype) { return empty(shape, dtype); });
  m.def("_arange", [](double start, double end, double step, DType dtype) {
    return arange(start, end, step, dtype);
  });
  m.def("_linspace", [](double start, double end, int64_t steps, DType dtype) {
    return linspace(start, end, steps, dtype);
  });
  m.def("_eye", [](int64_t n, int64_t m, DType dtype) { return eye(n, m, dtype); });
  m.def("_zeros", [](const Shape& shape, DType dtype) { return zeros(shape, dtype); });
}

}  // namespace tg::bind
