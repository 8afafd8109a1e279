// scaled_dot_product_attention: argument checks and broadcasting (PyTorch's rules and
// messages), the fused kernel of kernels/attention.h, and its backward node, which
// recomputes the scores from the saved output and log-sum-exp.
#include "ops/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "autograd/node.h"
#include "autograd/trace.h"
#include "kernels/attention.h"
#include "kernels/random.h"
#include "ops/creation.h"
#include "ops/elementwise.h"
#include "ops/linalg.h"
#include "ops/reduce.h"
#include "ops/shape.h"

namespace tg {

namespace {

// PyTorch's C++ names of the scalar types, as its attention messages print them.
const char* torch_type_name(DType d) {
  switch (d) {
    case DType::Bool: return "bool";
    case DType::Int64: return "long int";
    case DType::Float32: return "float";
    case DType::Float64: return "double";
    default: return dtype_name(d);
  }
}

// Everything the kernel needs to address the operands, for the forward and the backward.
struct Layout {
  Shape batch;  // broadcast batch dims of the output
  int64_t nb = 1, L = 0, S = 0, E = 0, Ev = 0;
  int64_t group_k = 1, group_v = 1;  // query heads per key / value head (enable_gqa)
  std::vector<int64_t> q_off, k_off, v_off, m_off;
  int64_t m_rs = 0, m_cs = 0;
  // PyTorch would take its CPU flash kernel: the output and the gradients of query, key and
  // value are then laid out in memory as those operands are (empty_like), not contiguously.
  bool flash = false;
  std::vector<int64_t> o_off;  // the output's rows
  int64_t o_rs = 0;
};

// The strides PyTorch's empty_like (preserve_format) gives a tensor shaped as `t`: t's own
// when t is non-overlapping and dense, else dense strides in the order of t's
// (infer_dense_strides: a stable sort by stride, size-0 strides and ties kept in place).
Shape dense_strides_like(const Tensor& t) {
  const int64_t nd = t->ndim();
  const Shape &sz = t->shape, &st = t->strides;
  {  // non-overlapping and dense?
    std::vector<int64_t> perm(nd);
    for (int64_t i = 0; i < nd; ++i) perm[i] = i;
    std::sort(perm.begin(), perm.end(), [&](int64_t a, int64_t b) {
      if (sz[a] < 2) return false;
      if (sz[b] < 2) return true;
      return st[a] < st[b];
    });
    int64_t want = 1;
    bool dense = true;
    for (int64_t i = 0; i < nd && sz[perm[i]] >= 2; ++i) {
      if (st[perm[i]] != want) {
        dense = false;
        break;
      }
      want *= sz[perm[i]];
    }
    if (dense) return st;
  }
  std::vector<int64_t> perm(nd);  // innermost first
  for (int64_t i = 0; i < nd; ++i) perm[i] = nd - 1 - i;
  auto cmp = [&](int64_t d0, int64_t d1) {
    if (st[d0] == 0 || st[d1] == 0) return 0;
    if (st[d0] != st[d1]) return st[d0] < st[d1] ? -1 : 1;
    return sz[d0] > sz[d1] ? 1 : 0;
  };
  for (int64_t i = 1; i < nd; ++i) {
    int64_t d1 = i;
    for (int64_t j = 1; j <= i; ++j) {
      const int64_t d0 = i - j;
      const int c = cmp(perm[d0], perm[d1]);
      if (c > 0) {
        std::swap(perm[d0], perm[d1]);
        d1 = d0;
      } else if (c < 0) {
        break;
      }
    }
  }
  Shape out(nd);
  int64_t cur = 1;
  for (int64_t i = 0; i < nd; ++i) {
    out[perm[i]] = cur;
    if (sz[perm[i]] > 1) cur *= sz[perm[i]];
  }
  return out;
}

// A fresh tensor of `shape`, laid out as empty_like(like) when `like` is given (same shape).
Tensor empty_laid_out(const Shape& shape, DType dt, const Tensor& like) {
  Tensor t = empty(shape, dt);
  if (like) t->strides = dense_strides_like(like);
  return t;
}

// A fresh (B, H, T, D) tensor whose memory is (B, T, H, D): PyTorch's flash backward's
// zeros({B, T, H, D}).transpose(1, 2), the layout of its gradients whatever the operands'.
Tensor empty_bthd(const Shape& shape, DType dt) {
  Tensor t = empty({shape[0], shape[2], shape[1], shape[3]}, dt);
  std::swap(t->strides[1], t->strides[2]);
  t->shape = shape;
  return t;
}

// Whether PyTorch 2.13's scaled_dot_product_attention would run its CPU flash kernel
// (sdp_utils_cpp's use_flash_attention_cpp) rather than the math fallback: 4-d operands
// with one batch size and one head count (key and value: a divisor with enable_gqa), one
// head size, nothing empty, unit last strides, no dropout, and a mask (not requiring grad)
// of 2 dims or 4 broadcasting over batch and heads.
bool takes_flash(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, double dropout_p,
                 bool enable_gqa) {
  if (q->ndim() != 4 || k->ndim() != 4 || v->ndim() != 4 || dropout_p > 0) return false;
  if (q->numel() == 0 || k->numel() == 0 || v->numel() == 0) return false;
  if (k->shape[0] != q->shape[0] || v->shape[0] != q->shape[0]) return false;
  if (k->shape[1] != v->shape[1] || (!enable_gqa && k->shape[1] != q->shape[1])) return false;
  if (k->shape[3] != q->shape[3] || v->shape[3] != q->shape[3]) return false;
  if (q->strides[3] != 1 || k->strides[3] != 1 || v->strides[3] != 1) return false;
  if (mask) {
    if (mask->requires_grad) return false;
    const int64_t nd = mask->ndim();
    if (nd != 2 && nd != 4) return false;
    if (nd == 4 && ((mask->shape[0] != 1 && mask->shape[0] != q->shape[0]) ||
                    (mask->shape[1] != 1 && mask->shape[1] != q->shape[1])))
      return false;
  }
  return true;
}

// Offsets (elements) of each of the nb problems in `t`, whose last `inner` dims are the
// matrix and whose other dims broadcast against `batch` (right-aligned); the index of the
// last batch dim (the heads) is divided by `group`.
std::vector<int64_t> batch_offsets(const Tensor& t, int64_t inner, const Shape& batch, int64_t nb, int64_t group) {
  const int64_t nbd = (int64_t)batch.size(), tbd = t->ndim() - inner;
  std::vector<int64_t> stride(nbd, 0);
  for (int64_t d = 0; d < nbd; ++d) {
    const int64_t td = d - (nbd - tbd);
    if (td >= 0 && t->shape[td] != 1) stride[d] = t->strides[td];
  }
  std::vector<int64_t> off(nb), idx(nbd, 0);
  for (int64_t b = 0; b < nb; ++b) {
    int64_t o = 0;
    for (int64_t d = 0; d < nbd; ++d) o += stride[d] * (d == nbd - 1 ? idx[d] / group : idx[d]);
    off[b] = o;
    for (int64_t d = nbd - 1; d >= 0; --d) {  // next multi-index
      if (++idx[d] < batch[d]) break;
      idx[d] = 0;
    }
  }
  return off;
}

// `t` with a unit stride along its last dim (a copy, without history, only when needed).
Tensor unit_last_stride(const Tensor& t) {
  if (t->shape.back() <= 1 || t->strides.back() == 1) return t;
  NoGradGuard ng;
  return contiguous(t);
}

template <class T>
T* ptr_or_null(const Tensor& t) {
  return t ? t->data_as<T>() : nullptr;
}

template <class T>
kernels::AttnProblem<T> problem(const Layout& lo, const Tensor& q, const Tensor& k, const Tensor& v,
                                const Tensor& mask, bool causal, double scale, double dropout_p, uint64_t seed,
                                uint64_t rng_offset) {
  kernels::AttnProblem<T> p;
  p.nb = lo.nb, p.L = lo.L, p.S = lo.S, p.E = lo.E, p.Ev = lo.Ev;
  p.q = q->data_as<T>(), p.q_off = lo.q_off.data(), p.q_rs = q->strides[q->ndim() - 2];
  p.k = k->data_as<T>(), p.k_off = lo.k_off.data(), p.k_rs = k->strides[k->ndim() - 2];
  p.v = v->data_as<T>(), p.v_off = lo.v_off.data(), p.v_rs = v->strides[v->ndim() - 2];
  if (mask) {
    if (mask->dtype == DType::Bool) p.bmask = mask->data_as<bool>();
    else p.fmask = mask->data_as<T>();
    p.m_off = lo.m_off.data(), p.m_rs = lo.m_rs, p.m_cs = lo.m_cs;
  }
  p.causal = causal, p.scale = scale, p.dropout_p = dropout_p, p.seed = seed, p.rng_offset = rng_offset;
  return p;
}

// The gradient of an operand of shape `shape` from the per-problem gradient `full`
// (batch + matrix dims): the heads a group shared summed, then the broadcast dims.
Tensor reduce_grad(const Tensor& full, const Shape& shape, int64_t group) {
  Tensor g = full;
  if (group > 1) {
    Shape s = g->shape;
    const int64_t h = (int64_t)s.size() - 3;
    Shape split(s.begin(), s.begin() + h);
    split.push_back(s[h] / group);
    split.push_back(group);
    split.insert(split.end(), s.begin() + h + 1, s.end());
    g = sum(view(g, split), {h + 1}, false);
  }
  return sum_to(g, shape);
}

struct ScaledDotProductFlashAttentionForCpuBackward0 : Node {
  SavedTensor q, k, v, mask, out;
  Tensor lse;
  Layout lo;
  Shape q_shape, k_shape, v_shape, mask_shape;
  bool causal;
  double scale, dropout_p;
  uint64_t seed, rng_offset;
  SavedTensor q_in, k_in, v_in;  // the operands as given, where q/k/v are copies (create_graph)

