// The GEMM driver: picks a path by shape (direct loop for tiny products, matrix-vector
// loops, packed blocked GEMM otherwise), splits the blocked GEMM over threads and runs
// the BLIS loop nest around the micro-kernel of the chosen instruction set (gemm_arch.h).
#include "kernels/gemm.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <new>
#include <type_traits>
#include <memory>
#include <vector>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "core/error.h"
#include "core/parallel.h"
#include "kernels/cpu_features.h"
#include "kernels/gemm_arch.h"

namespace tg::kernels {

using namespace gemm_detail;

namespace {

// ---- instruction set -------------------------------------------------------------------

enum class Isa : int { Portable = 0, Avx2 = 1, Avx512 = 2 };

Isa best_isa() {
  const CpuFeatures& f = cpu_features();
  if (f.avx512) return Isa::Avx512;
  if (f.avx2_fma) return Isa::Avx2;
  return Isa::Portable;
}

std::atomic<int>& current_isa() {
  static std::atomic<int> isa{(int)best_isa()};
  return isa;
}

template <class T> const MicroKernel<T>* micro_kernel();
template <> const MicroKernel<float>* micro_kernel<float>() {
  switch ((Isa)current_isa().load(std::memory_order_relaxed)) {
#ifdef TG_X86
    case Isa::Avx512: return avx512_f32();
    case Isa::Avx2: return avx2_f32();
#endif
    default: return portable_f32();
  }
}
template <> const MicroKernel<double>* micro_kernel<double>() {
  switch ((Isa)current_isa().load(std::memory_order_relaxed)) {
#ifdef TG_X86
    case Isa::Avx512: return avx512_f64();
    case Isa::Avx2: return avx2_f64();
#endif
    default: return portable_f64();
  }
}

// ---- tuning ----------------------------------------------------------------------------

// Products with row-major C run the ISA's small kernel (A read in place, B in place when
// row-major, else packed) up to this many multiply-adds, while B stays within half an
// L2: there packing A costs more than it saves. Measured on Zen 4 (AVX2 and AVX-512
// kernels): the small kernel wins up to 128^3 and on the MLP's batch-64 products, ties
// at 256^3; full packing wins from 384^3 and on long-K, wide-N products.
constexpr int64_t kSmallMacs = int64_t(1) << 23;
// A read in place but stored transposed (each row of the tile a separate stream along K)
// only while it fits in L1: beyond that (x.T @ g of a layer's weight gradient) its
// columns come from L2 at every step and packing wins by 10-40%.
constexpr int64_t kSmallStridedABytes = int64_t(16) << 10;
constexpr int64_t kSmallBBytes = int64_t(512) << 10;
// Products below this many multiply-adds run on one thread (a parallel region costs a
// few microseconds); above it each thread gets at least this much work.
constexpr int64_t kThreadMacs = 1 << 18;
// Packing one element costs about this many multiply-adds of the micro-kernel; used to
// weigh the packing the blocks of a threaded product repeat (choose_grid).
constexpr int64_t kPackCost = 8;
constexpr int kMaxTile = 1024;  // elements of the largest micro-tile of any ISA

// ---- one product ------------------------------------------------------------------------

template <class T>
struct Gemm {
  int64_t M, N, K;
  const T* A;
  int64_t rsa, csa;
  const T* B;
  int64_t rsb, csb;
  T* C;
  int64_t rsc, csc;
  bool acc;

