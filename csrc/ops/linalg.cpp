// Matrix products. Every form (dot, mv, mm, bmm, broadcast N-D matmul, linear) is one
// batched product of strided matrices; forward and backward run the GEMM kernel on the
// operands' own strides (a transpose is swapped strides, an expanded batch dim a zero
// stride), so no operand is ever copied.
#include "ops/linalg.h"

#include <unordered_set>

#include "autograd/node.h"
#include "autograd/trace.h"
#include "kernels/gemm.h"
#include "ops/compute.h"
#include "ops/creation.h"
#include "ops/elementwise.h"
#include "ops/shape.h"

namespace tg {

namespace {

// A batch of matrices in a tensor's memory: element (batch index b, i, j) lives at
// data + sum_d b[d]*bs[d] + i*rs + j*cs (elements). bs is 0 along broadcast batch dims.
struct Mats {
  void* data;
  Shape bs;
  int64_t rs, cs;
  Mats t() const { return {data, bs, cs, rs}; }
};

// `t` seen as a batch of matrices over `batch` (its leading dims aligned right against
// it). A 1-D tensor is a row (1 x K) or a column (K x 1) shared by the whole batch.
Mats mats(const Tensor& t, const Shape& batch, bool vec_is_row) {
  const int64_t nd = t->ndim(), nb = (int64_t)batch.size();
  Mats m{t->data(), Shape(nb, 0), 0, 0};
  if (nd == 1) {
    (vec_is_row ? m.cs : m.rs) = t->strides[0];
    return m;
  }
  m.rs = t->strides[nd - 2], m.cs = t->strides[nd - 1];
  for (int64_t d = 0; d < nb; ++d) {
    const int64_t td = d - (nb - (nd - 2));
    if (td >= 0 && t->shape[td] != 1) m.bs[d] = t->strides[td];
  }
  return m;
}

// The shapes of a product: batch dims, M x K times K x N, and which operands were 1-D.
struct Geometry {
  Shape batch;
  int64_t M, N, K;
  bool a_vec, b_vec;

