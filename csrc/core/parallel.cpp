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

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
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

// How long a helper stays awake after a region, spinning for the next one. A training
// step runs one region after another with a few to a few hundred microseconds of Python
// in between; a helper still awake joins the next region at once, while waking a
// sleeping one costs the caller a futex syscall (~10 us here) and the helper tens of
// microseconds more to arrive. But a spinner that shares a core (on a busy machine the
// OS often wakes a helper on its waker's core) takes that time from the caller. 50 us
// was the best compromise measured (MNIST MLP epochs at batch 64 and 256, quiet and
// beside one and two busy processes, against 0, 200 and 1000 us). TG_SPIN_US overrides
// it (0: sleep at once).
int64_t helper_wait_ns() {
  static const int64_t ns = [] {
    const char* s = std::getenv("TG_SPIN_US");
    return s && *s ? std::max(0L, std::atol(s)) * 1000 : 50000;
  }();
  return ns;
}
// The caller waiting for the last chunks: a short spin, then sleep (freeing its core lets
// the OS move a parked helper there).
constexpr int64_t kCallerWaitNs = 50000;
// A gap this long between two checks of a spin means the OS gave the core to another
// thread: the machine is busy, or the spinner shares a core with the thread it waits
// for. The spin ends. On a quiet machine it does not happen.
//
// Spinning never yields the core with sched_yield: measured here (Linux 6.18), a
// yielding spinner keeps sharing a core with the thread it waits for instead of being
// moved to the idle one, and answers a store after milliseconds at the 90th percentile,
// where a pausing spinner answers in 0.13 us.
constexpr int64_t kPreemptedNs = 30000;

// Spins until pred(), until `ns` elapse, or until the spinner finds it was descheduled.
enum class Spin { Ready, Timeout, Preempted };
template <class Pred>
Spin spin_until(Pred pred, int64_t ns) {
  if (pred()) return Spin::Ready;
  const auto start = Clock::now();
  auto last = start;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (pred()) return Spin::Ready;
      cpu_relax();
    }
    const auto now = Clock::now();
    if (now - last >= std::chrono::nanoseconds(kPreemptedNs)) return pred() ? Spin::Ready : Spin::Preempted;
    if (now - start >= std::chrono::nanoseconds(ns)) return pred() ? Spin::Ready : Spin::Timeout;
    last = now;
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
  std::atomic<bool> preempted{false};  // found itself descheduled while waiting for work
  std::atomic<uint32_t> joined{0};     // the last generation it ran a chunk of...
  std::atomic<int> cpu{-1};            // ...on this CPU
};

inline int current_cpu() {
#ifdef __linux__
  return sched_getcpu();
#else
  return -1;
#endif
}

// Moves the calling thread off `cpu` (if its affinity mask allows another), then gives it
// its whole mask back. Woken from a futex, a helper is often placed on its waker's CPU:
// on a machine with no idle core, and on virtual machines whose idle virtual CPUs look
// preempted to the guest's scheduler (measured on this development VM: most wake-ups of
// a helper landed on the caller's CPU with the other one idle). Sharing the caller's core
// is the one place a helper only does harm.
void move_off_cpu(int cpu) {
#ifdef __linux__
  cpu_set_t mask;
  if (cpu < 0 || cpu >= CPU_SETSIZE || pthread_getaffinity_np(pthread_self(), sizeof mask, &mask) != 0) return;
  if (!CPU_ISSET(cpu, &mask) || CPU_COUNT(&mask) < 2) return;
  cpu_set_t others = mask;
  CPU_CLR(cpu, &others);
  if (pthread_setaffinity_np(pthread_self(), sizeof others, &others) == 0)
    pthread_setaffinity_np(pthread_self(), sizeof mask, &mask);
#else
  (void)cpu;
#endif
}

thread_local bool t_in_region = false;