  std::string name() const override { return "ScaledDotProductFlashAttentionForCpuBackward0"; }

  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    const Tensor& qt = q.get(*this);
    const Tensor& kt = k.get(*this);
    const Tensor& vt = v.get(*this);
    const Tensor mt = mask.t ? mask.get(*this) : nullptr;
    const Tensor& o = out.get(*this);
    const DType dt = qt->dtype;
    // The gradient read in whatever layout it arrives (rows through strides), copied only
    // when its last dim is strided.
    const Tensor go = unit_last_stride(g[0]->dtype == dt ? g[0] : to_dtype(g[0], dt));
    const std::vector<int64_t> go_off = batch_offsets(go, 2, lo.batch, lo.nb, 1);
    const bool want_mask = next_edges.size() > 3 && next_edges[3].fn;
    auto full = [&](int64_t rows, int64_t cols) {
      Shape s = lo.batch;
      s.push_back(rows), s.push_back(cols);
      return s;
    };
    // As PyTorch's flash backward, the gradients of query, key and value are laid out
    // (B, T, H, D) in memory (a GPT's q, k, v: views of that layout, so the gradient flows
    // back through their transpose and view without a copy); a key / value shared by a
    // group of heads is summed from a contiguous full gradient, then laid out so.
    auto grad_buf = [&](int64_t rows, int64_t cols, int64_t group) {
      return lo.flash && group == 1 ? empty_bthd(full(rows, cols), dt) : empty(full(rows, cols), dt);
    };
    Tensor dq = next_edges[0].fn ? grad_buf(lo.L, lo.E, 1) : nullptr;
    Tensor dk = next_edges[1].fn ? grad_buf(lo.S, lo.E, lo.group_k) : nullptr;
    Tensor dv = next_edges[2].fn ? grad_buf(lo.S, lo.Ev, lo.group_v) : nullptr;
    Tensor dm = want_mask ? zeros(full(lo.L, lo.S), dt) : nullptr;
    std::vector<int64_t> dq_off, dk_off, dv_off;
    if (dq) dq_off = batch_offsets(dq, 2, lo.batch, lo.nb, 1);
    if (dk) dk_off = batch_offsets(dk, 2, lo.batch, lo.nb, 1);
    if (dv) dv_off = batch_offsets(dv, 2, lo.batch, lo.nb, 1);
    TG_DISPATCH_FLOAT(dt, T, {
      auto p = problem<T>(lo, qt, kt, vt, mt, causal, scale, dropout_p, seed, rng_offset);
      auto rows = [](const Tensor& t, const std::vector<int64_t>& off) {
        kernels::AttnRows<T> r;
        if (t) r.data = t->data_as<T>(), r.off = off.data(), r.rs = t->strides[t->ndim() - 2];
        return r;
      };
      const kernels::AttnRows<const T> orow{o->data_as<T>(), lo.o_off.data(), lo.o_rs};
      const kernels::AttnRows<const T> grow{go->data_as<T>(), go_off.data(), go->strides[go->ndim() - 2]};
      kernels::attention_backward(p, orow, grow, lse->data_as<T>(), rows(dq, dq_off), rows(dk, dk_off),
                                  rows(dv, dv_off), ptr_or_null<T>(dm));
    });
    std::vector<Tensor> r(next_edges.size());
    if (dq) r[0] = reduce_grad(dq, q_shape, 1);
    if (dk) r[1] = reduce_grad(dk, k_shape, lo.group_k);
    if (dv) r[2] = reduce_grad(dv, v_shape, lo.group_v);
    for (int i = 1; i < 3 && lo.flash; ++i) {
      if (!r[i] || (i == 1 ? lo.group_k : lo.group_v) == 1) continue;
      Tensor laid = empty_bthd(r[i]->shape, dt);
      NoGradGuard ng;
      copy_(laid, r[i]);
      r[i] = laid;
    }
    if (dm) r[3] = sum_to(dm, mask_shape);
    return r;
  }

