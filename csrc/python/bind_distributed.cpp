// tinygrad_cpp.distributed's hand-off to MPI:
//  * `_mpi_buffer`: a tensor's memory as a typed memoryview that mpi4py reads and writes
//    directly (no copy);
//  * `_mpi_allreduce_setup` / `_mpi_allreduce_inplace`: all_reduce's fast path, one direct
//    MPI_Allreduce call on the tensor's memory (core/mpi.h).
#include <tuple>
#include <vector>

#include "core/mpi.h"
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

  // Arms all_reduce's fast path (init_process_group; see core/mpi.h) or, with
  // library=None, disarms it (destroy_process_group). `table`: (ReduceOp, dtype, datatype
  // handle, op handle) for every reduction MPI does alone. Returns whether it is armed.
  m.def("_mpi_allreduce_setup", [](std::optional<std::string> library, int handle_size, uint64_t in_place,
                                   uint64_t comm, const std::vector<std::tuple<int, DType, uint64_t, uint64_t>>& table) {
    if (!library) {
      mpi::disarm_allreduce();
      return false;
    }
    std::vector<mpi::Reduction> reductions;
    for (const auto& [op, dtype, datatype, mop] : table) reductions.push_back({op, dtype, datatype, mop});
    return mpi::arm_allreduce(*library, handle_size, in_place, comm, reductions);
  }, py::arg("library"), py::arg("handle_size"), py::arg("in_place"), py::arg("comm"), py::arg("table"));

  // all_reduce's fast path: reduces `tensor` in place (GIL released) and returns True; or
  // returns False, having done nothing, for anything that is not the plain case (not a
  // tensor, an op that is not an int, see mpi::allreduce_plain), which the caller sends
  // down mpi4py's path, where the errors are raised. An MPI error is a RuntimeError.
  m.def("_mpi_allreduce_inplace", [](py::handle tensor, py::handle op) {
    if (!PyLong_Check(op.ptr())) return false;
    py::detail::make_caster<Tensor> caster;
    if (!caster.load(tensor, false)) return false;
    const Tensor& t = py::detail::cast_op<const Tensor&>(caster);
    const long o = PyLong_AsLong(op.ptr());
    if (o == -1 && PyErr_Occurred()) {
      PyErr_Clear();  // an int too large for a long
      return false;
    }
    if (!mpi::allreduce_plain(t, o)) return false;
    int rc;
    {
      py::gil_scoped_release release;
      rc = mpi::allreduce_inplace(t, o);
    }
    if (rc != 0) throw std::runtime_error(mpi::allreduce_error(rc));  // MPI_SUCCESS is 0 in every ABI
    return true;
  }, py::arg("tensor"), py::arg("op"));
}

}  // namespace tg::bind
