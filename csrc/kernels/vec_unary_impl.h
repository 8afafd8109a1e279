#pragma once
// The bodies of the vector kernels for one vector width, included by vec_unary.cpp
// (baseline SIMD), vec_unary_avx2.cpp (AVX2 + FMA) and vec_unary_avx512.cpp.
#include "kernels/vec_unary.h"
#include "kernels/vmath.h"

namespace tg::kernels {
namespace {

template <class F, class I>
void vec_unary_impl(VecFn f, const float* x, float* y, int64_t n) {
  switch (f) {
    case VecFn::Exp: return v_map<F>(x, y, n, [](F v) { return v_exp<F, I>(v); });
    case VecFn::Log: return v_map<F>(x, y, n, [](F v) { return v_log<F, I>(v); });
    case VecFn::Sigmoid: return v_map<F>(x, y, n, [](F v) { return v_sigmoid<F, I>(v); });
    case VecFn::Tanh: return v_map<F>(x, y, n, [](F v) { return v_tanh<F, I>(v); });
    case VecFn::Silu: return v_map<F>(x, y, n, [](F v) { return v_silu<F, I>(v); });
    case VecFn::Gelu: return v_map<F>(x, y, n, [](F v) { return v_gelu<F, I>(v); });
    case VecFn::GeluTanh: return v_map<F>(x, y, n, [](F v) { return v_gelu_tanh<F, I>(v); });
  }
}

template <class F, class I>
void vec_grad_impl(VecGrad f, const float* g, const float* x, float* dx, int64_t n) {
  switch (f) {
    case VecGrad::Silu: return v_map2<F>(g, x, dx, n, [](F a, F b) { return v_silu_grad<F, I>(a, b); });
    case VecGrad::Gelu: return v_map2<F>(g, x, dx, n, [](F a, F b) { return v_gelu_grad<F, I>(a, b); });
    case VecGrad::GeluTanh:
      return v_map2<F>(g, x, dx, n, [](F a, F b) { return v_gelu_tanh_grad<F, I>(a, b); });
  }
}

}  // namespace
}  // namespace tg::kernels

// The external entry points of one SIMD build, named vec_unary_<ISA> etc. (declared and
// dispatched in vec_unary.cpp), on float vectors of BYTES bytes. Each *_avx2.cpp /
// *_avx512.cpp file expands this once, so both builds always offer the same functions.
#define TG_VEC_KERNELS(ISA, BYTES)                                                          \
  namespace tg::kernels {                                                                  \
  namespace {                                                                              \
  typedef float F_##ISA __attribute__((vector_size(BYTES)));                               \
  typedef int32_t I_##ISA __attribute__((vector_size(BYTES)));                             \
  }                                                                                        \
  void vec_unary_##ISA(VecFn f, const float* x, float* y, int64_t n) {                     \
    vec_unary_impl<F_##ISA, I_##ISA>(f, x, y, n);                                          \
  }                                                                                        \
  void vec_grad_##ISA(VecGrad f, const float* g, const float* x, float* dx, int64_t n) {   \
    vec_grad_impl<F_##ISA, I_##ISA>(f, g, x, dx, n);                                       \
  }                                                                                        \
  float vec_row_max_##ISA(const float* x, int64_t n) { return v_row_max<F_##ISA>(x, n); }  \
  double vec_exp_sum_##ISA(const float* x, float m, float* y, int64_t n) {                 \
    return v_exp_sum<F_##ISA, I_##ISA>(x, m, y, n);                                        \
  }                                                                                        \
  double vec_sum_##ISA(const float* x, int64_t n) { return v_sum<F_##ISA>(x, n); }         \
  }  // namespace tg::kernels
