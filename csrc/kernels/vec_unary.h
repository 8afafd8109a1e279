#pragma once
// Bulk float32 elementwise functions on SIMD lanes (vmath.h), with AVX-512 and AVX2+FMA
// builds chosen at run time where the CPU has them. The float64 versions of these ops
// stay on libm: float64 results are what tests compare with finite differences, so they
// keep libm's accuracy.
#include <cstdint>
#include <string>

namespace tg::kernels {

enum class VecFn : uint8_t { Exp, Log, Sigmoid, Tanh, Silu, Gelu, GeluTanh };
// Derivatives that need more than arithmetic: dx = g * f'(x).
enum class VecGrad : uint8_t { Silu, Gelu, GeluTanh };

// y[i] = f(x[i]) for n contiguous floats; y may be x.
void vec_unary(VecFn f, const float* x, float* y, int64_t n);
// dx[i] = g[i] * f'(x[i]) for n contiguous floats; dx may alias g or x.
void vec_grad(VecGrad f, const float* g, const float* x, float* dx, int64_t n);

// Row helpers of softmax, log-sum-exp and cross entropy on n contiguous floats.
// The largest value (a nan never wins; -inf for an all-nan row):
float vec_row_max(const float* x, int64_t n);
// y[i] = exp(x[i] - m), stored unless y is null; returns the sum of those exps.
double vec_exp_sum(const float* x, float m, float* y, int64_t n);
// The sum of x[0..n), as accurate as a float sum in double.
double vec_sum(const float* x, int64_t n);

// The instruction set these kernels use: "avx512", "avx2" or "portable" (the baseline
// SIMD build). Tests may force a lower one; ValueError for one this CPU cannot run.
std::string vec_isa();
void set_vec_isa(const std::string& isa);
// Whether that choice allows AVX2 + FMA; the optimizer updates follow it too.
bool vec_avx2();

}  // namespace tg::kernels
