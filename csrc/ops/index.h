#pragma once
#include "core/tensor.h"

namespace tg {

}  // namespace tg
