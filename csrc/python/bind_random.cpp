#include "ops/ops.h"
#include "python/bind.h"

namespace tg::bind {

void bind_random(py::module_& m, TensorClass& cls) {}

}  // namespace tg::bind
