#include "core/storage.h"

#include "core/error.h"

#include <cstdlib>
#include <mutex>
#if defined(__linux__)
#include <sys/mman.h>
#endif
#include <new>
#include <string>
#include <vector>

namespace tg {

namespace {

// Upper bound on what the pool keeps cached; beyond it freed buffers go back to the OS.
constexpr size_t kPoolMaxCached = size_t(1) << 30;
// Below this, classes are every multiple of 64 bytes; from it on, 4 per power of two,
// so nearby sizes share a class while the waste stays under 25%.
constexpr size_t kFineLimit = 4096;
constexpr int kFineClasses = kFineLimit / 64;
constexpr int kNumClasses = kFineClasses + 4 * 64;

// Every buffer is pooled, small ones included: 64-byte aligned allocations skip malloc's
// per-thread fast path, and a tiny op would otherwise pay more for its output buffer
// than for its arithmetic.
struct SizeClass {
  int index;
  size_t bytes;
};

SizeClass size_class(size_t n) {
  if (n > (size_t(1) << 62)) throw std::bad_alloc();  // rounding up would overflow
  n = n == 0 ? 64 : (n + 63) / 64 * 64;
  if (n < kFineLimit) return {int(n / 64), n};
  int log2 = 63 - __builtin_clzll(n);  // highest power of two <= n
  size_t step = (size_t(1) << log2) / 4;
  size_t k = (n + step - 1) / step;  // 4..8 steps of this power of two
  return {kFineClasses + 4 * (log2 - 12) + int(k - 4), k * step};
}

struct Pool {
  std::mutex mu;
  std::vector<void*> free[kNumClasses];
  size_t cached = 0, buffers = 0, hits = 0, misses = 0;
};

Pool& pool() {
  static Pool* p = new Pool;  // never destroyed: storages may outlive static teardown
  return *p;
}

// Off in sanitizer builds (ASan must see every free) and when TG_NO_POOL=1 is set, e.g.
// to check memory with valgrind or to measure what the pool buys.
bool pool_enabled() {
#ifdef TG_NO_POOL
  return false;
#else
  static const bool on = [] {
    const char* v = std::getenv("TG_NO_POOL");
    return !v || !*v || std::string(v) == "0";
  }();
  return on;
#endif
}

// Big buffers are 2 MB aligned and advised MADV_HUGEPAGE, as numpy does for its arrays of
// 4 MB and more: with transparent huge pages in "madvise" mode (common on servers) a
// buffer otherwise faults in 4 KB pages, and a pass over 64 MB costs 16k TLB misses and
// page faults where huge pages need 32. Measured on the all-reduce of a 16 MB tensor:
// MPI's copies into our buffers ran ~25% slower than into numpy's until this.
// TG_MADVISE_HUGEPAGE=0 turns it off (numpy's switch is NUMPY_MADVISE_HUGEPAGE).
constexpr size_t kHugePage = size_t(2) << 20;
constexpr size_t kHugeFrom = size_t(4) << 20;

bool hugepage_enabled() {
  static const bool on = [] {
    const char* v = std::getenv("TG_MADVISE_HUGEPAGE");
    return !v || !*v || std::string(v) != "0";
  }();
  return on;
}

void* fresh_buffer(size_t cap) {
  if (cap < kHugeFrom || !hugepage_enabled()) return std::aligned_alloc(64, cap);
  void* p = nullptr;
  if (posix_memalign(&p, kHugePage, cap) != 0) return nullptr;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  madvise(p, cap / kHugePage * kHugePage, MADV_HUGEPAGE);  // advice only: failure is harmless
#endif
  return p;
}

}  // namespace

std::shared_ptr<Storage> Storage::allocate(size_t nbytes) {
  auto s = std::make_shared<Storage>();
  SizeClass c = size_class(nbytes);
  size_t cap = c.bytes;
  if (pool_enabled()) {
    Pool& p = pool();
    std::lock_guard<std::mutex> lock(p.mu);
    std::vector<void*>& list = p.free[c.index];
    if (!list.empty()) {
      s->data = list.back();
      list.pop_back();
      p.cached -= cap;
      p.buffers--;
      p.hits++;
    } else {
      p.misses++;
    }
  }
  if (!s->data) s->data = fresh_buffer(cap);
  if (!s->data) throw std::bad_alloc();
  s->nbytes = nbytes;
  s->capacity = cap;
  return s;
}

std::shared_ptr<Storage> Storage::wrap(void* data, size_t nbytes, std::shared_ptr<void> owner) {
  auto s = std::make_shared<Storage>();
  s->data = data;
  s->nbytes = nbytes;
  s->owner = std::move(owner);
  return s;
}

Storage::~Storage() {
  if (owner || !data) return;
  if (pool_enabled()) {
    Pool& p = pool();
    std::lock_guard<std::mutex> lock(p.mu);
    if (p.cached + capacity <= kPoolMaxCached) {
      p.free[size_class(capacity).index].push_back(data);
      p.cached += capacity;
      p.buffers++;
      return;
    }
  }
  std::free(data);
}

void check_storage_writable(const Storage& s) {
  TG_CHECK(!s.readonly, RuntimeError,
           "cannot write in place to a tensor that shares memory with a read-only array (e.g. a "
           "read-only numpy array or memory map); clone() it first");
}

PoolStats pool_stats() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  return {pool_enabled(), p.cached, p.buffers, p.hits, p.misses};
}

void pool_empty_cache() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  for (auto& list : p.free) {
    for (void* ptr : list) std::free(ptr);
    list.clear();
  }
  p.cached = 0;
  p.buffers = 0;
}

}  // namespace tg
