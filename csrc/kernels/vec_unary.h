#pragma once
// Bulk float32 elementwise functions on SIMD lanes (vmath.h), with an AVX2+FMA build chosen
// at run time where the CPU has it. The float64 versions of these ops stay on libm: float64
// results are what tests compare with finite differences, so they keep libm's accuracy.
#include <cstdint>

namespace tg::kernels {

enum class VecFn : uint8_t { Exp, Log, Sigmoid, Tanh, Silu, Gelu, GeluTanh };
// Derivatives that need more than arithmetic: dx = g * f'(x).
enum class VecGrad : uint8_t { Silu, Gelu, GeluTanh };

// y[i] = f(x[i]) for n contiguous floats; y may be x.
void vec_unary(VecFn f, const float* x, float* y, int64_t n);
// dx[i] = g[i] * f'(x[i]) for n contiguous floats; dx may alias g or x.
void vec_grad(VecGrad f, const float* g, const float* x, float* dx, int64_t n);

}  // namespace tg::kernels
