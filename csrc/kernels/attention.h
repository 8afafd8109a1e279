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

// Rows of nb matrices with a unit column stride: row i of problem b at
// data + off[b] + i * rs. The output and the gradients are addressed this way, so they can
// be laid out as the operands are (a (B, H, L, E) tensor whose memory is (B, L, H, E)).
template <class T>
struct AttnRows {
  T* data = nullptr;
  const int64_t* off = nullptr;  // nb offsets (elements)
  int64_t rs = 0;
  T* row(int64_t b, int64_t i) const { return data + off[b] + i * rs; }
  explicit operator bool() const { return data != nullptr; }
};

// out: (nb, L, Ev) rows; lse: contiguous (nb, L), +inf for a row with every key masked.
void attention_forward(const AttnProblem<float>& p, const AttnRows<float>& out, float* lse);
void attention_forward(const AttnProblem<double>& p, const AttnRows<double>& out, double* lse);

// dout, out: (nb, L, Ev) rows; lse from the forward. Writes dq (nb, L, E), dk (nb, S, E),
// dv (nb, S, Ev) rows (each of the nb problems its own rows: the caller sums broadcast
// dims) and, when not null, dmask, contiguous (nb, L, S): the gradient of the scores (that
// of an added float mask). Any of dq, dk, dv (data null), dmask may be absent.
void attention_backward(const AttnProblem<float>& p, const AttnRows<const float>& out,
                        const AttnRows<const float>& dout, const float* lse, const AttnRows<float>& dq,
                        const AttnRows<float>& dk, const AttnRows<float>& dv, float* dmask);
void attention_backward(const AttnProblem<double>& p, const AttnRows<const double>& out,
                        const AttnRows<const double>& dout, const double* lse, const AttnRows<double>& dq,
                        const AttnRows<double>& dk, const AttnRows<double>& dv, double* dmask);

}  // namespace tg::kernels
