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

// The BLIS loop nest on one thread: B blocks (kc x nc) are packed once per block and
// stay in L3/L2, A blocks (mc x kc) in L2, one B micro-panel in L1 across the row panels.
template <class T>
void blocked(const MicroKernel<T>& uk, const Gemm<T>& g, T* scratch) {
  const int MR = uk.mr, NR = uk.nr;
  const int64_t MC = std::max<int64_t>(MR, uk.mc / MR * MR);
  const int64_t NC = std::max<int64_t>(NR, uk.nc / NR * NR);
  T* abuf = scratch;
  T* bbuf = scratch + (std::min(g.M, MC) + MR - 1) / MR * MR * std::min(g.K, uk.kc);
  bbuf += (16 - (bbuf - scratch) % 16) % 16;
  alignas(64) T tile[kMaxTile];
  for (int64_t jc = 0; jc < g.N; jc += NC) {
    const int64_t nc = std::min(NC, g.N - jc);
    for (int64_t pc = 0; pc < g.K; pc += uk.kc) {
      const int64_t kc = std::min(uk.kc, g.K - pc);
      const bool acc = g.acc || pc > 0;
      uk.pack_b(kc, nc, g.B + pc * g.rsb + jc * g.csb, g.rsb, g.csb, bbuf);
      for (int64_t ic = 0; ic < g.M; ic += MC) {
        const int64_t mc = std::min(MC, g.M - ic);
        uk.pack_a(mc, kc, g.A + ic * g.rsa + pc * g.csa, g.rsa, g.csa, abuf);
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const int64_t nr = std::min<int64_t>(NR, nc - jr);
          const T* bp = bbuf + jr * kc;
          for (int64_t ir = 0; ir < mc; ir += MR) {
            const int64_t mr = std::min<int64_t>(MR, mc - ir);
            const T* ap = abuf + ir * kc;
            T* c = g.C + (ic + ir) * g.rsc + (jc + jr) * g.csc;
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
      }
    }
  }
}

// Packing scratch of the calling thread: grows, never shrinks, lives as long as the thread.
struct Scratch {
  void* p = nullptr;
  size_t bytes = 0;
  ~Scratch() { std::free(p); }
  void* get(size_t n) {
    if (n > bytes) {
      std::free(p);
      n = (n + 4095) / 4096 * 4096;
      p = std::aligned_alloc(64, n);
      bytes = p ? n : 0;
      if (!p) throw std::bad_alloc();
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

template <class T>
void gemm_float(Gemm<T> g) {
  const MicroKernel<T>& uk = *micro_kernel<T>();
  const Plan pl = plan(uk, g);
  if (pl.path == Path::Empty || pl.path == Path::Gemv) return run_serial(uk, g, pl.path, (T*)nullptr);
  if (pl.transposed) g = g.transposed();
  const int nt = threads_for(g.M * g.N * g.K);
  const int64_t slice = path_scratch(uk, g, pl.path);  // enough for any block of g
  if (nt == 1) return run_serial(uk, g, pl.path, thread_scratch<T>(slice));
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
