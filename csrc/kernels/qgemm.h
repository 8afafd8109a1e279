#pragma once
// Int8 GEMM for dynamic quantization (tg.quantization.quantize_dynamic):
//
//   acc[m, n] = sum_k A[m, k] * W[n, k]        (int32, exact)
//   Y[m, n]   = float(acc[m, n] - a_zero * colsum[n]) * (a_scale * w_scale[n]) + bias[n]
//
// A holds the activations of one batch quantized per tensor, asymmetric, to 7 bits
// (uint8 values in [0, 127], PyTorch fbgemm's `reduce_range`); W holds the weights
// quantized per output channel, symmetric, to [-127, 127]. With these ranges the AVX2 /
// AVX-512BW sequence `vpmaddubsw` (u8 x s8 -> adjacent pairs summed in int16, saturating)
// can never saturate (2 * 127 * 127 = 32258 < 32767), so every path, `vpmaddubsw` +
// `vpmaddwd(ones)`, AVX-512 VNNI `vpdpbusd` and the portable loop, computes the same exact
// int32 sums. K is limited so that they cannot overflow int32 (kQgemmMaxK).
//
// The weights are packed once (qpack_weight) into panels of 16 output channels: within a
// panel, for each group of 4 consecutive k, the 16 channels' 4 bytes each (64 bytes), so
// that one 32-bit lane of a vector holds the 4 products vpmaddubsw/vpdpbusd sum together.
// K is padded to a multiple of 4 and N to a multiple of 16 with zero weights.
//
// Instruction set: follows the float GEMM's (kernels::gemm_isa(), which tests force with
// _set_gemm_isa) -- "avx512" runs VNNI where the CPU has it, else AVX-512BW -- unless
// set_qgemm_isa forced one ("avx512_vnni", "avx512", "avx2", "portable"; "auto" undoes it).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tg::kernels {

constexpr int kQPanel = 16;  // output channels per packed panel
// Largest K whose sums of 127 * 127 products stay within int32 (together with the
// zero-point correction a_zero * colsum, at most 127 * 127 * K as well).
constexpr int64_t kQgemmMaxK = (int64_t(1) << 31) / (2 * 127 * 127) - 4;

struct QPackedWeight {
  int64_t N = 0, K = 0;
  int64_t Kp = 0;      // K rounded up to a multiple of 4
  int64_t panels = 0;  // ceil(N / 16)
  std::vector<int8_t> weight;    // N x K row-major, as quantized (int_repr)
  std::vector<int32_t> col_sum;  // sum_k W[n, k]
  std::shared_ptr<int8_t> packed;  // panels x (Kp / 4) x 16 x 4 bytes, 64-byte aligned
  int64_t panel_bytes() const { return Kp * kQPanel; }
};

// Packs the N x K row-major int8 weights. ValueError for a weight of -128 (outside the
// symmetric range the kernels rely on) or K above kQgemmMaxK.
std::shared_ptr<QPackedWeight> qpack_weight(const int8_t* W, int64_t N, int64_t K);

// C[m * ldc + n] = acc[m, n] (int32) for m < M, n < N. A is M rows of lda >= Kp bytes,
// values in [0, 127], with A[m, K .. Kp) zero.
void qgemm_s32(int64_t M, const uint8_t* A, int64_t lda, const QPackedWeight& W, int32_t* C, int64_t ldc);

// Y[m * ldy + n] = float(acc - a_zero * col_sum[n]) * (a_scale * w_scale[n]) + bias[n]
// (bias may be null).
void qgemm_f32(int64_t M, const uint8_t* A, int64_t lda, int32_t a_zero, float a_scale, const QPackedWeight& W,
               const float* w_scale, const float* bias, float* Y, int64_t ldy);

// Per-tensor activation quantization parameters for the range [mn, mx] (widened to hold 0)
// on [0, 127]: PyTorch's ChooseQuantizationParams with reduce_range, so that scale and
// zero point equal torch._choose_qparams_per_tensor(x, reduce_range=True):
// scale = (mx - mn) / 127 (0.1 for an all-zero range, at least 6.1e-5), zero point from
// whichever end loses less, rounded and clamped to [0, 127].
struct QParams {
  float scale;
  int32_t zero_point;
};
QParams choose_qparams_u7(float mn, float mx);

// Quantizes the M x K float rows x (row stride ldx) into A (M x lda bytes, lda >= K,
// columns K .. lda zero-filled): A = clamp(round_half_even(x * (1 / scale)) + zero_point,
// 0, 127). The min/max pass and the quantization are threaded over rows.
QParams quantize_activations_u7(int64_t M, int64_t K, const float* x, int64_t ldx, uint8_t* A, int64_t lda);

// The instruction set the int8 GEMM runs now: "avx512_vnni", "avx512", "avx2" or "portable".
std::string qgemm_isa();
// Forces one of those (ValueError for a name this CPU cannot run), or "auto" to follow
// gemm_isa() again.
void set_qgemm_isa(const std::string& isa);

namespace qgemm_detail {

// One instruction set's pieces. The micro-kernel writes the full mr x (16 * np) int32 tile
//   c[i * 16 * np + j] = sum_k a_i[k] * W[panel j / 16, channel j % 16, k]
// for i < m (1 <= m; rows i >= m of the tile are unspecified: a kernel may skip them or
// repeat row 0), and panels b + p * panel_bytes for p < nb (1 <= nb <= np; columns of
// panels p >= nb are left unwritten). kg = Kp / 4.
struct QKernel {
  const char* isa;
  int mr, np;
  void (*kernel)(int64_t kg, const uint8_t* a, int64_t lda, int64_t m, const int8_t* b, int64_t panel_bytes,
                 int64_t nb, int32_t* c);
  // min and max of x[0 .. n), NaNs skipped (+inf / -inf when there is nothing else)
  void (*minmax)(int64_t n, const float* x, float* mn, float* mx);
  // q[i] = clamp(round_half_even(x[i] * inv_scale) + zp, 0, 127) for i < n; NaN -> 0 - zp
  // clamped, i.e. the quantized zero point's lower bound (0)
  void (*quantize)(int64_t n, const float* x, float inv_scale, int32_t zp, uint8_t* q);
};

const QKernel* q_portable();
#ifdef TG_X86
const QKernel* q_avx2();
const QKernel* q_avx512();
const QKernel* q_avx512_vnni();
#endif

}  // namespace qgemm_detail

}  // namespace tg::kernels