  Gemm transposed() const {  // C^T = B^T A^T: same memory, roles and strides swapped
    return {N, M, K, B, csb, rsb, A, csa, rsa, C, csc, rsc, acc};
  }
  Gemm rows(int64_t i0, int64_t i1) const {
    Gemm g = *this;
    g.M = i1 - i0, g.A += i0 * rsa, g.C += i0 * rsc;
    return g;
  }
  Gemm cols(int64_t j0, int64_t j1) const {
    Gemm g = *this;
    g.N = j1 - j0, g.B += j0 * csb, g.C += j0 * csc;
    return g;
  }
};

// C rows [i0, i1) by plain loops (int64 products). Sums stay in registers (8 columns of
// a row at a time): a running sum kept in C would put a store and a reload on the
// critical path of every multiply-add. Integers wrap on overflow as in PyTorch (the
// arithmetic runs unsigned, where wrapping is defined).
template <class T>
void direct(const Gemm<T>& g, int64_t i0, int64_t i1) {
  using U = std::conditional_t<std::is_integral_v<T>, std::make_unsigned_t<T>, T>;
  constexpr int64_t J = 8;
  for (int64_t i = i0; i < i1; ++i) {
    const T* a = g.A + i * g.rsa;
    T* c = g.C + i * g.rsc;
    int64_t j0 = 0;
    for (; j0 + J <= g.N; j0 += J) {
      U acc[J] = {};
      const T* b = g.B + j0 * g.csb;
      for (int64_t p = 0; p < g.K; ++p, b += g.rsb) {
        const U av = (U)a[p * g.csa];
        for (int64_t u = 0; u < J; ++u) acc[u] += av * (U)b[u * g.csb];
      }
      for (int64_t u = 0; u < J; ++u) {
        T& out = c[(j0 + u) * g.csc];
        out = T((g.acc ? (U)out : U(0)) + acc[u]);
      }
    }
    for (; j0 < g.N; ++j0) {
      U acc = 0;
      const T* b = g.B + j0 * g.csb;
      for (int64_t p = 0; p < g.K; ++p) acc += (U)a[p * g.csa] * (U)b[p * g.rsb];
      T& out = c[j0 * g.csc];
      out = T((g.acc ? (U)out : U(0)) + acc);
    }
  }
}

template <class T>
T dot(int64_t n, const T* a, int64_t inca, const T* b, int64_t incb) {
  if (inca == 1 && incb == 1) {
    T s[8] = {};  // eight independent partial sums: vectorizes without reassociating
    int64_t p = 0;
    for (; p + 8 <= n; p += 8)
      for (int u = 0; u < 8; ++u) s[u] += a[p + u] * b[p + u];
    T r = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    for (; p < n; ++p) r += a[p] * b[p];
    return r;
  }
  T r = 0;
  for (int64_t p = 0; p < n; ++p) r += a[p * inca] * b[p * incb];
  return r;
}

// y[i*incy] (+)= sum_p A[i*rsa + p*csa] * x[p*incx], i < M: products with one output
// row or column are memory bound, so they stream A once in its own memory order.
template <class T>
void gemv(int64_t M, int64_t K, const T* A, int64_t rsa, int64_t csa, const T* x, int64_t incx,
          T* y, int64_t incy, bool acc) {
  if (rsa == 1 && csa != 1) {  // columns of A contiguous: y += x[p] * A[:, p]
    parallel_for(M, K, [&](int64_t i0, int64_t i1) {
      constexpr int64_t kChunk = 256;
      T tmp[kChunk];
      for (int64_t ib = i0; ib < i1; ib += kChunk) {
        const int64_t n = std::min(kChunk, i1 - ib);
        for (int64_t i = 0; i < n; ++i) tmp[i] = T(0);
        for (int64_t p = 0; p < K; ++p) {
          const T xp = x[p * incx];
          const T* a = A + p * csa + ib;
          for (int64_t i = 0; i < n; ++i) tmp[i] += xp * a[i];
        }
        for (int64_t i = 0; i < n; ++i) {
          T& out = y[(ib + i) * incy];
          out = (acc ? out : T(0)) + tmp[i];
        }
      }
    });
    return;
  }
  parallel_for(M, K, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      T& out = y[i * incy];
      out = (acc ? out : T(0)) + dot(K, A + i * rsa, csa, x, incx);
    }
  });
}

// Elements of packing scratch one thread needs for the blocked GEMM of an M x N x K product.
template <class T>
int64_t scratch_elems(const MicroKernel<T>& uk, int64_t M, int64_t N, int64_t K) {
  auto round_up = [](int64_t x, int64_t m) { return (x + m - 1) / m * m; };
  const int64_t kc = std::min(K, uk.kc);
  const int64_t a = round_up(std::min(M, uk.mc), uk.mr) * kc;
  const int64_t b = round_up(std::min(N, uk.nc), uk.nr) * kc;
  return round_up(a, 16) + round_up(b, 16);
}

// c[i*rsc + j*csc] (+)= tile[i*ldt + j] for i < m, j < n, walking C in memory order.
template <class T>
void store_tile(const T* tile, int64_t ldt, int64_t m, int64_t n, T* c, int64_t rsc, int64_t csc,
                bool acc) {
  if (rsc == 1 && csc != 1) {  // C^T of a transposed product: columns of the tile are rows of C
    for (int64_t j = 0; j < n; ++j) {
      T* out = c + j * csc;
      if (acc) {
        for (int64_t i = 0; i < m; ++i) out[i] += tile[i * ldt + j];
      } else {
        for (int64_t i = 0; i < m; ++i) out[i] = tile[i * ldt + j];
      }
    }
    return;
  }
  for (int64_t i = 0; i < m; ++i) {
    T* out = c + i * rsc;
    const T* t = tile + i * ldt;
    if (csc == 1 && acc) {
      for (int64_t j = 0; j < n; ++j) out[j] += t[j];
    } else if (csc == 1) {
      for (int64_t j = 0; j < n; ++j) out[j] = t[j];
    } else {
      for (int64_t j = 0; j < n; ++j) out[j * csc] = (acc ? out[j * csc] : T(0)) + t[j];
    }
  }
}

