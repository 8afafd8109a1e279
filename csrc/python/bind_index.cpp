// Indexing: t[key], t[key] = value and the index ops. The key is converted item by item
// into IndexItems; what they mean is decided in ops/index.cpp.
#include "ops/ops.h"
#include "python/bind.h"

namespace tg::bind {

namespace {

// A list, tuple or numpy array used as an index: an int64 or bool tensor.
Tensor sequence_index(py::handle obj) {
  py::module_ np = py::module_::import("numpy");
  py::array arr = np.attr("asarray")(obj);
  char kind = arr.dtype().kind();
  if (arr.size() == 0 || kind == 'i' || kind == 'u') {
    arr = np.attr("ascontiguousarray")(arr, "int64");
  } else if (kind == 'b') {
    arr = np.attr("ascontiguousarray")(arr);
  } else if (kind == 'U' || kind == 'S') {
    throw TypeError("new(): invalid data type 'str'");
  } else {
    throw IndexError("tensors used as indices must be long, int, byte or bool tensors (got a " +
                     std::string(py::str(py::type::handle_of(obj).attr("__name__"))) + " of " +
                     std::string(py::str(arr.dtype())) + ")");
  }
  return from_numpy(arr);
}

IndexItem to_item(py::handle obj) {
  using K = IndexItem::Kind;
  IndexItem it;
  if (py::isinstance<TensorImpl>(obj)) {
    it.kind = K::Tensor;
    it.tensor = obj.cast<Tensor>();
  } else if (obj.is_none()) {
    it.kind = K::None;
  } else if (obj.ptr() == Py_Ellipsis) {
    it.kind = K::Ellipsis;
  } else if (PySlice_Check(obj.ptr())) {
    Py_ssize_t start, stop, step;
    if (PySlice_Unpack(obj.ptr(), &start, &stop, &step) < 0) throw py::error_already_set();
    it.kind = K::Slice;
    it.start = start, it.stop = stop, it.step = step;
  } else if (PyBool_Check(obj.ptr())) {
    it.kind = K::Bool;
    it.value = obj.ptr() == Py_True;
  } else if (!PyLong_Check(obj.ptr()) && py::isinstance(obj, py::module_::import("numpy").attr("bool_"))) {
    it.kind = K::Bool;
    it.value = obj.cast<bool>();
  } else if (PyIndex_Check(obj.ptr())) {  // int, numpy integers
    Py_ssize_t v = PyNumber_AsSsize_t(obj.ptr(), PyExc_IndexError);
    if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
    it.kind = K::Int;
    it.value = v;
  } else if (PyUnicode_Check(obj.ptr()) || PyBytes_Check(obj.ptr())) {
    // PyTorch reads an unknown key as data for a tensor index: a str is its TypeError
    throw TypeError("new(): invalid data type '" + type_name(obj) + "'");
  } else if (py::isinstance<py::list>(obj) || py::isinstance<py::tuple>(obj) ||
             py::isinstance<py::array>(obj)) {
    it.kind = K::Tensor;
    it.tensor = sequence_index(obj);
  } else {
    throw IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables "
                     "are valid indices (got " +
                     std::string(py::str(py::type::handle_of(obj).attr("__name__"))) + ")");
  }
  return it;
}

std::vector<IndexItem> key_items(py::handle key) {
  std::vector<IndexItem> items;
  if (py::isinstance<py::tuple>(key)) {
    for (auto k : key) items.push_back(to_item(k));
  } else {
    items.push_back(to_item(key));
  }
  return items;
}

std::vector<Tensor> index_list(py::handle indices) {
  std::vector<Tensor> out;
  for (auto i : indices) out.push_back(i.is_none() ? Tensor() : to_item(i).tensor);
  return out;
}

}  // namespace

void bind_index(py::module_& m, TensorClass& cls) {
  cls.def("__getitem__", [](const Tensor& self, py::handle key) {
    auto items = key_items(key);
    return maybe_release(self->numel(), [&] { return getitem(self, items); });
  });
  cls.def("__setitem__", [](const Tensor& self, py::handle key, py::handle value) {
    auto items = key_items(key);
    Tensor v = to_tensor(value, "value");
    maybe_release(self->numel(), [&] { setitem(self, items, v); return 0; });
  });
  cls.def("index_put_", [](const Tensor& self, py::handle indices, const Tensor& values, Bool accumulate) {
    index_put_(self, index_list(indices), values, accumulate);
    return self;
  }, py::arg("indices"), py::arg("values"), py::arg("accumulate") = false);

  def_both(cls, m, "index_select", [](const Tensor& a, Int dim, const Tensor& index) {
    return index_select(a, dim, index);
  }, py::arg("dim"), py::arg("index"));
  def_both(cls, m, "gather", [](const Tensor& a, Int dim, const Tensor& index) {
    return gather(a, dim, index);
  }, py::arg("dim"), py::arg("index"));
  def_both(cls, m, "scatter_add", [](const Tensor& a, Int dim, const Tensor& index, const Tensor& src) {
    return scatter_add(a, dim, index, src);
  }, py::arg("dim"), py::arg("index"), py::arg("src"));
  def_both(cls, m, "masked_fill", [](const Tensor& a, const Tensor& mask, py::handle value) {
    return masked_fill(a, mask, to_tensor(value, "value"));
  }, py::arg("mask"), py::arg("value"));
  cls.def("masked_fill_", [](const Tensor& a, const Tensor& mask, py::handle value) {
    masked_fill_(a, mask, to_tensor(value, "value"));
    return a;
  }, py::arg("mask"), py::arg("value"));
  def_both(cls, m, "nonzero", [](const Tensor& a) { return nonzero(a); });
}

}  // namespace tg::bind
