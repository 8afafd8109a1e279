// AVX-512 GEMM pieces (compiled with -mavx512f/dq/bw/vl; called only where the CPU has them).
#include "kernels/gemm_arch.h"
#include "kernels/gemm_simd.h"

namespace tg::kernels::gemm_detail {

namespace {
struct V16f {
  using T = float;
  using R = __m512;
  static constexpr int W = 16;
  static R zero() { return _mm512_setzero_ps(); }
  static R load(const T* p) { return _mm512_loadu_ps(p); }
  static void store(T* p, R r) { _mm512_storeu_ps(p, r); }
  static R bcast(const T* p) { return _mm512_set1_ps(*p); }
  static R fma(R a, R b, R c) { return _mm512_fmadd_ps(a, b, c); }
  static R add(R a, R b) { return _mm512_add_ps(a, b); }
};
struct V8d {
  using T = double;
  using R = __m512d;
  static constexpr int W = 8;
  static R zero() { return _mm512_setzero_pd(); }
  static R load(const T* p) { return _mm512_loadu_pd(p); }
  static void store(T* p, R r) { _mm512_storeu_pd(p, r); }
  static R bcast(const T* p) { return _mm512_set1_pd(*p); }
  static R fma(R a, R b, R c) { return _mm512_fmadd_pd(a, b, c); }
  static R add(R a, R b) { return _mm512_add_pd(a, b); }
};

// 8 rows x 2 vectors: 16 accumulators, 2 B vectors and a broadcast. Measured on Zen 4
// against 12x32, 14x32, 8x48, 6x64, 4x64 and 16x16 (and kc = 192/256/384): 8x32 with
// kc = 256 was as fast as any at n = 256..2048 and fastest on the MLP shapes (M = 64).
constexpr int kMrF = 8, kNrF = 32, kMrD = 8, kNrD = 16;
constexpr int64_t kMc = 128, kKc = 256, kNc = 4096;
}  // namespace

const MicroKernel<float>* avx512_f32() {
  static const MicroKernel<float> k{"avx512", kMrF, kNrF, kMc, kKc, kNc,
                                    ukernel<V16f, kMrF, kNrF / 16>,
                                    ukernel_rows<V16f, kNrF / 16, kMrF>, pack_a<float, kMrF>,
                                    pack_b<float, kNrF>};
  return &k;
}

const MicroKernel<double>* avx512_f64() {
  static const MicroKernel<double> k{"avx512", kMrD, kNrD, kMc, kKc, kNc,
                                     ukernel<V8d, kMrD, kNrD / 8>,
                                     ukernel_rows<V8d, kNrD / 8, kMrD>, pack_a<double, kMrD>,
                                     pack_b<double, kNrD>};
  return &k;
}

const FmaLoop* avx512_fma_loop() {
  static const FmaLoop f{"avx512", 16, 16, fma_loop<V16f, 16>};
  return &f;
}

}  // namespace tg::kernels::gemm_detail
