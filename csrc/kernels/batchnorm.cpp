// Batch normalization kernels (see batchnorm.h). Work is cut so both N and C parallelize:
// a (N, C) input (S == 1) in blocks of rows, each holding partial sums for every channel
// (the inner loop runs along the channels, which are contiguous); otherwise in pieces of one
// channel over a block of consecutive n, each a contiguous run of S per n.
#include "kernels/batchnorm.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "core/parallel.h"

namespace tg::kernels {

namespace {

// Elements behind one partial sum. Fixed, so the summation order (and the result) does not
// depend on the thread count; large enough that the partials are few next to the data.
constexpr int64_t kBlockElems = 4096;

// a[c] and b[c]: the sums over (n, s) of the two values e(i, c) returns for element i (its
// linear index) of channel c, in double.
template <class E>
void channel_sums(BnShape sh, double* a, double* b, E e) {
  const int64_t N = sh.n, C = sh.c, S = sh.s;
  std::fill(a, a + C, 0.0);
  std::fill(b, b + C, 0.0);
  if (N == 0 || C == 0 || S == 0) return;
  if (S == 1) {
    const int64_t rows = std::max<int64_t>(1, kBlockElems / C);
    const int64_t nb = (N + rows - 1) / rows;
    std::vector<double> pa(nb * C, 0.0), pb(nb * C, 0.0);
    parallel_for(nb, rows * C, [&](int64_t lo, int64_t hi) {
      for (int64_t k = lo; k < hi; ++k) {
        double* ra = &pa[k * C];
        double* rb = &pb[k * C];
        const int64_t end = std::min(N, (k + 1) * rows);
        for (int64_t n = k * rows; n < end; ++n)
          for (int64_t c = 0; c < C; ++c) {
            const auto [u, v] = e(n * C + c, c);
            ra[c] += u;
            rb[c] += v;
          }
      }
    });
    for (int64_t k = 0; k < nb; ++k)
      for (int64_t c = 0; c < C; ++c) a[c] += pa[k * C + c], b[c] += pb[k * C + c];
    return;
  }
  const int64_t rows = std::max<int64_t>(1, kBlockElems / S);
  const int64_t nb = (N + rows - 1) / rows;
  std::vector<double> pa(C * nb), pb(C * nb);
  parallel_for(C * nb, rows * S, [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      const int64_t c = t / nb, k = t % nb, end = std::min(N, (k + 1) * rows);
      // four lanes: independent additions the compiler can keep in one vector register
      double u[4] = {0, 0, 0, 0}, v[4] = {0, 0, 0, 0};
      for (int64_t n = k * rows; n < end; ++n) {
        const int64_t base = (n * C + c) * S;
        int64_t s = 0;
        for (; s + 4 <= S; s += 4)
          for (int j = 0; j < 4; ++j) {
            const auto [p, q] = e(base + s + j, c);
            u[j] += p;
            v[j] += q;
          }
        for (; s < S; ++s) {
          const auto [p, q] = e(base + s, c);
          u[0] += p;
          v[0] += q;
        }
      }
      pa[t] = (u[0] + u[1]) + (u[2] + u[3]);
      pb[t] = (v[0] + v[1]) + (v[2] + v[3]);
    }
  });
  for (int64_t c = 0; c < C; ++c)
    for (int64_t k = 0; k < nb; ++k) a[c] += pa[c * nb + k], b[c] += pb[c * nb + k];
}

// Calls f(i0, len, c) over every run of one channel's consecutive elements, in parallel.
template <class F>
void for_each_run(BnShape sh, F f) {
  const int64_t N = sh.n, C = sh.c, S = sh.s;
  if (S == 1) {
    parallel_for(N, C, [&](int64_t lo, int64_t hi) {
      for (int64_t n = lo; n < hi; ++n)
        for (int64_t c = 0; c < C; ++c) f(n * C + c, int64_t(1), c);
    });
    return;
  }
  parallel_for(N * C, S, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) f(r * S, S, r % C);
  });
}

}  // namespace