  Shape out_shape() const {
    Shape s = batch;
    if (!a_vec) s.push_back(M);
    if (!b_vec) s.push_back(N);
    return s;
  }
  // A tensor of out_shape() (the result or its gradient) as a batch of M x N matrices.
  Mats out_mats(const Tensor& t) const {
    const int64_t nb = (int64_t)batch.size();
    Mats m{t->data(), Shape(t->strides.begin(), t->strides.begin() + nb), 0, 0};
    for (int64_t d = 0; d < nb; ++d)
      if (batch[d] == 1) m.bs[d] = 0;
    if (!a_vec) m.rs = t->strides[nb];
    if (!b_vec) m.cs = t->strides.back();
    return m;
  }
};

Geometry geometry(const Tensor& a, const Tensor& b) {
  Geometry g;
  g.a_vec = a->ndim() == 1, g.b_vec = b->ndim() == 1;
  const int64_t na = a->ndim(), nb = b->ndim();
  g.M = g.a_vec ? 1 : a->shape[na - 2];
  g.K = a->shape[na - 1];
  const int64_t K2 = g.b_vec ? b->shape[0] : b->shape[nb - 2];
  g.N = g.b_vec ? 1 : b->shape[nb - 1];
  TG_CHECK(g.K == K2, RuntimeError, "mat1 and mat2 shapes cannot be multiplied (", g.M, "x",
           g.K, " and ", K2, "x", g.N, "); shapes ", shape_str(a->shape), " and ",
           shape_str(b->shape));
  Shape ab(a->shape.begin(), a->shape.end() - std::min<int64_t>(na, 2));
  Shape bb(b->shape.begin(), b->shape.end() - std::min<int64_t>(nb, 2));
  g.batch = broadcast_shapes(ab, bb);
  return g;
}

// Can the batch dims (outer) and one matrix dim (len, stride) be walked as a single dim
// of numel(batch)*len elements? Then `merged` is its stride. Size-1 dims never matter.
bool fold(const Shape& batch, const Shape& bs, int64_t len, int64_t stride, int64_t* merged) {
  bool have = len != 1;  // the innermost dim above size 1 seen so far
  int64_t inner_size = len, inner_stride = stride;
  *merged = stride;
  for (int64_t d = (int64_t)batch.size() - 1; d >= 0; --d) {
    if (batch[d] == 1) continue;
    if (have && bs[d] != inner_stride * inner_size) return false;
    if (!have) *merged = bs[d], have = true;
    inner_size = batch[d], inner_stride = bs[d];
  }
  return true;
}

bool all_zero(const Shape& s) {
  for (int64_t v : s)
    if (v) return false;
  return true;
}

// C[b] (+)= X[b] @ Y[b] (M x K times K x N) for every b in `batch`. C's batch strides are
// 0 along dims it is reduced over (the gradient of a broadcast operand): those products
// add into the same matrix. Batch dims that line up with a matrix dim fold into it, so a
// broadcast weight times a stack of inputs is a single large GEMM.
template <class T>
void product(const Shape& batch, int64_t M, int64_t N, int64_t K, const Mats& X, const Mats& Y,
             const Mats& C, bool acc) {
  const int64_t nb = numel_of(batch);
  if (nb == 0 || M == 0 || N == 0) return;
  auto x = static_cast<const T*>(X.data);
  auto y = static_cast<const T*>(Y.data);
  auto c = static_cast<T*>(C.data);
  bool reduce = false;
  for (size_t d = 0; d < batch.size(); ++d) reduce |= batch[d] > 1 && C.bs[d] == 0;
  int64_t s1, s2;
  if (!reduce && all_zero(Y.bs) && fold(batch, X.bs, M, X.rs, &s1) && fold(batch, C.bs, M, C.rs, &s2))
    return kernels::gemm(nb * M, N, K, x, s1, X.cs, y, Y.rs, Y.cs, c, s2, C.cs, acc);
  if (!reduce && all_zero(X.bs) && fold(batch, Y.bs, N, Y.cs, &s1) && fold(batch, C.bs, N, C.cs, &s2))
    return kernels::gemm(M, nb * N, K, x, X.rs, X.cs, y, Y.rs, s1, c, C.rs, s2, acc);
  if (all_zero(C.bs) && fold(batch, X.bs, K, X.cs, &s1) && fold(batch, Y.bs, K, Y.rs, &s2))
    return kernels::gemm(M, N, nb * K, x, X.rs, s1, y, s2, Y.cs, c, C.rs, C.cs, acc);

  std::vector<int64_t> off(3 * nb);  // per product: X, Y, C offsets
  std::vector<int64_t> idx(batch.size(), 0);
  for (int64_t i = 0; i < nb; ++i) {
    int64_t ox = 0, oy = 0, oc = 0;
    for (size_t d = 0; d < batch.size(); ++d)
      ox += idx[d] * X.bs[d], oy += idx[d] * Y.bs[d], oc += idx[d] * C.bs[d];
    off[i] = ox, off[nb + i] = oy, off[2 * nb + i] = oc;
    for (int64_t d = (int64_t)batch.size() - 1; d >= 0 && ++idx[d] == batch[d]; --d) idx[d] = 0;
  }
  if (!reduce)
    return kernels::gemm_batched(nb, off.data(), off.data() + nb, off.data() + 2 * nb, M, N, K, x,
                                 X.rs, X.cs, y, Y.rs, Y.cs, c, C.rs, C.cs, acc);
  // Products sharing an output run in turn, the first one overwriting unless `acc`.
  std::unordered_set<int64_t> seen;
  for (int64_t i = 0; i < nb; ++i) {
    const bool first = seen.insert(off[2 * nb + i]).second;
    kernels::gemm(M, N, K, x + off[i], X.rs, X.cs, y + off[nb + i], Y.rs, Y.cs,
                  c + off[2 * nb + i], C.rs, C.cs, acc || !first);
  }
}

void run_product(DType dt, const Shape& batch, int64_t M, int64_t N, int64_t K, const Mats& X,
                 const Mats& Y, const Mats& C, bool acc) {
  TG_DISPATCH_NUMERIC(dt, T, product<T>(batch, M, N, K, X, Y, C, acc));
}

// The gradient as the node's dtype (a caller-supplied root gradient may differ).
Tensor grad_as(const Tensor& g, DType dt) { return g->dtype == dt ? g : to_dtype(g, dt); }

struct MatmulBackward : Node {
  SavedTensor a, b;
  const char* kind;
  MatmulBackward(const Tensor& x, const Tensor& y, const char* k) : a(x), b(y), kind(k) {}
  std::string name() const override { return kind; }
  std::vector<Tensor> apply(std::vector<Tensor>& grads) override {
    const Tensor& A = a.get(*this);
    const Tensor& B = b.get(*this);
    const Geometry geo = geometry(A, B);
    const Tensor g = grad_as(grads[0], A->dtype);
    const Mats G = geo.out_mats(g);
    Tensor ga, gb;
    if (next_edges[0].fn) {  // dA = dC @ B^T
      ga = empty(A->shape, A->dtype);
      run_product(A->dtype, geo.batch, geo.M, geo.K, geo.N, G, mats(B, geo.batch, false).t(),
                  mats(ga, geo.batch, true), false);
    }
    if (next_edges[1].fn) {  // dB = A^T @ dC
      gb = empty(B->shape, B->dtype);
      run_product(B->dtype, geo.batch, geo.K, geo.N, geo.M, mats(A, geo.batch, true).t(), G,
                  mats(gb, geo.batch, false), false);
    }
    return {ga, gb};
  }
  // The same products as matmuls (1-D operands as a row / column, broadcast batch dims
  // summed back), recorded for create_graph.
  std::vector<Tensor> apply_graph(std::vector<Tensor>& grads) override {
    const Tensor A = a.get(*this), B = b.get(*this);
    const Tensor A2 = A->ndim() == 1 ? unsqueeze(A, 0) : A, B2 = B->ndim() == 1 ? unsqueeze(B, 1) : B;
    Shape out2 = broadcast_shapes(Shape(A2->shape.begin(), A2->shape.end() - 2), Shape(B2->shape.begin(), B2->shape.end() - 2));
    out2.push_back(A2->shape[A2->ndim() - 2]), out2.push_back(B2->shape[B2->ndim() - 1]);
    const Tensor g = reshape(grad_as(grads[0], A->dtype), out2);
    Tensor ga, gb;
    if (next_edges[0].fn) ga = reshape(sum_to(matmul(g, transpose(B2, -1, -2)), A2->shape), A->shape);
    if (next_edges[1].fn) gb = reshape(sum_to(matmul(transpose(A2, -1, -2), g), B2->shape), B->shape);
    return {ga, gb};
  }
  void release_saved() override { a.reset(), b.reset(); }
};

void check_dtypes(const Tensor& a, const Tensor& b, const char* op) {
  TG_CHECK(a->dtype == b->dtype, RuntimeError, "expected both arguments of ", op,
           " to have the same dtype, but got: ", dtype_name(a->dtype), " != ", dtype_name(b->dtype));
  TG_CHECK(a->dtype != DType::Bool, RuntimeError, op, " is not implemented for bool tensors");
}

// The shared forward of every matmul form; `kind` names its backward node.
Tensor matmul_impl(const Tensor& a, const Tensor& b, const char* kind) {
  // half types: converted to float32, multiplied by the float32 GEMM, the result rounded
  // once; small integers in int64, wrapped back
  if (!is_base(a->dtype)) return narrow_to(matmul_impl(widen(a), widen(b), kind), a->dtype);
  const Geometry geo = geometry(a, b);
  Tensor out = empty(geo.out_shape(), a->dtype);
  run_product(a->dtype, geo.batch, geo.M, geo.N, geo.K, mats(a, geo.batch, true),
              mats(b, geo.batch, false), geo.out_mats(out), false);
  set_history(make_node<MatmulBackward>({a, b}, a, b, kind), {out});
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  return trace::op("matmul", {a, b}, [&]() -> Tensor {
  TG_CHECK(a->ndim() >= 1 && b->ndim() >= 1, RuntimeError,
           "both arguments to matmul need to be at least 1D, but they are ", a->ndim(), "D and ",
           b->ndim(), "D");
  check_dtypes(a, b, "matmul");
  const char* kind = a->ndim() == 1 ? (b->ndim() == 1 ? "DotBackward0" : "MmBackward0")
                     : b->ndim() == 1 && a->ndim() == 2 ? "MvBackward0"
                     : a->ndim() == 2 && b->ndim() == 2 ? "MmBackward0"
                                                        : "BmmBackward0";
  return matmul_impl(a, b, kind);
  });
}

Tensor mm(const Tensor& a, const Tensor& b) {
  TG_CHECK(a->ndim() == 2, RuntimeError, "self must be a matrix, got a ", a->ndim(),
           "-D tensor of shape ", shape_str(a->shape));
  TG_CHECK(b->ndim() == 2, RuntimeError, "mat2 must be a matrix, got a ", b->ndim(),
           "-D tensor of shape ", shape_str(b->shape));
  check_dtypes(a, b, "mm");
  return matmul_impl(a, b, "MmBackward0");
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  TG_CHECK(a->ndim() == 3, RuntimeError, "batch1 must be a 3D tensor, got shape ", shape_str(a->shape));
  TG_CHECK(b->ndim() == 3, RuntimeError, "batch2 must be a 3D tensor, got shape ", shape_str(b->shape));
  TG_CHECK(a->shape[0] == b->shape[0] && a->shape[2] == b->shape[1], RuntimeError,
           "Expected size for first two dimensions of batch2 tensor to be: [", a->shape[0], ", ",
           a->shape[2], "] but got: [", b->shape[0], ", ", b->shape[1], "] (shapes ",
           shape_str(a->shape), " and ", shape_str(b->shape), ")");
  check_dtypes(a, b, "bmm");
  return matmul_impl(a, b, "BmmBackward0");
}

Tensor dot(const Tensor& a, const Tensor& b) {
  TG_CHECK(a->ndim() == 1 && b->ndim() == 1, RuntimeError, "1D tensors expected, but got ",
           a->ndim(), "D and ", b->ndim(), "D tensors");
  TG_CHECK(a->shape[0] == b->shape[0], RuntimeError,
           "inconsistent tensor size, expected tensor [", a->shape[0], "] and src [", b->shape[0],
           "] to have the same number of elements, but got ", a->shape[0], " and ", b->shape[0],
           " elements respectively");
  check_dtypes(a, b, "dot");
  return matmul_impl(a, b, "DotBackward0");
}

Tensor mv(const Tensor& a, const Tensor& b) {
  TG_CHECK(a->ndim() == 2 && b->ndim() == 1, RuntimeError,
           "vector + matrix @ vector expected, got shapes ", shape_str(a->shape), " and ",
           shape_str(b->shape));
  TG_CHECK(a->shape[1] == b->shape[0], RuntimeError, "size mismatch, got mat (", a->shape[0],
           "x", a->shape[1], "), vec (", b->shape[0], ")");
  check_dtypes(a, b, "mv");
  return matmul_impl(a, b, "MvBackward0");
}

void matmul_into(const Tensor& out, const Tensor& a, const Tensor& b, bool accumulate) {
  TG_CHECK(out->ndim() == 2 && a->ndim() == 2 && b->ndim() == 2, RuntimeError,
           "matmul_into expects 2-D tensors, got shapes ", shape_str(out->shape), ", ",
           shape_str(a->shape), " and ", shape_str(b->shape));
  check_dtypes(a, b, "matmul_into");
  check_dtypes(out, a, "matmul_into");
  const Geometry geo = geometry(a, b);
  TG_CHECK(out->shape == geo.out_shape(), RuntimeError, "matmul_into: out has shape ",
           shape_str(out->shape), " but ", shape_str(a->shape), " @ ", shape_str(b->shape),
           " has shape ", shape_str(geo.out_shape()));
  TG_CHECK(out->numel() == 0 || (out->strides[0] != 0 && out->strides[1] != 0) ||
               out->numel() == 1, RuntimeError, "matmul_into: out must not be an expanded tensor");
  run_product(a->dtype, geo.batch, geo.M, geo.N, geo.K, mats(a, geo.batch, true),
              mats(b, geo.batch, false), geo.out_mats(out), accumulate);
  out->storage->version++;
}

// ---- linear ------------------------------------------------------------------------------

namespace {

// x as a batch of rows-of-inputs: x[..., in] = batch x M x in (M = 1 for 1-D x).
Geometry linear_geometry(const Tensor& x, const Tensor& w) {
  Geometry g;
  g.a_vec = x->ndim() == 1, g.b_vec = false;
  g.batch = Shape(x->shape.begin(), x->shape.end() - std::min<int64_t>(x->ndim(), 2));
  g.M = g.a_vec ? 1 : x->shape[x->ndim() - 2];
  g.K = w->shape[1], g.N = w->shape[0];
  return g;
}

struct LinearBackward : Node {
  SavedTensor x, w;
  bool has_bias;
  Shape bias_shape;
  LinearBackward(const Tensor& x, const Tensor& w, const Tensor& b)
      : x(x), w(w), has_bias(bool(b)), bias_shape(b ? b->shape : Shape{}) {}
  std::string name() const override { return has_bias ? "AddmmBackward0" : "MmBackward0"; }
  std::vector<Tensor> apply(std::vector<Tensor>& grads) override {
    const Tensor& X = x.get(*this);
    const Tensor& W = w.get(*this);
    const Geometry geo = linear_geometry(X, W);
    const Tensor g = grad_as(grads[0], X->dtype);
    const Mats G = geo.out_mats(g);
    const Shape no_batch(geo.batch.size(), 0);
    Tensor gx, gw, gb;
    if (next_edges[0].fn) {  // dx = dy @ W
      gx = empty(X->shape, X->dtype);
      run_product(X->dtype, geo.batch, geo.M, geo.K, geo.N, G, mats(W, geo.batch, false),
                  mats(gx, geo.batch, true), false);
    }
    if (next_edges[1].fn) {  // dW = dy^T @ x, summed over every row of the batch
      gw = empty(W->shape, W->dtype);
      const Mats GW{gw->data(), no_batch, gw->strides[0], gw->strides[1]};
      run_product(W->dtype, geo.batch, geo.N, geo.K, geo.M, G.t(), mats(X, geo.batch, true), GW,
                  false);
    }
    if (has_bias && next_edges[2].fn) gb = sum_to(g, bias_shape);  // db = dy summed over rows
    return has_bias ? std::vector<Tensor>{gx, gw, gb} : std::vector<Tensor>{gx, gw};
  }
  std::vector<Tensor> apply_graph(std::vector<Tensor>& grads) override {  // recorded (create_graph)
    const Tensor X = x.get(*this), W = w.get(*this);
    const Tensor g = grad_as(grads[0], X->dtype);
    Tensor gx, gw, gb;
    if (next_edges[0].fn) gx = matmul(g, W);
    if (next_edges[1].fn)
      gw = matmul(transpose(reshape(g, {-1, W->shape[0]}), 0, 1), reshape(X, {-1, W->shape[1]}));
    if (has_bias && next_edges[2].fn) gb = sum_to(g, bias_shape);
    return has_bias ? std::vector<Tensor>{gx, gw, gb} : std::vector<Tensor>{gx, gw};
  }
  void release_saved() override { x.reset(), w.reset(); }
};

}  // namespace

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  return trace::op("linear", {x, weight, bias}, [&]() -> Tensor {
  TG_CHECK(x->ndim() >= 1 && weight->ndim() == 2, RuntimeError,
           "linear expects input of at least 1 dim and a 2-D weight, got shapes ",
           shape_str(x->shape), " and ", shape_str(weight->shape));
  TG_CHECK(x->shape.back() == weight->shape[1], RuntimeError,
           "mat1 and mat2 shapes cannot be multiplied (input ", shape_str(x->shape), " and weight ",
           shape_str(weight->shape), "^T)");
  check_dtypes(x, weight, "linear");
  TG_CHECK(is_floating(x->dtype), RuntimeError, "linear expects floating tensors, got ",
           dtype_name(x->dtype));
  if (bias) {
    check_dtypes(x, bias, "linear");
    TG_CHECK(bias->ndim() <= 1 && bias->numel() == weight->shape[0], RuntimeError,
             "linear: bias of shape ", shape_str(bias->shape), " does not match weight of shape ",
             shape_str(weight->shape));
  }
  if (is_half(x->dtype)) return narrow_to(linear(widen(x), widen(weight), widen(bias)), x->dtype);
  const Geometry geo = linear_geometry(x, weight);
  Tensor out = empty(geo.out_shape(), x->dtype);
  if (bias) copy_into(out, bias);  // broadcast over the rows, then out += x @ W^T
  run_product(x->dtype, geo.batch, geo.M, geo.N, geo.K, mats(x, geo.batch, true),
              mats(weight, geo.batch, false).t(), geo.out_mats(out), bool(bias));
  auto node = bias ? make_node<LinearBackward>({x, weight, bias}, x, weight, bias)
                   : make_node<LinearBackward>({x, weight}, x, weight, bias);
  set_history(node, {out});
  return out;
  });
}

}  // namespace tg