  // create_graph: the attention recomputed with public ops (scores, mask, softmax) and its
  // gradients written with them, so they can be differentiated again. Meant for the small
  // sizes double backward is used at: it materializes the (L, S) weights.
  std::vector<Tensor> apply_graph(std::vector<Tensor>& g) override {
    const Tensor qt = (q_in.t ? q_in : q).get(*this), kt = (k_in.t ? k_in : k).get(*this);
    const Tensor vt = (v_in.t ? v_in : v).get(*this);
    const Tensor mt = mask.t ? mask.get(*this) : nullptr;
    const Tensor K = repeat_heads(kt, lo.group_k), V = repeat_heads(vt, lo.group_v);
    const Tensor sc = scalar_tensor(scale, DType::Float64);
    Tensor s = mul(matmul(qt, transpose(K, -2, -1)), sc);
    const Tensor ninf = scalar_tensor(-std::numeric_limits<double>::infinity(), DType::Float64);
    if (mt) s = mt->dtype == DType::Bool ? where(mt, s, ninf) : add(s, mt);
    if (causal) {
      Tensor keep = empty({lo.L, lo.S}, DType::Bool);
      bool* kp = keep->data_as<bool>();
      for (int64_t i = 0; i < lo.L; ++i)
        for (int64_t j = 0; j < lo.S; ++j) kp[i * lo.S + j] = j <= i;
      s = where(keep, s, ninf);
    }
    const Tensor a = softmax(s, -1);
    // dropout: the kernel's mask, regenerated from its counters (problem b, query i, key j)
    Tensor drop;
    if (dropout_p > 0) {
      Shape ms = lo.batch;
      ms.push_back(lo.L), ms.push_back(lo.S);
      drop = empty(ms, DType::Float64);
      double* d = drop->data_as<double>();
      const double keep = dropout_p < 1 ? 1.0 / (1.0 - dropout_p) : 0.0;
      for (int64_t i = 0; i < drop->numel(); ++i)
        d[i] = kernels::uniform01<double>(kernels::rand64(seed, rng_offset + (uint64_t)i)) >= dropout_p ? keep : 0.0;
      drop = to_dtype(drop, qt->dtype);
    }
    const Tensor ad = drop ? mul(a, drop) : a;
    const Tensor go = g[0]->dtype == qt->dtype ? g[0] : to_dtype(g[0], qt->dtype);
    std::vector<Tensor> r(next_edges.size());
    if (next_edges[2].fn) r[2] = group_grad(matmul(transpose(ad, -2, -1), go), v_shape, lo.group_v);
    const bool need_ds = next_edges[0].fn || next_edges[1].fn || (next_edges.size() > 3 && next_edges[3].fn);
    if (!need_ds) return r;
    Tensor da = matmul(go, transpose(V, -2, -1));
    if (drop) da = mul(da, drop);
    const Tensor ds = mul(a, sub(da, sum(mul(da, a), {-1}, true)));  // d loss / d scores
    if (next_edges[0].fn) r[0] = sum_to(mul(matmul(ds, K), sc), q_shape);
    if (next_edges[1].fn) r[1] = group_grad(mul(matmul(transpose(ds, -2, -1), qt), sc), k_shape, lo.group_k);
    if (next_edges.size() > 3 && next_edges[3].fn) r[3] = sum_to(ds, mask_shape);
    return r;
  }
  // Each key / value head repeated for the `group` query heads it serves (enable_gqa).
  static Tensor repeat_heads(const Tensor& t, int64_t group) {
    if (group == 1) return t;
    const int64_t h = t->ndim() - 3;
    Shape e = t->shape;
    e.insert(e.begin() + h + 1, group);
    Shape r = t->shape;
    r[h] *= group;
    return reshape(expand(unsqueeze(t, h + 1), e), r);
  }
  // The gradient of the repeated heads summed back per head, then over broadcast dims.
  static Tensor group_grad(const Tensor& full, const Shape& shape, int64_t group) {
    Tensor gr = full;
    if (group > 1) {
      Shape sp = gr->shape;
      const int64_t h = (int64_t)sp.size() - 3;
      sp[h] /= group;
      sp.insert(sp.begin() + h + 1, group);
      gr = sum(reshape(gr, sp), {h + 1}, false);
    }
    return sum_to(gr, shape);
  }
  void release_saved() override {
    q.reset(), k.reset(), v.reset(), mask.reset(), out.reset();
    q_in.reset(), k_in.reset(), v_in.reset();
    lse.reset();
  }
};

Shape batch_of(const Tensor& t) { return Shape(t->shape.begin(), t->shape.end() - 2); }

}  // namespace

