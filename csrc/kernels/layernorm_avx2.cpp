// The float32 row loops of layer normalization compiled for AVX2 (layernorm.cpp makes the
// run-time choice).
#include "kernels/layernorm_impl.h"

TG_LAYERNORM_KERNELS(avx2, 32)
