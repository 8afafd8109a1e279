// The float32 row loops of the recurrent layers compiled for AVX512 (rnn.cpp makes the
// run-time choice).
#include "kernels/rnn_impl.h"

TG_RNN_KERNELS(avx512, 64)
