// Recurrent layers: the whole sequence of one layer in C++ (see ops/rnn.h). Forward per
// direction: GX = X @ W_ih^T + biases (one GEMM), then per step GH = h_prev @ W_hh^T (one
// GEMM) and the fused gate kernel of kernels/rnn.h, which writes h straight into the
// output. Backward walks the steps in reverse with the gate-derivative kernel and one GEMM
// per step for d h_prev, then forms dX, dW_ih, dW_hh and the bias gradients from the
// per-step pre-activation gradients of all steps at once.
#include "ops/rnn.h"

#include <cstring>
#include <utility>
#include <vector>

#include "autograd/node.h"
#include "autograd/trace.h"
#include "core/parallel.h"
#include "kernels/gemm.h"
#include "ops/creation.h"
#include "ops/elementwise.h"
#include "ops/linalg.h"
#include "ops/shape.h"

namespace tg {

namespace {

using kernels::RnnMode;

const char* mode_name(RnnMode m) {
  switch (m) {
    case RnnMode::Tanh: return "RNN_TANH";
    case RnnMode::Relu: return "RNN_RELU";
    case RnnMode::Lstm: return "LSTM";
    case RnnMode::Gru: return "GRU";
  }
  return "?";
}

// Row (t, b) of a sequence laid out like the input: time-major [T, B, W] or batch-first
// [B, T, W] (W counted by the caller into ts and rs).
struct Seq {
  int64_t ts, rs;
  Seq(bool batch_first, int64_t T, int64_t B, int64_t W)
      : ts(batch_first ? W : B * W), rs(batch_first ? T * W : W) {}
  int64_t at(int64_t t) const { return t * ts; }
};

template <class T>
T* ptr(const Tensor& t) {
  return t ? t->data_as<T>() : nullptr;
}

Tensor dense(const Tensor& t) { return t ? contiguous(t) : nullptr; }

// memcpy of `bytes`, nothing for 0 (an empty batch may bring null pointers, which memcpy
// must not see even with a zero size).
inline void copy_n(void* dst, const void* src, size_t bytes) {
  if (bytes) std::memcpy(dst, src, bytes);
}

struct Geometry {
  RnnMode mode;
  int64_t T, B, I, H, D;
  int64_t P;  // width of h: LSTM's proj_size, else H
  bool batch_first, has_bias, proj;
  int64_t G() const { return kernels::rnn_gates(mode) * H; }
  int64_t S() const { return kernels::rnn_saved(mode) * H; }
  int64_t N() const { return T * B; }
};

// What one direction keeps for backward, laid out like the input (natural rows).
struct DirSaved {
  Tensor hp;    // [N, P]: h_prev of each step
  Tensor cp;    // LSTM [N, H]: c_prev of each step
  Tensor act;   // [N, S]: saved activations
  Tensor hraw;  // projection: [N, H] o * tanh(c) before W_hr
};

struct MkldnnRnnLayerBackward0 : Node {
  Geometry g;
  SavedTensor input, output;                  // output: the plain RNN's derivative reads h
  std::vector<SavedTensor> w_ih, w_hh, w_hr;  // per direction (w_hr with a projection)
  std::vector<DirSaved> saved;
  // The rest of the node's inputs, only for apply_graph's recomputation (null when absent).
  SavedTensor hx, cx;
  std::vector<SavedTensor> b_ih, b_hh;
  MkldnnRnnLayerBackward0(const Geometry& g, const Tensor& input, const Tensor& h0, const Tensor& c0,
                          const std::vector<Tensor>& weights)
      : g(g), input(input) {
    if (h0) hx = SavedTensor(h0);
    if (c0) cx = SavedTensor(c0);
    for (int64_t d = 0; d < g.D; ++d) {
      w_ih.emplace_back(weights[5 * d]);
      w_hh.emplace_back(weights[5 * d + 1]);
      if (g.has_bias) b_ih.emplace_back(weights[5 * d + 2]), b_hh.emplace_back(weights[5 * d + 3]);
      if (g.proj) w_hr.emplace_back(weights[5 * d + 4]);
    }
  }
  std::string name() const override { return "MkldnnRnnLayerBackward0"; }
  std::vector<Tensor> apply(std::vector<Tensor>& grads) override;
  std::vector<Tensor> apply_graph(std::vector<Tensor>& grads) override;
  void release_saved() override {
    input.reset(), output.reset(), hx.reset(), cx.reset();
    for (auto* v : {&w_ih, &w_hh, &b_ih, &b_hh, &w_hr})
      for (auto& w : *v) w.reset();
    saved.clear();
  }
};

// The recurrence is independent across batch rows: row b of h_t needs only row b of
// h_{t-1} (and of c_{t-1}, dh_t, dc_t going back). So with threads, blocks of rows each run
// the whole sequence, claimed by the pool's threads: one region per direction instead of
// two per step, and no thread waits for another between steps. Worth it where a step is
// small (the MNIST LSTM's 64 x 64 @ 64 x 256 is ~20 us, too short to share, while a block's
// 28 steps are not); larger steps share each product instead, where row blocks would each
// stream all of W_hh per step. `macs_per_row` is one step's recurrent work for one row.
template <class F>
void over_row_blocks(int64_t B, int64_t macs_per_row, F&& rows) {
  constexpr int64_t kRowsPerBlock = 16;          // two AVX-512 micro-tiles of rows
  // With B >= 32 rows this keeps W_hh^T <= 512 KB, read in place by each block's small GEMM.
  constexpr int64_t kMaxStepMacs = int64_t(1) << 22;
  const int64_t blocks = B / kRowsPerBlock;
  const int nt = in_parallel_region() ? 1 : get_num_threads();
  if (nt < 2 || blocks < 2 || B * macs_per_row > kMaxStepMacs) return rows(int64_t(0), B);
  parallel_tasks(blocks, nt, [&](int64_t i) { rows(B * i / blocks, B * (i + 1) / blocks); });
}

template <class T>
void forward_direction(const Geometry& g, int64_t d, const T* x, const Tensor& w_ih, const Tensor& w_hh,
                       const Tensor& b_ih, const Tensor& b_hh, const Tensor& w_hr, const T* h0, const T* c0, T* out,
                       T* hn, T* cn, DirSaved* save) {
  const int64_t N = g.N(), B = g.B, H = g.H, P = g.P, G = g.G(), S = g.S(), I = g.I;
  if (B == 0) return;  // empty outputs; backward gives zero weight gradients
  const bool rev = d == 1;
  const Seq sg(g.batch_first, g.T, B, G), so(g.batch_first, g.T, B, g.D * P), sh(g.batch_first, g.T, B, H),
      sp(g.batch_first, g.T, B, P), sa(g.batch_first, g.T, B, S);
  // GX = X @ W_ih^T; the gate kernel adds the biases (b_ih + b_hh folded into one row,
  // except GRU's b_hn, which r multiplies).
  Tensor gx_t = empty({N, G}, dtype_of<T>::value);
  T* gx = gx_t->data_as<T>();
  const T* bi = ptr<T>(b_ih);
  const T* bh = ptr<T>(b_hh);
  std::vector<T> brow;
  if (g.has_bias) {
    const int64_t fold = g.mode == RnnMode::Gru ? 2 * H : G;
    brow.assign(bi, bi + G);
    for (int64_t j = 0; j < fold; ++j) brow[j] += bh[j];
  }
  kernels::gemm<T>(N, G, I, x, I, 1, w_ih->data_as<T>(), w_ih->strides[1], w_ih->strides[0], gx, G, false);

  Tensor gh_t = g.mode == RnnMode::Gru ? empty({B, G}, dtype_of<T>::value) : nullptr;
  Tensor c_t = empty({B, H}, dtype_of<T>::value);
  T* c = c_t->data_as<T>();
  if (g.mode == RnnMode::Lstm) {
    if (c0) copy_n(c, c0, sizeof(T) * B * H);
    else std::fill(c, c + B * H, T(0));
  }
  Tensor act_scratch = (!save && S > 0) ? empty({B, S}, dtype_of<T>::value) : nullptr;
  Tensor hraw_scratch = (!save && g.proj) ? empty({B, H}, dtype_of<T>::value) : nullptr;
  Tensor zero_h;
  const T* hprev = h0;
  int64_t hprev_rs = P;
  if (!hprev) {
    zero_h = zeros({B, P}, dtype_of<T>::value);
    hprev = zero_h->data_as<T>();
  }
  if (save) {
    save->hp = empty({N, P}, dtype_of<T>::value);
    if (g.mode == RnnMode::Lstm) save->cp = empty({N, H}, dtype_of<T>::value);
    if (S > 0) save->act = empty({N, S}, dtype_of<T>::value);
    if (g.proj) save->hraw = empty({N, H}, dtype_of<T>::value);
  }
  // W_hh^T row-major once, so each step's small GEMM reads it in place (no packing per step).
  Tensor whh_t = empty({P, G}, dtype_of<T>::value);
  T* whh = whh_t->data_as<T>();
  {
    const T* w = w_hh->data_as<T>();
    const int64_t r0 = w_hh->strides[0], r1 = w_hh->strides[1];
    for (int64_t gi = 0; gi < G; ++gi)
      for (int64_t k = 0; k < P; ++k) whh[k * G + gi] = w[gi * r0 + k * r1];
  }
  T* outd = out + d * P;
  // Rows [b0, b1) through the whole sequence (see over_row_blocks).
  auto rows = [&](int64_t b0, int64_t b1) {
    const int64_t nb = b1 - b0;
    const T* hp_rows = hprev + b0 * hprev_rs;
    int64_t hp_rs = hprev_rs;
    T* c_rows = c + b0 * H;
    for (int64_t s = 0; s < g.T; ++s) {
      const int64_t t = rev ? g.T - 1 - s : s;
      if (save) {
        T* hp = save->hp->data_as<T>() + sp.at(t) + b0 * sp.rs;
        for (int64_t b = 0; b < nb; ++b) copy_n(hp + b * sp.rs, hp_rows + b * hp_rs, sizeof(T) * P);
        if (save->cp) {
          T* cp = save->cp->data_as<T>() + sh.at(t) + b0 * sh.rs;
          for (int64_t b = 0; b < nb; ++b) copy_n(cp + b * sh.rs, c_rows + b * H, sizeof(T) * H);
        }
      }
      // GRU keeps W_hn h apart (r multiplies it); the others add h_prev @ W_hh^T into GX.
      T* gx_rows = gx + sg.at(t) + b0 * sg.rs;
      T* gh = g.mode == RnnMode::Gru ? gh_t->data_as<T>() + b0 * G : gx_rows;
      kernels::gemm<T>(nb, G, P, hp_rows, hp_rs, 1, whh, G, 1, gh, g.mode == RnnMode::Gru ? G : sg.rs,
                       g.mode != RnnMode::Gru);
      kernels::RnnStepForward<T> st;
      st.B = nb, st.H = H;
      st.gx = gx_rows, st.gx_rs = sg.rs;
      st.bias = g.has_bias ? brow.data() : nullptr;
      st.gh = g.mode == RnnMode::Gru ? gh : nullptr;
      st.bhn = (g.mode == RnnMode::Gru && bh) ? bh + 2 * H : nullptr;
      st.hp = hp_rows, st.hp_rs = hp_rs;
      st.c = c_rows;
      T* out_rows = outd + so.at(t) + b0 * so.rs;
      if (!g.proj) st.h = out_rows, st.h_rs = so.rs;
      else if (save) st.h = save->hraw->data_as<T>() + sh.at(t) + b0 * sh.rs, st.h_rs = sh.rs;
      else st.h = hraw_scratch->data_as<T>() + b0 * H, st.h_rs = H;
      if (save && S > 0) st.act = save->act->data_as<T>() + sa.at(t) + b0 * sa.rs, st.act_rs = sa.rs;
      else if (S > 0) st.act = act_scratch->data_as<T>() + b0 * S, st.act_rs = S;
      kernels::rnn_step_forward<T>(g.mode, st);
      if (g.proj)  // h = (o * tanh(c)) @ W_hr^T
        kernels::gemm<T>(nb, P, H, st.h, st.h_rs, 1, w_hr->data_as<T>(), w_hr->strides[1], w_hr->strides[0],
                         out_rows, so.rs, false);
      hp_rows = out_rows, hp_rs = so.rs;
    }
  };
  over_row_blocks(B, G * P + (g.proj ? H * P : 0), rows);
  if (g.T > 0) hprev = outd + so.at(rev ? 0 : g.T - 1), hprev_rs = so.rs;
  for (int64_t b = 0; b < B; ++b) copy_n(hn + b * P, hprev + b * hprev_rs, sizeof(T) * P);
  if (cn) copy_n(cn, c, sizeof(T) * B * H);
}

// Column sums of an [N, G] matrix into out[G].
template <class T>
void col_sum(const T* a, int64_t N, int64_t G, T* out) {
  std::fill(out, out + G, T(0));
  for (int64_t r = 0; r < N; ++r) {
    const T* row = a + r * G;
    for (int64_t j = 0; j < G; ++j) out[j] += row[j];
  }
}

template <class T>
void backward_direction(const Geometry& g, int64_t d, const T* x, const T* out, const Tensor& w_ih,
                        const Tensor& w_hh, const Tensor& w_hr, const DirSaved& sv, const T* gout, const T* ghn,
                        const T* gcn, T* dx, bool dx_accumulate, T* dh0, T* dc0, T* dw_ih, T* dw_hh, T* db_ih,
                        T* db_hh, T* dw_hr) {
  const int64_t N = g.N(), B = g.B, H = g.H, P = g.P, G = g.G(), S = g.S(), I = g.I;
  if (B == 0) {  // an empty batch: the weights' gradients are zeros (the rest is empty)
    for (auto [p, n] : {std::pair{dw_ih, G * I}, {dw_hh, G * P}, {db_ih, G}, {db_hh, G}, {dw_hr, P * H}})
      if (p) std::fill(p, p + n, T(0));
    return;
  }
  const bool rev = d == 1;
  const Seq sg(g.batch_first, g.T, B, G), so(g.batch_first, g.T, B, g.D * P), sh(g.batch_first, g.T, B, H),
      sp(g.batch_first, g.T, B, P), sa(g.batch_first, g.T, B, S);
  const bool gru = g.mode == RnnMode::Gru, lstm = g.mode == RnnMode::Lstm;
  Tensor dax_t = empty({N, G}, dtype_of<T>::value);
  Tensor dah_t = gru ? empty({N, G}, dtype_of<T>::value) : dax_t;
  T* dax = dax_t->data_as<T>();
  T* dah = dah_t->data_as<T>();
  Tensor dh_t = empty({B, P}, dtype_of<T>::value), dhp_t = empty({B, P}, dtype_of<T>::value);
  T* dh = dh_t->data_as<T>();
  T* dhp = dhp_t->data_as<T>();
  if (ghn) copy_n(dh, ghn, sizeof(T) * B * P);
  else std::fill(dh, dh + B * P, T(0));
  // With a projection: dP = d h of every step (for dW_hr), d of o * tanh(c), and the
  // kernel's (unused, zero) direct part of d h_prev, all apart.
  Tensor dP_t = g.proj ? empty({N, P}, dtype_of<T>::value) : nullptr;
  Tensor draw_t = g.proj ? empty({B, H}, dtype_of<T>::value) : nullptr;
  Tensor ddir_t = g.proj ? empty({B, H}, dtype_of<T>::value) : nullptr;
  Tensor dc_t = lstm ? empty({B, H}, dtype_of<T>::value) : nullptr;
  T* dc = ptr<T>(dc_t);
  if (lstm) {
    if (gcn) copy_n(dc, gcn, sizeof(T) * B * H);
    else std::fill(dc, dc + B * H, T(0));
  }
  const T* whh = w_hh->data_as<T>();
  // Rows [b0, b1) back through the whole sequence (see over_row_blocks).
  auto rows = [&](int64_t b0, int64_t b1) {
    const int64_t nb = b1 - b0;
    T* dh_rows = dh + b0 * P;
    T* dhp_rows = dhp + b0 * P;
    T* dc_rows = dc ? dc + b0 * H : nullptr;
    for (int64_t s = g.T - 1; s >= 0; --s) {
      const int64_t t = rev ? g.T - 1 - s : s;
      kernels::RnnStepBackward<T> st;
      st.B = nb, st.H = H;
      if (g.proj) {
        // dP_t = dh + gout_t; d(o * tanh(c)) = dP_t @ W_hr
        T* dp = dP_t->data_as<T>() + sp.at(t) + b0 * sp.rs;
        for (int64_t b = 0; b < nb; ++b) {
          T* row = dp + b * sp.rs;
          const T* src = dh_rows + b * P;
          const T* go = gout ? gout + d * P + so.at(t) + (b0 + b) * so.rs : nullptr;
          for (int64_t j = 0; j < P; ++j) row[j] = src[j] + (go ? go[j] : T(0));
        }
        kernels::gemm<T>(nb, H, P, dp, sp.rs, 1, w_hr->data_as<T>(), w_hr->strides[0], w_hr->strides[1],
                         draw_t->data_as<T>() + b0 * H, H, false);
        st.dh = draw_t->data_as<T>() + b0 * H;
      } else {
        if (gout) st.gout = gout + d * H + so.at(t) + b0 * so.rs, st.gout_rs = so.rs;
        st.dh = dh_rows;
      }
      st.h = out + d * P + so.at(t) + b0 * so.rs, st.h_rs = so.rs;
      st.hp = sv.hp->data_as<T>() + sp.at(t) + b0 * sp.rs, st.hp_rs = sp.rs;
      if (lstm) st.cp = sv.cp->data_as<T>() + sh.at(t) + b0 * sh.rs, st.cp_rs = sh.rs;
      if (S > 0) st.act = sv.act->data_as<T>() + sa.at(t) + b0 * sa.rs, st.act_rs = sa.rs;
      st.dc = dc_rows;
      st.dax = dax + sg.at(t) + b0 * sg.rs, st.dax_rs = sg.rs;
      st.dah = dah + sg.at(t) + b0 * sg.rs, st.dah_rs = sg.rs;
      st.dhp = g.proj ? ddir_t->data_as<T>() + b0 * H : dhp_rows;
      kernels::rnn_step_backward<T>(g.mode, st);
      // d h_prev += dah_t @ W_hh (not needed after the first step unless h0 wants a gradient);
      // with a projection the kernel's direct part is zero (LSTM) and d h_prev is the product.
      if (s > 0 || dh0)
        kernels::gemm<T>(nb, P, G, st.dah, sg.rs, 1, whh, w_hh->strides[0], w_hh->strides[1], dhp_rows, P,
                         !g.proj);
      std::swap(dh_rows, dhp_rows);
    }
  };
  over_row_blocks(B, G * P + (g.proj ? H * P : 0), rows);
  if (g.T & 1) std::swap(dh, dhp);  // every block swapped its halves T times
  if (dh0) copy_n(dh0, dh, sizeof(T) * B * P);
  if (dc0 && lstm) copy_n(dc0, dc, sizeof(T) * B * H);
  if (dx)
    kernels::gemm<T>(N, I, G, dax, G, 1, w_ih->data_as<T>(), w_ih->strides[0], w_ih->strides[1], dx, I,
                     dx_accumulate);
  if (dw_ih) kernels::gemm<T>(G, I, N, dax, 1, G, x, I, 1, dw_ih, I, false);
  if (dw_hh) kernels::gemm<T>(G, P, N, dah, 1, G, sv.hp->data_as<T>(), P, 1, dw_hh, P, false);
  if (dw_hr) kernels::gemm<T>(P, H, N, dP_t->data_as<T>(), 1, P, sv.hraw->data_as<T>(), H, 1, dw_hr, H, false);
  if (db_ih) col_sum<T>(dax, N, G, db_ih);
  if (db_hh && db_ih && dah == dax) copy_n(db_hh, db_ih, sizeof(T) * G);
  else if (db_hh) col_sum<T>(dah, N, G, db_hh);
}

std::vector<Tensor> MkldnnRnnLayerBackward0::apply(std::vector<Tensor>& grads) {
  const Tensor& in = input.get(*this);
  const Tensor x = contiguous(in);
  const DType dt = x->dtype;
  const bool plain = g.mode == RnnMode::Tanh || g.mode == RnnMode::Relu;
  Tensor out = plain ? contiguous(output.get(*this)) : nullptr;
  Tensor gout = grads[0] ? contiguous(grads[0]) : nullptr;
  Tensor ghn = grads.size() > 1 && grads[1] ? contiguous(grads[1]) : nullptr;
  Tensor gcn = grads.size() > 2 && grads[2] ? contiguous(grads[2]) : nullptr;
  const size_t n_in = next_edges.size();
  std::vector<Tensor> res(n_in);
  auto want = [&](size_t i) { return i < n_in && next_edges[i].fn; };
  if (want(0)) res[0] = empty(in->shape, dt);
  if (want(1)) res[1] = empty({g.D, g.B, g.P}, dt);
  if (want(2)) res[2] = empty({g.D, g.B, g.H}, dt);
  std::vector<Tensor> wi(g.D), wh(g.D), wr(g.D);
  for (int64_t d = 0; d < g.D; ++d) {
    wi[d] = w_ih[d].get(*this), wh[d] = w_hh[d].get(*this);
    if (g.proj) wr[d] = w_hr[d].get(*this);
    for (int k = 0; k < 5; ++k) {
      const size_t i = 3 + 5 * d + k;
      if (!want(i)) continue;
      res[i] = empty(k == 0 ? wi[d]->shape : k == 1 ? wh[d]->shape : k == 4 ? wr[d]->shape : Shape{g.G()}, dt);
    }
  }
  TG_DISPATCH_FLOAT(dt, T, {
    const int64_t BH = g.B * g.H, BP = g.B * g.P;
    for (int64_t d = 0; d < g.D; ++d) {
      const size_t w0 = 3 + 5 * d;
      backward_direction<T>(g, d, x->data_as<T>(), ptr<T>(out), wi[d], wh[d], wr[d], saved[d], ptr<T>(gout),
                            ghn ? ghn->data_as<T>() + d * BP : nullptr, gcn ? gcn->data_as<T>() + d * BH : nullptr,
                            ptr<T>(res[0]), d > 0, res[1] ? ptr<T>(res[1]) + d * BP : nullptr,
                            res[2] ? ptr<T>(res[2]) + d * BH : nullptr, ptr<T>(res[w0]), ptr<T>(res[w0 + 1]),
                            ptr<T>(res[w0 + 2]), ptr<T>(res[w0 + 3]), ptr<T>(res[w0 + 4]));
    }
  });
  return res;
}

// The layer again in public ops, each recording its node: PyTorch's cell equations step by
// step. Only apply_graph runs it, to differentiate the layer's backward (double backward,
// e.g. a gradient penalty through an LSTM): T small ops per direction, meant for
// correctness, not speed. w: per direction {w_ih, w_hh, b_ih, b_hh, w_hr} as rnn_layer's.
std::vector<Tensor> recorded_layer(const Geometry& g, const Tensor& input, const Tensor& h0, const Tensor& c0,
                                   const std::vector<Tensor>& w) {
  const DType dt = input->dtype;
  const int64_t tdim = g.batch_first ? 1 : 0, H = g.H;
  const bool lstm = g.mode == RnnMode::Lstm;
  const Tensor one = scalar_tensor(1.0, DType::Float64);
  auto gate = [&](const Tensor& a, int64_t k) { return narrow(a, 1, k * H, H); };
  std::vector<Tensor> outs, hn, cn;
  for (int64_t d = 0; d < g.D; ++d) {
    const Tensor *w_ih = &w[5 * d], *w_hh = &w[5 * d + 1], *b_ih = &w[5 * d + 2], *b_hh = &w[5 * d + 3],
                 *w_hr = &w[5 * d + 4];
    const Tensor gx = linear(input, *w_ih, *b_ih);  // every step's input projection at once
    Tensor h = h0 ? select(h0, 0, d) : zeros({g.B, g.P}, dt);
    Tensor c = !lstm ? nullptr : c0 ? select(c0, 0, d) : zeros({g.B, H}, dt);
    std::vector<Tensor> hs(g.T);
    for (int64_t s = 0; s < g.T; ++s) {
      const int64_t t = d == 1 ? g.T - 1 - s : s;
      const Tensor gi = select(gx, tdim, t), gh = linear(h, *w_hh, *b_hh);
      switch (g.mode) {
        case RnnMode::Tanh: h = tanh(add(gi, gh)); break;
        case RnnMode::Relu: h = relu(add(gi, gh)); break;
        case RnnMode::Lstm: {  // gates i f g o
          const Tensor a = add(gi, gh);
          c = add(mul(sigmoid(gate(a, 1)), c), mul(sigmoid(gate(a, 0)), tanh(gate(a, 2))));
          h = mul(sigmoid(gate(a, 3)), tanh(c));
          if (g.proj) h = linear(h, *w_hr, nullptr);
          break;
        }
        case RnnMode::Gru: {  // gates r z n; r scales the recurrent part of n, b_hn included
          const Tensor r = sigmoid(add(gate(gi, 0), gate(gh, 0)));
          const Tensor z = sigmoid(add(gate(gi, 1), gate(gh, 1)));
          const Tensor n = tanh(add(gate(gi, 2), mul(r, gate(gh, 2))));
          h = add(mul(sub(one, z), n), mul(z, h));
          break;
        }
      }
      hs[t] = h;
    }
    outs.push_back(stack(hs, tdim));
    hn.push_back(h);
    if (lstm) cn.push_back(c);
  }
  return {g.D == 1 ? outs[0] : cat(outs, 2), stack(hn, 0), lstm ? stack(cn, 0) : nullptr};
}

// Under create_graph: the layer recomputed in public ops from the saved inputs, and its
// gradient taken with create_graph, so what comes out can be differentiated again.
std::vector<Tensor> MkldnnRnnLayerBackward0::apply_graph(std::vector<Tensor>& grads) {
  std::vector<Tensor> ins{input.get(*this), hx.t ? hx.get(*this) : nullptr, cx.t ? cx.get(*this) : nullptr};
  for (int64_t d = 0; d < g.D; ++d) {
    ins.push_back(w_ih[d].get(*this));
    ins.push_back(w_hh[d].get(*this));
    ins.push_back(g.has_bias ? b_ih[d].get(*this) : nullptr);
    ins.push_back(g.has_bias ? b_hh[d].get(*this) : nullptr);
    ins.push_back(g.proj ? w_hr[d].get(*this) : nullptr);
  }
  const std::vector<Tensor> outs =
      recorded_layer(g, ins[0], ins[1], ins[2], std::vector<Tensor>(ins.begin() + 3, ins.end()));
  std::vector<Tensor> roots, grad_roots, targets;
  for (size_t k = 0; k < outs.size() && k < grads.size(); ++k)
    if (outs[k] && grads[k]) roots.push_back(outs[k]), grad_roots.push_back(grads[k]);
  std::vector<size_t> slot;
  for (size_t i = 0; i < next_edges.size(); ++i)
    if (next_edges[i].fn && ins[i]) targets.push_back(ins[i]), slot.push_back(i);
  std::vector<Tensor> res(next_edges.size());
  if (roots.empty() || targets.empty()) return res;
  // retained: the gradient graph it records reads the recomputation's saved tensors
  const auto gs = grad(roots, targets, grad_roots, /*retain_graph=*/true, /*allow_unused=*/true,
                       /*create_graph=*/true);
  for (size_t k = 0; k < gs.size(); ++k) res[slot[k]] = gs[k];
  return res;
}

void check_2d(const Tensor& w, int64_t rows, int64_t cols, const char* what, DType dt) {
  TG_CHECK(w, RuntimeError, "rnn: missing ", what);
  TG_CHECK(w->dtype == dt, RuntimeError, "rnn: expected ", what, " to have dtype ", dtype_name(dt), ", got ",
           dtype_name(w->dtype));
  TG_CHECK(w->ndim() == 2 && w->shape[0] == rows && w->shape[1] == cols, RuntimeError, "rnn: expected ", what,
           " of size [", rows, ", ", cols, "], got ", shape_str(w->shape));
}

// PyTorch's scalar type names, as its matmul mismatch message uses them.
const char* scalar_name(DType d) {
  return d == DType::Float32 ? "Float" : d == DType::Float64 ? "Double" : d == DType::Int64 ? "Long" : "Bool";
}

void check_state(const Tensor& h, const Geometry& g, int64_t width, const char* what, DType dt) {
  if (!h) return;
  TG_CHECK(h->dtype == dt, RuntimeError, "mat1 and mat2 must have the same dtype, but got ", scalar_name(h->dtype),
           " and ", scalar_name(dt));
  TG_CHECK(h->ndim() == 3 && h->shape[0] == g.D && h->shape[1] == g.B && h->shape[2] == width, RuntimeError,
           "Expected ", what, " size (", g.D, ", ", g.B, ", ", width, "), got ", shape_str(h->shape));
}

}  // namespace

std::vector<Tensor> rnn_layer(RnnMode mode, const Tensor& input, const Tensor& hx, const Tensor& cx,
                              const std::vector<Tensor>& weights, bool bidirectional, bool batch_first) {
  return trace::op("rnn_layer", trace::current ? trace::concat({input, hx, cx}, weights) : std::vector<Tensor>{}, [&] { return trace::Attrs{{"mode", int64_t(mode)}, {"bidirectional", int64_t(bidirectional)}, {"batch_first", int64_t(batch_first)}}; }, [&]() -> std::vector<Tensor> {
  const DType dt = input->dtype;
  TG_CHECK(is_floating(dt), RuntimeError, "\"", mode_name(mode), "\" not implemented for '", dtype_name(dt), "'");
  TG_CHECK(input->ndim() == 3, RuntimeError, "input must have 3 dimensions, got ", input->ndim());
  Geometry g;
  g.mode = mode;
  g.D = bidirectional ? 2 : 1;
  g.batch_first = batch_first;
  g.T = input->shape[batch_first ? 1 : 0];
  g.B = input->shape[batch_first ? 0 : 1];
  g.I = input->shape[2];
  TG_CHECK(g.T > 0, RuntimeError, "Expected sequence length to be larger than 0 in RNN");
  TG_CHECK(weights.size() == size_t(5 * g.D), RuntimeError, "rnn: expected ", 5 * g.D, " weights, got ",
           weights.size());
  TG_CHECK(weights[0] && weights[0]->ndim() == 2 && weights[0]->shape[0] % kernels::rnn_gates(mode) == 0,
           RuntimeError, "rnn: weight_ih must be 2-D with a multiple of ", kernels::rnn_gates(mode), " rows");
  g.H = weights[0]->shape[0] / kernels::rnn_gates(mode);
  g.has_bias = weights[2] != nullptr;
  g.proj = weights[4] != nullptr;
  TG_CHECK(!g.proj || mode == RnnMode::Lstm, RuntimeError, "rnn: a projection (weight_hr) is only for LSTM");
  TG_CHECK(!g.proj || weights[4]->ndim() == 2, RuntimeError, "rnn: weight_hr must be 2-D");
  g.P = g.proj ? weights[4]->shape[0] : g.H;
  for (int64_t d = 0; d < g.D; ++d) {
    check_2d(weights[5 * d], g.G(), g.I, "weight_ih", dt);
    check_2d(weights[5 * d + 1], g.G(), g.P, "weight_hh", dt);
    TG_CHECK(!weights[5 * d + 4] == !g.proj, RuntimeError, "rnn: either all directions have weight_hr or none");
    if (g.proj) check_2d(weights[5 * d + 4], g.P, g.H, "weight_hr", dt);
    for (int k = 2; k < 4; ++k) {
      const Tensor& b = weights[5 * d + k];
      TG_CHECK(!b == !g.has_bias, RuntimeError, "rnn: either all biases or none must be given");
      if (!b) continue;
      TG_CHECK(b->dtype == dt, RuntimeError, "rnn: expected bias to have dtype ", dtype_name(dt), ", got ",
               dtype_name(b->dtype));
      TG_CHECK(b->ndim() == 1 && b->shape[0] == g.G(), RuntimeError, "rnn: expected bias of size [", g.G(),
               "], got ", shape_str(b->shape));
    }
  }
  check_state(hx, g, g.P, "hidden", dt);
  if (mode == RnnMode::Lstm) check_state(cx, g, g.H, "cell", dt);
  const bool lstm = mode == RnnMode::Lstm;

  std::vector<Tensor> node_inputs{input, hx, lstm ? cx : nullptr};
  node_inputs.insert(node_inputs.end(), weights.begin(), weights.end());
  auto node = make_node<MkldnnRnnLayerBackward0>(node_inputs, g, input, hx, lstm ? cx : nullptr, weights);

  Tensor x = contiguous(input);
  Tensor h0 = dense(hx), c0 = lstm ? dense(cx) : nullptr;
  Tensor out = empty(batch_first ? Shape{g.B, g.T, g.D * g.P} : Shape{g.T, g.B, g.D * g.P}, dt);
  Tensor hn = empty({g.D, g.B, g.P}, dt);
  Tensor cn = lstm ? empty({g.D, g.B, g.H}, dt) : nullptr;
  if (node) node->saved.resize(g.D);
  TG_DISPATCH_FLOAT(dt, T, {
    const int64_t BH = g.B * g.H, BP = g.B * g.P;
    for (int64_t d = 0; d < g.D; ++d) {
      std::vector<Tensor> w(weights.begin() + 5 * d, weights.begin() + 5 * d + 5);
      for (int k = 2; k < 4; ++k) w[k] = dense(w[k]);
      forward_direction<T>(g, d, x->data_as<T>(), w[0], w[1], w[2], w[3], w[4], h0 ? ptr<T>(h0) + d * BP : nullptr,
                           c0 ? ptr<T>(c0) + d * BH : nullptr, out->data_as<T>(), hn->data_as<T>() + d * BP,
                           cn ? cn->data_as<T>() + d * BH : nullptr, node ? &node->saved[d] : nullptr);
    }
  });
  if (node) {
    if (lstm) set_history(node, {out, hn, cn});
    else set_history(node, {out, hn});
    if (mode == RnnMode::Tanh || mode == RnnMode::Relu) node->output = SavedTensor(out, true);
  }
  std::vector<Tensor> res{out, hn};
  if (lstm) res.push_back(cn);
  return res;
  });
}

}  // namespace tg
