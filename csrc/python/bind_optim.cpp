#include "ops/ops.h"
#include "python/bind.h"

namespace tg::bind {

void bind_optim(py::module_& m, TensorClass& cls) {}

}  // namespace tg::bind
