#include "core/storage.h"

#include "core/error.h"

#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace tg {

namespace {

// Small buffers come from malloc (fast already); only these sizes and up are pooled.
constexpr size_t kPoolMin = 4096;
// Upper bound on what the pool keeps cached; beyond it freed buffers go back to the OS.
constexpr size_t kPoolMaxCached = size_t(1) << 30;

// Rounds up to 64 bytes, and above kPoolMin to one of 4 steps per power of two, so
// nearby sizes share a class while the waste stays under 25%.
size_t size_class(size_t n) {
  n = (n + 63) / 64 * 64;
  if (n < kPoolMin) return n == 0 ? 64 : n;
  size_t p = size_t(1) << (63 - __builtin_clzll(n));  // highest power of two <= n
  size_t step = p / 4;
  return (n + step - 1) / step * step;
}

struct Pool {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> free;
  size_t cached = 0, buffers = 0, hits = 0, misses = 0;
};

Pool& pool() {
  static Pool* p = new Pool;  // never destroyed: storages may outlive static teardown
  return *p;
}

#ifdef TG_NO_POOL
constexpr bool kPoolEnabled = false;  // sanitizer builds: let ASan see every free
#else
constexpr bool kPoolEnabled = true;
#endif

}  // namespace

std::shared_ptr<Storage> Storage::allocate(size_t nbytes) {
  auto s = std::make_shared<Storage>();
  size_t cap = size_class(nbytes);
  if (cap < nbytes) throw std::bad_alloc();  // overflow
  if (kPoolEnabled && cap >= kPoolMin) {
    Pool& p = pool();
    std::lock_guard<std::mutex> lock(p.mu);
    auto it = p.free.find(cap);
    if (it != p.free.end() && !it->second.empty()) {
      s->data = it->second.back();
      it->second.pop_back();
      p.cached -= cap;
      p.buffers--;
      p.hits++;
    } else {
      p.misses++;
    }
  }
  if (!s->data) s->data = std::aligned_alloc(64, cap);
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
  if (kPoolEnabled && capacity >= kPoolMin) {
    Pool& p = pool();
    std::lock_guard<std::mutex> lock(p.mu);
    if (p.cached + capacity <= kPoolMaxCached) {
      p.free[capacity].push_back(data);
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
  return {kPoolEnabled, p.cached, p.buffers, p.hits, p.misses};
}

void pool_empty_cache() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  for (auto& kv : p.free)
    for (void* ptr : kv.second) std::free(ptr);
  p.free.clear();
  p.cached = 0;
  p.buffers = 0;
}

}  // namespace tg
