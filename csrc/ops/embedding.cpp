// Embedding lookup (forward a row gather, backward a race-free grouped scatter-add, see
// kernels/embedding.h), the max_norm renormalization of the looked-up rows, and one_hot.
#include "ops/embedding.h"

#include "ops/compute.h"

#include <cmath>
#include <limits>

#include "autograd/adjoint.h"
#include "autograd/node.h"
#include "autograd/trace.h"
#include "kernels/embedding.h"
#include "ops/creation.h"
#include "ops/elementwise.h"
#include "ops/elementwise_util.h"
#include "ops/index.h"
#include "ops/shape.h"

namespace tg {

namespace {

// PyTorch's legacy tensor type names, as its argument checks print them.
const char* legacy_name(DType d) {
  switch (d) {
    case DType::Float32: return "torch.FloatTensor";
    case DType::Float64: return "torch.DoubleTensor";
    case DType::Int64: return "torch.LongTensor";
    case DType::Bool: return "CPUBoolType";  // sic, as PyTorch prints it
    default: break;
  }
  return "torch.Tensor";
}

// PyTorch's checkScalarTypes for the indices of `fn`.
void check_indices(const Tensor& indices, const char* fn, int position) {
  TG_CHECK(indices->dtype == DType::Int64, RuntimeError, "Expected tensor for argument #", position,
           " 'indices' to have one of the following scalar types: Long, Int; "
           "but got ", legacy_name(indices->dtype), " instead (while checking arguments for ", fn, ")");
}

// The indices, contiguous, every one checked to lie in [0, V) before anything is written.
Tensor checked_indices(const Tensor& indices, int64_t V) {
  Tensor idx = contiguous(indices);
  const int64_t* p = idx->data_as<int64_t>();
  const int64_t n = idx->numel();
  bool ok = true;
  for (int64_t i = 0; i < n; ++i) ok &= (p[i] >= 0) & (p[i] < V);
  TG_CHECK(ok, IndexError, "index out of range in self");
  return idx;
}

struct EmbeddingBackward0 : Node {
  SavedTensor indices;
  int64_t V, D, padding_idx;
  bool scale_grad_by_freq;
  DType dtype;
  EmbeddingBackward0(const Tensor& idx, int64_t V, int64_t D, int64_t padding_idx, bool scale, DType dt)
      : indices(idx), V(V), D(D), padding_idx(padding_idx), scale_grad_by_freq(scale), dtype(dt) {}
  std::string name() const override { return "EmbeddingBackward0"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    Tensor idx = contiguous(indices.get(*this));
    Tensor go = contiguous(g[0]);
    if (go->dtype != dtype) {
      NoGradGuard ng;
      go = to_dtype(go, dtype);
    }
    Tensor gw = zeros({V, D}, dtype);
    TG_DISPATCH_FLOAT(dtype, T, {
      kernels::embedding_backward<T>(go->data_as<T>(), idx->data_as<int64_t>(), idx->numel(), V, D, padding_idx,
                                     scale_grad_by_freq, gw->data_as<T>());
    });
    return {gw};
  }
  // create_graph: the weight gradient is linear in g; its derivative with respect to g is
  // PyTorch's embedding_dense_double_backward: the rows of gg at the indices (zero at
  // padding_idx), without the 1/count of scale_grad_by_freq, as PyTorch computes it.
  std::vector<Tensor> apply_graph(std::vector<Tensor>& g) override {
    const Tensor saved = indices.get(*this);
    const Tensor idx = reshape(contiguous(saved), {saved->numel()});
    const Shape gshape = g[0]->shape;
    Tensor keep;
    if (padding_idx >= 0) {
      keep = empty({idx->numel(), 1}, dtype);
      const int64_t* p = idx->data_as<int64_t>();
      TG_DISPATCH_FLOAT(dtype, T, {
        T* k = keep->data_as<T>();
        for (int64_t i = 0; i < idx->numel(); ++i) k[i] = p[i] == padding_idx ? T(0) : T(1);
      });
    }
    return {linear_in_grad(g[0], "EmbeddingDenseBackwardBackward0", [&](const Tensor&) { return apply(g)[0]; },
                           [idx, keep, gshape](const Tensor& gg) {
                             Tensor r = index_select(gg, 0, idx);
                             if (keep) r = mul(r, keep);
                             return reshape(r, gshape);
                           })};
  }
  void release_saved() override { indices.reset(); }
};

}  // namespace

Tensor embedding(const Tensor& weight, const Tensor& indices, int64_t padding_idx, bool scale_grad_by_freq,
                 bool sparse) {
  return trace::op("embedding", {weight, indices}, [&] { return trace::Attrs{{"padding_idx", padding_idx}}; }, [&]() -> Tensor {
  if (is_half(weight->dtype))  // rows gathered (and gradients summed) in float32
    return narrow_to(embedding(widen(weight), indices, padding_idx, scale_grad_by_freq, sparse), weight->dtype);
  TG_CHECK(weight->ndim() == 2, RuntimeError, "'weight' must be 2-D");
  check_indices(indices, "embedding", 1);
  TG_CHECK(!sparse, NotImplementedError,
           "embedding(): sparse=True (sparse gradients) is not supported; use sparse=False");
  const int64_t V = weight->shape[0], D = weight->shape[1];
  Tensor idx = checked_indices(indices, V);
  Tensor w = contiguous(weight);
  Shape shape = indices->shape;
  shape.push_back(D);
  Tensor out = empty(shape, weight->dtype);
  const int64_t row_bytes = D * (int64_t)itemsize(weight->dtype);
  kernels::embedding_gather(w->data(), idx->data_as<int64_t>(), idx->numel(), row_bytes, out->data());
  set_history(make_node<EmbeddingBackward0>({weight}, idx, V, D, padding_idx, scale_grad_by_freq, weight->dtype),
              {out});
  return out;
  });
}

Tensor embedding_renorm_(const Tensor& weight, const Tensor& indices, double max_norm, double norm_type) {
  TG_CHECK(weight->ndim() == 2, RuntimeError, "'weight' must be 2-D");
  check_indices(indices, "embedding_renorm_", 2);
  TG_CHECK(is_floating(weight->dtype), RuntimeError, "\"embedding_renorm_\" not implemented for '",
           dtype_name(weight->dtype), "'");
  const int64_t V = weight->shape[0], D = weight->shape[1];
  Tensor idx = checked_indices(indices, V);
  ew::check_writable(weight);
  const kernels::RowGroups grp = kernels::group_rows(idx->data_as<int64_t>(), idx->numel(), V);
  const int64_t s0 = weight->strides[0], s1 = weight->strides[1];
  const bool inf = std::isinf(norm_type);
  TG_DISPATCH_FLOAT(weight->dtype, T, {
    T* w = weight->data_as<T>();
    for (int64_t r : grp.rows) {
      T* row = w + r * s0;
      double norm = 0;
      for (int64_t c = 0; c < D; ++c) {
        const double a = std::abs(double(row[c * s1]));
        if (inf)
          norm = std::max(norm, a);
        else if (norm_type == 1)
          norm += a;
        else if (norm_type == 2)
          norm += a * a;
        else if (norm_type == 0)
          norm += a != 0;
        else
          norm += std::pow(a, norm_type);
      }
      if (!inf && norm_type != 1 && norm_type != 0) norm = norm_type == 2 ? std::sqrt(norm) : std::pow(norm, 1.0 / norm_type);
      if (norm > max_norm) {
        const double scale = max_norm / (norm + 1e-7);
        for (int64_t c = 0; c < D; ++c) row[c * s1] = T(double(row[c * s1]) * scale);
      }
    }
  });
  weight->storage->version++;
  return weight;
}

Tensor one_hot(const Tensor& self, int64_t num_classes) {
  TG_CHECK(self->dtype == DType::Int64, RuntimeError, "one_hot is only applicable to index tensor of type LongTensor.");
  Tensor idx = contiguous(self);
  const int64_t* p = idx->data_as<int64_t>();
  const int64_t n = idx->numel();
  if (n == 0) {
    TG_CHECK(num_classes > 0, RuntimeError, "Can not infer total number of classes from empty tensor.");
  } else {
    int64_t lo = std::numeric_limits<int64_t>::max(), hi = std::numeric_limits<int64_t>::min();
    for (int64_t i = 0; i < n; ++i) lo = std::min(lo, p[i]), hi = std::max(hi, p[i]);
    TG_CHECK(lo >= 0, RuntimeError, "Class values must be non-negative.");
    if (num_classes == -1)
      num_classes = hi + 1;
    else
      TG_CHECK(hi < num_classes, RuntimeError, "Class values must be smaller than num_classes.");
  }
  Shape shape = self->shape;
  shape.push_back(num_classes);
  Tensor out = zeros(shape, DType::Int64);
  int64_t* q = out->data_as<int64_t>();
  for (int64_t i = 0; i < n; ++i) q[i * num_classes + p[i]] = 1;
  return out;
}

}  // namespace tg
