#pragma once
// The one place that talks to OpenMP. Kernels call parallel_for; small ranges run inline
// so tiny tensors never pay for a parallel region.
#include <algorithm>
#include <cstdint>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace tg {

int get_num_threads();
void set_num_threads(int n);

// Work below this many elements runs on the calling thread.
constexpr int64_t kParallelGrain = 32768;

// Calls f(begin, end) on disjoint chunks covering [0, n); `cost` is the work per index
// in elements, so the grain applies to the work, not the index count.
template <class F>
void parallel_for(int64_t n, int64_t cost, F&& f) {
  if (n <= 0) return;
#ifdef _OPENMP
  int nt = get_num_threads();
  if (nt > 1 && n > 1 && n * std::max<int64_t>(cost, 1) >= kParallelGrain && !omp_in_parallel()) {
    int64_t chunks = std::min<int64_t>(n, nt);
#pragma omp parallel for num_threads((int)chunks) schedule(static, 1)
    for (int64_t c = 0; c < chunks; ++c) {
      int64_t b = n * c / chunks, e = n * (c + 1) / chunks;
      if (b < e) f(b, e);
    }
    return;
  }
#endif
  f(int64_t(0), n);
}

}  // namespace tg
