#pragma once
// The contract between the GEMM driver (gemm.cpp: blocking, threading, edge tiles) and the
// per-instruction-set pieces it drives (micro-kernel and packing routines). Each ISA lives
// in its own translation unit compiled for that ISA (gemm_avx512.cpp, gemm_avx2.cpp) or
// for the baseline (gemm_portable.cpp); the driver picks one at run time.
#include <cstdint>

namespace tg::kernels::gemm_detail {

template <class T>
struct MicroKernel {
  const char* isa;
  int mr, nr;              // register tile of C
  int64_t mc, kc, nc;      // cache blocks: A block mc x kc (L2), B panel kc x nr (L1), B block kc x nc
  // c[i*ldc + j] = (accumulate ? c[i*ldc + j] : 0) + sum_p a[p*mr + i] * b[p*ldb + j]
  // for i < mr, j < nr: `a` is a packed panel of A, `b` a packed panel of B (ldb = nr) or
  // nr contiguous columns of B read in place (ldb = its row stride).
  void (*kernel)(int64_t kc, const T* a, const T* b, int64_t ldb, T* c, int64_t ldc, bool accumulate);
  // The same for the first m < mr rows only (a is still a panel of mr rows).
  void (*kernel_rows)(int64_t m, int64_t kc, const T* a, const T* b, int64_t ldb, T* c, int64_t ldc,
                      bool accumulate);
  // Packs the m x k block A[i*rsa + p*csa] into ceil(m/mr) panels of mr x k, each stored
  // p-major (dst[p*mr + i]), rows past m zero-filled.
  void (*pack_a)(int64_t m, int64_t k, const T* A, int64_t rsa, int64_t csa, T* dst);
  // Packs the k x n block B[p*rsb + j*csb] into ceil(n/nr) panels of k x nr, each stored
  // p-major (dst[p*nr + j]), columns past n zero-filled.
  void (*pack_b)(int64_t k, int64_t n, const T* B, int64_t rsb, int64_t csb, T* dst);
};

// A register-only FMA loop: `iters` rounds of `fmas_per_iter` independent vector FMAs of
// `lanes` floats each, for measuring the machine's peak (see fma_peak_gflops).
struct FmaLoop {
  const char* isa;
  int lanes, fmas_per_iter;
  float (*run)(int64_t iters);
};

const MicroKernel<float>* portable_f32();
const MicroKernel<double>* portable_f64();
#ifdef TG_X86
const MicroKernel<float>* avx2_f32();
const MicroKernel<double>* avx2_f64();
const FmaLoop* avx2_fma_loop();
const MicroKernel<float>* avx512_f32();
const MicroKernel<double>* avx512_f64();
const FmaLoop* avx512_fma_loop();
#endif

}  // namespace tg::kernels::gemm_detail
