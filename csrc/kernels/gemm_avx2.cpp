// AVX2+FMA GEMM pieces (compiled with -mavx2 -mfma; called only where the CPU has them).
#include "kernels/gemm_arch.h"
#include "kernels/gemm_simd.h"

namespace tg::kernels::gemm_detail {

namespace {
struct V8f {
  using T = float;
  using R = __m256;
  static constexpr int W = 8;
  static R zero() { return _mm256_setzero_ps(); }
  static R load(const T* p) { return _mm256_loadu_ps(p); }
  static void store(T* p, R r) { _mm256_storeu_ps(p, r); }
  static R bcast(const T* p) { return _mm256_broadcast_ss(p); }
  static R fma(R a, R b, R c) { return _mm256_fmadd_ps(a, b, c); }
  static R add(R a, R b) { return _mm256_add_ps(a, b); }
};
struct V4d {
  using T = double;
  using R = __m256d;
  static constexpr int W = 4;
  static R zero() { return _mm256_setzero_pd(); }
  static R load(const T* p) { return _mm256_loadu_pd(p); }
  static void store(T* p, R r) { _mm256_storeu_pd(p, r); }
  static R bcast(const T* p) { return _mm256_broadcast_sd(p); }
  static R fma(R a, R b, R c) { return _mm256_fmadd_pd(a, b, c); }
  static R add(R a, R b) { return _mm256_add_pd(a, b); }
};

// 6x16 floats / 6x8 doubles: 12 accumulators + 2 B vectors + 1 broadcast of 16 registers.
constexpr int kMr = 6, kNrF = 16, kNrD = 8;
}  // namespace

const MicroKernel<float>* avx2_f32() {
  static const MicroKernel<float> k{"avx2", kMr, kNrF, 144, 256, 4096,
                                    ukernel<V8f, kMr, kNrF / 8>,
                                    ukernel_rows<V8f, kNrF / 8, kMr>, pack_a<float, kMr>,
                                    pack_b<float, kNrF>};
  return &k;
}

const MicroKernel<double>* avx2_f64() {
  static const MicroKernel<double> k{"avx2", kMr, kNrD, 96, 256, 4096,
                                     ukernel<V4d, kMr, kNrD / 4>,
                                     ukernel_rows<V4d, kNrD / 4, kMr>, pack_a<double, kMr>,
                                     pack_b<double, kNrD>};
  return &k;
}

const FmaLoop* avx2_fma_loop() {
  static const FmaLoop f{"avx2", 8, 12, fma_loop<V8f, 12>};
  return &f;
}

}  // namespace tg::kernels::gemm_detail