// One packed A block (mc x kc, rows from `ic`) times one packed B micro-panel (kc x nr,
// columns from `j`) into C: the column of micro-tiles C[ic:ic+mc, j:j+nr].
template <class T>
void panel_column(const MicroKernel<T>& uk, const Gemm<T>& g, int64_t ic, int64_t mc, int64_t j,
                  int64_t nr, int64_t kc, const T* abuf, const T* bp, bool acc) {
  const int MR = uk.mr, NR = uk.nr;
  alignas(64) T tile[kMaxTile];
  for (int64_t ir = 0; ir < mc; ir += MR) {
    const int64_t mr = std::min<int64_t>(MR, mc - ir);
    const T* ap = abuf + ir * kc;
    T* c = g.C + (ic + ir) * g.rsc + j * g.csc;
    if (nr == NR && g.csc == 1) {  // straight into C
      if (mr == MR) uk.kernel(kc, ap, bp, NR, c, g.rsc, acc);
      else uk.kernel_rows(mr, kc, ap, bp, NR, c, g.rsc, acc);
      continue;
    }
    // Narrow column panel or strided C: the tile goes through scratch.
    if (mr == MR) uk.kernel(kc, ap, bp, NR, tile, NR, false);
    else uk.kernel_rows(mr, kc, ap, bp, NR, tile, NR, false);
    store_tile(tile, NR, mr, nr, c, g.rsc, g.csc, acc);
  }
}

template <class T>
int64_t row_block(const MicroKernel<T>& uk) {
  return std::max<int64_t>(uk.mr, uk.mc / uk.mr * uk.mr);
}
template <class T>
int64_t col_block(const MicroKernel<T>& uk) {
  return std::max<int64_t>(uk.nr, uk.nc / uk.nr * uk.nr);
}

// The BLIS loop nest on one thread: B blocks (kc x nc) are packed once per block and
// stay in L3/L2, A blocks (mc x kc) in L2, one B micro-panel in L1 across the row panels.
template <class T>
void blocked(const MicroKernel<T>& uk, const Gemm<T>& g, T* scratch) {
  const int MR = uk.mr, NR = uk.nr;
  const int64_t MC = row_block(uk), NC = col_block(uk);
  T* abuf = scratch;
  T* bbuf = scratch + (std::min(g.M, MC) + MR - 1) / MR * MR * std::min(g.K, uk.kc);
  bbuf += (16 - (bbuf - scratch) % 16) % 16;
  for (int64_t jc = 0; jc < g.N; jc += NC) {
    const int64_t nc = std::min(NC, g.N - jc);
    for (int64_t pc = 0; pc < g.K; pc += uk.kc) {
      const int64_t kc = std::min(uk.kc, g.K - pc);
      const bool acc = g.acc || pc > 0;
      uk.pack_b(kc, nc, g.B + pc * g.rsb + jc * g.csb, g.rsb, g.csb, bbuf);
      for (int64_t ic = 0; ic < g.M; ic += MC) {
        const int64_t mc = std::min(MC, g.M - ic);
        uk.pack_a(mc, kc, g.A + ic * g.rsa + pc * g.csa, g.rsa, g.csa, abuf);
        for (int64_t jr = 0; jr < nc; jr += NR)
          panel_column(uk, g, ic, mc, jc + jr, std::min<int64_t>(NR, nc - jr), kc, abuf,
                       bbuf + jr * kc, acc);
      }
    }
  }
}

// ---- threaded blocked product with B packed once -----------------------------------------
//
// The threads of a blocked product take row blocks of C (tasks claimed from the pool) and
// share one packed copy of B: all of it, K x N, cut in chunks of a few micro-panels (one
// kc block deep). The first thread to need a chunk claims and packs it; a thread that
// finds a chunk claimed but not yet packed never waits for it: it computes the chunks it
// can first and comes back to that one at the end of its column block, then packs its
// own copy if the chunk is still not ready (its packer may be a helper the OS parked). So
// A and B are each packed once per product, as on one thread, where a grid of blocks packs
// A once per column block and B once per row block.
struct SharedCounters {
  std::atomic<int64_t> products{0}, shared_chunks{0}, own_chunks{0}, stall_every{0};
};
SharedCounters& shared_counters() {
  static SharedCounters c;
  return c;
}

template <class T>
struct SharedB {
  const MicroKernel<T>* uk;
  const Gemm<T>* g;
  int64_t chunk;    // columns per chunk: a multiple of nr
  int64_t nchunks;  // per kc block
  T* buf;           // kc block pc at buf + pc * npad, its chunk q at + q * chunk * kc
  std::atomic<uint8_t>* state;  // per (kc block, chunk): 0 free, 1 being packed, 2 ready
  int64_t npad;     // N rounded up to chunks

