// The float32 row loops of layer normalization compiled for AVX-512 (layernorm.cpp makes
// the run-time choice).
#include "kernels/layernorm_impl.h"

TG_LAYERNORM_KERNELS(avx512, 64)
