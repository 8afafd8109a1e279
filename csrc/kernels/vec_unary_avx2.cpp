// The float32 elementwise kernels on 8 lanes, compiled for AVX2 + FMA (vec_unary.cpp makes
// the run-time choice). Only internal-linkage code besides the entry points, so nothing
// compiled with AVX2 can be shared with baseline callers.
#include "kernels/vec_unary_impl.h"

TG_VEC_KERNELS(avx2, 32)
