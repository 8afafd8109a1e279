// Views, shape ops, joining and splitting.
#include "ops/ops.h"
#include "python/bind.h"

namespace tg::bind {

namespace {
py::tuple as_tuple(const std::vector<Tensor>& ts) { return py::tuple(py::cast(ts)); }
int64_t total_numel(const std::vector<Tensor>& ts) {
  int64_t n = 0;
  for (auto& t : ts) n += t->numel();
  return n;
}
// cat/stack's `tensors`: a list or tuple of Tensors, as PyTorch's parser wants; a Tensor
// is a sequence too, but cat(t) is a TypeError there, not a cat of t's rows.
std::vector<Tensor> tensor_list(py::handle obj, const char* fn) {
  TG_CHECK(py::isinstance<py::list>(obj) || py::isinstance<py::tuple>(obj), TypeError, fn,
           "(): argument 'tensors' (position 1) must be tuple of Tensors, not ", type_name(obj));
  std::vector<Tensor> ts;
  size_t i = 0;
  for (auto item : obj) {
    TG_CHECK(py::isinstance<TensorImpl>(item) && !item.is_none(), TypeError, "expected Tensor as element ", i,
             " in argument 0, but got ", type_name(item));
    ts.push_back(item.cast<Tensor>());
    ++i;
  }
  return ts;
}

// unflatten's `sizes`: PyTorch's Tensor.unflatten tests `if not sizes` first (RuntimeError for
// None or an empty list; bool() of a many-element tensor raises its RuntimeError), then reads
// a list of ints.
Shape unflatten_sizes(py::handle sizes) {
  int truth = PyObject_IsTrue(sizes.ptr());
  if (truth < 0) throw py::error_already_set();
  TG_CHECK(truth, RuntimeError, "unflatten: sizes must be non-empty");
  return shape_from_seq(sizes);
}

// narrow's `start`: an int, or (PyTorch's Tensor overload) a 0-d integer tensor.
int64_t narrow_start(py::handle start) {
  if (py::isinstance<TensorImpl>(start)) {
    const Tensor t = start.cast<Tensor>();
    TG_CHECK(t->ndim() == 0 && t->dtype == DType::Int64, RuntimeError, "start must be an 0-dim integral Tensor.");
  }
  return int_arg(start, "narrow", "start");
}
}  // namespace

void bind_shape(py::module_& m, TensorClass& cls) {
  cls.def("view", [](const Tensor& a, py::args size) { return view(a, shape_from_args(size)); });
  cls.def("reshape", [](const Tensor& a, py::args size) { return reshape(a, shape_from_args(size)); });
  m.def("reshape", [](const Tensor& a, py::handle shape) { return reshape(a, shape_from_seq(shape)); },
        py::arg("input"), py::arg("shape"));
  def_both(cls, m, "flatten", [](const Tensor& a, Int s, Int e) { return flatten(a, s, e); },
           py::arg("start_dim") = 0, py::arg("end_dim") = -1);
  def_both(cls, m, "unflatten", [](const Tensor& a, Int dim, py::handle sizes) {
    return unflatten(a, dim, unflatten_sizes(sizes));
  }, py::arg("dim"), py::arg("sizes"));
  // squeeze() and squeeze(dim): an int (numpy integers and 0-d integer tensors too) or a
  // tuple of ints; None given is a TypeError, as in PyTorch.
  def_both(cls, m, "squeeze", [](const Tensor& a) { return squeeze(a); });
  def_both(cls, m, "squeeze", [](const Tensor& a, py::handle dim) {
    if (is_scalar_index(dim)) return squeeze(a, int_arg(dim, "squeeze", "dim"));
    TG_CHECK(py::isinstance<py::tuple>(dim) || py::isinstance<py::list>(dim), TypeError,
             "squeeze(): argument 'dim' must be int or tuple of ints, not ", type_name(dim));
    return squeeze(a, shape_from_seq(dim));
  }, py::arg("dim"));
  def_both(cls, m, "unsqueeze", [](const Tensor& a, Int dim) { return unsqueeze(a, dim); },
           py::arg("dim"));
  cls.def("expand", [](const Tensor& a, py::args size) { return expand(a, shape_from_args(size)); });
  cls.def("expand_as", [](const Tensor& a, const Tensor& o) { return expand_as(a, o); }, py::arg("other"));
  cls.def("view_as", [](const Tensor& a, const Tensor& o) { return view(a, o->shape); }, py::arg("other"));
  cls.def("reshape_as", [](const Tensor& a, const Tensor& o) { return reshape(a, o->shape); }, py::arg("other"));
  cls.def("permute", [](const Tensor& a, py::args dims) { return permute(a, shape_from_args(dims)); });
  m.def("permute", [](const Tensor& a, py::handle dims) { return permute(a, shape_from_seq(dims)); },
        py::arg("input"), py::arg("dims"));
  auto tr = [](const Tensor& a, Int d0, Int d1) { return transpose(a, d0, d1); };
  def_both(cls, m, "transpose", tr, py::arg("dim0"), py::arg("dim1"));
  def_both(cls, m, "swapaxes", tr, py::arg("axis0"), py::arg("axis1"));
  def_both(cls, m, "swapdims", tr, py::arg("dim0"), py::arg("dim1"));
  def_both(cls, m, "t", [](const Tensor& a) { return t(a); });
  def_both(cls, m, "movedim", [](const Tensor& a, py::handle src, py::handle dst) {
    return movedim(a, required_dims_arg(src, "movedim", "source"), required_dims_arg(dst, "movedim", "destination"));
  }, py::arg("source"), py::arg("destination"));
  def_both(cls, m, "narrow", [](const Tensor& a, Int dim, py::handle start, Int length) {
    return narrow(a, dim, narrow_start(start), length);
  }, py::arg("dim"), py::arg("start"), py::arg("length"));
  def_both(cls, m, "select", [](const Tensor& a, Int dim, Int index) {
    return select(a, dim, index);
  }, py::arg("dim"), py::arg("index"));

  for (const char* name : {"cat", "concat", "concatenate"})
    m.def(name, [name](py::handle tensors, Int dim) {
      auto ts = tensor_list(tensors, name);
      return maybe_release(total_numel(ts), [&] { return cat(ts, dim); });
    }, py::arg("tensors"), py::arg("dim") = 0);
  m.def("stack", [](py::handle tensors, Int dim) {
    auto ts = tensor_list(tensors, "stack");
    return maybe_release(total_numel(ts), [&] { return stack(ts, dim); });
  }, py::arg("tensors"), py::arg("dim") = 0);
  def_both(cls, m, "split", [](const Tensor& a, py::handle size, Int dim) {
    // PyTorch's Tensor.split: a one-element tensor is int(tensor); then a Python int is one
    // size, anything else (numpy integers included) the list of sizes.
    if (py::isinstance<TensorImpl>(size) && size.cast<Tensor>()->numel() == 1)
      return as_tuple(split(a, py::int_(py::reinterpret_borrow<py::object>(size)).cast<int64_t>(), dim));
    if (PyLong_Check(size.ptr()) && !PyBool_Check(size.ptr())) return as_tuple(split(a, size.cast<int64_t>(), dim));
    return as_tuple(split_with_sizes(a, shape_from_seq(size), dim));
  }, py::arg("split_size_or_sections"), py::arg("dim") = 0);
  def_both(cls, m, "chunk", [](const Tensor& a, Int chunks, Int dim) {
    return as_tuple(chunk(a, chunks, dim));
  }, py::arg("chunks"), py::arg("dim") = 0);
  def_both(cls, m, "unbind", [](const Tensor& a, Int dim) { return as_tuple(unbind(a, dim)); },
           py::arg("dim") = 0);
}

}  // namespace tg::bind
