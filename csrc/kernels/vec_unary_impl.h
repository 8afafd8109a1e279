#pragma once
// The bodies of vec_unary / vec_grad for one vector width, included by vec_unary.cpp
// (baseline SIMD) and vec_unary_avx2.cpp (AVX2 + FMA).
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