  enum : uint8_t { kFree = 0, kPacking = 1, kReady = 2 };
  std::atomic<uint8_t>& st(int64_t pc, int64_t q) const { return state[pc / uk->kc * nchunks + q]; }
  T* where(int64_t pc, int64_t kc, int64_t q) const { return buf + pc * npad + q * chunk * kc; }
  void pack(int64_t pc, int64_t kc, int64_t q, T* dst) const {
    const int64_t j = q * chunk;
    uk->pack_b(kc, std::min(chunk, g->N - j), g->B + pc * g->rsb + j * g->csb, g->rsb, g->csb, dst);
  }
  // The packed chunk if it is ready or this thread packs it now; null while another
  // thread is packing it.
  const T* try_get(int64_t pc, int64_t kc, int64_t q) const {
    std::atomic<uint8_t>& s = st(pc, q);
    uint8_t v = s.load(std::memory_order_acquire);
    if (v == kReady) return where(pc, kc, q);
    if (v == kFree && s.compare_exchange_strong(v, kPacking, std::memory_order_acquire)) {
      pack(pc, kc, q, where(pc, kc, q));
      s.store(kReady, std::memory_order_release);
      shared_counters().shared_chunks.fetch_add(1, std::memory_order_relaxed);
      return where(pc, kc, q);
    }
    return s.load(std::memory_order_acquire) == kReady ? where(pc, kc, q) : nullptr;
  }
  // The packed chunk, from the shared copy if ready, else packed into `own`.
  const T* get(int64_t pc, int64_t kc, int64_t q, T* own) const {
    if (const T* p = try_get(pc, kc, q)) return p;
    pack(pc, kc, q, own);
    shared_counters().own_chunks.fetch_add(1, std::memory_order_relaxed);
    return own;
  }
};

// Columns per shared chunk: at least 128 floats (512 bytes) of each row of B, which packs
// near the speed of one whole block; a single 16-column panel reads 64 bytes from each
// of kc rows a row stride apart and packs ~3x slower.
template <class T>
int64_t shared_chunk(const MicroKernel<T>& uk) {
  const int64_t want = 512 / (int64_t)sizeof(T);
  return (want + uk.nr - 1) / uk.nr * uk.nr;
}

// Elements of one thread's scratch for row_task: an A block and one private B chunk.
template <class T>
int64_t shared_scratch(const MicroKernel<T>& uk, const Gemm<T>& g) {
  const int64_t kc = std::min(g.K, uk.kc);
  const int64_t a = (std::min(g.M, row_block(uk)) + uk.mr - 1) / uk.mr * uk.mr * kc;
  return (a + 15) / 16 * 16 + shared_chunk(uk) * kc;
}

// Rows [i0, i1) of C with B from the shared copy.
template <class T>
void row_task(const SharedB<T>& sb, int64_t i0, int64_t i1, T* scratch) {
  const MicroKernel<T>& uk = *sb.uk;
  const Gemm<T>& g = *sb.g;
  const int MR = uk.mr, NR = uk.nr;
  const int64_t MC = row_block(uk), NC = col_block(uk), CH = sb.chunk;
  T* abuf = scratch;
  T* own = scratch + ((std::min(i1 - i0, MC) + MR - 1) / MR * MR * std::min(g.K, uk.kc) + 15) / 16 * 16;
  thread_local std::vector<int64_t> later;
  for (int64_t jc = 0; jc < g.N; jc += NC) {
    const int64_t nc = std::min(NC, g.N - jc);
    // Chunks covering [jc, jc + nc): NC is a multiple of the chunk where it matters (NC
    // >= N otherwise), so a chunk never straddles two column blocks.
    const int64_t q0 = jc / CH, q1 = (jc + nc + CH - 1) / CH;
    for (int64_t pc = 0; pc < g.K; pc += uk.kc) {
      const int64_t kc = std::min(uk.kc, g.K - pc);
      const bool acc = g.acc || pc > 0;
      for (int64_t ic = i0; ic < i1; ic += MC) {
        const int64_t mc = std::min(MC, i1 - ic);
        uk.pack_a(mc, kc, g.A + ic * g.rsa + pc * g.csa, g.rsa, g.csa, abuf);
        auto run_chunk = [&](int64_t q, const T* bq) {
          const int64_t j0 = q * CH, j1 = std::min(g.N, j0 + CH);
          for (int64_t j = j0; j < j1; j += NR)
            panel_column(uk, g, ic, mc, j, std::min<int64_t>(NR, j1 - j), kc, abuf, bq + (j - j0) * kc, acc);
        };
        later.clear();
        for (int64_t q = q0; q < q1; ++q) {
          if (const T* bq = sb.try_get(pc, kc, q)) run_chunk(q, bq);
          else later.push_back(q);
        }
        for (int64_t q : later) run_chunk(q, sb.get(pc, kc, q, own));
      }
    }
  }
}

