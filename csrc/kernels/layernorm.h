#pragma once
// Layer normalization on a contiguous (M, N) buffer: each of the M rows is normalized over
// its N elements (the product of normalized_shape), then scaled and shifted elementwise by
// w and b of N elements. Row statistics accumulate in double. No autograd.
#include <cstdint>

namespace tg::kernels {

// y = (x - mean) * rstd * w + b for each row, and the row's mean and rstd = 1 / sqrt(var +
// eps) (biased variance) into mean[m], rstd[m]. w and b may be null (1 and 0). Rows run in
// parallel.
template <class T>
void layernorm_forward(const T* x, int64_t M, int64_t N, const T* w, const T* b, double eps, T* y,
                       double* mean, double* rstd);

// The backward of layernorm_forward given dL/dy = g, in one call: gx (rows in parallel),
// gw = sum over rows of g * xhat and gb = sum over rows of g (fixed blocks of rows with
// partial sums, so the result does not depend on the thread count). Any of gx, gw, gb may
// be null (not wanted); w may be null (1).
template <class T>
void layernorm_backward(const T* x, const T* g, int64_t M, int64_t N, const double* mean, const double* rstd,
                        const T* w, T* gx, T* gw, T* gb);

// Group normalization on a contiguous (N, C, HW) buffer: the C channels form G groups of
// C / G consecutive channels, and each (n, group) is normalized over its (C / G) * HW
// elements like a layer-norm row; the affine is per channel (w, b of C, or null). mean and
// rstd get N * G entries.
template <class T>
void groupnorm_forward(const T* x, int64_t N, int64_t C, int64_t HW, int64_t G, const T* w, const T* b,
                       double eps, T* y, double* mean, double* rstd);

// The backward of groupnorm_forward given dL/dy = g, in one call: per-(n, channel) sums of
// g and g * x first (parallel over them), then gw and gb (parallel over channels, summing
// over n in order) and gx (parallel over (n, channel)). Any of gx, gw, gb may be null.
template <class T>
void groupnorm_backward(const T* x, const T* g, int64_t N, int64_t C, int64_t HW, int64_t G, const double* mean,
                        const double* rstd, const T* w, T* gx, T* gw, T* gb);

}  // namespace tg::kernels
