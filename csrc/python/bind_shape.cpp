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
}  // namespace

void bind_shape(py::module_& m, TensorClass& cls) {
  cls.def("view", [](const Tensor& a, py::args size) { return view(a, shape_from_args(size)); });
  cls.def("reshape", [](const Tensor& a, py::args size) { return reshape(a, shape_from_args(size)); });
  m.def("reshape", [](const Tensor& a, py::handle shape) { return reshape(a, shape_from_seq(shape)); },
        py::arg("input"), py::arg("shape"));
  def_both(cls, m, "flatten", [](const Tensor& a, int64_t s, int64_t e) { return flatten(a, s, e); },
           py::arg("start_dim") = 0, py::arg("end_dim") = -1);
  def_both(cls, m, "unflatten", [](const Tensor& a, int64_t dim, py::handle sizes) {
    return unflatten(a, dim, shape_from_seq(sizes));
  }, py::arg("dim"), py::arg("sizes"));
  def_both(cls, m, "squeeze", [](const Tensor& a, py::handle dim) {
    if (dim.is_none()) return squeeze(a);
    if (PyLong_Check(dim.ptr())) return squeeze(a, dim.cast<int64_t>());
    return squeeze(a, shape_from_seq(dim));
  }, py::arg("dim") = py::none());
  def_both(cls, m, "unsqueeze", [](const Tensor& a, int64_t dim) { return unsqueeze(a, dim); },
           py::arg("dim"));
  cls.def("expand", [](const Tensor& a, py::args size) { return expand(a, shape_from_args(size)); });
  cls.def("expand_as", [](const Tensor& a, const Tensor& o) { return expand_as(a, o); }, py::arg("other"));
  cls.def("view_as", [](const Tensor& a, const Tensor& o) { return view(a, o->shape); }, py::arg("other"));
  cls.def("reshape_as", [](const Tensor& a, const Tensor& o) { return reshape(a, o->shape); }, py::arg("other"));
  cls.def("permute", [](const Tensor& a, py::args dims) { return permute(a, shape_from_args(dims)); });
  m.def("permute", [](const Tensor& a, py::handle dims) { return permute(a, shape_from_seq(dims)); },
        py::arg("input"), py::arg("dims"));
  auto tr = [](const Tensor& a, int64_t d0, int64_t d1) { return transpose(a, d0, d1); };
  def_both(cls, m, "transpose", tr, py::arg("dim0"), py::arg("dim1"));
  def_both(cls, m, "swapaxes", tr, py::arg("axis0"), py::arg("axis1"));
  def_both(cls, m, "swapdims", tr, py::arg("dim0"), py::arg("dim1"));
  def_both(cls, m, "t", [](const Tensor& a) { return t(a); });
  def_both(cls, m, "movedim", [](const Tensor& a, py::handle src, py::handle dst) {
    return movedim(a, dims_arg(src), dims_arg(dst));
  }, py::arg("source"), py::arg("destination"));
  def_both(cls, m, "narrow", [](const Tensor& a, int64_t dim, int64_t start, int64_t length) {
    return narrow(a, dim, start, length);
  }, py::arg("dim"), py::arg("start"), py::arg("length"));
  def_both(cls, m, "select", [](const Tensor& a, int64_t dim, int64_t index) {
    return select(a, dim, index);
  }, py::arg("dim"), py::arg("index"));

  auto cat_f = [](const std::vector<Tensor>& ts, int64_t dim) {
    return maybe_release(total_numel(ts), [&] { return cat(ts, dim); });
  };
  for (const char* name : {"cat", "concat", "concatenate"})
    m.def(name, cat_f, py::arg("tensors"), py::arg("dim") = 0);
  m.def("stack", [](const std::vector<Tensor>& ts, int64_t dim) {
    return maybe_release(total_numel(ts), [&] { return stack(ts, dim); });
  }, py::arg("tensors"), py::arg("dim") = 0);
  def_both(cls, m, "split", [](const Tensor& a, py::handle size, int64_t dim) {
    if (PyLong_Check(size.ptr())) return as_tuple(split(a, size.cast<int64_t>(), dim));
    return as_tuple(split_with_sizes(a, shape_from_seq(size), dim));
  }, py::arg("split_size_or_sections"), py::arg("dim") = 0);
  def_both(cls, m, "chunk", [](const Tensor& a, int64_t chunks, int64_t dim) {
    return as_tuple(chunk(a, chunks, dim));
  }, py::arg("chunks"), py::arg("dim") = 0);
  def_both(cls, m, "unbind", [](const Tensor& a, int64_t dim) { return as_tuple(unbind(a, dim)); },
           py::arg("dim") = 0);
}

}  // namespace tg::bind
