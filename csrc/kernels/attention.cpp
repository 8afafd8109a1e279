// Fused attention (see attention.h): tiles of queries x tiles of keys, the tile products
// on the packed GEMM (kernels/gemm.h, single-threaded inside a parallel region), the
// softmax row work on the SIMD exp of vec_unary for float32.
#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "core/parallel.h"
#include "kernels/gemm.h"
#include "kernels/random.h"
#include "kernels/vec_unary.h"

namespace tg::kernels {

namespace {

constexpr int64_t kBQ = 64;   // query rows per tile (one task), at most
constexpr int64_t kBK = 128;  // keys per tile

// Query rows per tile: under a causal mask, half as many, so that the tiles on the
// diagonal (a query tile sees the keys up to its last row) compute fewer masked scores:
// at 64 queries, 3/4 of the full square instead of all of it.
template <class T>
int64_t query_tile(const AttnProblem<T>& p) {
  return p.causal ? kBQ / 2 : kBQ;
}

// Keys [j0, j0 + n) that query i may see before the causal mask: n, or the prefix up to i.
template <class T>
int64_t visible(const AttnProblem<T>& p, int64_t i, int64_t j0, int64_t n) {
  return p.causal ? std::clamp<int64_t>(i - j0 + 1, 0, n) : n;
}

template <class T>
constexpr T neg_inf() {
  return -std::numeric_limits<T>::infinity();
}

// The largest of n values (a NaN never wins; -inf when there is none).
template <class T>
T row_max(const T* x, int64_t n) {
  if constexpr (std::is_same_v<T, float>) {
    return vec_row_max(x, n);
  } else {
    T m = neg_inf<T>();
    for (int64_t j = 0; j < n; ++j) m = x[j] > m ? x[j] : m;
    return m;
  }
}

// y[j] = exp(x[j] - m) (y may be x); returns the sum of those.
template <class T>
double exp_sum(const T* x, T m, T* y, int64_t n) {
  if constexpr (std::is_same_v<T, float>) {
    return vec_exp_sum(x, m, y, n);
  } else {
    double s = 0;
    for (int64_t j = 0; j < n; ++j) s += (y[j] = std::exp(x[j] - m));
    return s;
  }
}

// The keep factor of dropout for score (b, i, j): 1 / (1 - p) or 0.
template <class T>
struct Dropout {
  bool on;
  double p;
  T keep_scale;
  uint64_t seed, base;
  int64_t L, S;
  explicit Dropout(const AttnProblem<T>& pr)
      : on(pr.dropout_p > 0), p(pr.dropout_p), keep_scale(pr.dropout_p < 1 ? T(1.0 / (1.0 - pr.dropout_p)) : T(0)),
        seed(pr.seed), base(pr.rng_offset), L(pr.L), S(pr.S) {}
  // f[jj] = factor of (b, i, j0 + jj) for jj < n.
  void factors(int64_t b, int64_t i, int64_t j0, int64_t n, T* f) const {
    const uint64_t c = base + (uint64_t)((b * L + i) * S + j0);
    for (int64_t jj = 0; jj < n; ++jj) f[jj] = uniform01<double>(rand64(seed, c + jj)) >= p ? keep_scale : T(0);
  }
};

// s[r * lds + jj] = scores of queries [i0, i0 + m) against keys [j0, j0 + n) of problem b:
// scale * q k^T, the mask, the causal mask.
template <class T>
void scores(const AttnProblem<T>& p, int64_t b, int64_t i0, int64_t m, int64_t j0, int64_t n, T* s,
            int64_t lds) {
  gemm<T>(m, n, p.E, p.q + p.q_off[b] + i0 * p.q_rs, p.q_rs, 1, p.k + p.k_off[b] + j0 * p.k_rs, 1, p.k_rs, s,
          lds, false);
  const T sc = p.E == 0 ? T(1) : T(p.scale);  // no features: scores 0 (not 0 * inf, the default scale)
  for (int64_t r = 0; r < m; ++r) {
    T* row = s + r * lds;
    const int64_t i = i0 + r;
    for (int64_t jj = 0; jj < n; ++jj) row[jj] *= sc;
    if (p.fmask) {
      const T* mr = p.fmask + p.m_off[b] + i * p.m_rs + j0 * p.m_cs;
      if (p.m_cs == 1) {
        for (int64_t jj = 0; jj < n; ++jj) row[jj] += mr[jj];
      } else {
        for (int64_t jj = 0; jj < n; ++jj) row[jj] += mr[jj * p.m_cs];
      }
    } else if (p.bmask) {
      const bool* mr = p.bmask + p.m_off[b] + i * p.m_rs + j0 * p.m_cs;
      for (int64_t jj = 0; jj < n; ++jj)
        if (!mr[jj * p.m_cs]) row[jj] = neg_inf<T>();
    }
    if (p.causal)
      for (int64_t jj = std::max<int64_t>(0, i - j0 + 1); jj < n; ++jj) row[jj] = neg_inf<T>();
  }
}

// Rows of s (queries i0.., keys j0..) turned into probabilities exp(s - lse_i) (0 for a
// fully masked row, and for the keys the causal mask hides).
template <class T>
void probabilities(const AttnProblem<T>& p, int64_t i0, int64_t j0, T* s, int64_t lds, int64_t m, int64_t n,
                   const T* lse) {
  for (int64_t r = 0; r < m; ++r) {
    T* row = s + r * lds;
    const int64_t nv = visible(p, i0 + r, j0, n);
    if (std::isinf(lse[r]) && lse[r] > 0) {
      std::fill(row, row + n, T(0));
      continue;
    }
    exp_sum(row, lse[r], row, nv);
    std::fill(row + nv, row + n, T(0));
  }
}

// Work of one tile pair in elements for parallel_for's grain (a multiply-add is cheap).
template <class T>
int64_t tile_cost(const AttnProblem<T>& p, int64_t rows, int64_t keys) {
  return std::max<int64_t>(1, rows * keys * (p.E + p.Ev + 8) / 4);
}

template <class T>
void forward_impl(const AttnProblem<T>& p, const AttnRows<T>& out, T* lse) {
  const int64_t bq = query_tile(p);
  const int64_t nq = (p.L + bq - 1) / bq;
  const int64_t keys = p.causal ? std::min(p.S, p.L) / 2 + bq : p.S;
  const Dropout<T> drop(p);
  parallel_for(p.nb * nq, tile_cost(p, bq, keys), [&](int64_t t0, int64_t t1) {
    std::vector<T> sbuf(kBQ * kBK), acc(kBQ * std::max<int64_t>(p.Ev, 1)), mrow(kBQ), fbuf(kBK);
    std::vector<double> lrow(kBQ);
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t b = t / nq, i0 = (t % nq) * bq, m = std::min(bq, p.L - i0);
      std::fill(acc.begin(), acc.begin() + m * p.Ev, T(0));
      std::fill(mrow.begin(), mrow.end(), neg_inf<T>());
      std::fill(lrow.begin(), lrow.end(), 0.0);
      const int64_t kend = p.causal ? std::min(p.S, i0 + m) : p.S;
      for (int64_t j0 = 0; j0 < kend; j0 += kBK) {
        const int64_t n = std::min(kBK, kend - j0);
        scores(p, b, i0, m, j0, n, sbuf.data(), kBK);
        for (int64_t r = 0; r < m; ++r) {
          T* row = sbuf.data() + r * kBK;
          const int64_t nv = visible(p, i0 + r, j0, n);  // (the rest is masked: -inf)
          const T mnew = std::max(mrow[r], row_max(row, nv));
          if (mnew == neg_inf<T>()) {  // every key so far masked (or NaN): nothing to add
            const bool nan = std::any_of(row, row + n, [](T x) { return std::isnan(x); });
            std::fill(row, row + n, nan ? std::numeric_limits<T>::quiet_NaN() : T(0));
            if (nan) lrow[r] = std::numeric_limits<double>::quiet_NaN();
            continue;
          }
          const double sum = exp_sum(row, mnew, row, nv);
          std::fill(row + nv, row + n, T(0));
          const T alpha = mrow[r] == neg_inf<T>() ? T(0) : T(std::exp(mrow[r] - mnew));
          lrow[r] = lrow[r] * double(alpha) + sum;
          mrow[r] = mnew;
          if (alpha != T(1)) {
            T* a = acc.data() + r * p.Ev;
            for (int64_t e = 0; e < p.Ev; ++e) a[e] *= alpha;
          }
          if (drop.on) {
            drop.factors(b, i0 + r, j0, n, fbuf.data());
            for (int64_t jj = 0; jj < n; ++jj) row[jj] *= fbuf[jj];
          }
        }
        gemm<T>(m, p.Ev, n, sbuf.data(), kBK, 1, p.v + p.v_off[b] + j0 * p.v_rs, p.v_rs, 1, acc.data(), p.Ev,
                true);
      }
      for (int64_t r = 0; r < m; ++r) {
        T* o = out.row(b, i0 + r);
        const T* a = acc.data() + r * p.Ev;
        T& l = lse[b * p.L + i0 + r];
        if (lrow[r] > 0 || std::isnan(lrow[r])) {  // (NaN scores give NaN, as in PyTorch)
          const T inv = T(1.0 / lrow[r]);
          for (int64_t e = 0; e < p.Ev; ++e) o[e] = a[e] * inv;
          l = T(double(mrow[r]) + std::log(lrow[r]));
        } else {
          std::fill(o, o + p.Ev, T(0));
          l = std::numeric_limits<T>::infinity();
        }
      }
    }
  });
}

// dS = P o (dP - D_i) in place of dp, where dP is (dO V^T) times the dropout factors.
template <class T>
void score_grads(const AttnProblem<T>& p, const Dropout<T>& drop, int64_t b, int64_t i0, int64_t m, int64_t j0,
                 int64_t n, const T* prob, T* dp, const T* D, T* fbuf) {
  for (int64_t r = 0; r < m; ++r) {
    const T* pr = prob + r * kBK;
    T* d = dp + r * kBK;
    if (drop.on) {
      drop.factors(b, i0 + r, j0, n, fbuf);
      for (int64_t jj = 0; jj < n; ++jj) d[jj] *= fbuf[jj];
    }
    const T di = D[r];
    for (int64_t jj = 0; jj < n; ++jj) d[jj] = pr[jj] * (d[jj] - di);
  }
}

// dst row r (stride rs) = src row r (contiguous, `cols` wide) * sc, for r < rows.
template <class T>
void store_rows(const T* src, int64_t rows, int64_t cols, T sc, T* dst, int64_t rs) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t e = 0; e < cols; ++e) dst[r * rs + e] = src[r * cols + e] * sc;
}