template <class T>
void batchnorm_stats(const T* x, BnShape sh, double* mean, double* var) {
  const int64_t C = sh.c;
  std::vector<double> shift(C);
  for (int64_t c = 0; c < C; ++c) shift[c] = double(x[c * sh.s]);  // element (0, c, 0)
  const double* k = shift.data();
  channel_sums(sh, mean, var, [x, k](int64_t i, int64_t c) {
    const double d = double(x[i]) - k[c];
    return std::pair<double, double>(d, d * d);
  });
  const double m = double(sh.n) * double(sh.s);
  for (int64_t c = 0; c < C; ++c) {
    const double d = mean[c] / m;
    mean[c] = k[c] + d;
    var[c] = std::max(var[c] / m - d * d, 0.0);
  }
}

template <class T>
void batchnorm_apply(const T* x, BnShape sh, const double* mean, const double* invstd, const T* w,
                     const T* b, T* y) {
  for_each_run(sh, [&](int64_t i0, int64_t len, int64_t c) {
    const double m = mean[c], a = invstd[c] * (w ? double(w[c]) : 1.0), o = b ? double(b[c]) : 0.0;
    for (int64_t i = i0; i < i0 + len; ++i) y[i] = T((double(x[i]) - m) * a + o);
  });
}

template <class T>
void batchnorm_backward(const T* x, const T* g, BnShape sh, const double* mean, const double* invstd,
                        const T* w, bool training, T* gx, T* gw, T* gb) {
  const int64_t C = sh.c;
  // sum_g[c] = sum of g, sum_gd[c] = sum of g * (x - mean): dL/dbias and dL/dweight / invstd
  std::vector<double> sum_g(C, 0.0), sum_gd(C, 0.0);
  if (training || gw || gb)
    channel_sums(sh, sum_g.data(), sum_gd.data(), [x, g, mean](int64_t i, int64_t c) {
      const double gi = double(g[i]);
      return std::pair<double, double>(gi, gi * (double(x[i]) - mean[c]));
    });
  for (int64_t c = 0; c < C; ++c) {
    if (gw) gw[c] = T(sum_gd[c] * invstd[c]);
    if (gb) gb[c] = T(sum_g[c]);
  }
  if (!gx) return;
  // dx = a (g - mean(g) - (x - mean) invstd^2 mean(g (x - mean))) in training, where the
  // batch statistics depend on x; a g with constant (running) statistics.
  const double m = double(sh.n) * double(sh.s);
  std::vector<double> mg(C, 0.0), q(C, 0.0);
  if (training && m > 0)
    for (int64_t c = 0; c < C; ++c) {
      mg[c] = sum_g[c] / m;
      q[c] = invstd[c] * invstd[c] * sum_gd[c] / m;
    }
  for_each_run(sh, [&](int64_t i0, int64_t len, int64_t c) {
    const double a = invstd[c] * (w ? double(w[c]) : 1.0), mu = mean[c], mgc = mg[c], qc = q[c];
    for (int64_t i = i0; i < i0 + len; ++i)
      gx[i] = T((double(g[i]) - mgc - (double(x[i]) - mu) * qc) * a);
  });
}

#define TG_BN_INSTANTIATE(T)                                                                        \
  template void batchnorm_stats<T>(const T*, BnShape, double*, double*);                           \
  template void batchnorm_apply<T>(const T*, BnShape, const double*, const double*, const T*,      \
                                   const T*, T*);                                                  \
  template void batchnorm_backward<T>(const T*, const T*, BnShape, const double*, const double*, \
                                      const T*, bool, T*, T*, T*);
TG_BN_INSTANTIATE(float)
TG_BN_INSTANTIATE(double)
#undef TG_BN_INSTANTIATE

}  // namespace tg::kernels
