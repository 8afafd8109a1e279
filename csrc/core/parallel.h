#pragma once
// The one door to threads. Kernels call parallel_for (or parallel_tasks); the work goes to
// a small pool of our own (parallel.cpp) built to degrade, not stall, when the machine is
// busy: chunks are claimed from an atomic counter by whichever threads are running, the
// calling thread among them, so a region ends when its work is done, not when a helper
// the OS has parked wakes up. Small work runs inline: waking a helper costs microseconds.
#include <algorithm>
#include <cstdint>
#include <vector>

namespace tg {

// Threads a region may use (the caller included): set_num_threads, else TG_NUM_THREADS,
// else OMP_NUM_THREADS, else the CPUs this process may run on (affinity and cgroup quota).
int get_num_threads();
void set_num_threads(int n);
// Whether set_num_threads was called (the default not in force).
bool num_threads_set();
// The CPUs this process may run on: its affinity mask, capped by a cgroup CPU quota.
int available_cpus();
// True on a thread that is running a chunk of a parallel region (nested calls run inline).
bool in_parallel_region();

// Work (in elements, roughly nanoseconds) each thread of a region must get to pay for
// waking it; below twice this a region runs on the calling thread alone. Measured with
// _C._parallel_probe: a region costs the caller ~0.5 us when the helpers are spinning and
// ~10 us (the futex syscall) when they sleep, and a sleeping helper arrives tens of
// microseconds later.
constexpr int64_t kParallelGrain = 32768;
// Smallest chunk worth its own claim: regions are cut finer than one chunk per thread
// (up to kChunksPerThread) so a thread that runs late leaves little for the others to
// wait on.
constexpr int64_t kChunkGrain = 8192;
constexpr int64_t kChunksPerThread = 4;

namespace parallel_detail {
using ChunkFn = void (*)(void* ctx, int64_t begin, int64_t end);
// Runs fn(ctx, b, e) over [0, n) cut into `chunks` equal pieces, claimed by up to
// `threads` threads (the caller among them). Rethrows the first exception of a chunk.
void run(int64_t n, int64_t chunks, int threads, ChunkFn fn, void* ctx);

template <class F>
void call(void* ctx, int64_t b, int64_t e) {
  (*static_cast<F*>(ctx))(b, e);
}

inline int64_t saturating_mul(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_mul_overflow(a, b, &r) ? INT64_MAX : r;
}
}  // namespace parallel_detail

// Calls f(begin, end) on disjoint ranges covering [0, n); `cost` is the work per index in
// elements, so the grain applies to the work, not to the index count.
template <class F>
void parallel_for(int64_t n, int64_t cost, F&& f) {
  if (n <= 0) return;
  const int64_t work = parallel_detail::saturating_mul(n, std::max<int64_t>(cost, 1));
  int64_t threads = get_num_threads();
  if (threads > 1 && n > 1 && work >= 2 * kParallelGrain && !in_parallel_region()) {
    threads = std::min({threads, n, work / kParallelGrain});
    const int64_t chunks = std::min(n, std::clamp(work / kChunkGrain, threads, threads * kChunksPerThread));
    using Fn = std::remove_reference_t<F>;
    parallel_detail::run(n, chunks, (int)threads, &parallel_detail::call<Fn>, (void*)&f);
    return;
  }
  f(int64_t(0), n);
}

// Calls f(i) for each i in [0, n), each task claimed on its own by up to `threads` threads
// (the caller among them): for tasks already sized by the caller, like GEMM blocks.
template <class F>
void parallel_tasks(int64_t n, int threads, F&& f) {
  auto each = [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) f(i);
  };
  if (threads > 1 && n > 1 && !in_parallel_region()) {
    parallel_detail::run(n, n, threads, &parallel_detail::call<decltype(each)>, (void*)&each);
    return;
  }
  each(0, n);
}

}  // namespace tg

namespace tg {
// What the pool has done since the process started (bound as _C._parallel_stats): regions
// run, chunks run by the caller and by helpers, regions whose caller had to wait for a
// helper's last chunk, of those how many waits ended in a sleep, the time waited, times the
// pool backed off (helpers lost more time than they won) and regions run alone meanwhile.
struct ParallelStats {
  int64_t regions = 0, chunks_caller = 0, chunks_helpers = 0, waits = 0, sleeps = 0, wait_ns = 0;
  int64_t late = 0, backed_off = 0;
  int64_t helper_sleeps = 0, helper_preempted = 0;  // helpers going to sleep; of those, preempted
  int64_t shared_core = 0;  // helpers found running a chunk on the caller's CPU
  int64_t helper_moved = 0;  // helpers woken on the caller's CPU that moved themselves off
};
ParallelStats parallel_stats();

// A probe of the runtime for the tests (bound as _C._parallel_probe): runs parallel_for
// over [0, n) with `cost` per index, each index sleeping `sleep_us` microseconds (with
// `slow_index` >= 0: that index, the others a twentieth of it), and returns how often each index ran and how many distinct
// threads ran them. `throw_at` >= 0 makes that index throw a RuntimeError; `nested` runs
// a parallel_for inside each chunk.
struct ParallelProbe {
  std::vector<int64_t> hits;
  int threads_seen = 0;
};
ParallelProbe parallel_probe(int64_t n, int64_t cost, int64_t sleep_us, int64_t slow_index, int64_t throw_at,
                             bool nested);
}  // namespace tg
