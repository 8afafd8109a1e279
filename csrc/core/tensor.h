#pragma once
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/storage.h"

namespace tg {

using Shape = std::vector<int64_t>;
struct Node;
struct TensorHooks;  // autograd/node.h
struct TensorImpl;
// Tensors are handled by shared pointer everywhere: views, autograd edges and the Python
// wrapper all hold the same TensorImpl, so `t.grad is t.grad` in Python.
using Tensor = std::shared_ptr<TensorImpl>;

// How a tracked view came about; in-place ops on some of them are refused (PyTorch's
// CreationMeta): the view of a view op run under no_grad, or one of several views returned
// by split/chunk/unbind.
enum class ViewCreation : uint8_t { Default, NoGrad, MultiOutput };

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;       // in elements
  int64_t offset = 0;  // in elements
  DType dtype = DType::Float32;
  // A Python number turned into a 0-d tensor; it takes part in type promotion only by
  // category (PyTorch's "wrapped number"), so `float32_tensor * 2.0` stays float32.
  bool wrapped_number = false;

  // autograd metadata
  bool requires_grad = false;
  bool retains_grad = false;
  Tensor grad;
  std::shared_ptr<Node> grad_fn;  // null for leaves
  uint32_t output_nr = 0;
  std::weak_ptr<Node> grad_accumulator;  // leaves: the node that accumulates into .grad
  std::shared_ptr<TensorHooks> hooks;     // register_hook, retain_grad ...; null when none

  // View tracking, set by the view ops when autograd may care: the tensor whose memory this
  // view shows (never itself a tracked view), so an in-place op on the view can rewrite the
  // base's history. grad_fn is regenerated from the base when the storage version moved
  // past view_version (the base or another of its views was written in place).
  Tensor view_base;
  uint64_t view_version = 0;
  ViewCreation view_creation = ViewCreation::Default;

  int64_t ndim() const { return (int64_t)shape.size(); }
  int64_t numel() const;
  bool is_contiguous() const;
  bool is_leaf() const { return grad_fn == nullptr; }
  char* data() const { return (char*)storage->data + offset * (int64_t)itemsize(dtype); }
  template <class T> T* data_as() const { return reinterpret_cast<T*>(data()); }
  // Size of `dim` after wrapping negative dims; throws IndexError when out of range.
  int64_t size(int64_t dim) const;
};

// A read-only view of several tensors, given as a braced list `{a, b}` or a vector. Every
// op passes its operands through one of these on each call, so it neither allocates nor
// touches the reference counts. Only for parameters: the list lives as long as the call.
class TensorRefs {
 public:
  using Refs = std::initializer_list<std::reference_wrapper<const Tensor>>;
  TensorRefs(Refs list) : refs_(list), n_(list.size()) {}                     // NOLINT
  TensorRefs(const std::vector<Tensor>& v) : vec_(v.data()), n_(v.size()) {}  // NOLINT
  size_t size() const { return n_; }
  const Tensor& operator[](size_t i) const { return vec_ ? vec_[i] : refs_.begin()[i].get(); }

 private:
  Refs refs_;
  const Tensor* vec_ = nullptr;
  size_t n_;
};

int64_t numel_of(const Shape& shape);
Shape contiguous_strides(const Shape& shape);
// Wraps a possibly negative dim into [0, ndim); IndexError names the valid range.
int64_t wrap_dim(int64_t dim, int64_t ndim);
void check_shape(const Shape& shape);  // ValueError on negative sizes

// A fresh, contiguous, uninitialised tensor.
Tensor empty(const Shape& shape, DType dtype);
// A tensor that views `base`'s storage with the given geometry (no autograd history).
Tensor make_view(const Tensor& base, Shape shape, Shape strides, int64_t offset);
// Same data and geometry as `t`, no autograd history (what `detach()` returns).
Tensor alias(const Tensor& t);

// PyTorch's result_type: dimensioned tensors outrank 0-d tensors, which outrank Python
// numbers; a lower rank only wins when it is of a higher category (bool < int < float).
DType result_type(TensorRefs operands);

}  // namespace tg
