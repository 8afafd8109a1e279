#pragma once
// General matrix multiply on raw strided operands:
//   C[M,N] = A[M,K] @ B[K,N]          (accumulate=false)
//   C[M,N] += A[M,K] @ B[K,N]         (accumulate=true)
// A and B are read through element strides (rs = row stride, cs = column stride), so a
// transposed operand is just swapped strides, never a copy. C is row-major with ldc.
#include <cstdint>

namespace tg::kernels {

void gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t rsa, int64_t csa,
          const float* B, int64_t rsb, int64_t csb, float* C, int64_t ldc, bool accumulate);
void gemm(int64_t M, int64_t N, int64_t K, const double* A, int64_t rsa, int64_t csa,
          const double* B, int64_t rsb, int64_t csb, double* C, int64_t ldc, bool accumulate);

}  // namespace tg::kernels
