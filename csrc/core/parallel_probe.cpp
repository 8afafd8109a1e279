// parallel_probe: the runtime's behaviour made visible to tests (see parallel.h).
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "core/error.h"
#include "core/parallel.h"

namespace tg {

ParallelProbe parallel_probe(int64_t n, int64_t cost, int64_t sleep_us, int64_t slow_index, int64_t throw_at,
                             bool nested) {
  TG_CHECK(n >= 0 && cost >= 0 && sleep_us >= 0, ValueError, "parallel_probe: negative argument");
  std::unique_ptr<std::atomic<int64_t>[]> hits(new std::atomic<int64_t>[n]);
  for (int64_t i = 0; i < n; ++i) hits[i] = 0;
  std::mutex mu;
  std::set<std::thread::id> seen;
  parallel_for(n, cost, [&](int64_t b, int64_t e) {
    {
      std::lock_guard<std::mutex> lock(mu);
      seen.insert(std::this_thread::get_id());
    }
    for (int64_t i = b; i < e; ++i) {
      TG_CHECK(i != throw_at, RuntimeError, "parallel_probe: index ", i, " failed");
      if (sleep_us) {
        const int64_t us = slow_index < 0 || i == slow_index ? sleep_us : sleep_us / 20;
        std::this_thread::sleep_for(std::chrono::microseconds(us));
      }
      if (nested) {  // runs inline: each inner index lands on this thread
        std::atomic<int64_t> inner{0};
        parallel_for(1000, 1000, [&](int64_t ib, int64_t ie) { inner += ie - ib; });
        TG_CHECK(inner == 1000, RuntimeError, "parallel_probe: nested region lost work");
      }
      hits[i].fetch_add(1, std::memory_order_relaxed);
    }
  });
  ParallelProbe r;
  r.hits.resize(n);
  for (int64_t i = 0; i < n; ++i) r.hits[i] = hits[i].load();
  r.threads_seen = (int)seen.size();
  return r;
}

}  // namespace tg