// Packing scratch of the calling thread: grows, never shrinks, lives as long as the thread.
// From 4 MB (a packed B block of 256 x 4096 floats, the shared B of a threaded product)
// it sits in 2 MB pages where transparent huge pages are in "madvise" mode, as our
// tensors do (core/storage.cpp): the micro-kernels stream it panel by panel.
struct Scratch {
  void* p = nullptr;
  size_t bytes = 0;
  ~Scratch() { std::free(p); }
  void* get(size_t n) {
    if (n > bytes) {
      std::free(p);
      p = nullptr;
      bytes = 0;
      constexpr size_t kHuge = size_t(2) << 20;
      if (n >= 2 * kHuge) {
        n = (n + kHuge - 1) / kHuge * kHuge;
        if (posix_memalign(&p, kHuge, n) != 0) p = nullptr;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
        if (p) madvise(p, n, MADV_HUGEPAGE);  // advice only: failure is harmless
#endif
      } else {
        n = (n + 4095) / 4096 * 4096;
        p = std::aligned_alloc(64, n);
      }
      if (!p) throw std::bad_alloc();
      bytes = n;
    }
    return p;
  }
};

template <class T>
T* thread_scratch(int64_t elems) {
  thread_local Scratch s;
  return static_cast<T*>(s.get((size_t)elems * sizeof(T)));
}

int threads_for(int64_t macs) {
  if (in_parallel_region()) return 1;
  return (int)std::max<int64_t>(1, std::min<int64_t>(get_num_threads(), macs / kThreadMacs));
}

enum class Path { Empty, Small, Gemv, Blocked };

// How C is cut into tasks for `nt` threads: a tm x tn grid of blocks aligned to the
// micro-tile, claimed by the threads as they come free. Up to kTasksPerThread blocks per
// thread (each at least kTaskMacs of work), so that a thread the OS parks holds back a
// small block, not half the product. But every block packs its own operands, a cost paid
// on a quiet machine too and, on a busy one, by a caller that may run every block itself
// (the pool backs off) and must then be as fast as one thread: so a grid may repack no
// more than 1/kRepackShare of the product's work over one undivided call.
struct Grid {
  int tm, tn;
};
constexpr int kTasksPerThread = 4;
constexpr int64_t kTaskMacs = 1 << 19;
constexpr int64_t kRepackShare = 32;  // 1/16 measured 0-5% slower on 2 threads from 256^3 up
template <class T>
Grid choose_grid(const MicroKernel<T>& uk, const Gemm<T>& g, Path path, int nt) {
  const int64_t pm = (g.M + uk.mr - 1) / uk.mr, pn = (g.N + uk.nr - 1) / uk.nr;
  const int64_t macs = g.M * g.N * g.K;
  const int64_t want = std::clamp<int64_t>(macs / kTaskMacs, nt, nt * kTasksPerThread);
  // Elements packed beyond what one call packs: the blocked path packs A once per column
  // block and B once per row block; the small path packs nothing but B (if not row-major),
  // once per row block.
  auto repacked = [&](int64_t tm, int64_t tn) -> int64_t {
    if (path == Path::Blocked) return ((tn - 1) * g.M + (tm - 1) * g.N) * g.K;
    return g.csb == 1 ? 0 : (tm - 1) * g.N * g.K;
  };
  // Among the grids within the budget: the best balance across threads (3 blocks on 2
  // threads keep one thread idle a third of the time), then the most blocks, then the
  // least repacking.
  // Balance is tasks / slots, slots = nt * rounds: compared as fractions, exactly.
  auto slots = [&](int64_t tasks) { return nt * ((tasks + nt - 1) / nt); };
  Grid best{1, 1};
  int64_t best_tasks = 1, best_repack = 0;
  for (int64_t tm = 1; tm <= std::min(pm, want); ++tm) {
    for (int64_t tn = 1; tn <= std::min(pn, want / tm); ++tn) {
      const int64_t tasks = tm * tn, repack = repacked(tm, tn);
      if (kPackCost * repack * kRepackShare > macs && tasks > 1) continue;
      const int64_t lhs = tasks * slots(best_tasks), rhs = best_tasks * slots(tasks);
      if (lhs > rhs || (lhs == rhs && (tasks > best_tasks || (tasks == best_tasks && repack < best_repack))))
        best = {(int)tm, (int)tn}, best_tasks = tasks, best_repack = repack;
    }
  }
  return best;
}

