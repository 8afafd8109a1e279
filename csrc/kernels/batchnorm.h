#pragma once
// Batch normalization on a contiguous (N, C, S) buffer: N the batch, C the channels, S the
// product of the trailing (spatial) dims, 1 for an (N, C) input. Each channel is normalized
// over its N * S elements. Per-channel statistics and coefficients are double; the
// elementwise passes compute in double too, so float32 keeps its precision when a
// channel's mean is large against its spread. No autograd.
#include <cstdint>

namespace tg::kernels {

struct BnShape {
  int64_t n, c, s;
};

// mean[c] and the biased variance var[c] of each channel in one pass over x, accumulated in
// double around a per-channel shift (the channel's first element), so a large mean does not
// cancel the variance away. Needs n * s > 0. The summation order is fixed by the shape, so
// the result does not depend on the number of threads.
template <class T>
void batchnorm_stats(const T* x, BnShape sh, double* mean, double* var);

// y = (x - mean[c]) * invstd[c] * w[c] + b[c]; w and b may be null (1 and 0).
template <class T>
void batchnorm_apply(const T* x, BnShape sh, const double* mean, const double* invstd, const T* w,
                     const T* b, T* y);

// The backward of batchnorm_apply given dL/dy = g, in one call. With `training` the mean and
// invstd are the batch's own statistics (functions of x), otherwise constants (running
// stats). Any of gx, gw, gb may be null (not wanted); w may be null (1).
template <class T>
void batchnorm_backward(const T* x, const T* g, BnShape sh, const double* mean, const double* invstd,
                        const T* w, bool training, T* gx, T* gw, T* gb);

}  // namespace tg::kernels
