#pragma once
// all_reduce's fast path (tinygrad_cpp.distributed): one direct MPI_Allreduce on a tensor's
// memory. mpi4py's per-call work (parsing the buffer and its format, building the message)
// is most of the cost of a small all-reduce, so the plain blocking case skips it. libmpi
// is never linked: the function comes from the libmpi that mpi4py itself loaded, and every
// handle is mpi4py's, so mpi4py stays an optional extra and both paths talk to one MPI.
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace tg::mpi {

// A reduction MPI does alone: (ReduceOp value, dtype) -> mpi4py's datatype and op handles,
// as the unsigned bits mpi4py's `_handleof` gives.
struct Reduction {
  int op;
  DType dtype;
  uint64_t datatype, mpi_op;
};

// Arms the fast path: `library` is the path of mpi4py's loaded MPI extension module,
// `handle_size` sizeof(MPI_Comm) as mpi4py reports it, `in_place` MPI_IN_PLACE and `comm`
// the communicator's handle. Returns whether it is armed (not where MPI_Allreduce cannot
// be found or the handles are neither ints nor pointers). disarm() before the
// communicator is freed.
bool arm_allreduce(const std::string& library, int handle_size, uint64_t in_place, uint64_t comm,
                   const std::vector<Reduction>& table);
void disarm_allreduce();

// Whether `t` reduced with ReduceOp `op` is the plain case the fast path takes: armed, a
// table entry for (op, dtype), contiguous, writable, at most INT_MAX elements.
bool allreduce_plain(const Tensor& t, int64_t op);
// Reduces `t` in place across the communicator (allreduce_plain must hold); returns MPI's
// error code (0: success). Touches no Python object: callable without the GIL.
int allreduce_inplace(const Tensor& t, int64_t op);
// "MPI_Allreduce failed with error code N: <MPI's text for it>".
std::string allreduce_error(int code);

}  // namespace tg::mpi
