// tinygrad_cpp.distributed's hand-off to MPI:
//  * `_mpi_buffer`: a tensor's memory as a typed memoryview that mpi4py reads and writes
//    directly (no copy);
//  * `_mpi_allreduce_setup` / `_mpi_allreduce_inplace`: all_reduce's fast path, one direct
//    MPI_Allreduce call on the tensor's memory. mpi4py's per-call work (parsing the buffer
//    and its format, building the message) is most of the cost of a small all-reduce, so
//    the plain blocking case skips it. We never link libmpi: the function comes from the
//    libmpi that mpi4py itself loaded, and the handles are mpi4py's, so mpi4py stays an
//    optional extra and both paths always talk to the same MPI.
#include <climits>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <dlfcn.h>
#define TG_HAVE_DLFCN 1
#endif

#include "python/bind.h"

namespace tg::bind {

namespace {

// MPI_Allreduce(sendbuf, recvbuf, count, datatype, op, comm), for the two widths an MPI
// handle has: MPICH's ABI (libmpi.so.12; also Intel MPI, MVAPICH) makes MPI_Datatype,
// MPI_Op and MPI_Comm `int`; Open MPI and the MPI-5 standard ABI make them pointers. The
// function is called through the type that matches the library's handle size exactly
// (never through the other one and relying on a callee ignoring high register bits).
using AllreduceInt = int (*)(const void*, void*, int, int32_t, int32_t, int32_t);
using AllreducePtr = int (*)(const void*, void*, int, void*, void*, void*);
using ErrorString = int (*)(int, char*, int*);  // same in every ABI

constexpr int kNumOps = 8;  // ReduceOp.SUM .. BXOR (AVG never has an entry: it divides after)

struct MpiFast {
  void* allreduce = nullptr;  // null: no fast path (not set up, or the process group is gone)
  ErrorString error_string = nullptr;
  int handle_size = 0;        // 4 (int handles) or sizeof(void*) (pointer handles)
  uint64_t in_place = 0, comm = 0;
  // (ReduceOp, dtype) -> MPI datatype and op handles; `has` false: not a plain MPI reduction
  bool has[kNumOps][kNumDTypes] = {};
  uint64_t datatype[kNumOps][kNumDTypes] = {}, op[kNumOps][kNumDTypes] = {};
};
MpiFast g_mpi;

void* resolve(void* lib, const char* name) {
#ifdef TG_HAVE_DLFCN
  // The definition mpi4py's module itself is bound to: the dynamic linker resolves the
  // module's MPI_* references in the global scope first (the program, LD_PRELOADed tools
  // such as PMPI profilers, RTLD_GLOBAL libraries), then in the module's own dependencies
  // (the libmpi that mpi4py dlopened RTLD_LOCAL), so look them up in that order.
  if (void* p = dlsym(RTLD_DEFAULT, name)) return p;
  return dlsym(lib, name);
#else
  (void)lib, (void)name;
  return nullptr;
#endif
}

// A handle as MPI's C API takes it. mpi4py's `_handleof` returns the handle's bits as an
// unsigned integer (a negative MPICH int comes sign-extended to 64 bits; Python masks it to
// 64 bits), so the low 32 bits are the int handle and the whole value the pointer handle.
inline int32_t as_int(uint64_t h) { return (int32_t)(uint32_t)h; }
// (MPI_IN_PLACE is a pointer in every ABI: as_ptr.)
inline void* as_ptr(uint64_t h) { return (void*)(uintptr_t)h; }

}  // namespace

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

