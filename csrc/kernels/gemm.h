#pragma once
// General matrix multiply on raw strided operands:
//   C[M,N] = A[M,K] @ B[K,N]          (accumulate=false)
//   C[M,N] += A[M,K] @ B[K,N]         (accumulate=true)
// A, B and C are addressed through element strides (rs = row stride, cs = column stride),
// so a transposed operand is just swapped strides, never a copy. Any stride is allowed,
// including 0 (a broadcast row or column); C must not overlap A or B.
//
// Float types run a packed, cache-blocked GEMM with a register-tiled micro-kernel for the
// best instruction set of this CPU (AVX-512, AVX2+FMA, or portable C++), threaded over
// tg::get_num_threads() threads above a size threshold. int64 runs a plain loop.
#include <cstdint>
#include <string>

namespace tg::kernels {

void gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t rsa, int64_t csa,
          const float* B, int64_t rsb, int64_t csb, float* C, int64_t rsc, int64_t csc,
          bool accumulate);
void gemm(int64_t M, int64_t N, int64_t K, const double* A, int64_t rsa, int64_t csa,
          const double* B, int64_t rsb, int64_t csb, double* C, int64_t rsc, int64_t csc,
          bool accumulate);
void gemm(int64_t M, int64_t N, int64_t K, const int64_t* A, int64_t rsa, int64_t csa,
          const int64_t* B, int64_t rsb, int64_t csb, int64_t* C, int64_t rsc, int64_t csc,
          bool accumulate);

// Row-major C with leading dimension ldc.
template <class T>
void gemm(int64_t M, int64_t N, int64_t K, const T* A, int64_t rsa, int64_t csa, const T* B,
          int64_t rsb, int64_t csb, T* C, int64_t ldc, bool accumulate) {
  gemm(M, N, K, A, rsa, csa, B, rsb, csb, C, ldc, int64_t(1), accumulate);
}

// `batch` independent products of the same geometry; product b reads A + a_off[b],
// B + b_off[b] and writes C + c_off[b] (offsets in elements). Distinct products must write
// disjoint parts of C. Small products are spread over threads, large ones threaded inside.
void gemm_batched(int64_t batch, const int64_t* a_off, const int64_t* b_off, const int64_t* c_off,
                  int64_t M, int64_t N, int64_t K, const float* A, int64_t rsa, int64_t csa,
                  const float* B, int64_t rsb, int64_t csb, float* C, int64_t rsc, int64_t csc,
                  bool accumulate);
void gemm_batched(int64_t batch, const int64_t* a_off, const int64_t* b_off, const int64_t* c_off,
                  int64_t M, int64_t N, int64_t K, const double* A, int64_t rsa, int64_t csa,
                  const double* B, int64_t rsb, int64_t csb, double* C, int64_t rsc, int64_t csc,
                  bool accumulate);
void gemm_batched(int64_t batch, const int64_t* a_off, const int64_t* b_off, const int64_t* c_off,
                  int64_t M, int64_t N, int64_t K, const int64_t* A, int64_t rsa, int64_t csa,
                  const int64_t* B, int64_t rsb, int64_t csb, int64_t* C, int64_t rsc,
                  int64_t csc, bool accumulate);

// The instruction set the float GEMM uses: "avx512", "avx2" or "portable". Tests and
// benchmarks may force a lower one; ValueError for a name this CPU cannot run.
std::string gemm_isa();
void set_gemm_isa(const std::string& isa);

// Single-thread peak of the FMA units for float32 in GFLOP/s, measured for about
// `seconds` with a register-only loop in the current instruction set (0 for "portable").
double fma_peak_gflops(double seconds);

}  // namespace tg::kernels
