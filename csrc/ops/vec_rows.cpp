// Float32 tensors through the SIMD kernels of kernels/vec_unary.h: contiguous rows go
// straight to the kernel, strided ones through a small buffer, so every element of a
// tensor gets the same formula whatever its layout.
#include "kernels/vec_unary.h"
#include "ops/elementwise_util.h"

namespace tg::ew {

namespace {
constexpr int64_t kChunk = 256;
constexpr int64_t kF = sizeof(float);

// Runs `rows(x, y, m)` over the strided row (x, sx) -> (y, sy) of n elements.
template <class Rows>
void strided_row(const char* x, int64_t sx, char* y, int64_t sy, int64_t n, Rows rows) {
  if (sx == kF && sy == kF) return rows((const float*)x, (float*)y, n);
  float buf[kChunk];
  for (int64_t b = 0; b < n; b += kChunk) {
    const int64_t m = std::min(kChunk, n - b);
    for (int64_t i = 0; i < m; ++i) buf[i] = *(const float*)(x + (b + i) * sx);
    rows(buf, buf, m);
    for (int64_t i = 0; i < m; ++i) *(float*)(y + (b + i) * sy) = buf[i];
  }
}
}  // namespace

Tensor vec_unary_f32(const Tensor& a, kernels::VecFn fn) {
  Tensor x = cast(a, DType::Float32);
  Tensor out = empty(x->shape, DType::Float32);
  kernels::strided_loop<2>(out->shape, {out->strides.data(), x->strides.data()}, {out->data(), x->data()},
                           {kF, kF}, [fn](std::array<char*, 2> p, std::array<int64_t, 2> s, int64_t n) {
                             strided_row(p[1], s[1], p[0], s[0], n, [fn](const float* in, float* o, int64_t m) {
                               kernels::vec_unary(fn, in, o, m);
                             });
                           });
  return out;
}

void vec_unary_f32_inplace(const Tensor& self, kernels::VecFn fn) {
  kernels::strided_loop<1>(self->shape, {self->strides.data()}, {self->data()}, {kF},
                           [fn](std::array<char*, 1> p, std::array<int64_t, 1> s, int64_t n) {
                             strided_row(p[0], s[0], p[0], s[0], n, [fn](const float* in, float* o, int64_t m) {
                               kernels::vec_unary(fn, in, o, m);
                             });
                           });
}

Tensor vec_grad_f32(const Tensor& g, const Tensor& x, kernels::VecGrad fn) {
  Shape shape = broadcast_shapes(g->shape, x->shape);
  Tensor cg = cast(g, DType::Float32), cx = cast(x, DType::Float32);
  Shape sg = broadcast_strides(cg, shape), sx = broadcast_strides(cx, shape);
  Tensor out = empty(shape, DType::Float32);
  kernels::strided_loop<3>(
      shape, {out->strides.data(), sg.data(), sx.data()}, {out->data(), cg->data(), cx->data()}, {kF, kF, kF},
      [fn](std::array<char*, 3> p, std::array<int64_t, 3> s, int64_t n) {
        if (s[0] == kF && s[1] == kF && s[2] == kF)
          return kernels::vec_grad(fn, (const float*)p[1], (const float*)p[2], (float*)p[0], n);
        float bg[kChunk], bx[kChunk];
        for (int64_t b = 0; b < n; b += kChunk) {
          const int64_t m = std::min(kChunk, n - b);
          for (int64_t i = 0; i < m; ++i) {
            bg[i] = *(const float*)(p[1] + (b + i) * s[1]);
            bx[i] = *(const float*)(p[2] + (b + i) * s[2]);
          }
          kernels::vec_grad(fn, bg, bx, bg, m);
          for (int64_t i = 0; i < m; ++i) *(float*)(p[0] + (b + i) * s[0]) = bg[i];
        }
      });
  return out;
}

}  // namespace tg::ew
