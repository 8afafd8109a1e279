#pragma once
// The fused pointwise parts of recurrent layers (RNN tanh/relu, LSTM, GRU), one time step
// over B rows at a time, in PyTorch's gate order (LSTM i, f, g, o; GRU r, z, n with
// n = tanh(x_n + r * (W_hn h + b_hn))). The matrix products around them (the input
// projection of the whole sequence, the recurrent projection of each step) are GEMMs run
// by ops/rnn.cpp; these kernels only read their results.
//
// Rows are addressed through row strides (rs, in elements), so a step can read the input
// projection of a batch-first sequence and write into one direction's half of a
// bidirectional output without copies.
#include <cstdint>

namespace tg::kernels {

enum class RnnMode : uint8_t { Tanh, Relu, Lstm, Gru };

// Gate blocks of H columns in the projections: 1, 1, 4, 3.
inline int64_t rnn_gates(RnnMode m) { return m == RnnMode::Lstm ? 4 : m == RnnMode::Gru ? 3 : 1; }
// Blocks of H saved per row and step for backward: none (the output suffices) for the
// plain RNN; LSTM: i, f, g, o, tanh(c); GRU: r, z, n, W_hn h + b_hn.
inline int64_t rnn_saved(RnnMode m) { return m == RnnMode::Lstm ? 5 : m == RnnMode::Gru ? 4 : 0; }

template <class T>
struct RnnStepForward {
  int64_t B = 0, H = 0;
  const T* gx = nullptr;  // [B, G*H]: input projection (+ h_prev @ W_hh^T but for GRU)
  int64_t gx_rs = 0;
  const T* bias = nullptr;  // [G*H]: b_ih + b_hh, except GRU's b_hn (null without bias)
  const T* gh = nullptr;  // [B, G*H] contiguous: h_prev @ W_hh^T (GRU; the others may have
                          //   it added into gx already and pass null)
  const T* bhn = nullptr; // GRU: b_hh's n block (null without bias)
  const T* hp = nullptr;  // [B, H]: h_prev (GRU reads it)
  int64_t hp_rs = 0;
  T* c = nullptr;         // LSTM [B, H] contiguous: c_prev in, c out
  T* h = nullptr;         // [B, H]: the step's output
  int64_t h_rs = 0;
  T* act = nullptr;       // [B, rnn_saved*H]: saved activations (LSTM, GRU)
  int64_t act_rs = 0;
};

template <class T>
struct RnnStepBackward {
  int64_t B = 0, H = 0;
  const T* gout = nullptr;  // [B, H]: gradient of this step's output (null: none)
  int64_t gout_rs = 0;
  const T* dh = nullptr;    // [B, H] contiguous: gradient from the later steps (or h_n)
  const T* h = nullptr;     // RNN: the step's output
  int64_t h_rs = 0;
  const T* hp = nullptr;    // GRU: h_prev
  int64_t hp_rs = 0;
  const T* cp = nullptr;    // LSTM: c_prev
  int64_t cp_rs = 0;
  const T* act = nullptr;   // as saved by the forward step
  int64_t act_rs = 0;
  T* dc = nullptr;          // LSTM [B, H] contiguous: dc of c in, of c_prev out
  T* dax = nullptr;         // [B, G*H]: gradient of the input-side pre-activations
  int64_t dax_rs = 0;
  T* dah = nullptr;         // GRU [B, G*H]: of the hidden-side ones (r * .. in the n block)
  int64_t dah_rs = 0;
  T* dhp = nullptr;         // [B, H] contiguous: the direct part of d h_prev (GRU dh * z,
                            //   else 0); the caller adds dah @ W_hh
};

template <class T>
void rnn_step_forward(RnnMode mode, const RnnStepForward<T>& s);
template <class T>
void rnn_step_backward(RnnMode mode, const RnnStepBackward<T>& s);

}  // namespace tg::kernels