Tensor scaled_dot_product_attention(const Tensor& query, const Tensor& key, const Tensor& value,
                                    const Tensor& attn_mask, double dropout_p, bool is_causal,
                                    std::optional<double> scale, bool enable_gqa, Generator& gen) {
  return trace::op("scaled_dot_product_attention", {query, key, value, attn_mask}, [&] { return trace::Attrs{{"dropout_p", dropout_p}, {"is_causal", int64_t(is_causal)}, {"scale", scale ? *scale : -1.0}, {"enable_gqa", int64_t(enable_gqa)}}; }, [&]() -> Tensor {
  TG_CHECK(query->ndim() >= 2 && key->ndim() >= 2 && value->ndim() >= 2, RuntimeError,
           "Expected query, key, and value to all be  at least 2 dimensional, but got query.dim: ", query->ndim(),
           " key.dim: ", key->ndim(), " and value.dim: ", value->ndim(), " instead.");
  const DType dt = query->dtype;
  TG_CHECK(key->dtype == dt && value->dtype == dt, RuntimeError,
           "Expected query, key, and value to have the same dtype, but got query.dtype: ", torch_type_name(dt),
           " key.dtype: ", torch_type_name(key->dtype), " and value.dtype: ", torch_type_name(value->dtype),
           " instead.");
  TG_CHECK(is_floating(dt), RuntimeError,
           "scaled_dot_product_attention: expected query, key and value of a floating dtype, but got ",
           dtype_name(dt), " (query ", shape_str(query->shape), ")");
  TG_CHECK(dropout_p >= 0.0 && dropout_p <= 1.0, RuntimeError,
           "dropout probability has to be between 0 and 1, but got ", dropout_p);
  if (attn_mask)
    TG_CHECK(attn_mask->dtype == DType::Bool || attn_mask->dtype == dt, RuntimeError,
             "Expected attn_mask dtype to be bool or float or to match query dtype, but got attn_mask.dtype: ",
             torch_type_name(attn_mask->dtype), " and  query.dtype: ", torch_type_name(dt), " instead.");

  Layout lo;
  lo.L = query->shape[query->ndim() - 2], lo.E = query->shape.back();
  lo.S = key->shape[key->ndim() - 2], lo.Ev = value->shape.back();
  TG_CHECK(key->shape.back() == lo.E, RuntimeError,
           "scaled_dot_product_attention: expected key to have the embedding size of query (", lo.E,
           ") in its last dim, but got query ", shape_str(query->shape), " and key ", shape_str(key->shape));
  TG_CHECK(value->shape[value->ndim() - 2] == lo.S, RuntimeError,
           "scaled_dot_product_attention: expected value to have as many rows as key (", lo.S,
           ") in dim -2, but got key ", shape_str(key->shape), " and value ", shape_str(value->shape));

  Shape qb = batch_of(query), kb = batch_of(key), vb = batch_of(value);
  if (enable_gqa) {
    TG_CHECK(query->ndim() >= 3 && key->ndim() >= 3 && value->ndim() >= 3, IndexError,
             "Dimension out of range (expected to be in range of [-2, 1], but got -3)");
    const int64_t hq = qb.back(), hk = kb.back(), hv = vb.back();
    TG_CHECK(hk > 0 && hv > 0 && hq % hk == 0 && hq % hv == 0, RuntimeError,
             "Number of heads in key and value must divide the number of heads in query, but got query heads ",
             hq, ", key heads ", hk, " and value heads ", hv);
    lo.group_k = hq / hk, lo.group_v = hq / hv;
    kb.back() = hq, vb.back() = hq;  // as if repeated: each key/value head serves a group
  }
  lo.batch = broadcast_shapes(broadcast_shapes(qb, kb), vb);
  lo.nb = numel_of(lo.batch);
  Shape out_shape = lo.batch;
  out_shape.push_back(lo.L), out_shape.push_back(lo.Ev);

  if (attn_mask) {
    TG_CHECK(attn_mask->ndim() >= 1, IndexError, "Dimension specified as -2 but tensor has no dimensions");
    TG_CHECK(attn_mask->ndim() >= 2, IndexError,
             "Dimension out of range (expected to be in range of [-1, 0], but got -2)");
    Shape target = lo.batch;
    target.push_back(lo.L), target.push_back(lo.S);
    bool ok = attn_mask->ndim() <= (int64_t)target.size();
    for (int64_t d = 0; ok && d < attn_mask->ndim(); ++d) {
      const int64_t s = attn_mask->shape[attn_mask->ndim() - 1 - d], t = target[target.size() - 1 - d];
      ok = s == 1 || s == t;
    }
    TG_CHECK(ok, RuntimeError, "scaled_dot_product_attention: attn_mask of shape ", shape_str(attn_mask->shape),
             " cannot be broadcast to the attention weights' shape ", shape_str(target));
  }

  Tensor q = unit_last_stride(query), k = unit_last_stride(key), v = unit_last_stride(value);
  Tensor mask = attn_mask;
  lo.q_off = batch_offsets(q, 2, lo.batch, lo.nb, 1);
  lo.k_off = batch_offsets(k, 2, lo.batch, lo.nb, lo.group_k);
  lo.v_off = batch_offsets(v, 2, lo.batch, lo.nb, lo.group_v);
  if (mask) {
    lo.m_off = batch_offsets(mask, 2, lo.batch, lo.nb, 1);
    const int64_t nd = mask->ndim();
    lo.m_rs = mask->shape[nd - 2] == 1 ? 0 : mask->strides[nd - 2];
    lo.m_cs = mask->shape[nd - 1] == 1 ? 0 : mask->strides[nd - 1];
  }
  const double sc = scale ? *scale : 1.0 / std::sqrt(double(lo.E));
  uint64_t seed = 0, rng_offset = 0;
  if (dropout_p > 0) {
    seed = gen.seed;
    rng_offset = gen.take((uint64_t)(lo.nb * lo.L * lo.S));
  }

  lo.flash = takes_flash(query, key, value, attn_mask, dropout_p, enable_gqa);
  Tensor out = empty_laid_out(out_shape, dt, lo.flash ? query : Tensor());
  lo.o_off = batch_offsets(out, 2, lo.batch, lo.nb, 1);
  lo.o_rs = out->strides[out->ndim() - 2];
  Shape lse_shape = lo.batch;
  lse_shape.push_back(lo.L);
  Tensor lse = empty(lse_shape, dt);
  TG_DISPATCH_FLOAT(dt, T, {
    auto p = problem<T>(lo, q, k, v, mask, is_causal, sc, dropout_p, seed, rng_offset);
    kernels::attention_forward(p, kernels::AttnRows<T>{out->data_as<T>(), lo.o_off.data(), lo.o_rs},
                               lse->data_as<T>());
  });

  const Tensor grad_mask = attn_mask && attn_mask->dtype != DType::Bool ? attn_mask : nullptr;
  auto node = make_node<ScaledDotProductFlashAttentionForCpuBackward0>({query, key, value, grad_mask});
  if (node) {
    node->q = SavedTensor(q), node->k = SavedTensor(k), node->v = SavedTensor(v);
    if (mask) node->mask = SavedTensor(mask);
    node->out = SavedTensor(out, /*is_output=*/true);
    node->lse = lse;
    node->lo = std::move(lo);
    node->q_shape = query->shape, node->k_shape = key->shape, node->v_shape = value->shape;
    if (mask) node->mask_shape = mask->shape;
    node->causal = is_causal, node->scale = sc, node->dropout_p = dropout_p;
    node->seed = seed, node->rng_offset = rng_offset;
    if (q.get() != query.get()) node->q_in = SavedTensor(query);
    if (k.get() != key.get()) node->k_in = SavedTensor(key);
    if (v.get() != value.get()) node->v_in = SavedTensor(value);
  }
  set_history(node, {out});
  return out;
  });
}

}  // namespace tg
