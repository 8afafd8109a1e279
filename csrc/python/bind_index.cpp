#include "ops/ops.h"
#include "python/bind.h"

namespace tg::bind {

void bind_index(py::module_& m, TensorClass& cls) {}

}  // namespace tg::bind
