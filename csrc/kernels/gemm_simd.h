#pragma once
// Micro-kernel and packing templates shared by gemm_avx2.cpp and gemm_avx512.cpp. Each of
// those files compiles them for its own instruction set, parameterised by a vector type V:
//   V::T (element), V::R (register), V::W (lanes), zero(), load(p), store(p, r),
//   bcast(p) (all lanes = *p), fma(a, b, c) = a*b + c, add(a, b),
//   load_n(p, n) / store_n(p, r, n): the first n lanes only (n may be 0; others untouched /
//   read as 0, never accessed in memory).
// Only include this from a file compiled with at least AVX2 (the packing transposes use it).
//
// Everything here sits in an anonymous namespace on purpose: each ISA file must get its own
// private copy. A shared inline/template symbol would let the linker keep the AVX-512 copy
// and call it from the AVX2 path on a CPU without AVX-512.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace tg::kernels::gemm_detail {
namespace {

// ---- micro-kernel ----------------------------------------------------------------------

// c[MR x NV*W] (+)= a_panel . b_panel; see MicroKernel::kernel in gemm_arch.h. AS is the
// row count of the packed A panel (MR, or more for the top rows of an edge panel).
template <class V, int MR, int NV, int AS = MR>
void ukernel(int64_t kc, const typename V::T* a, const typename V::T* b, int64_t ldb,
             typename V::T* c, int64_t ldc, bool accumulate) {
  using R = typename V::R;
  constexpr int W = V::W;
  R acc[MR][NV];
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i) {
    __builtin_prefetch(c + i * ldc, 1, 3);
    __builtin_prefetch(c + i * ldc + NV * W - 1, 1, 3);
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) acc[i][j] = V::zero();
  }
#pragma GCC unroll 4
  for (int64_t p = 0; p < kc; ++p) {
    R bv[NV];
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) bv[j] = V::load(b + j * W);
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i) {
      R av = V::bcast(a + i);
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) acc[i][j] = V::fma(av, bv[j], acc[i][j]);
    }
    a += AS;
    b += ldb;
  }
  if (accumulate) {
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j)
        V::store(c + i * ldc + j * W, V::add(V::load(c + i * ldc + j * W), acc[i][j]));
  } else {
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) V::store(c + i * ldc + j * W, acc[i][j]);
  }
}

// The first m < AS rows of a tile (the last row panel of a block), at the cost of m rows.
template <class V, int NV, int AS, int M = AS - 1>
void ukernel_rows(int64_t m, int64_t kc, const typename V::T* a, const typename V::T* b,
                  int64_t ldb, typename V::T* c, int64_t ldc, bool accumulate) {
  if constexpr (M >= 1) {
    if (m == M) return ukernel<V, M, NV, AS>(kc, a, b, ldb, c, ldc, accumulate);
    ukernel_rows<V, NV, AS, M - 1>(m, kc, a, b, ldb, c, ldc, accumulate);
  }
}

// ---- small products, no packing ------------------------------------------------------

// One MR x (NV*W) tile of C = A @ B read in place: A through its strides (one broadcast
// per element), B and C row-major (unit column stride); `n` columns of the tile are real.
template <class V, int MR, int NV>
void small_tile(int64_t n, int64_t K, const typename V::T* a, int64_t rsa, int64_t csa,
                const typename V::T* b, int64_t rsb, typename V::T* c, int64_t rsc, bool accumulate) {
  using R = typename V::R;
  constexpr int W = V::W;
  int cnt[NV];
  for (int j = 0; j < NV; ++j) {
    const int64_t r = n - j * W;
    cnt[j] = r <= 0 ? 0 : r >= W ? W : (int)r;
  }
  const bool full = n == NV * W;
  R acc[MR][NV];
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) acc[i][j] = V::zero();
  for (int64_t p = 0; p < K; ++p, a += csa, b += rsb) {
    R bv[NV];
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) bv[j] = full ? V::load(b + j * W) : V::load_n(b + j * W, cnt[j]);
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i) {
      R av = V::bcast(a + i * rsa);
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) acc[i][j] = V::fma(av, bv[j], acc[i][j]);
    }
  }
  // Full tiles store with plain moves: AVX2's masked store (vmaskmovps) is microcoded
  // and slow on AMD, and with a short K these stores are a large part of the tile.
  if (full) {
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) {
        typename V::T* out = c + i * rsc + j * W;
        V::store(out, accumulate ? V::add(acc[i][j], V::load(out)) : acc[i][j]);
      }
    return;
  }
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) {
      typename V::T* out = c + i * rsc + j * W;
      if (accumulate) acc[i][j] = V::add(acc[i][j], V::load_n(out, cnt[j]));
      V::store_n(out, acc[i][j], cnt[j]);
    }
}