template <class T>
void backward_impl(const AttnProblem<T>& p, const AttnRows<const T>& out, const AttnRows<const T>& dout,
                   const T* lse, const AttnRows<T>& dq, const AttnRows<T>& dk, const AttnRows<T>& dv, T* dmask) {
  const Dropout<T> drop(p);
  const int64_t bq = query_tile(p);
  // D_i = sum_e dO[i, e] O[i, e]: the softmax backward's row term.
  std::vector<T> D(p.nb * p.L);
  parallel_for(p.nb * p.L, p.Ev + 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      double s = 0;
      const T *o = out.row(r / p.L, r % p.L), *g = dout.row(r / p.L, r % p.L);
      for (int64_t e = 0; e < p.Ev; ++e) s += double(o[e]) * double(g[e]);
      D[r] = T(s);
    }
  });
  const T sc = T(p.scale);

  // Enough problems to share among the threads: one task per problem, one pass over its
  // tile pairs (the scores and their exps computed once; dK and dV accumulated in place).
  if (p.nb >= 2 * get_num_threads() || get_num_threads() == 1 || in_parallel_region()) {
    const int64_t keys = p.causal ? std::min(p.S, p.L) / 2 + bq : p.S;
    parallel_for(p.nb, 3 * tile_cost(p, p.L, keys), [&](int64_t b0, int64_t b1) {
      std::vector<T> sbuf(kBQ * kBK), pd(kBQ * kBK), dp(kBQ * kBK), fbuf(kBK), dqacc(kBQ * std::max<int64_t>(p.E, 1));
      for (int64_t b = b0; b < b1; ++b) {
        T* dkb = dk ? dk.row(b, 0) : nullptr;
        T* dvb = dv ? dv.row(b, 0) : nullptr;
        for (int64_t j = 0; dkb && j < p.S; ++j) std::fill(dkb + j * dk.rs, dkb + j * dk.rs + p.E, T(0));
        for (int64_t j = 0; dvb && j < p.S; ++j) std::fill(dvb + j * dv.rs, dvb + j * dv.rs + p.Ev, T(0));
        const T* Q = p.q + p.q_off[b];
        const T* K = p.k + p.k_off[b];
        const T* V = p.v + p.v_off[b];
        for (int64_t i0 = 0; i0 < p.L; i0 += bq) {
          const int64_t m = std::min(bq, p.L - i0);
          const T* dO = dout.row(b, i0);
          std::fill(dqacc.begin(), dqacc.end(), T(0));
          const int64_t kend = p.causal ? std::min(p.S, i0 + m) : p.S;
          for (int64_t j0 = 0; j0 < kend; j0 += kBK) {
            const int64_t n = std::min(kBK, kend - j0);
            scores(p, b, i0, m, j0, n, sbuf.data(), kBK);
            probabilities(p, i0, j0, sbuf.data(), kBK, m, n, lse + b * p.L + i0);
            const T* pv = sbuf.data();
            if (drop.on) {
              for (int64_t r = 0; r < m; ++r) {
                drop.factors(b, i0 + r, j0, n, fbuf.data());
                for (int64_t jj = 0; jj < n; ++jj) pd[r * kBK + jj] = sbuf[r * kBK + jj] * fbuf[jj];
              }
              pv = pd.data();
            }
            if (dvb) gemm<T>(n, p.Ev, m, pv, 1, kBK, dO, dout.rs, 1, dvb + j0 * dv.rs, dv.rs, true);
            if (!dkb && !dq && !dmask) continue;
            gemm<T>(m, n, p.Ev, dO, dout.rs, 1, V + j0 * p.v_rs, 1, p.v_rs, dp.data(), kBK, false);
            score_grads(p, drop, b, i0, m, j0, n, sbuf.data(), dp.data(), D.data() + b * p.L + i0, fbuf.data());
            if (dmask)
              for (int64_t r = 0; r < m; ++r)
                std::copy(dp.data() + r * kBK, dp.data() + r * kBK + n, dmask + (b * p.L + i0 + r) * p.S + j0);
            if (dkb)
              gemm<T>(n, p.E, m, dp.data(), 1, kBK, Q + i0 * p.q_rs, p.q_rs, 1, dkb + j0 * dk.rs, dk.rs, true);
            if (dq) gemm<T>(m, p.E, n, dp.data(), kBK, 1, K + j0 * p.k_rs, p.k_rs, 1, dqacc.data(), p.E, true);
          }
          if (dq) store_rows(dqacc.data(), m, p.E, sc, dq.row(b, i0), dq.rs);
        }
        for (int64_t j = 0; dkb && j < p.S; ++j)
          for (int64_t e = 0; e < p.E; ++e) dkb[j * dk.rs + e] *= sc;
      }
    });
    return;
  }

  // Few problems: two passes, each cut finer. dK, dV: one task per key tile, over the
  // query tiles that see it.
  if (dk || dv) {
    const int64_t nk = (p.S + kBK - 1) / kBK;
    const int64_t rows = p.causal ? std::max<int64_t>(p.L - std::min(p.S, p.L) / 2, bq) : p.L;
    parallel_for(p.nb * nk, 2 * tile_cost(p, kBK, rows), [&](int64_t t0, int64_t t1) {
      std::vector<T> sbuf(kBQ * kBK), pd(kBQ * kBK), dp(kBQ * kBK), fbuf(kBK);
      std::vector<T> dkacc(kBK * std::max<int64_t>(p.E, 1)), dvacc(kBK * std::max<int64_t>(p.Ev, 1));
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t b = t / nk, j0 = (t % nk) * kBK, n = std::min(kBK, p.S - j0);
        std::fill(dkacc.begin(), dkacc.end(), T(0));
        std::fill(dvacc.begin(), dvacc.end(), T(0));
        const T* Q = p.q + p.q_off[b];
        const T* V = p.v + p.v_off[b] + j0 * p.v_rs;
        for (int64_t i0 = p.causal ? j0 / bq * bq : 0; i0 < p.L; i0 += bq) {
          const int64_t m = std::min(bq, p.L - i0);
          const T* dO = dout.row(b, i0);
          scores(p, b, i0, m, j0, n, sbuf.data(), kBK);
          probabilities(p, i0, j0, sbuf.data(), kBK, m, n, lse + b * p.L + i0);
          const T* pv = sbuf.data();  // the probabilities V was weighted with
          if (drop.on) {
            for (int64_t r = 0; r < m; ++r) {
              drop.factors(b, i0 + r, j0, n, fbuf.data());
              for (int64_t jj = 0; jj < n; ++jj) pd[r * kBK + jj] = sbuf[r * kBK + jj] * fbuf[jj];
            }
            pv = pd.data();
          }
          if (dv) gemm<T>(n, p.Ev, m, pv, 1, kBK, dO, dout.rs, 1, dvacc.data(), p.Ev, true);
          if (!dk) continue;
          gemm<T>(m, n, p.Ev, dO, dout.rs, 1, V, 1, p.v_rs, dp.data(), kBK, false);
          score_grads(p, drop, b, i0, m, j0, n, sbuf.data(), dp.data(), D.data() + b * p.L + i0, fbuf.data());
          gemm<T>(n, p.E, m, dp.data(), 1, kBK, Q + i0 * p.q_rs, p.q_rs, 1, dkacc.data(), p.E, true);
        }
        if (dk) store_rows(dkacc.data(), n, p.E, sc, dk.row(b, j0), dk.rs);
        if (dv) store_rows(dvacc.data(), n, p.Ev, T(1), dv.row(b, j0), dv.rs);
      }
    });
  }

  // dQ (and the scores' gradient): one task per query tile, over the keys it sees.
  if (dq || dmask) {
    const int64_t nq = (p.L + bq - 1) / bq;
    const int64_t keys = p.causal ? std::min(p.S, p.L) / 2 + bq : p.S;
    parallel_for(p.nb * nq, 2 * tile_cost(p, bq, keys), [&](int64_t t0, int64_t t1) {
      std::vector<T> sbuf(kBQ * kBK), dp(kBQ * kBK), fbuf(kBK), dqacc(kBQ * std::max<int64_t>(p.E, 1));
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t b = t / nq, i0 = (t % nq) * bq, m = std::min(bq, p.L - i0);
        std::fill(dqacc.begin(), dqacc.end(), T(0));
        const T* dO = dout.row(b, i0);
        const int64_t kend = p.causal ? std::min(p.S, i0 + m) : p.S;
        for (int64_t j0 = 0; j0 < kend; j0 += kBK) {
          const int64_t n = std::min(kBK, kend - j0);
          scores(p, b, i0, m, j0, n, sbuf.data(), kBK);
          probabilities(p, i0, j0, sbuf.data(), kBK, m, n, lse + b * p.L + i0);
          gemm<T>(m, n, p.Ev, dO, dout.rs, 1, p.v + p.v_off[b] + j0 * p.v_rs, 1, p.v_rs, dp.data(), kBK, false);
          score_grads(p, drop, b, i0, m, j0, n, sbuf.data(), dp.data(), D.data() + b * p.L + i0, fbuf.data());
          if (dmask)
            for (int64_t r = 0; r < m; ++r)
              std::copy(dp.data() + r * kBK, dp.data() + r * kBK + n, dmask + (b * p.L + i0 + r) * p.S + j0);
          if (dq)
            gemm<T>(m, p.E, n, dp.data(), kBK, 1, p.k + p.k_off[b] + j0 * p.k_rs, p.k_rs, 1, dqacc.data(), p.E,
                    true);
        }
        if (dq) store_rows(dqacc.data(), m, p.E, sc, dq.row(b, i0), dq.rs);
      }
    });
  }
}

}  // namespace

void attention_forward(const AttnProblem<float>& p, const AttnRows<float>& out, float* lse) {
  forward_impl(p, out, lse);
}
void attention_forward(const AttnProblem<double>& p, const AttnRows<double>& out, double* lse) {
  forward_impl(p, out, lse);
}

void attention_backward(const AttnProblem<float>& p, const AttnRows<const float>& out,
                        const AttnRows<const float>& dout, const float* lse, const AttnRows<float>& dq,
                        const AttnRows<float>& dk, const AttnRows<float>& dv, float* dmask) {
  backward_impl(p, out, dout, lse, dq, dk, dv, dmask);
}
void attention_backward(const AttnProblem<double>& p, const AttnRows<const double>& out,
                        const AttnRows<const double>& dout, const double* lse, const AttnRows<double>& dq,
                        const AttnRows<double>& dk, const AttnRows<double>& dv, double* dmask) {
  backward_impl(p, out, dout, lse, dq, dk, dv, dmask);
}

}  // namespace tg::kernels
