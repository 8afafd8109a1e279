#pragma once
// Fused scaled-dot-product attention, flash-attention style, on raw pointers.
//
// For each of `nb` independent problems b (the flattened batch and head dims):
//   scores = scale * Q K^T (+ float mask | bool mask -> -inf where false | causal j > i -> -inf)
//   P = softmax(scores) (rows), out = dropout(P) V
// with Q (L x E), K (S x E), V (S x Ev) read through per-problem offsets and row strides
// (unit column stride), so broadcast batch dims, grouped-query heads and transposed
// layouts need no copy. The keys are visited in tiles with an online softmax (a running
// max and sum per query row); the causal mask is applied by index inside the loop, so no
// L x S tensor ever exists: a query tile's scores take one tile of scratch. The forward
// stores the output and each row's log-sum-exp; the backward recomputes the scores tile
// by tile from them. Rows whose keys are all masked give 0 (output and gradients), as
// PyTorch's CPU kernels do.
//
// Dropout (p > 0) draws keep/drop per score element from the counter-based generator of
// kernels/random.h at counter rng_offset + (b * L + i) * S + j, so the backward regenerates
// the same mask and the result does not depend on the thread count.
#include <cstdint>

namespace tg::kernels {

template <class T>
struct AttnProblem {
  int64_t nb = 0, L = 0, S = 0, E = 0, Ev = 0;
  const T* q = nullptr;
  const int64_t* q_off = nullptr;  // nb offsets (elements)
  int64_t q_rs = 0;                // row stride; the column stride is 1
  const T* k = nullptr;
  const int64_t* k_off = nullptr;
  int64_t k_rs = 0;
  const T* v = nullptr;
  const int64_t* v_off = nullptr;
  int64_t v_rs = 0;
  // At most one of fmask (added to the scores) and bmask (false -> -inf); element (i, j)
  // of problem b at m_off[b] + i * m_rs + j * m_cs (strides may be 0: broadcast).
  const T* fmask = nullptr;
  const bool* bmask = nullptr;
  const int64_t* m_off = nullptr;
  int64_t m_rs = 0, m_cs = 0;
  bool causal = false;  // key j > query i masked (top-left aligned)
  double scale = 1.0;
  double dropout_p = 0.0;
  uint64_t seed = 0, rng_offset = 0;
};

// out: contiguous (nb, L, Ev); lse: (nb, L), +inf for a row with every key masked.
void attention_forward(const AttnProblem<float>& p, float* out, float* lse);
void attention_forward(const AttnProblem<double>& p, double* out, double* lse);

// dout, out: contiguous (nb, L, Ev); lse from the forward. Writes dq (nb, L, E), dk
// (nb, S, E), dv (nb, S, Ev) (each of the nb problems its own slice: the caller sums
// broadcast dims) and, when not null, dmask (nb, L, S): the gradient of the scores
// (that of an added float mask). Any of dq, dk, dv, dmask may be null.
void attention_backward(const AttnProblem<float>& p, const float* out, const float* dout, const float* lse,
                        float* dq, float* dk, float* dv, float* dmask);
void attention_backward(const AttnProblem<double>& p, const double* out, const double* dout, const double* lse,
                        double* dq, double* dk, double* dv, double* dmask);

}  // namespace tg::kernels