class Pool {
 public:
  // Runs one region; false (nothing run) when another region holds the pool or the pool
  // is backing off (see below): the caller then runs it alone.
  bool run(int64_t n, int64_t chunks, int threads, parallel_detail::ChunkFn fn, void* ctx) {
    if (busy_.exchange(true, std::memory_order_acquire)) return false;
    const auto start = Clock::now();
    const int helpers = std::min({threads - 1, ensure_workers(threads - 1), allowed_helpers(threads - 1, start)});
    if (helpers <= 0) {
      stats_.backed_off += 1;
      busy_.store(false, std::memory_order_release);
      return false;
    }
    chunks = std::min(chunks, kMaxChunks);
    const uint32_t gen = ++gen_;
    fn_ = fn, ctx_ = ctx, n_ = n, chunks_ = (uint32_t)chunks;
    caller_cpu_.store(current_cpu(), std::memory_order_relaxed);
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
    const auto mine_done = Clock::now();
    const int64_t waited = wait_done();
    t_in_region = false;
    // A helper that was descheduled while waiting, or that ran a chunk on the caller's own
    // CPU, is sharing a core: the region's own timing cannot show what that costs the
    // caller, so it counts against the helpers as a fixed debt.
    bool preempted = false;
    const int me = current_cpu();
    for (int i = 0; i < helpers; ++i) {
      Worker& w = *workers_[i];
      preempted |= w.preempted.exchange(false, std::memory_order_relaxed);
      if (me >= 0 && w.joined.load(std::memory_order_relaxed) == gen && w.cpu.load(std::memory_order_relaxed) == me) {
        preempted = true;
        stats_.shared_core += 1;
      }
    }
    judge(helpers, chunks, mine, std::chrono::duration_cast<std::chrono::nanoseconds>(mine_done - start).count(),
          waited, preempted, Clock::now());
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
  // leaked on purpose (never touched again), the pool starts empty.
  void reset_after_fork() {
    workers_.clear();
    busy_.store(false);
  }

 private:
  // Claims and runs chunks of generation `gen` until none is left; returns how many.
  // A helper (w) records the CPU it runs its first chunk on.
  int64_t work(uint32_t gen, Worker* w = nullptr) {
    uint64_t cur = job_.load(std::memory_order_acquire);
    for (int64_t ran = 0;; ++ran) {
      const uint32_t g = uint32_t(cur >> 32), total = uint32_t(cur >> 16) & 0xFFFF, next = cur & 0xFFFF;
      if (g != gen || next >= total) return ran;
      if (!job_.compare_exchange_weak(cur, cur + 1, std::memory_order_acq_rel, std::memory_order_acquire)) {
        --ran;
        continue;
      }
      // Chunk `next` of job `gen` is ours and unfinished, so the job (fn_, ctx_, n_) stays.
      if (w && ran == 0) {
        w->cpu.store(current_cpu(), std::memory_order_relaxed);
        w->joined.store(gen, std::memory_order_relaxed);  // published by the done_ add below
      }
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

  // Waits for the chunks helpers still hold; returns the nanoseconds waited.
  int64_t wait_done() {
    const uint32_t total = chunks_;
    auto finished = [&] { return done_.load(std::memory_order_acquire) == total; };
    if (finished()) return 0;
    const auto start = Clock::now();
    stats_.waits += 1;
    if (spin_until(finished, kCallerWaitNs) != Spin::Ready) {
      stats_.sleeps += 1;
      caller_sleeping_.store(true, std::memory_order_seq_cst);
      for (uint32_t d; (d = done_.load(std::memory_order_seq_cst)) != total;) futex_wait(done_, d);
      caller_sleeping_.store(false, std::memory_order_relaxed);
    }
    const int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
    stats_.wait_ns += ns;
    return ns;
  }

  // Backing off. Each region is judged by what the helpers won or lost: the caller's own
  // chunks give the time one thread would have taken for all of them, against which the
  // region's time (the caller's chunks plus its wait for the helpers' last ones) is a
  // gain or a loss. Losses add to a debt, gains pay it off (banking at most kCreditNs),
  // and a helper that found itself descheduled while waiting for work adds kPreemptedDebtNs
  // (it was sharing a core, maybe the caller's own). A debt above kDebtNs means some helper
  // is not getting a core of its own (the machine is busy, or the OS put it on the
  // caller's core): one helper is taken away, and given back after `backoff_ns_`, which
  // doubles with each new debt (up to kMaxBackoffNs) and halves after four of its own
  // length without one. With every helper taken away regions run on the caller alone,
  // waking no one: about as fast as one thread. Sporadic hiccups (an interrupt, the host
  // taking the virtual CPU for a moment) are paid off by the gains around them.
  static constexpr int64_t kMinBackoffNs = 1000000, kMaxBackoffNs = 64000000;
  static constexpr int64_t kDebtNs = 2000000, kCreditNs = 2000000, kPreemptedDebtNs = 500000;
  int allowed_helpers(int wanted, Clock::time_point now) {
    if (backoff_ns_ > 0 && now - last_strike_ >= std::chrono::nanoseconds(4 * backoff_ns_)) {
      backoff_ns_ /= 2;
      last_strike_ = now;
    }
    if (taken_ > 0 && now >= give_back_at_) {
      taken_ -= 1;
      give_back_at_ = now + std::chrono::nanoseconds(std::max(backoff_ns_, kMinBackoffNs));
    }
    return wanted - std::min(taken_, wanted);
  }
  void judge(int helpers, int64_t chunks, int64_t mine, int64_t mine_ns, int64_t waited_ns, bool preempted,
             Clock::time_point now) {
    if (mine > 0) debt_ns_ += mine_ns + waited_ns - mine_ns * chunks / mine;
    if (preempted) debt_ns_ += kPreemptedDebtNs;
    debt_ns_ = std::max(debt_ns_, -kCreditNs);
    if (debt_ns_ <= kDebtNs) return;
    stats_.late += 1;
    debt_ns_ = 0;
    backoff_ns_ = std::clamp(2 * backoff_ns_, kMinBackoffNs, kMaxBackoffNs);
    taken_ = std::min(taken_, helpers - 1) + 1;  // one fewer than this region had
    give_back_at_ = now + std::chrono::nanoseconds(backoff_ns_);
    last_strike_ = now;
  }

 public:
  ParallelStats stats() {  // a snapshot between regions; may race with one in flight
    ParallelStats s = stats_;
    s.helper_sleeps = helper_sleeps_.load(std::memory_order_relaxed);
    s.helper_preempted = helper_preempted_.load(std::memory_order_relaxed);
    s.helper_moved = helper_moved_.load(std::memory_order_relaxed);
    return s;
  }

 private:
  void helper_loop(Worker* w) {
    uint32_t seen = w->invite.load(std::memory_order_acquire);
    for (;;) {
      auto invited = [&] { return w->invite.load(std::memory_order_acquire) != seen; };
      const Spin spun = spin_until(invited, helper_wait_ns());
      if (spun == Spin::Preempted) {
        // Descheduled while spinning: the core is contended, maybe by the caller itself
        // (on a machine with no idle core the OS tends to wake a helper on its waker's
        // core). Joining a region now would slow the caller down: skip it, sleep, and
        // tell the caller, who backs off from waking this helper for a while.
        seen = w->invite.load(std::memory_order_acquire);
        w->preempted.store(true, std::memory_order_relaxed);
      }
      if (spun != Spin::Ready) {
        helper_sleeps_.fetch_add(1, std::memory_order_relaxed);
        if (spun == Spin::Preempted) helper_preempted_.fetch_add(1, std::memory_order_relaxed);
        w->sleeping.store(true, std::memory_order_seq_cst);
        while (w->invite.load(std::memory_order_seq_cst) == seen) futex_wait(w->invite, seen);
        w->sleeping.store(false, std::memory_order_relaxed);
      }
      seen = w->invite.load(std::memory_order_acquire);
      const int caller_cpu = caller_cpu_.load(std::memory_order_relaxed);
      if (spun != Spin::Ready && current_cpu() == caller_cpu) {
        helper_moved_.fetch_add(1, std::memory_order_relaxed);
        move_off_cpu(caller_cpu);
      }
      t_in_region = true;
      work(seen, w);
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
  // Updated by the thread holding busy_:
  ParallelStats stats_;
  int taken_ = 0;  // helpers taken away by backing off
  int64_t backoff_ns_ = 0, debt_ns_ = 0;
  Clock::time_point give_back_at_{}, last_strike_{};
  uint32_t gen_ = 0;  // written only by the thread holding busy_
  std::vector<Worker*> workers_;
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
  std::atomic<int64_t> helper_sleeps_{0}, helper_preempted_{0}, helper_moved_{0};
  std::atomic<int> caller_cpu_{-1};
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
  fn(ctx, 0, n);  // nested, the pool busy with another thread's region, or backing off
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

bool num_threads_set() { return g_threads.load(std::memory_order_relaxed) > 0; }

void set_num_threads(int n) {
  TG_CHECK(n >= 1, ValueError, "Number of threads must be positive, got ", n);
  g_threads.store(n, std::memory_order_relaxed);
}

}  // namespace tg