// Block `id` of C in a grid: rows [i0, i1), columns [j0, j1).
template <class T>
Gemm<T> grid_block(const MicroKernel<T>& uk, const Gemm<T>& g, Grid grid, int id) {
  const int64_t pm = (g.M + uk.mr - 1) / uk.mr, pn = (g.N + uk.nr - 1) / uk.nr;
  const int ti = id / grid.tn, tj = id % grid.tn;
  const int64_t i0 = std::min(g.M, pm * ti / grid.tm * uk.mr);
  const int64_t i1 = std::min(g.M, pm * (ti + 1) / grid.tm * uk.mr);
  const int64_t j0 = std::min(g.N, pn * tj / grid.tn * uk.nr);
  const int64_t j1 = std::min(g.N, pn * (tj + 1) / grid.tn * uk.nr);
  return g.rows(i0, i1).cols(j0, j1);
}

struct Plan {
  Path path;
  bool transposed;  // run as C^T = B^T A^T (Blocked only)
};

// Chooses the path by shape; Blocked runs transposed when that wastes fewer padded
// columns of the micro-tile (e.g. a narrow N; short row panels cost only their rows).
template <class T>
Plan plan(const MicroKernel<T>& uk, const Gemm<T>& g) {
  if (g.M == 0 || g.N == 0 || g.K == 0) return {Path::Empty, false};
  if (g.M == 1 || g.N == 1) return {Path::Gemv, false};
  if (uk.small && g.csc == 1 && g.M * g.N * g.K <= kSmallMacs &&
      g.K * g.N * (int64_t)sizeof(T) <= kSmallBBytes &&
      (g.csa == 1 || g.M * g.K * (int64_t)sizeof(T) <= kSmallStridedABytes))
    return {Path::Small, false};
  auto padded = [&](int64_t m, int64_t n) { return m * ((n + uk.nr - 1) / uk.nr * uk.nr); };
  return {Path::Blocked, padded(g.N, g.M) * 5 < padded(g.M, g.N) * 4};
}

// Elements of packing scratch one thread needs to run `path` on (any block of) g.
template <class T>
int64_t path_scratch(const MicroKernel<T>& uk, const Gemm<T>& g, Path path) {
  if (path == Path::Blocked) return scratch_elems(uk, g.M, g.N, g.K);
  if (path == Path::Small && g.csb != 1) return (g.N + uk.nr - 1) / uk.nr * uk.nr * g.K;
  return 0;
}

// Runs one planned product on this thread (scratch: for Blocked).
template <class T>
void run_serial(const MicroKernel<T>& uk, const Gemm<T>& g, Path path, T* scratch) {
  switch (path) {
    case Path::Empty:
      if (!g.acc)
        for (int64_t i = 0; i < g.M; ++i)
          for (int64_t j = 0; j < g.N; ++j) g.C[i * g.rsc + j * g.csc] = T(0);
      return;
    case Path::Small:
      if (g.csb == 1) return uk.small(g.M, g.N, g.K, g.A, g.rsa, g.csa, g.B, g.rsb, uk.nr, g.C, g.rsc, g.acc);
      uk.pack_b(g.K, g.N, g.B, g.rsb, g.csb, scratch);
      return uk.small(g.M, g.N, g.K, g.A, g.rsa, g.csa, scratch, uk.nr, uk.nr * g.K, g.C, g.rsc, g.acc);
    case Path::Gemv:
      if (g.N == 1) return gemv(g.M, g.K, g.A, g.rsa, g.csa, g.B, g.rsb, g.C, g.rsc, g.acc);
      return gemv(g.N, g.K, g.B, g.csb, g.rsb, g.A, g.csa, g.C, g.csc, g.acc);
    case Path::Blocked: return blocked(uk, g, scratch);
  }
}

// Packed B shared by the threads of one product: the calling thread's buffer, which it
// keeps, as the packing scratch, for the next product.
template <class T>
T* shared_buffer(int64_t elems) {
  thread_local Scratch s;
  return static_cast<T*>(s.get((size_t)elems * sizeof(T)));
}

