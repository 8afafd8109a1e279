// The int8 GEMM driver (see qgemm.h): weight packing, activation quantization, the tile
// loop threaded with tg::parallel_for, the float epilogue, the instruction-set choice and
// the portable micro-kernel.
#include "kernels/qgemm.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

#include "core/error.h"
#include "core/parallel.h"
#include "kernels/cpu_features.h"
#include "kernels/gemm.h"

namespace tg::kernels {

using namespace qgemm_detail;

// ---- portable pieces --------------------------------------------------------------------

namespace {

constexpr int kPMr = 4, kPNp = 1;

void portable_kernel(int64_t kg, const uint8_t* a, int64_t lda, int64_t m, const int8_t* b, int64_t panel_bytes,
                     int64_t nb, int32_t* c) {
  constexpr int NR = kQPanel * kPNp;
  for (int i = 0; i < std::min<int64_t>(kPMr, m); ++i) {
    const uint8_t* ar = a + i * lda;
    for (int64_t p = 0; p < nb; ++p) {
      int32_t acc[kQPanel] = {};
      const int8_t* bp = b + p * panel_bytes;
      for (int64_t g = 0; g < kg; ++g, bp += 4 * kQPanel) {
        const uint8_t* ag = ar + 4 * g;
        for (int j = 0; j < kQPanel; ++j)
          acc[j] += (int32_t)ag[0] * bp[4 * j] + (int32_t)ag[1] * bp[4 * j + 1] + (int32_t)ag[2] * bp[4 * j + 2] +
                    (int32_t)ag[3] * bp[4 * j + 3];
      }
      for (int j = 0; j < kQPanel; ++j) c[i * NR + p * kQPanel + j] = acc[j];
    }
  }
}

// NaNs are skipped (every comparison with them is false), in every ISA alike.
void portable_minmax(int64_t n, const float* x, float* mn, float* mx) {
  float lo = std::numeric_limits<float>::infinity(), hi = -lo;
  for (int64_t i = 0; i < n; ++i) {
    lo = x[i] < lo ? x[i] : lo;
    hi = x[i] > hi ? x[i] : hi;
  }
  *mn = lo, *mx = hi;
}

void portable_quantize(int64_t n, const float* x, float inv_scale, int32_t zp, uint8_t* q) {
  const float lo = (float)-zp, hi = (float)(127 - zp);
  for (int64_t i = 0; i < n; ++i) {
    float v = x[i] * inv_scale;
    v = std::fmin(std::fmax(v, lo), hi);  // NaN -> lo, as maxps(v, lo) in the SIMD paths
    q[i] = (uint8_t)((int32_t)std::nearbyint(v) + zp);
  }
}

const QKernel kPortable{"portable", kPMr, kPNp, portable_kernel, portable_minmax, portable_quantize};

// ---- instruction set ---------------------------------------------------------------------

enum class QIsa : int { Portable = 0, Avx2 = 1, Avx512 = 2, Avx512Vnni = 3 };
const char* const kIsaNames[] = {"portable", "avx2", "avx512", "avx512_vnni"};

bool has_vnni() {
#if defined(TG_X86) && (defined(__GNUC__) || defined(__clang__))
  static const bool v = [] {
    __builtin_cpu_init();
    return cpu_features().avx512 && __builtin_cpu_supports("avx512vnni");
  }();
  return v;
#else
  return false;
#endif
}

QIsa best_qisa() {
  if (cpu_features().avx512) return has_vnni() ? QIsa::Avx512Vnni : QIsa::Avx512;
  if (cpu_features().avx2_fma) return QIsa::Avx2;
  return QIsa::Portable;
}

std::atomic<int>& forced_isa() {  // -1: follow gemm_isa()
  static std::atomic<int> v{-1};
  return v;
}

QIsa active_isa() {
  const int f = forced_isa().load(std::memory_order_relaxed);
  if (f >= 0) return (QIsa)f;
  const std::string g = gemm_isa();
  if (g == "avx512") return has_vnni() ? QIsa::Avx512Vnni : QIsa::Avx512;
  if (g == "avx2") return QIsa::Avx2;
  return QIsa::Portable;
}

const QKernel* active_kernel() {
  switch (active_isa()) {
#ifdef TG_X86
    case QIsa::Avx512Vnni: return q_avx512_vnni();
    case QIsa::Avx512: return q_avx512();
    case QIsa::Avx2: return q_avx2();
#endif
    default: return &kPortable;
  }
}

// ---- the tile loop -------------------------------------------------------------------------

// Runs the micro-kernel over every mr x (16 np) tile of the M x N product and hands each
// int32 tile to epi(m0, rows, n0, cols, tile, ldt). Tiles are numbered column-strip major,
// so a thread's consecutive tiles reuse the strip's packed weights from L1.
template <class Epi>
void run_tiles(int64_t M, const uint8_t* A, int64_t lda, const QPackedWeight& W, const Epi& epi) {
  const QKernel* k = active_kernel();
  if (M <= 0 || W.N <= 0) return;
  const int64_t mr = k->mr, np = k->np, nr = kQPanel * np;
  const int64_t mt = (M + mr - 1) / mr, nt = (W.panels + np - 1) / np;
  const int64_t kg = W.Kp / 4;
  // Work per tile in roughly nanoseconds (tens of multiply-adds per ns in the SIMD paths).
  const int64_t cost = std::max<int64_t>(1, mr * nr * W.Kp / 32);
  parallel_for(mt * nt, cost, [&](int64_t t0, int64_t t1) {
    alignas(64) int32_t tile[32 * 64];  // >= mr * nr of every ISA
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t jn = t / mt, im = t % mt;
      const int64_t m0 = im * mr, rows = std::min(mr, M - m0);
      const int64_t p0 = jn * np, nb = std::min(np, W.panels - p0);
      const int64_t n0 = p0 * kQPanel, cols = std::min(nb * kQPanel, W.N - n0);
      k->kernel(kg, A + m0 * lda, lda, rows, W.packed.get() + p0 * W.panel_bytes(), W.panel_bytes(), nb, tile);
      epi(m0, rows, n0, cols, (const int32_t*)tile, nr);
    }
  });
}

}  // namespace

