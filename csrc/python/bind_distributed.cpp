// tinygrad_cpp.distributed's zero-copy hand-off to MPI: a tensor's memory as a typed
// memoryview that mpi4py reads and writes directly.
#include "python/bind.h"

namespace tg::bind {

void bind_distributed(py::module_& m) {
  // A flat, typed memoryview over a contiguous tensor's elements (no copy; the caller keeps
  // the tensor alive while MPI uses it), or None for a non-contiguous tensor.
  m.def("_mpi_buffer", [](const Tensor& t) -> py::object {
    // half types have no MPI reduction: None sends them through the float32 path
    if (!t->is_contiguous() || t->dtype == DType::Float16 || t->dtype == DType::BFloat16) return py::none();
    static const char* formats[kNumDTypes] = {"?", "q", "f", "d", "B", "b", "h", "i", nullptr, nullptr};
    const py::ssize_t n = (py::ssize_t)t->numel(), size = (py::ssize_t)itemsize(t->dtype);
    return py::memoryview::from_buffer(t->data(), size, formats[(int)t->dtype], {n}, {size},
                                       t->storage->readonly);
  }, py::arg("tensor"));
}

}  // namespace tg::bind
