// all_reduce's fast path; see mpi.h.
#include "core/mpi.h"

#include <climits>
#include <stdexcept>

#if defined(__unix__) || defined(__APPLE__)
#include <dlfcn.h>
#define TG_HAVE_DLFCN 1
#endif

namespace tg::mpi {

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

struct Fast {
  void* allreduce = nullptr;  // null: disarmed
  ErrorString error_string = nullptr;
  int handle_size = 0;        // 4 (int handles) or sizeof(void*) (pointer handles)
  uint64_t in_place = 0, comm = 0;
  // (ReduceOp, dtype) -> MPI datatype and op handles; `has` false: not a plain MPI reduction
  bool has[kNumOps][kNumDTypes] = {};
  uint64_t datatype[kNumOps][kNumDTypes] = {}, op[kNumOps][kNumDTypes] = {};
};
Fast g_fast;

#ifdef TG_HAVE_DLFCN
void* resolve(void* lib, const char* name) {
  // The definition mpi4py's module itself is bound to: the dynamic linker resolves the
  // module's MPI_* references in the global scope first (the program, LD_PRELOADed tools
  // such as PMPI profilers, RTLD_GLOBAL libraries), then in the module's own dependencies
  // (the libmpi that mpi4py dlopened RTLD_LOCAL), so look them up in that order.
  if (void* p = dlsym(RTLD_DEFAULT, name)) return p;
  return dlsym(lib, name);
}
#endif

// A handle as MPI's C API takes it. mpi4py's `_handleof` returns the handle's bits as an
// unsigned integer (a negative MPICH int comes sign-extended to 64 bits; Python masks it to
// 64 bits), so the low 32 bits are the int handle and the whole value the pointer handle.
inline int32_t as_int(uint64_t h) { return (int32_t)(uint32_t)h; }
// (MPI_IN_PLACE is a pointer in every ABI: as_ptr.)
inline void* as_ptr(uint64_t h) { return (void*)(uintptr_t)h; }

}  // namespace

bool arm_allreduce(const std::string& library, int handle_size, uint64_t in_place, uint64_t comm,
                   const std::vector<Reduction>& table) {
  g_fast = Fast{};
  if (handle_size != 4 && handle_size != (int)sizeof(void*)) return false;
#ifdef TG_HAVE_DLFCN
  // RTLD_NOLOAD: only a handle on the module Python already loaded (never a new load)
  void* lib = dlopen(library.c_str(), RTLD_LAZY | RTLD_NOLOAD);
  if (lib == nullptr) return false;
  void* allreduce = resolve(lib, "MPI_Allreduce");
  auto error_string = (ErrorString)resolve(lib, "MPI_Error_string");
  dlclose(lib);  // drops NOLOAD's reference; the module stays loaded (Python holds it)
  if (allreduce == nullptr) return false;
  Fast f;
  f.error_string = error_string;
  f.handle_size = handle_size;
  f.in_place = in_place;
  f.comm = comm;
  for (const Reduction& r : table) {
    if (r.op < 0 || r.op >= kNumOps) throw std::invalid_argument("arm_allreduce: bad ReduceOp");
    f.has[r.op][(int)r.dtype] = true;
    f.datatype[r.op][(int)r.dtype] = r.datatype;
    f.op[r.op][(int)r.dtype] = r.mpi_op;
  }
  f.allreduce = allreduce;
  g_fast = f;
  return true;
#else
  (void)library, (void)in_place, (void)comm, (void)table;
  return false;
#endif
}

void disarm_allreduce() { g_fast = Fast{}; }

bool allreduce_plain(const Tensor& t, int64_t op) {
  return g_fast.allreduce != nullptr && op >= 0 && op < kNumOps && g_fast.has[op][(int)t->dtype] &&
         t->is_contiguous() && !t->storage->readonly && t->numel() <= INT_MAX;  // larger: mpi4py's large-count call
}

int allreduce_inplace(const Tensor& t, int64_t op) {
  const Fast& f = g_fast;
  const int d = (int)t->dtype, n = (int)t->numel();
  if (f.handle_size == 4)
    return ((AllreduceInt)f.allreduce)(as_ptr(f.in_place), t->data(), n, as_int(f.datatype[op][d]),
                                       as_int(f.op[op][d]), as_int(f.comm));
  return ((AllreducePtr)f.allreduce)(as_ptr(f.in_place), t->data(), n, as_ptr(f.datatype[op][d]),
                                     as_ptr(f.op[op][d]), as_ptr(f.comm));
}

std::string allreduce_error(int code) {
  std::string msg = "MPI_Allreduce failed with error code " + std::to_string(code);
  char text[4096];  // >= MPI_MAX_ERROR_STRING of MPICH (1024), Open MPI (256), MPI-5 ABI
  int len = 0;
  if (g_fast.error_string != nullptr && g_fast.error_string(code, text, &len) == 0 && len > 0 &&
      len < (int)sizeof(text))
    msg += ": " + std::string(text, (size_t)len);
  return msg;
}

}  // namespace tg::mpi