  // Arms the fast path (init_process_group) or, with library=None, disarms it
  // (destroy_process_group). `library`: the path of mpi4py's loaded MPI extension module;
  // `handle_size`: sizeof(MPI_Comm) as mpi4py reports it; `table`: (ReduceOp, dtype,
  // datatype handle, op handle) for every reduction MPI does alone. Returns whether the
  // fast path is on (False where MPI_Allreduce cannot be found or the ABI is not one of
  // the two above: all_reduce then keeps to mpi4py).
  m.def("_mpi_allreduce_setup", [](std::optional<std::string> library, int handle_size, uint64_t in_place,
                                   uint64_t comm, const std::vector<std::tuple<int, DType, uint64_t, uint64_t>>& table) {
    g_mpi = MpiFast{};
    if (!library || (handle_size != 4 && handle_size != (int)sizeof(void*))) return false;
#ifdef TG_HAVE_DLFCN
    // RTLD_NOLOAD: only a handle on the module Python already loaded (never a new load)
    void* lib = dlopen(library->c_str(), RTLD_LAZY | RTLD_NOLOAD);
    if (lib == nullptr) return false;
    void* allreduce = resolve(lib, "MPI_Allreduce");
    auto error_string = (ErrorString)resolve(lib, "MPI_Error_string");
    dlclose(lib);  // drops NOLOAD's reference; the module stays loaded (Python holds it)
    if (allreduce == nullptr) return false;
    MpiFast s;
    s.error_string = error_string;
    s.handle_size = handle_size;
    s.in_place = in_place;
    s.comm = comm;
    for (const auto& [op, dtype, datatype, mop] : table) {
      if (op < 0 || op >= kNumOps) throw py::value_error("_mpi_allreduce_setup: bad ReduceOp");
      s.has[op][(int)dtype] = true;
      s.datatype[op][(int)dtype] = datatype;
      s.op[op][(int)dtype] = mop;
    }
    s.allreduce = allreduce;
    g_mpi = s;
    return true;
#else
    return false;
#endif
  }, py::arg("library"), py::arg("handle_size"), py::arg("in_place"), py::arg("comm"), py::arg("table"));

  // all_reduce's fast path: reduces `tensor` in place with one MPI_Allreduce (GIL released)
  // and returns True; or returns False, having done nothing, for anything that is not the
  // plain case (not set up, not a tensor, an op that is not an int or has no table entry,
  // non-contiguous, read-only, half types, over INT_MAX elements), which the caller sends
  // down mpi4py's path, where the errors are raised. An MPI error is a RuntimeError.
  m.def("_mpi_allreduce_inplace", [](py::handle tensor, py::handle op) {
    if (g_mpi.allreduce == nullptr || !PyLong_Check(op.ptr())) return false;
    py::detail::make_caster<Tensor> caster;
    if (!caster.load(tensor, false)) return false;
    const Tensor& t = py::detail::cast_op<const Tensor&>(caster);
    const long o = PyLong_AsLong(op.ptr());
    if (o < 0 || o >= kNumOps) {
      PyErr_Clear();  // an int too large for a long
      return false;
    }
    const int d = (int)t->dtype;
    if (!g_mpi.has[o][d] || !t->is_contiguous() || t->storage->readonly) return false;
    const int64_t n = t->numel();
    if (n > INT_MAX) return false;  // mpi4py's large-count call takes it
    void* data = t->data();
    int rc;
    {
      py::gil_scoped_release release;
      if (g_mpi.handle_size == 4)
        rc = ((AllreduceInt)g_mpi.allreduce)(as_ptr(g_mpi.in_place), data, (int)n,
                                             as_int(g_mpi.datatype[o][d]), as_int(g_mpi.op[o][d]),
                                             as_int(g_mpi.comm));
      else
        rc = ((AllreducePtr)g_mpi.allreduce)(as_ptr(g_mpi.in_place), data, (int)n, as_ptr(g_mpi.datatype[o][d]),
                                             as_ptr(g_mpi.op[o][d]), as_ptr(g_mpi.comm));
    }
    if (rc != 0) {  // MPI_SUCCESS is 0 in every ABI
      std::string msg = "MPI_Allreduce failed with error code " + std::to_string(rc);
      char text[4096];  // >= MPI_MAX_ERROR_STRING of MPICH (1024), Open MPI (256), MPI-5 ABI
      int len = 0;
      if (g_mpi.error_string != nullptr && g_mpi.error_string(rc, text, &len) == 0 && len > 0 &&
          len < (int)sizeof(text))
        msg += ": " + std::string(text, (size_t)len);
      throw std::runtime_error(msg);
    }
    return true;
  }, py::arg("tensor"), py::arg("op"));
}

}  // namespace tg::bind
