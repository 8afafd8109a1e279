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

#ifndef TG_MR
#define TG_MR 8
#endif
#ifndef TG_KC
#define TG_KC 256
#endif
constexpr int kMrF = TG_MR, kNrF = 32, kMrD = TG_MR, kNrD = 16;
}  // namespace

const MicroKernel<float>* avx512_f32() {
  static const MicroKernel<float> k{"avx512", kMrF, kNrF, 128, TG_KC, 4096,
                                    ukernel<V16f, kMrF, kNrF / 16>, pack_a<float, kMrF>,
                                    pack_b<float, kNrF>};
  return &k;
}

const MicroKernel<double>* avx512_f64() {
  static const MicroKernel<double> k{"avx512", kMrD, kNrD, 128, TG_KC, 4096,
                                     ukernel<V8d, kMrD, kNrD / 8>, pack_a<double, kMrD>,
                                     pack_b<double, kNrD>};
  return &k;
}

const FmaLoop* avx512_fma_loop() {
  static const FmaLoop f{"avx512", 16, 16, fma_loop<V16f, 16>};
  return &f;
}

}  // namespace tg::kernels::gemm_detail