// ---- public entry points ---------------------------------------------------------------------

std::shared_ptr<QPackedWeight> qpack_weight(const int8_t* W, int64_t N, int64_t K) {
  TG_CHECK(N >= 0 && K >= 0, ValueError, "qpack_weight: negative size");
  TG_CHECK(K <= kQgemmMaxK, ValueError, "quantized linear: in_features = ", K,
           " is too large for the int8 GEMM's int32 accumulators (at most ", kQgemmMaxK, ")");
  auto p = std::make_shared<QPackedWeight>();
  p->N = N, p->K = K, p->Kp = (K + 3) / 4 * 4, p->panels = (N + kQPanel - 1) / kQPanel;
  p->weight.assign(W, W + N * K);
  p->col_sum.assign(N, 0);
  for (int64_t n = 0; n < N; ++n) {
    int32_t s = 0;
    for (int64_t k = 0; k < K; ++k) {
      TG_CHECK(W[n * K + k] != -128, ValueError,
               "quantized linear: int8 weights must lie in [-127, 127] (symmetric quantization), got -128 at [", n,
               ", ", k, "]");
      s += W[n * K + k];
    }
    p->col_sum[n] = s;
  }
  const size_t bytes = std::max<size_t>(64, (size_t)(p->panels * p->panel_bytes() + 63) / 64 * 64);
  int8_t* buf = static_cast<int8_t*>(std::aligned_alloc(64, bytes));
  if (!buf) throw std::bad_alloc();
  p->packed = std::shared_ptr<int8_t>(buf, [](int8_t* q) { std::free(q); });
  std::memset(buf, 0, bytes);
  for (int64_t n = 0; n < N; ++n) {
    int8_t* panel = buf + (n / kQPanel) * p->panel_bytes();
    const int64_t j = n % kQPanel;
    for (int64_t k = 0; k < K; ++k) panel[(k / 4) * 4 * kQPanel + 4 * j + (k % 4)] = W[n * K + k];
  }
  return p;
}

void qgemm_s32(int64_t M, const uint8_t* A, int64_t lda, const QPackedWeight& W, int32_t* C, int64_t ldc) {
  run_tiles(M, A, lda, W, [&](int64_t m0, int64_t rows, int64_t n0, int64_t cols, const int32_t* t, int64_t ldt) {
    for (int64_t i = 0; i < rows; ++i) std::memcpy(C + (m0 + i) * ldc + n0, t + i * ldt, cols * sizeof(int32_t));
  });
}