template <class V, int NV, int MR>
void small_rows(int64_t m, int64_t n, int64_t K, const typename V::T* a, int64_t rsa, int64_t csa,
                const typename V::T* b, int64_t rsb, typename V::T* c, int64_t rsc, bool accumulate) {
  if constexpr (NV > 1) {  // a panel one vector wide needs half the multiply-adds
    if (n <= V::W) return small_rows<V, 1, MR>(m, n, K, a, rsa, csa, b, rsb, c, rsc, accumulate);
  }
  if constexpr (MR >= 1) {
    if (m == MR) return small_tile<V, MR, NV>(n, K, a, rsa, csa, b, rsb, c, rsc, accumulate);
    small_rows<V, NV, MR - 1>(m, n, K, a, rsa, csa, b, rsb, c, rsc, accumulate);
  }
}

// C (+)= A @ B for small products, no packing of A, masked edges. B is row-major: in
// place (panel = NR, rsb its row stride) or packed by pack_b (panel = NR*K, rsb = NR);
// `panel` is the distance between consecutive NR-column panels of B.
template <class V, int MR, int NV>
void small_gemm(int64_t M, int64_t N, int64_t K, const typename V::T* A, int64_t rsa,
                int64_t csa, const typename V::T* B, int64_t rsb, int64_t panel,
                typename V::T* C, int64_t rsc, bool accumulate) {
  constexpr int64_t NR = NV * V::W;
  for (int64_t j = 0; j < N; j += NR, B += panel) {
    const int64_t n = N - j < NR ? N - j : NR;
    for (int64_t i = 0; i < M; i += MR) {
      const int64_t m = M - i < MR ? M - i : MR;
      small_rows<V, NV, MR>(m, n, K, A + i * rsa, rsa, csa, B, rsb, C + i * rsc + j, rsc,
                            accumulate);
    }
  }
}

// ---- packing ---------------------------------------------------------------------------

// In-register transposes of one AVX2 block: 8x8 floats, 4x4 doubles.
template <class T> struct Block;
template <> struct Block<float> {
  static constexpr int B = 8;
  using R = __m256;
  static R load(const float* p) { return _mm256_loadu_ps(p); }
  static R zero() { return _mm256_setzero_ps(); }
  static void store(float* p, R r, int n) {
    if (n == B) return _mm256_storeu_ps(p, r);
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    _mm256_maskstore_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx), r);
  }
  static void transpose(R r[8]) {
    R t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    R t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    R t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    R t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    R s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
    R s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    R s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
    R s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
    R s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
    R s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
    R s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
    R s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
    r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
    r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
    r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
    r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
    r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
  }
};
template <> struct Block<double> {
  static constexpr int B = 4;
  using R = __m256d;
  static R load(const double* p) { return _mm256_loadu_pd(p); }
  static R zero() { return _mm256_setzero_pd(); }
  static void store(double* p, R r, int n) {
    if (n == B) return _mm256_storeu_pd(p, r);
    const __m256i idx = _mm256_setr_epi64x(0, 1, 2, 3);
    _mm256_maskstore_pd(p, _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), idx), r);
  }
  static void transpose(R r[4]) {
    R t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
    R t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
    r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
    r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
    r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
    r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
  }
};

// Packs one panel dst[p*P + r] = src[r*ld + p*inc] for r < rows, p < k, zero for
// rows <= r < P. `ld` steps between the panel's rows (of A) or columns (of B), `inc`
// along k. inc == 1 (k contiguous) is transposed in 8x8 / 4x4 register blocks; ld == 1
// (the panel's elements contiguous) never comes here: pack_contig copies those.
//
// `next` (inc == 1 only) is the source of the panel packed after this one, prefetched
// here: its rows are short streams (k elements, ld apart) that the hardware prefetcher
// picks up too late, and the transposed path was waiting on L3 for them.
template <class T, int P>
void pack_panel(int64_t rows, int64_t k, const T* src, int64_t ld, int64_t inc, T* dst,
                const T* next = nullptr, int64_t next_rows = 0) {
  using Bk = Block<T>;
  constexpr int B = Bk::B;
  if (inc == 1 && rows > 0) {
    int64_t p = 0;
    for (; p + B <= k; p += B) {
      if (next && p % (64 / sizeof(T)) == 0)
        for (int64_t r = 0; r < next_rows; ++r) __builtin_prefetch(next + r * ld + p, 0, 3);
      for (int r0 = 0; r0 < P; r0 += B) {
        typename Bk::R v[B];
        for (int r = 0; r < B; ++r)
          v[r] = r0 + r < rows ? Bk::load(src + (r0 + r) * ld + p) : Bk::zero();
        Bk::transpose(v);
        const int n = P - r0 < B ? P - r0 : B;
        // A panel narrower than a block (P = 6 of 8 floats) is stored whole: the extra
        // lanes land on the next row's first slots, which the next store rewrites. Only
        // the panel's last row needs the masked store (vmaskmovps, microcoded and slow
        // on AMD). Wider panels with a short last block keep the mask: their next row's
        // first slots are already written.
        for (int u = 0; u < B; ++u)
          Bk::store(dst + (p + u) * P + r0, v[u], P < B && p + u + 1 < k ? B : n);
      }
    }
    for (; p < k; ++p)
      for (int r = 0; r < P; ++r) dst[p * P + r] = r < rows ? src[r * ld + p] : T(0);
    return;
  }
  for (int64_t p = 0; p < k; ++p)
    for (int r = 0; r < P; ++r) dst[p * P + r] = r < rows ? src[r * ld + p * inc] : T(0);
}

