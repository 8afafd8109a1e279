// The thread pool behind parallel_for.
//
// One region runs at a time. The caller publishes the job in one atomic word
// (generation | chunk count | next chunk), invites helpers, and then claims chunks itself
// like any helper. A helper that is not running claims nothing, so the region finishes
// with whoever is on a core: on a busy machine it degrades towards one thread instead of
// waiting for a parked one at a barrier. Waiting is a short spin, then a futex sleep:
// a thread spinning for long would steal the core from the very thread it waits for.
//
// Regions started while another is running (from another Python thread) run inline on
// their caller, as do nested ones. After fork() the child starts a fresh pool: the
// parent's workers do not exist there.
#include "core/parallel.h"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#else
#include <condition_variable>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "core/error.h"

namespace tg {

namespace {

// ---- waiting ---------------------------------------------------------------------------

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

#ifdef __linux__
// Sleeps while *word == expected (returns at once otherwise, or spuriously).
void futex_wait(std::atomic<uint32_t>& word, uint32_t expected) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, nullptr,
          nullptr, 0);
}
void futex_wake(std::atomic<uint32_t>& word, int n) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE_PRIVATE, n, nullptr, nullptr, 0);
}
#else
// Elsewhere one condition variable stands in for the futexes (a wake wakes all).
std::mutex g_sleep_mu;
std::condition_variable g_sleep_cv;
void futex_wait(std::atomic<uint32_t>& word, uint32_t expected) {
  std::unique_lock<std::mutex> lock(g_sleep_mu);
  if (word.load() == expected) g_sleep_cv.wait_for(lock, std::chrono::milliseconds(1));
}
void futex_wake(std::atomic<uint32_t>&, int) {
  std::lock_guard<std::mutex> lock(g_sleep_mu);
  g_sleep_cv.notify_all();
}
#endif

using Clock = std::chrono::steady_clock;

// How long a helper stays awake after a region, waiting for the next one. A training step
// runs one region after another with microseconds to a few hundred microseconds of Python
// in between, and a helper still awake joins the next region at once, while waking a
// sleeping one costs the caller a futex syscall (~10 us here) and the helper tens of
// microseconds more to arrive. Only the first kPauseSpinNs spin on the core; the rest of
// the wait yields it to any other runnable thread on every check, so on a busy machine a
// waiting helper takes next to nothing from the threads doing work. TG_SPIN_US overrides
// the whole wait (0: sleep at once).
constexpr int64_t kPauseSpinNs = 20000;
int64_t helper_wait_ns() {
  static const int64_t ns = [] {
    const char* s = std::getenv("TG_SPIN_US");
    return s && *s ? std::max(0L, std::atol(s)) * 1000 : 1000000;
  }();
  return ns;
}
// The caller waiting for the last chunks: a short spin, then yield, then sleep (freeing
// its core lets the OS move a parked helper there).
constexpr int64_t kCallerWaitNs = 50000;

// Waits until pred() or `ns` elapse, spinning for the first kPauseSpinNs and yielding the
// core between checks after that; true if pred() held. A yield that takes long means
// another thread wanted this core: the machine is busy, and the wait ends early so the
// caller sleeps instead of competing for the core.
constexpr int64_t kBusyYieldNs = 30000;
template <class Pred>
bool spin_until(Pred pred, int64_t ns) {
  if (pred()) return true;
  const auto start = Clock::now();
  auto since = [](Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t).count();
  };
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (pred()) return true;
      cpu_relax();
    }
    const int64_t waited = since(start);
    if (waited >= ns) return pred();
    if (waited >= kPauseSpinNs) {
      const auto before = Clock::now();
      sched_yield();
      if (since(before) >= kBusyYieldNs) return pred();
    }
  }
}

// ---- the pool --------------------------------------------------------------------------

// The job word: generation (32 bits) | chunk count (16) | next unclaimed chunk (16).
// Claims are CAS on the whole word, so a helper still holding an old generation can
// never claim a chunk of a newer job.
constexpr int64_t kMaxChunks = 0xFFFF;
inline uint64_t pack(uint32_t gen, uint32_t chunks, uint32_t next) {
  return (uint64_t)gen << 32 | (uint64_t)chunks << 16 | next;
}

struct alignas(64) Worker {
  std::atomic<uint32_t> invite{0};  // the generation this worker is asked to join; futex word
  std::atomic<bool> sleeping{false};
};

thread_local bool t_in_region = false;

