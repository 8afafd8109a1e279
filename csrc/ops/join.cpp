// Joining (cat, stack) and splitting (split, chunk, unbind). Splits return views; joins
// copy each input into its slice of one fresh output.
#include <algorithm>

#include "autograd/node.h"
#include "autograd/trace.h"
#include "ops/creation.h"
#include "ops/shape.h"

namespace tg {

namespace {

struct InputMeta {
  Shape shape;
  DType dtype;
};

// The gradient of a piece of a joined output, in the dtype of the input it came from.
Tensor piece_grad(const Tensor& g, DType dtype) { return g->dtype == dtype ? g : to_dtype(g, dtype); }

struct CatBackward0 : Node {
  int64_t dim;
  std::vector<InputMeta> inputs;
  std::vector<int64_t> starts;  // -1: a skipped 1-D empty input
  std::string name() const override { return "CatBackward0"; }
  TG_APPLY_IS_DIFFERENTIABLE
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    std::vector<Tensor> out(inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (!next_edges[i].fn) continue;
      if (starts[i] < 0) out[i] = zeros(inputs[i].shape, inputs[i].dtype);
      else out[i] = piece_grad(narrow(g[0], dim, starts[i], inputs[i].shape[dim]), inputs[i].dtype);
    }
    return out;
  }
};

struct StackBackward0 : Node {
  int64_t dim;
  std::vector<DType> dtypes;
  std::string name() const override { return "StackBackward0"; }
  TG_APPLY_IS_DIFFERENTIABLE
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    std::vector<Tensor> out(dtypes.size());
    for (size_t i = 0; i < dtypes.size(); ++i)
      if (next_edges[i].fn) out[i] = piece_grad(select(g[0], dim, (int64_t)i), dtypes[i]);
    return out;
  }
};

// One node for all pieces of a split: the input's gradient is the pieces' gradients
// joined back (the engine stands in zeros for pieces that got none).
struct SplitBackward : Node {
  const char* node_name;
  int64_t dim;
  explicit SplitBackward(const char* n, int64_t d) : node_name(n), dim(d) {}
  std::string name() const override { return node_name; }
  TG_APPLY_IS_DIFFERENTIABLE
  std::vector<Tensor> apply(std::vector<Tensor>& g) override { return {cat(g, dim)}; }
};

struct UnbindBackward0 : Node {
  int64_t dim;
  explicit UnbindBackward0(int64_t d) : dim(d) {}
  std::string name() const override { return "UnbindBackward0"; }
  TG_APPLY_IS_DIFFERENTIABLE
  std::vector<Tensor> apply(std::vector<Tensor>& g) override { return {stack(g, dim)}; }
};

// Views of `a` without history (the caller records one node for all of them).
std::vector<Tensor> pieces(const Tensor& a, int64_t dim, const std::vector<int64_t>& sizes) {
  NoGradGuard no_grad;
  std::vector<Tensor> out;
  int64_t start = 0;
  for (int64_t s : sizes) {
    out.push_back(narrow(a, dim, start, s));
    start += s;
  }
  return out;
}

// The pieces were made under no_grad (one node records them all): track them as views
// of `a` now, as views PyTorch refuses to write in place while autograd records.
void track_multi_output(const std::vector<Tensor>& out, const Tensor& a) {
  for (const Tensor& o : out) {
    o->view_base.reset();
    track_view(o, a);
    if (o->view_base && grad_enabled()) o->view_creation = ViewCreation::MultiOutput;
  }
}

}  // namespace

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  return trace::op("cat", tensors, [&] { return trace::Attrs{{"dim", dim}}; }, [&]() -> Tensor {
  TG_CHECK(!tensors.empty(), ValueError, "torch.cat(): expected a non-empty list of Tensors");
  // 1-D empty tensors are skipped, as in PyTorch (a legacy rule code relies on).
  auto skipped = [](const Tensor& t) { return t->ndim() == 1 && t->shape[0] == 0; };
  const Tensor* ref = nullptr;
  size_t ref_i = 0;
  for (size_t i = 0; i < tensors.size() && !ref; ++i)
    if (!skipped(tensors[i])) ref = &tensors[i], ref_i = i;
  DType dtype = result_type(tensors);
  if (!ref) {  // every input is 1-D and empty
    Tensor out = empty({0}, dtype);
    auto node = make_node<CatBackward0>(tensors);
    if (node) {
      node->dim = 0;
      for (auto& t : tensors) node->inputs.push_back({t->shape, t->dtype}), node->starts.push_back(-1);
    }
    set_history(node, {out});
    return out;
  }
  const int64_t nd = (*ref)->ndim();
  TG_CHECK(nd > 0, RuntimeError, "zero-dimensional tensor (at position ", ref_i,
           ") cannot be concatenated");
  dim = wrap_dim(dim, nd);
  Shape shape = (*ref)->shape;
  shape[dim] = 0;
  std::vector<int64_t> starts(tensors.size(), -1);
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    if (skipped(t)) continue;
    TG_CHECK(t->ndim() == nd, RuntimeError, "Tensors must have same number of dimensions: got ", nd,
             " and ", t->ndim(), " (shapes ", shape_str((*ref)->shape), " and ", shape_str(t->shape),
             " for tensors number ", ref_i, " and ", i, " in the list)");
    for (int64_t d = 0; d < nd; ++d) {
      TG_CHECK(d == dim || t->shape[d] == (*ref)->shape[d], RuntimeError,
               "Sizes of tensors must match except in dimension ", dim, ". Expected size ",
               (*ref)->shape[d], " but got size ", t->shape[d], " for tensor number ", i,
               " in the list (shapes ", shape_str((*ref)->shape), " and ", shape_str(t->shape), ")");
    }
    starts[i] = shape[dim];
    shape[dim] += t->shape[dim];
  }
  Tensor out = empty(shape, dtype);
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (starts[i] < 0) continue;
    NoGradGuard no_grad;
    copy_into(narrow(out, dim, starts[i], tensors[i]->shape[dim]), tensors[i]);
  }
  auto node = make_node<CatBackward0>(tensors);
  if (node) {
    node->dim = dim;
    node->starts = starts;
    for (auto& t : tensors) node->inputs.push_back({t->shape, t->dtype});
  }
  set_history(node, {out});
  return out;
  });
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  TG_CHECK(!tensors.empty(), RuntimeError, "stack expects a non-empty TensorList");
  const Shape& s0 = tensors[0]->shape;
  for (size_t i = 1; i < tensors.size(); ++i)
    TG_CHECK(tensors[i]->shape == s0, RuntimeError,
             "stack expects each tensor to be equal size, but got ", shape_str(s0),
             " at entry 0 and ", shape_str(tensors[i]->shape), " at entry ", i);
  dim = wrap_dim(dim, (int64_t)s0.size() + 1);
  Shape shape = s0;
  shape.insert(shape.begin() + dim, (int64_t)tensors.size());
  Tensor out = empty(shape, result_type(tensors));
  for (size_t i = 0; i < tensors.size(); ++i) {
    NoGradGuard no_grad;
    copy_into(select(out, dim, (int64_t)i), tensors[i]);
  }
  auto node = make_node<StackBackward0>(tensors);
  if (node) {
    node->dim = dim;
    for (auto& t : tensors) node->dtypes.push_back(t->dtype);
  }
  set_history(node, {out});
  return out;
}

