#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace tg {

// A flat, 64-byte aligned buffer shared by every view of it. Buffers either come from
// the allocator (owned) or wrap foreign memory (numpy, DLPack) kept alive by `owner`.
struct Storage {
  void* data = nullptr;
  size_t nbytes = 0;
  size_t capacity = 0;          // bytes actually allocated (the pool's size class)
  std::shared_ptr<void> owner;  // set for foreign memory; empty when we own `data`
  // Bumped by every in-place write so autograd can detect a saved tensor that changed.
  std::atomic<uint64_t> version{0};
  // Foreign memory that must not be written (a read-only numpy array, e.g. a read-only
  // memory map): in-place ops refuse it instead of faulting.
  bool readonly = false;

  static std::shared_ptr<Storage> allocate(size_t nbytes);
  static std::shared_ptr<Storage> wrap(void* data, size_t nbytes, std::shared_ptr<void> owner);
  ~Storage();
  Storage() = default;
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

// The buffer pool: freed buffers are kept by size class and handed out again, so a
// training loop that allocates the same shapes every step stops faulting in fresh pages.
struct PoolStats {
  bool enabled;
  size_t cached_bytes, cached_buffers, hits, misses;
};
PoolStats pool_stats();
// RuntimeError when `s` is read-only; every in-place write checks this first.
void check_storage_writable(const Storage& s);
void pool_empty_cache();

}  // namespace tg