class Pool {
 public:
  // Runs one region; false (nothing run) when another region holds the pool.
  bool run(int64_t n, int64_t chunks, int threads, parallel_detail::ChunkFn fn, void* ctx) {
    if (busy_.exchange(true, std::memory_order_acquire)) return false;
    const int helpers = std::min<int>(threads - 1, ensure_workers(threads - 1));
    chunks = std::min(chunks, kMaxChunks);
    const uint32_t gen = ++gen_;
    fn_ = fn, ctx_ = ctx, n_ = n, chunks_ = (uint32_t)chunks;
    done_.store(0, std::memory_order_relaxed);
    failed_.store(false, std::memory_order_relaxed);
    error_ = nullptr;
    job_.store(pack(gen, (uint32_t)chunks, 0), std::memory_order_seq_cst);
    for (int i = 0; i < helpers; ++i) {
      Worker& w = *workers_[i];
      w.invite.store(gen, std::memory_order_seq_cst);
      if (w.sleeping.load(std::memory_order_seq_cst)) futex_wake(w.invite, 1);
    }
    t_in_region = true;
    const int64_t mine = work(gen);
    wait_done();
    t_in_region = false;
    stats_.regions += 1;
    stats_.chunks_caller += mine;
    stats_.chunks_helpers += (int64_t)chunks - mine;
    std::exception_ptr err = error_;
    error_ = nullptr;
    busy_.store(false, std::memory_order_release);
    if (err) std::rethrow_exception(err);
    return true;
  }

  // After fork(): the child has none of the parent's threads. The old workers are
  // abandoned (never touched again), the pool starts empty.
  void reset_after_fork() {
    abandoned_.insert(abandoned_.end(), workers_.begin(), workers_.end());
    workers_.clear();
    busy_.store(false);
  }

 private:
  // Claims and runs chunks of generation `gen` until none is left; returns how many.
  int64_t work(uint32_t gen) {
    uint64_t cur = job_.load(std::memory_order_acquire);
    for (int64_t ran = 0;; ++ran) {
      const uint32_t g = uint32_t(cur >> 32), total = uint32_t(cur >> 16) & 0xFFFF, next = cur & 0xFFFF;
      if (g != gen || next >= total) return ran;
      if (!job_.compare_exchange_weak(cur, cur + 1, std::memory_order_acq_rel, std::memory_order_acquire)) {
        --ran;
        continue;
      }
      // Chunk `next` of job `gen` is ours and unfinished, so the job (fn_, ctx_, n_) stays.
      if (!failed_.load(std::memory_order_relaxed)) {
        try {
          fn_(ctx_, n_ * next / total, n_ * (next + 1) / total);
        } catch (...) {
          std::lock_guard<std::mutex> lock(error_mu_);
          if (!error_) error_ = std::current_exception();
          failed_.store(true, std::memory_order_relaxed);
        }
      }
      // The last chunk done wakes the caller if it went to sleep. After this add the job
      // may be over: only pool members are touched.
      if (done_.fetch_add(1, std::memory_order_seq_cst) + 1 == total &&
          caller_sleeping_.load(std::memory_order_seq_cst))
        futex_wake(done_, 1);
      cur = job_.load(std::memory_order_acquire);
    }
  }

  // Waits for the chunks helpers still hold; counts the waits in stats_.
  void wait_done() {
    const uint32_t total = chunks_;
    auto finished = [&] { return done_.load(std::memory_order_acquire) == total; };
    if (finished()) return;
    const auto start = Clock::now();
    stats_.waits += 1;
    if (!spin_until(finished, kCallerWaitNs)) {
      stats_.sleeps += 1;
      caller_sleeping_.store(true, std::memory_order_seq_cst);
      for (uint32_t d; (d = done_.load(std::memory_order_seq_cst)) != total;) futex_wait(done_, d);
      caller_sleeping_.store(false, std::memory_order_relaxed);
    }
    stats_.wait_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
  }

 public:
  ParallelStats stats() {  // a snapshot between regions; may race with one in flight
    return stats_;
  }

 private:

  void helper_loop(Worker* w) {
    uint32_t seen = w->invite.load(std::memory_order_acquire);
    for (;;) {
      auto invited = [&] { return w->invite.load(std::memory_order_acquire) != seen; };
      if (!spin_until(invited, helper_wait_ns())) {
        w->sleeping.store(true, std::memory_order_seq_cst);
        while (w->invite.load(std::memory_order_seq_cst) == seen) futex_wait(w->invite, seen);
        w->sleeping.store(false, std::memory_order_relaxed);
      }
      seen = w->invite.load(std::memory_order_acquire);
      t_in_region = true;
      work(seen);
      t_in_region = false;
    }
  }

  // Starts workers until there are `n`; returns how many exist (fewer if the OS refuses).
  int ensure_workers(int n) {
    while ((int)workers_.size() < n) {
      Worker* w = new Worker;
      w->invite.store(gen_, std::memory_order_relaxed);
      try {
        std::thread([this, w] {
#ifdef __linux__
          pthread_setname_np(pthread_self(), "tg-worker");
#endif
          helper_loop(w);
        }).detach();
      } catch (const std::system_error&) {
        delete w;
        break;
      }
      workers_.push_back(w);
    }
    return (int)workers_.size();
  }

