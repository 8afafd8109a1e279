// The float32 elementwise kernels on 16 lanes, compiled for AVX-512 (vec_unary.cpp makes
// the run-time choice). As in vec_unary_avx2.cpp, only the entry points have external
// linkage.
#include "kernels/vec_unary_impl.h"

TG_VEC_KERNELS(avx512, 64)
