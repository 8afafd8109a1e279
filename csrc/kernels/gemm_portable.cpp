// Baseline GEMM pieces in plain C++ for CPUs without AVX2 (and non-x86 builds): the
// fixed-size loops over a small register tile are left to the compiler to vectorize.
#include <cstring>

#include "kernels/gemm_arch.h"

namespace tg::kernels::gemm_detail {

namespace {
template <class T, int MR, int NR, int AS = MR>
void ukernel(int64_t kc, const T* a, const T* b, int64_t ldb, T* c, int64_t ldc, bool accumulate) {
  T acc[MR][NR] = {};
  for (int64_t p = 0; p < kc; ++p, a += AS, b += ldb)
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) acc[i][j] += a[i] * b[j];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) c[i * ldc + j] = (accumulate ? c[i * ldc + j] : T(0)) + acc[i][j];
}

// The first m < AS rows of a tile, at the cost of m rows.
template <class T, int NR, int AS, int M = AS - 1>
void ukernel_rows(int64_t m, int64_t kc, const T* a, const T* b, int64_t ldb, T* c, int64_t ldc,
                  bool accumulate) {
  if constexpr (M >= 1) {
    if (m == M) return ukernel<T, M, NR, AS>(kc, a, b, ldb, c, ldc, accumulate);
    ukernel_rows<T, NR, AS, M - 1>(m, kc, a, b, ldb, c, ldc, accumulate);
  }
}

// dst[p*P + r] = src[r*ld + p*inc] for r < rows, zero for rows <= r < P.
template <class T, int P>
void pack_panel(int64_t rows, int64_t k, const T* src, int64_t ld, int64_t inc, T* dst) {
  if (ld == 1 && rows == P) {
    for (int64_t p = 0; p < k; ++p) std::memcpy(dst + p * P, src + p * inc, sizeof(T) * P);
    return;
  }
  for (int64_t p = 0; p < k; ++p)
    for (int r = 0; r < P; ++r) dst[p * P + r] = r < rows ? src[r * ld + p * inc] : T(0);
}

template <class T, int MR>
void pack_a(int64_t m, int64_t k, const T* A, int64_t rsa, int64_t csa, T* dst) {
  for (int64_t i = 0; i < m; i += MR, dst += MR * k)
    pack_panel<T, MR>(m - i < MR ? m - i : MR, k, A + i * rsa, rsa, csa, dst);
}

template <class T, int NR>
void pack_b(int64_t k, int64_t n, const T* B, int64_t rsb, int64_t csb, T* dst) {
  for (int64_t j = 0; j < n; j += NR, dst += NR * k)
    pack_panel<T, NR>(n - j < NR ? n - j : NR, k, B + j * csb, csb, rsb, dst);
}
}  // namespace

const MicroKernel<float>* portable_f32() {
  static const MicroKernel<float> k{"portable", 4, 8, 128, 256, 4096, ukernel<float, 4, 8>,
                                    ukernel_rows<float, 8, 4>, pack_a<float, 4>, pack_b<float, 8>};
  return &k;
}

const MicroKernel<double>* portable_f64() {
  static const MicroKernel<double> k{"portable", 4, 4, 128, 256, 4096, ukernel<double, 4, 4>,
                                     ukernel_rows<double, 4, 4>, pack_a<double, 4>, pack_b<double, 4>};
  return &k;
}

}  // namespace tg::kernels::gemm_detail
