// The int8 GEMM's AVX2 pieces (qgemm.h): a 4 x 16 micro-kernel on vpmaddubsw (u8 x s8,
// adjacent pairs summed in int16: exact for 7-bit activations and weights in [-127, 127])
// followed by vpmaddwd with ones (int16 pairs -> int32) and vpaddd into the accumulators,
// and the activation min/max and quantization loops.
#include <immintrin.h>

#include <cstring>
#include <limits>

#include "kernels/qgemm.h"

namespace tg::kernels::qgemm_detail {

namespace {

constexpr int kMr = 4;

inline __m256i bcast4(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

template <int MR>
void kernel_mr(int64_t kg, const uint8_t* const* ar, const int8_t* b, int32_t* c) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i acc[MR][2];
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_si256();
  for (int64_t g = 0; g < kg; ++g, b += 4 * kQPanel) {
    const __m256i b0 = _mm256_loadu_si256((const __m256i*)b);
    const __m256i b1 = _mm256_loadu_si256((const __m256i*)(b + 32));
    for (int i = 0; i < MR; ++i) {
      const __m256i av = bcast4(ar[i] + 4 * g);
      acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(_mm256_maddubs_epi16(av, b0), ones));
      acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(_mm256_maddubs_epi16(av, b1), ones));
    }
  }
  for (int i = 0; i < MR; ++i) {
    _mm256_storeu_si256((__m256i*)(c + i * kQPanel), acc[i][0]);
    _mm256_storeu_si256((__m256i*)(c + i * kQPanel + 8), acc[i][1]);
  }
}

// Tiles of fewer than 4 valid rows (small batches) run a kernel of 1 or 2 rows.
void kernel(int64_t kg, const uint8_t* a, int64_t lda, int64_t m, const int8_t* b, int64_t, int64_t, int32_t* c) {
  const uint8_t* ar[kMr];
  for (int i = 0; i < kMr; ++i) ar[i] = a + (i < m ? i : 0) * lda;
  if (m <= 1) kernel_mr<1>(kg, ar, b, c);
  else if (m <= 2) kernel_mr<2>(kg, ar, b, c);
  else kernel_mr<4>(kg, ar, b, c);
}

// NaNs are skipped: minps/maxps return their second operand when either is NaN, so the
// running extreme goes second; the scalar tail compares with < / >, false for NaN.
void minmax(int64_t n, const float* x, float* mn, float* mx) {
  float lo = std::numeric_limits<float>::infinity(), hi = -lo;
  int64_t i = 0;
  if (n >= 8) {
    __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    for (; i + 8 <= n; i += 8) {
      const __m256 v = _mm256_loadu_ps(x + i);
      vlo = _mm256_min_ps(v, vlo);
      vhi = _mm256_max_ps(v, vhi);
    }
    alignas(32) float l[8], h[8];
    _mm256_store_ps(l, vlo);
    _mm256_store_ps(h, vhi);
    for (int j = 0; j < 8; ++j) lo = l[j] < lo ? l[j] : lo, hi = h[j] > hi ? h[j] : hi;
  }
  for (; i < n; ++i) lo = x[i] < lo ? x[i] : lo, hi = x[i] > hi ? x[i] : hi;
  *mn = lo, *mx = hi;
}

void quantize(int64_t n, const float* x, float inv_scale, int32_t zp, uint8_t* q) {
  const __m256 s = _mm256_set1_ps(inv_scale), lo = _mm256_set1_ps((float)-zp), hi = _mm256_set1_ps((float)(127 - zp));
  const __m256i z = _mm256_set1_epi32(zp);
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256i r[4];
    for (int u = 0; u < 4; ++u) {
      __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i + 8 * u), s);
      v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);  // max(NaN, lo) = lo
      r[u] = _mm256_add_epi32(_mm256_cvtps_epi32(v), z);
    }
    // int32 -> int16 -> uint8 packs work within 128-bit lanes; undo the interleave.
    const __m256i w01 = _mm256_packs_epi32(r[0], r[1]), w23 = _mm256_packs_epi32(r[2], r[3]);
    const __m256i bytes = _mm256_packus_epi16(w01, w23);
    const __m256i fixed = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i*)(q + i), fixed);
  }
  for (; i < n; ++i) {
    __m128 v = _mm_mul_ss(_mm_set_ss(x[i]), _mm_set_ss(inv_scale));
    v = _mm_min_ss(_mm_max_ss(v, _mm_set_ss((float)-zp)), _mm_set_ss((float)(127 - zp)));
    q[i] = (uint8_t)(_mm_cvtss_si32(v) + zp);
  }
}

const QKernel kAvx2{"avx2", kMr, 1, kernel, minmax, quantize};

}  // namespace

const QKernel* q_avx2() { return &kAvx2; }

}  // namespace tg::kernels::qgemm_detail
