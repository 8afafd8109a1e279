// The int8 GEMM's AVX-512 micro-kernels (qgemm.h), 8 rows x 32 columns (two packed panels,
// one zmm each): with VNNI one vpdpbusd per row and panel (u8 x s8, 4 products summed
// into int32 without saturation); without, AVX-512BW's vpmaddubsw + vpmaddwd(ones) +
// vpaddd, exact for the kernels' operand ranges. The VNNI kernel is compiled for that
// extension alone through a target attribute and only called when the CPU has it. The
// activation loops are AVX2's.
#include <immintrin.h>

#include <cstring>

#include "kernels/qgemm.h"

namespace tg::kernels::qgemm_detail {

namespace {

constexpr int kMr = 8, kNp = 2;

inline __m512i bcast4(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

template <int MR, int NB>
void kernel_bw_nb(int64_t kg, const uint8_t* const* ar, const int8_t* b, int64_t panel_bytes, int32_t* c) {
  const __m512i ones = _mm512_set1_epi16(1);
  __m512i acc[MR][NB];
  for (int i = 0; i < MR; ++i)
    for (int p = 0; p < NB; ++p) acc[i][p] = _mm512_setzero_si512();
  for (int64_t g = 0; g < kg; ++g, b += 4 * kQPanel) {
    __m512i bv[NB];
    for (int p = 0; p < NB; ++p) bv[p] = _mm512_loadu_si512((const void*)(b + p * panel_bytes));
    for (int i = 0; i < MR; ++i) {
      const __m512i av = bcast4(ar[i] + 4 * g);
      for (int p = 0; p < NB; ++p)
        acc[i][p] = _mm512_add_epi32(acc[i][p], _mm512_madd_epi16(_mm512_maddubs_epi16(av, bv[p]), ones));
    }
  }
  for (int i = 0; i < MR; ++i)
    for (int p = 0; p < NB; ++p) _mm512_storeu_si512((void*)(c + i * kQPanel * kNp + p * kQPanel), acc[i][p]);
}

template <int MR, int NB>
__attribute__((target("avx512vnni"))) void kernel_vnni_nb(int64_t kg, const uint8_t* const* ar, const int8_t* b,
                                                           int64_t panel_bytes, int32_t* c) {
  __m512i acc[MR][NB];
  for (int i = 0; i < MR; ++i)
    for (int p = 0; p < NB; ++p) acc[i][p] = _mm512_setzero_si512();
  for (int64_t g = 0; g < kg; ++g, b += 4 * kQPanel) {
    __m512i bv[NB];
    for (int p = 0; p < NB; ++p) bv[p] = _mm512_loadu_si512((const void*)(b + p * panel_bytes));
    for (int i = 0; i < MR; ++i) {
      const __m512i av = bcast4(ar[i] + 4 * g);
      for (int p = 0; p < NB; ++p) acc[i][p] = _mm512_dpbusd_epi32(acc[i][p], av, bv[p]);
    }
  }
  for (int i = 0; i < MR; ++i)
    for (int p = 0; p < NB; ++p) _mm512_storeu_si512((void*)(c + i * kQPanel * kNp + p * kQPanel), acc[i][p]);
}

void rows(const uint8_t* a, int64_t lda, int64_t m, const uint8_t** ar) {
  for (int i = 0; i < kMr; ++i) ar[i] = a + (i < m ? i : 0) * lda;
}

// Tiles of fewer than 8 valid rows (small batches) run a kernel of 1, 2 or 4 rows.
#define TG_QK_DISPATCH(NAME)                                                                          \
  const uint8_t* ar[kMr];                                                                            \
  rows(a, lda, m, ar);                                                                               \
  if (nb >= 2) {                                                                                     \
    if (m <= 1) NAME<1, 2>(kg, ar, b, panel_bytes, c);                                               \
    else if (m <= 2) NAME<2, 2>(kg, ar, b, panel_bytes, c);                                          \
    else if (m <= 4) NAME<4, 2>(kg, ar, b, panel_bytes, c);                                          \
    else NAME<8, 2>(kg, ar, b, panel_bytes, c);                                                      \
  } else {                                                                                           \
    if (m <= 1) NAME<1, 1>(kg, ar, b, panel_bytes, c);                                               \
    else if (m <= 2) NAME<2, 1>(kg, ar, b, panel_bytes, c);                                          \
    else if (m <= 4) NAME<4, 1>(kg, ar, b, panel_bytes, c);                                          \
    else NAME<8, 1>(kg, ar, b, panel_bytes, c);                                                      \
  }

void kernel_bw(int64_t kg, const uint8_t* a, int64_t lda, int64_t m, const int8_t* b, int64_t panel_bytes, int64_t nb,
               int32_t* c) {
  TG_QK_DISPATCH(kernel_bw_nb)
}

void kernel_vnni(int64_t kg, const uint8_t* a, int64_t lda, int64_t m, const int8_t* b, int64_t panel_bytes,
                 int64_t nb, int32_t* c) {
  TG_QK_DISPATCH(kernel_vnni_nb)
}
#undef TG_QK_DISPATCH

QKernel make(const char* isa, decltype(QKernel::kernel) k) {
  const QKernel* a2 = q_avx2();
  return QKernel{isa, kMr, kNp, k, a2->minmax, a2->quantize};
}

}  // namespace

const QKernel* q_avx512() {
  static const QKernel k = make("avx512", kernel_bw);
  return &k;
}
const QKernel* q_avx512_vnni() {
  static const QKernel k = make("avx512_vnni", kernel_vnni);
  return &k;
}

}  // namespace tg::kernels::qgemm_detail