void qgemm_f32(int64_t M, const uint8_t* A, int64_t lda, int32_t a_zero, float a_scale, const QPackedWeight& W,
               const float* w_scale, const float* bias, float* Y, int64_t ldy) {
  // Per-channel epilogue constants: acc + off[n] is the zero-point-corrected sum (exact in
  // int32 under kQgemmMaxK), sc[n] its scale.
  std::vector<int32_t> off(W.N);
  std::vector<float> sc(W.N), b(W.N, 0.f);
  for (int64_t n = 0; n < W.N; ++n) {
    off[n] = -a_zero * W.col_sum[n];
    sc[n] = a_scale * w_scale[n];
    if (bias) b[n] = bias[n];
  }
  run_tiles(M, A, lda, W, [&](int64_t m0, int64_t rows, int64_t n0, int64_t cols, const int32_t* t, int64_t ldt) {
    const int32_t* o = off.data() + n0;
    const float* s = sc.data() + n0;
    const float* bb = b.data() + n0;
    for (int64_t i = 0; i < rows; ++i) {
      float* y = Y + (m0 + i) * ldy + n0;
      const int32_t* ti = t + i * ldt;
      for (int64_t j = 0; j < cols; ++j) y[j] = (float)(ti[j] + o[j]) * s[j] + bb[j];
    }
  });
}

QParams choose_qparams_u7(float mn, float mx) {
  // PyTorch's quant_utils::ChooseQuantizationParams(min, max, 0, 255, preserve_sparsity =
  // false, force_scale_power_of_two = false, reduce_range = true), step for step.
  constexpr int32_t qmin = 0, qmax = 127;
  constexpr float kSmallScale = 6.1e-5f;
  mn = std::min(mn, 0.f);
  mx = std::max(mx, 0.f);
  double scale = ((double)mx - mn) / (qmax - qmin);
  if ((float)scale == 0.f || std::isinf(1.f / (float)scale)) scale = 0.1;
  if (scale < kSmallScale) {
    const float org = (float)scale;
    scale = kSmallScale;
    if (mn == 0.f) mx = kSmallScale * (qmax - qmin);
    else if (mx == 0.f) mn = -kSmallScale * (qmax - qmin);
    else mn *= kSmallScale / org, mx *= kSmallScale / org;
  }
  const double z_min = qmin - mn / scale, z_max = qmax - mx / scale;
  const double e_min = std::abs(qmin) - std::abs(mn / scale), e_max = std::abs(qmax) - std::abs(mx / scale);
  const double z0 = e_min < e_max ? z_min : z_max;
  int32_t zp;
  if (!(z0 >= qmin)) zp = qmin;  // NaN too
  else if (z0 > qmax) zp = qmax;
  else zp = (int32_t)std::nearbyint(z0);
  return {(float)scale, zp};
}

QParams quantize_activations_u7(int64_t M, int64_t K, const float* x, int64_t ldx, uint8_t* A, int64_t lda) {
  const QKernel* k = active_kernel();
  float mn = 0.f, mx = 0.f;
  if (M > 0 && K > 0) {
    // Per-row extremes, threaded over rows, then reduced in order (deterministic).
    std::vector<float> lo(M), hi(M);
    parallel_for(M, K / 4, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) k->minmax(K, x + r * ldx, &lo[r], &hi[r]);
    });
    mn = lo[0], mx = hi[0];
    for (int64_t r = 1; r < M; ++r) mn = std::min(mn, lo[r]), mx = std::max(mx, hi[r]);
    if (!(mn <= mx)) mn = mx = 0.f;  // every value NaN
  }
  const QParams q = choose_qparams_u7(mn, mx);
  const float inv = 1.f / q.scale;
  parallel_for(M, K, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      k->quantize(K, x + r * ldx, inv, q.zero_point, A + r * lda);
      if (lda > K) std::memset(A + r * lda + K, 0, lda - K);
    }
  });
  return q;
}

std::string qgemm_isa() { return kIsaNames[(int)active_isa()]; }

void set_qgemm_isa(const std::string& isa) {
  if (isa == "auto") {
    forced_isa().store(-1);
    return;
  }
  int want = -1;
  for (int i = 0; i < 4; ++i)
    if (isa == kIsaNames[i]) want = i;
  TG_CHECK(want >= 0, ValueError, "unknown int8 GEMM instruction set '", isa,
           "' (expected avx512_vnni, avx512, avx2, portable or auto)");
  const QIsa best = best_qisa();
  const bool ok = want <= (int)QIsa::Avx512 ? want <= (int)best : best == QIsa::Avx512Vnni;
  TG_CHECK(ok, ValueError, "this CPU cannot run the '", isa, "' int8 GEMM (best: ", kIsaNames[(int)best], ")");
  forced_isa().store(want);
}

namespace qgemm_detail {
const QKernel* q_portable() { return &kPortable; }
}  // namespace qgemm_detail

}  // namespace tg::kernels