// All ceil(n/P) panels of a block whose panel elements are contiguous (ld == 1: B
// row-major, A column-major): dst panel q holds src[q*P + r + p*inc] at [p*P + r]. Walks
// the source in memory order, a strip of kStrip rows of every panel at a time: each source
// row is read as one sequential stream (one panel at a time, a strip of rows `inc` apart,
// would touch a new 4 KiB page and a new L1 set at every row, defeating the hardware
// prefetcher), and each panel gets kStrip*P contiguous elements per visit.
template <class T, int P>
void pack_contig(int64_t n, int64_t k, const T* src, int64_t inc, T* dst) {
  constexpr int64_t kStrip = 8;
  const int64_t full = n / P, rest = n - full * P;
  for (int64_t p0 = 0; p0 < k; p0 += kStrip) {
    const int64_t pe = p0 + kStrip < k ? p0 + kStrip : k;
    for (int64_t q = 0; q < full; ++q) {
      const T* s = src + q * P + p0 * inc;
      T* d = dst + q * P * k + p0 * P;
      for (int64_t p = p0; p < pe; ++p, s += inc, d += P) std::memcpy(d, s, sizeof(T) * P);
    }
    if (rest) {
      const T* s = src + full * P + p0 * inc;
      T* d = dst + full * P * k + p0 * P;
      for (int64_t p = p0; p < pe; ++p, s += inc, d += P) {
        for (int64_t r = 0; r < rest; ++r) d[r] = s[r];
        for (int64_t r = rest; r < P; ++r) d[r] = T(0);
      }
    }
  }
}

template <class T, int MR>
void pack_a(int64_t m, int64_t k, const T* A, int64_t rsa, int64_t csa, T* dst) {
  if (rsa == 1) return pack_contig<T, MR>(m, k, A, csa, dst);
  for (int64_t i = 0; i < m; i += MR, dst += MR * k) {
    const int64_t rows = m - i < MR ? m - i : MR, after = m - i - rows;
    pack_panel<T, MR>(rows, k, A + i * rsa, rsa, csa, dst, after > 0 ? A + (i + MR) * rsa : nullptr,
                      after < MR ? after : MR);
  }
}

template <class T, int NR>
void pack_b(int64_t k, int64_t n, const T* B, int64_t rsb, int64_t csb, T* dst) {
  if (csb == 1) return pack_contig<T, NR>(n, k, B, rsb, dst);
  for (int64_t j = 0; j < n; j += NR, dst += NR * k)
    pack_panel<T, NR>(n - j < NR ? n - j : NR, k, B + j * csb, csb, rsb, dst);
}

// ---- peak measurement ------------------------------------------------------------------

// `iters` rounds of N independent FMA chains: no memory traffic, so it runs at the FMA
// units' peak throughput.
template <class V, int N>
typename V::T fma_loop(int64_t iters) {
  using R = typename V::R;
  volatile typename V::T one = 1, tiny = 1e-30f;  // opaque: keeps the FMAs from folding
  typename V::T x = one, y = tiny;
  R m = V::bcast(&x), d = V::bcast(&y), acc[N];
  for (int i = 0; i < N; ++i) acc[i] = V::zero();
  for (int64_t it = 0; it < iters; ++it)
#pragma GCC unroll 32
    for (int i = 0; i < N; ++i) acc[i] = V::fma(acc[i], m, d);
  typename V::T out[V::W], s = 0;
  for (int i = 1; i < N; ++i) acc[0] = V::add(acc[0], acc[i]);
  V::store(out, acc[0]);
  for (int i = 0; i < V::W; ++i) s += out[i];
  return s;
}

}  // namespace
}  // namespace tg::kernels::gemm_detail
