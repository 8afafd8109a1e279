// Matrix products. Everything reduces to one batched product of 3-D operands whose batch
// dims are already broadcast; its backward is two more batched products.
#include "ops/linalg.h"

#include "autograd/node.h"
#include "kernels/gemm.h"
#include "ops/creation.h"
#include "ops/elementwise.h"
#include "ops/shape.h"

namespace tg {

namespace {

// out[b] = a[b] @ b[b] for 3-D operands of equal batch size (any strides).
Tensor bmm_forward(const Tensor& a, const Tensor& b) {
  const int64_t B = a->shape[0], M = a->shape[1], K = a->shape[2], N = b->shape[2];
  Tensor out = empty({B, M, N}, a->dtype);
  TG_DISPATCH_FLOAT(a->dtype, T, {
    for (int64_t i = 0; i < B; ++i)
      kernels::gemm(M, N, K, a->data_as<T>() + i * a->strides[0], a->strides[1], a->strides[2],
                    b->data_as<T>() + i * b->strides[0], b->strides[1], b->strides[2],
                    out->data_as<T>() + i * M * N, N, false);
  });
  return out;
}


struct BmmBackward0 : Node {
  SavedTensor a, b;
  bool is_mm;
  BmmBackward0(const Tensor& x, const Tensor& y, bool mm) : a(x), b(y), is_mm(mm) {}
  std::string name() const override { return is_mm ? "MmBackward0" : "BmmBackward0"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    Tensor ga, gb;
    if (next_edges[0].fn) ga = bmm_forward(g[0], transpose(b.get(*this), 1, 2));
    if (next_edges[1].fn) gb = bmm_forward(transpose(a.get(*this), 1, 2), g[0]);
    return {ga, gb};
  }
  void release_saved() override { a.reset(), b.reset(); }
};

// Batched product of 3-D operands with equal batch size, recorded for autograd.
Tensor bmm3(const Tensor& a, const Tensor& b, bool is_mm) {
  Tensor out = bmm_forward(a, b);
  set_history(make_node<BmmBackward0>({a, b}, a, b, is_mm), {out});
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  TG_CHECK(a->ndim() >= 1 && b->ndim() >= 1, RuntimeError,
           "both arguments to matmul need to be at least 1D, but they are ", a->ndim(), "D and ",
           b->ndim(), "D");
  TG_CHECK(is_floating(a->dtype) && a->dtype == b->dtype, RuntimeError,
           "expected m1 and m2 to have the same floating dtype, but got: ", dtype_name(a->dtype),
           " != ", dtype_name(b->dtype));
  const bool a1 = a->ndim() == 1, b1 = b->ndim() == 1;
  Tensor x = a1 ? view(a, {1, a->shape[0]}) : a;
  Tensor y = b1 ? view(b, {b->shape[0], 1}) : b;
  const int64_t M = x->shape[x->ndim() - 2], K = x->shape[x->ndim() - 1];
  const int64_t K2 = y->shape[y->ndim() - 2], N = y->shape[y->ndim() - 1];
  TG_CHECK(K == K2, RuntimeError, "mat1 and mat2 shapes cannot be multiplied (", M, "x", K,
           " and ", K2, "x", N, "); shapes ", shape_str(a->shape), " and ", shape_str(b->shape));
  Shape xb(x->shape.begin(), x->shape.end() - 2), yb(y->shape.begin(), y->shape.end() - 2);
  Shape batch = broadcast_shapes(xb, yb);
  int64_t nb = numel_of(batch);
  Shape xs = batch, ys = batch;
  xs.insert(xs.end(), {M, K});
  ys.insert(ys.end(), {K, N});
  Tensor x3 = xb == batch ? x : expand(x, xs);
  Tensor y3 = yb == batch ? y : expand(y, ys);
  // Fold batch dims into one; reshape copies only when an expanded view cannot fold.
  x3 = reshape(x3, {nb, M, K});
  y3 = reshape(y3, {nb, K, N});
  Tensor out = bmm3(x3, y3, batch.empty());
  Shape os = batch;
  if (!a1) os.push_back(M);
  if (!b1) os.push_back(N);
  return view(out, os);
}

}  // namespace tg
