// Fused pointwise gates of recurrent layers; see rnn.h. The row loops live in rnn_impl.h:
// float32 runs the build of the best instruction set (rnn_avx2.cpp, rnn_avx512.cpp; its
// sigmoids and tanhs through vec_unary.h's SIMD kernels), float64 the baseline one with libm.
#include <string>
#include <type_traits>

#include "core/parallel.h"
#include "kernels/cpu_features.h"
#include "kernels/rnn_impl.h"

namespace tg::kernels {

#if TG_X86
void rnn_forward_rows_avx2(RnnMode m, const RnnStepForward<float>& s, int64_t b0, int64_t b1);
void rnn_backward_rows_avx2(RnnMode m, const RnnStepBackward<float>& s, int64_t b0, int64_t b1);
void rnn_forward_rows_avx512(RnnMode m, const RnnStepForward<float>& s, int64_t b0, int64_t b1);
void rnn_backward_rows_avx512(RnnMode m, const RnnStepBackward<float>& s, int64_t b0, int64_t b1);
#endif

namespace {

// Work per row in parallel_for's units (about a nanosecond each): a few ns per gate
// element with the SIMD transcendentals, so a step of the MNIST LSTM (64 rows of 64)
// stays on one thread, where waking a helper would cost more than it saves.
int64_t row_cost(RnnMode mode, int64_t H) { return 2 * H * (rnn_gates(mode) + 1); }

// The instruction set of the float32 row loops follows vec_unary's (set_vec_isa included).
int level() {
#if TG_X86
  if (!vec_avx2()) return 0;
  return vec_isa() == "avx512" ? 2 : 1;
#else
  return 0;
#endif
}

template <class T>
void forward_any(RnnMode mode, const RnnStepForward<T>& s, int lvl, int64_t b0, int64_t b1) {
#if TG_X86
  if constexpr (std::is_same_v<T, float>) {
    if (lvl == 2) return rnn_forward_rows_avx512(mode, s, b0, b1);
    if (lvl == 1) return rnn_forward_rows_avx2(mode, s, b0, b1);
  }
#endif
  forward_rows<T>(mode, s, b0, b1);
}

template <class T>
void backward_any(RnnMode mode, const RnnStepBackward<T>& s, int lvl, int64_t b0, int64_t b1) {
#if TG_X86
  if constexpr (std::is_same_v<T, float>) {
    if (lvl == 2) return rnn_backward_rows_avx512(mode, s, b0, b1);
    if (lvl == 1) return rnn_backward_rows_avx2(mode, s, b0, b1);
  }
#endif
  backward_rows<T>(mode, s, b0, b1);
}

}  // namespace

template <class T>
void rnn_step_forward(RnnMode mode, const RnnStepForward<T>& s) {
  const int lvl = std::is_same_v<T, float> ? level() : 0;
  parallel_for(s.B, row_cost(mode, s.H), [&](int64_t b0, int64_t b1) { forward_any<T>(mode, s, lvl, b0, b1); });
}

template <class T>
void rnn_step_backward(RnnMode mode, const RnnStepBackward<T>& s) {
  const int lvl = std::is_same_v<T, float> ? level() : 0;
  parallel_for(s.B, row_cost(mode, s.H), [&](int64_t b0, int64_t b1) { backward_any<T>(mode, s, lvl, b0, b1); });
}

template void rnn_step_forward<float>(RnnMode, const RnnStepForward<float>&);
template void rnn_step_forward<double>(RnnMode, const RnnStepForward<double>&);
template void rnn_step_backward<float>(RnnMode, const RnnStepBackward<float>&);
template void rnn_step_backward<double>(RnnMode, const RnnStepBackward<double>&);

}  // namespace tg::kernels
