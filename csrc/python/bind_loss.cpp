#include "ops/ops.h"
#include "python/bind.h"

namespace tg::bind {

void bind_loss(py::module_& m, TensorClass& cls) {}

}  // namespace tg::bind