// Runs a threaded blocked product as row blocks sharing one packed B (row_task), where
// that fits: enough row panels for the tasks, and B's packed copy within kSharedBBytes.
// False where it does not (the caller cuts a grid instead).
constexpr int64_t kSharedBBytes = int64_t(32) << 20;
template <class T>
bool run_shared(const MicroKernel<T>& uk, const Gemm<T>& g, int nt) {
  const int64_t CH = shared_chunk(uk), NC = col_block(uk);
  if (g.N > NC && NC % CH != 0) return false;
  const int64_t pm = (g.M + uk.mr - 1) / uk.mr;
  const int64_t macs = g.M * g.N * g.K;
  // Each task streams its B panels from L2 into L1 once per A block it packs: a task of
  // fewer rows than about 2/3 of an A block (96 rows on AVX2) reuses them too little
  // (8 tasks of 32 rows made 256^3 ~15% slower than 2 of 128).
  const int64_t min_panels = std::max<int64_t>(1, row_block(uk) * 2 / 3 / uk.mr);
  int64_t tasks = std::clamp<int64_t>(macs / kTaskMacs, nt, nt * kTasksPerThread);
  tasks = std::min(tasks, pm / min_panels);
  tasks = tasks / nt * nt;  // equal rounds: 3 blocks on 2 threads idle one a third of the time
  if (tasks < nt) return false;
  const int64_t nchunks = (g.N + CH - 1) / CH, npad = nchunks * CH;
  if (g.K * npad * (int64_t)sizeof(T) > kSharedBBytes) return false;
  const int64_t kblocks = (g.K + uk.kc - 1) / uk.kc;
  std::unique_ptr<std::atomic<uint8_t>[]> state(new std::atomic<uint8_t>[kblocks * nchunks]);
  const int64_t stall = shared_counters().stall_every.load(std::memory_order_relaxed);
  for (int64_t i = 0; i < kblocks * nchunks; ++i)
    state[i].store(stall > 0 && i % stall == stall - 1 ? SharedB<T>::kPacking : SharedB<T>::kFree,
                   std::memory_order_relaxed);
  shared_counters().products.fetch_add(1, std::memory_order_relaxed);
  const SharedB<T> sb{&uk, &g, CH, nchunks, shared_buffer<T>(g.K * npad), state.get(), npad};
  const int64_t slice = shared_scratch(uk, g);
  parallel_tasks(tasks, nt, [&](int64_t id) {
    const int64_t i0 = std::min(g.M, pm * id / tasks * uk.mr);
    const int64_t i1 = std::min(g.M, pm * (id + 1) / tasks * uk.mr);
    if (i1 > i0) row_task(sb, i0, i1, thread_scratch<T>(slice));
  });
  return true;
}

template <class T>
void gemm_float(Gemm<T> g) {
  const MicroKernel<T>& uk = *micro_kernel<T>();
  const Plan pl = plan(uk, g);
  if (pl.path == Path::Empty || pl.path == Path::Gemv) return run_serial(uk, g, pl.path, (T*)nullptr);
  if (pl.transposed) g = g.transposed();
  const int nt = threads_for(g.M * g.N * g.K);
  const int64_t slice = path_scratch(uk, g, pl.path);  // enough for any block of g
  if (nt == 1) return run_serial(uk, g, pl.path, thread_scratch<T>(slice));
  if (pl.path == Path::Blocked && run_shared(uk, g, nt)) return;
  const Grid grid = choose_grid(uk, g, pl.path, nt);
  parallel_tasks(grid.tm * grid.tn, nt, [&](int64_t id) {
    const Gemm<T> part = grid_block(uk, g, grid, (int)id);
    if (part.M > 0 && part.N > 0) run_serial(uk, part, pl.path, thread_scratch<T>(slice));
  });
}

template <class T>
void gemm_batched_float(int64_t batch, const int64_t* a_off, const int64_t* b_off,
                        const int64_t* c_off, const Gemm<T>& g) {
  auto item = [&](int64_t b) {
    Gemm<T> gb = g;
    gb.A += a_off[b], gb.B += b_off[b], gb.C += c_off[b];
    return gb;
  };
  const int64_t macs = g.M * g.N * g.K;
  const int nt = threads_for(macs * batch);
  // One product at a time (each threaded inside) when they are big or too few to share.
  if (nt == 1 || batch < nt || macs >= 16 * kThreadMacs) {
    for (int64_t b = 0; b < batch; ++b) gemm_float(item(b));
    return;
  }
  const MicroKernel<T>& uk = *micro_kernel<T>();
  const Plan pl = plan(uk, g);  // the same for every product: same geometry
  const Gemm<T> run_as = pl.transposed ? g.transposed() : g;
  const int64_t slice = path_scratch(uk, run_as, pl.path);
  parallel_tasks(batch, nt, [&](int64_t b) {
    const Gemm<T> gb = item(b);
    run_serial(uk, pl.transposed ? gb.transposed() : gb, pl.path, thread_scratch<T>(slice));
  });
}

}  // namespace

// ---- public entry points -----------------------------------------------------------------

void gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t rsa, int64_t csa,
          const float* B, int64_t rsb, int64_t csb, float* C, int64_t rsc, int64_t csc,
          bool accumulate) {
  gemm_float<float>({M, N, K, A, rsa, csa, B, rsb, csb, C, rsc, csc, accumulate});
}

void gemm(int64_t M, int64_t N, int64_t K, const double* A, int64_t rsa, int64_t csa,
          const double* B, int64_t rsb, int64_t csb, double* C, int64_t rsc, int64_t csc,
          bool accumulate) {
  gemm_float<double>({M, N, K, A, rsa, csa, B, rsb, csb, C, rsc, csc, accumulate});
}