namespace {
std::vector<Tensor> split_recorded(const Tensor& a, int64_t dim, const std::vector<int64_t>& sizes,
                                   const char* node_name) {
  std::vector<Tensor> out = pieces(a, dim, sizes);
  set_history(make_node<SplitBackward>({a}, node_name, dim), out);
  track_multi_output(out, a);
  return out;
}
}  // namespace

std::vector<Tensor> split(const Tensor& a, int64_t split_size, int64_t dim) {
  return trace::op("split", {a}, [&] { return trace::Attrs{{"dim", dim}}; }, [&]() -> std::vector<Tensor> {
  TG_CHECK(a->ndim() > 0, RuntimeError, "split expects at least a 1-dimensional tensor");
  dim = wrap_dim(dim, a->ndim());
  const int64_t size = a->shape[dim];
  TG_CHECK(split_size >= 0, RuntimeError, "split expects split_size be non-negative, but got split_size=",
           split_size);
  TG_CHECK(split_size > 0 || size == 0, RuntimeError,
           "split_size can only be 0 if dimension size is 0, but got dimension size of ", size);
  std::vector<int64_t> sizes;
  if (size == 0) sizes.push_back(0);
  for (int64_t start = 0; start < size; start += split_size)
    sizes.push_back(std::min(split_size, size - start));
  return split_recorded(a, dim, sizes, "SplitBackward0");
  });
}

std::vector<Tensor> split_with_sizes(const Tensor& a, const std::vector<int64_t>& sizes, int64_t dim) {
  return trace::op("split", {a}, [&] { return trace::Attrs{{"dim", dim}}; }, [&]() -> std::vector<Tensor> {
  TG_CHECK(a->ndim() > 0, RuntimeError, "split expects at least a 1-dimensional tensor");
  dim = wrap_dim(dim, a->ndim());
  int64_t total = 0;
  for (int64_t s : sizes) {
    TG_CHECK(s >= 0, RuntimeError, "split_with_sizes expects split_sizes have only non-negative ",
             "entries, but got split_sizes=", shape_str(sizes));
    total += s;
  }
  TG_CHECK(total == a->shape[dim], RuntimeError, "split_with_sizes expects split_sizes to sum exactly to ",
           a->shape[dim], " (input tensor's size at dimension ", dim, "), but got split_sizes=",
           shape_str(sizes));
  return split_recorded(a, dim, sizes, "SplitWithSizesBackward0");
  });
}

std::vector<Tensor> chunk(const Tensor& a, int64_t chunks, int64_t dim) {
  return trace::op("split", {a}, [&] { return trace::Attrs{{"dim", dim}}; }, [&]() -> std::vector<Tensor> {
  TG_CHECK(a->ndim() > 0, RuntimeError, "chunk expects at least a 1-dimensional tensor");
  TG_CHECK(chunks > 0, RuntimeError, "chunk expects `chunks` to be greater than 0, got: ", chunks);
  dim = wrap_dim(dim, a->ndim());
  const int64_t size = a->shape[dim];
  if (size == 0)  // PyTorch gives `chunks` empty pieces here
    return split_with_sizes(a, std::vector<int64_t>(chunks, 0), dim);
  return split(a, size / chunks + (size % chunks != 0), dim);  // ceil, without overflow
  });
}

std::vector<Tensor> unbind(const Tensor& a, int64_t dim) {
  TG_CHECK(a->ndim() > 0, IndexError, "Dimension specified as ", dim, " but tensor has no dimensions");
  dim = wrap_dim(dim, a->ndim());
  std::vector<Tensor> out;
  {
    NoGradGuard no_grad;
    for (int64_t i = 0; i < a->shape[dim]; ++i) out.push_back(select(a, dim, i));
  }
  set_history(make_node<UnbindBackward0>({a}, dim), out);
  track_multi_output(out, a);
  return out;
}

}  // namespace tg
