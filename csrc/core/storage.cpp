#include "core/storage.h"

#include <cstdlib>
#include <new>

namespace tg {

std::shared_ptr<Storage> Storage::allocate(size_t nbytes) {
  auto s = std::make_shared<Storage>();
  size_t rounded = (nbytes + 63) / 64 * 64;
  if (rounded == 0) rounded = 64;
  if (rounded < nbytes) throw std::bad_alloc();  // overflow
  s->data = std::aligned_alloc(64, rounded);
  if (!s->data) throw std::bad_alloc();
  s->nbytes = nbytes;
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
  if (!owner && data) std::free(data);
}

}  // namespace tg
