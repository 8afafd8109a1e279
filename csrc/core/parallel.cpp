#include "core/parallel.h"

#include <atomic>

#include "core/error.h"

namespace tg {

namespace {
std::atomic<int> g_threads{0};  // 0: not set yet, use OpenMP's default
}

int get_num_threads() {
  int n = g_threads.load(std::memory_order_relaxed);
  if (n > 0) return n;
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

void set_num_threads(int n) {
  TG_CHECK(n >= 1, ValueError, "Number of threads must be positive, got ", n);
  g_threads.store(n, std::memory_order_relaxed);
#ifdef _OPENMP
  omp_set_num_threads(n);
#endif
}

}  // namespace tg