void gemm(int64_t M, int64_t N, int64_t K, const int64_t* A, int64_t rsa, int64_t csa,
          const int64_t* B, int64_t rsb, int64_t csb, int64_t* C, int64_t rsc, int64_t csc,
          bool accumulate) {
  const Gemm<int64_t> g{M, N, K, A, rsa, csa, B, rsb, csb, C, rsc, csc, accumulate};
  parallel_for(M, N * std::max<int64_t>(K, 1), [&](int64_t i0, int64_t i1) { direct(g, i0, i1); });
}

void gemm_batched(int64_t batch, const int64_t* a_off, const int64_t* b_off, const int64_t* c_off,
                  int64_t M, int64_t N, int64_t K, const float* A, int64_t rsa, int64_t csa,
                  const float* B, int64_t rsb, int64_t csb, float* C, int64_t rsc, int64_t csc,
                  bool accumulate) {
  gemm_batched_float<float>(batch, a_off, b_off, c_off,
                            {M, N, K, A, rsa, csa, B, rsb, csb, C, rsc, csc, accumulate});
}

void gemm_batched(int64_t batch, const int64_t* a_off, const int64_t* b_off, const int64_t* c_off,
                  int64_t M, int64_t N, int64_t K, const double* A, int64_t rsa, int64_t csa,
                  const double* B, int64_t rsb, int64_t csb, double* C, int64_t rsc, int64_t csc,
                  bool accumulate) {
  gemm_batched_float<double>(batch, a_off, b_off, c_off,
                             {M, N, K, A, rsa, csa, B, rsb, csb, C, rsc, csc, accumulate});
}

void gemm_batched(int64_t batch, const int64_t* a_off, const int64_t* b_off, const int64_t* c_off,
                  int64_t M, int64_t N, int64_t K, const int64_t* A, int64_t rsa, int64_t csa,
                  const int64_t* B, int64_t rsb, int64_t csb, int64_t* C, int64_t rsc,
                  int64_t csc, bool accumulate) {
  for (int64_t b = 0; b < batch; ++b)
    gemm(M, N, K, A + a_off[b], rsa, csa, B + b_off[b], rsb, csb, C + c_off[b], rsc, csc, accumulate);
}

GemmSharedStats gemm_shared_stats() {
  SharedCounters& c = shared_counters();
  GemmSharedStats s;
  s.products = c.products.load();
  s.shared_chunks = c.shared_chunks.load();
  s.own_chunks = c.own_chunks.load();
  return s;
}

void gemm_stall_shared_b(int64_t stall_every) {
  shared_counters().stall_every.store(std::max<int64_t>(0, stall_every));
}

std::string gemm_isa() {
  switch ((Isa)current_isa().load()) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    default: return "portable";
  }
}

void set_gemm_isa(const std::string& isa) {
  const Isa want = isa == "avx512" ? Isa::Avx512 : isa == "avx2" ? Isa::Avx2 : Isa::Portable;
  TG_CHECK(isa == "avx512" || isa == "avx2" || isa == "portable", ValueError,
           "unknown GEMM instruction set '", isa, "' (expected avx512, avx2 or portable)");
  TG_CHECK((int)want <= (int)best_isa(), ValueError, "this CPU cannot run the '", isa,
           "' GEMM kernels");
  current_isa().store((int)want);
}

namespace {
// Seconds of CPU time this thread has run: unlike wall time it does not count the time
// the thread waits for a core on a busy machine, which would understate the peak.
double thread_seconds() {
#if defined(CLOCK_THREAD_CPUTIME_ID)
  timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0) return ts.tv_sec + ts.tv_nsec * 1e-9;
#endif
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

double fma_peak_gflops(double seconds) {
  const FmaLoop* f = nullptr;
#ifdef TG_X86
  const Isa isa = (Isa)current_isa().load();
  f = isa == Isa::Avx512 ? avx512_fma_loop() : isa == Isa::Avx2 ? avx2_fma_loop() : nullptr;
#endif
  if (!f) return 0.0;
  const double start = thread_seconds();
  double best = 0;
  volatile float sink = 0;
  int64_t iters = 1 << 14;
  do {  // best rate over repeated runs of at least ~10 ms each
    const double t0 = thread_seconds();
    sink = sink + f->run(iters);
    const double dt = thread_seconds() - t0;
    if (dt < 0.01) {
      iters *= 2;
      continue;
    }
    best = std::max(best, 2.0 * f->lanes * f->fmas_per_iter * (double)iters / dt * 1e-9);
  } while (best == 0 || thread_seconds() - start < seconds);
  return best;
}

}  // namespace tg::kernels