  std::atomic<bool> busy_{false};
  ParallelStats stats_;  // updated by the thread holding busy_
  uint32_t gen_ = 0;  // written only by the thread holding busy_
  std::vector<Worker*> workers_, abandoned_;
  // The job: written before job_ is published, read only by threads holding an
  // unfinished chunk of it.
  alignas(64) std::atomic<uint64_t> job_{0};
  parallel_detail::ChunkFn fn_ = nullptr;
  void* ctx_ = nullptr;
  int64_t n_ = 0;
  uint32_t chunks_ = 0;
  alignas(64) std::atomic<uint32_t> done_{0};  // chunks finished; futex word of the caller
  std::atomic<bool> caller_sleeping_{false};
  std::atomic<bool> failed_{false};
  std::mutex error_mu_;
  std::exception_ptr error_;
};

// Never destroyed: workers may sleep in it until the process exits.
Pool* g_pool = [] {
  pthread_atfork(nullptr, nullptr, [] { g_pool->reset_after_fork(); });
  return new Pool;
}();

std::atomic<int> g_threads{0};  // 0: not set yet

// A positive integer from the environment, or 0. OMP_NUM_THREADS may be a list ("4,2"):
// its first entry is the outer level.
int env_threads(const char* name) {
  const char* s = std::getenv(name);
  if (!s || !*s) return 0;
  char* end = nullptr;
  const long v = std::strtol(s, &end, 10);
  if (end == s || (*end && *end != ',') || v < 1) return 0;
  return (int)std::min<long>(v, 1 << 16);
}

// The CPU quota of this process's cgroup (v2 cpu.max, or v1 cfs quota), rounded up; 0
// when there is none or it cannot be read. Each level up to the root may cap it.
int cgroup_cpu_limit() {
  std::ifstream cg("/proc/self/cgroup");
  std::string line;
  double best = 0;
  auto consider = [&](double quota, double period) {
    if (quota > 0 && period > 0 && (best == 0 || quota / period < best)) best = quota / period;
  };
  while (std::getline(cg, line)) {
    const size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1);
    std::string path = line.substr(b + 1);
    const bool v2 = controllers.empty();
    if (!v2 && controllers.find("cpu") == std::string::npos) continue;
    for (;;) {
      if (v2) {
        std::ifstream f("/sys/fs/cgroup" + path + "/cpu.max");
        std::string q;
        double period = 0;
        if (f >> q >> period && q != "max") consider(std::atof(q.c_str()), period);
      } else {
        for (const char* mount : {"/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu"}) {
          std::ifstream fq(std::string(mount) + path + "/cpu.cfs_quota_us");
          std::ifstream fp(std::string(mount) + path + "/cpu.cfs_period_us");
          double q = 0, p = 0;
          if (fq >> q && fp >> p) {
            consider(q, p);
            break;
          }
        }
      }
      if (path.empty() || path == "/") break;
      const size_t slash = path.find_last_of('/');
      path = slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
    }
  }
  return best > 0 ? std::max(1, (int)std::ceil(best - 1e-9)) : 0;
}

int default_threads() {
  if (int n = env_threads("TG_NUM_THREADS")) return n;
  if (int n = env_threads("OMP_NUM_THREADS")) return n;
  return available_cpus();
}

}  // namespace

namespace parallel_detail {
void run(int64_t n, int64_t chunks, int threads, ChunkFn fn, void* ctx) {
  if (threads > 1 && chunks > 1 && !t_in_region && g_pool->run(n, chunks, threads, fn, ctx)) return;
  fn(ctx, 0, n);  // nested, or the pool is busy with another thread's region
}
}  // namespace parallel_detail

int available_cpus() {
  int n = 0;
#ifdef __linux__
  cpu_set_t* set = CPU_ALLOC(4096);
  const size_t size = CPU_ALLOC_SIZE(4096);
  if (set && sched_getaffinity(0, size, set) == 0) n = CPU_COUNT_S(size, set);
  if (set) CPU_FREE(set);
#endif
  if (n <= 0) n = (int)std::max(1u, std::thread::hardware_concurrency());
  if (int quota = cgroup_cpu_limit()) n = std::min(n, quota);
  return n;
}

bool in_parallel_region() { return t_in_region; }

ParallelStats parallel_stats() { return g_pool->stats(); }

int get_num_threads() {
  int n = g_threads.load(std::memory_order_relaxed);
  if (n > 0) return n;
  static const int dflt = default_threads();
  return dflt;
}

void set_num_threads(int n) {
  TG_CHECK(n >= 1, ValueError, "Number of threads must be positive, got ", n);
  g_threads.store(n, std::memory_order_relaxed);
}

}  // namespace tg
