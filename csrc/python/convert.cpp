// Conversions between Python objects and core types.
#include "ops/creation.h"
#include "python/bind.h"

namespace tg::bind {

namespace {
// The Tensor held by a Python Tensor (or subclass, such as Parameter), read straight from
// the instance: every binary operator converts its other operand, and pybind11's generic
// path looks the type up by name each time.
bool held_tensor(py::handle obj, Tensor& out) {
  static PyTypeObject* tensor_type = (PyTypeObject*)py::type::of<TensorImpl>().ptr();
  if (!PyObject_TypeCheck(obj.ptr(), tensor_type)) return false;
  auto vh = reinterpret_cast<py::detail::instance*>(obj.ptr())->get_value_and_holder();
  if (!vh.holder_constructed()) return false;  // a subclass that skipped __init__
  out = vh.holder<Tensor>();
  return true;
}
}  // namespace

std::optional<Tensor> as_tensor(py::handle obj) {
  if (Tensor t; held_tensor(obj, t)) return t;
  if (py::isinstance<TensorImpl>(obj)) return obj.cast<Tensor>();
  // bool before int: Python's bool is an int subclass
  if (PyBool_Check(obj.ptr())) return scalar_tensor(obj.ptr() == Py_True, DType::Bool);
  if (PyLong_Check(obj.ptr())) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(obj.ptr(), &overflow);
    TG_CHECK(!overflow, RuntimeError, "Overflow when unpacking long");
    Tensor t = empty({}, DType::Int64);
    *t->data_as<int64_t>() = (int64_t)v;
    t->wrapped_number = true;
    return t;
  }
  if (PyFloat_Check(obj.ptr())) return scalar_tensor(PyFloat_AS_DOUBLE(obj.ptr()), DType::Float64);
  // numpy scalars (np.float32(2), np.int64(3), np.bool_) act as the Python numbers they hold
  static PyObject* np_generic = py::object(py::module_::import("numpy").attr("generic")).release().ptr();
  if (PyObject_IsInstance(obj.ptr(), np_generic) == 1) {
    py::object v = obj.attr("item")();
    if (PyBool_Check(v.ptr()) || PyLong_Check(v.ptr()) || PyFloat_Check(v.ptr())) return as_tensor(v);
  }
  return std::nullopt;
}

Tensor to_tensor(py::handle obj, const char* what) {
  auto t = as_tensor(obj);
  TG_CHECK(t, TypeError, what, " must be a Tensor or a number, not ",
           std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
  return *t;
}

std::string type_name(py::handle obj) {
  return std::string(py::str(py::type::handle_of(obj).attr("__name__")));
}

Tensor tensor_arg(py::handle obj, const char* fn, const char* name, int position) {
  Tensor t;
  if (held_tensor(obj, t)) return t;
  TG_CHECK(py::isinstance<TensorImpl>(obj) && !obj.is_none(), TypeError, fn, "(): argument '", name,
           "' (position ", position, ") must be Tensor, not ", type_name(obj));
  return obj.cast<Tensor>();
}

std::pair<Tensor, Tensor> binary_operands(py::handle input, py::handle other, const char* fn,
                                          const char* other_name, bool pair_ok) {
  Tensor a, b;
  if (!held_tensor(input, a)) {
    auto t = as_tensor(input);
    TG_CHECK(t, TypeError, fn, "(): argument 'input' (position 1) must be Tensor or Number, not ",
             type_name(input));
    TG_CHECK(pair_ok || py::isinstance<TensorImpl>(other), TypeError, fn,
             "() received an invalid combination of arguments - got (", type_name(input), ", ",
             type_name(other), "), but expected one of:\n * (Tensor input, Tensor ", other_name,
             ")\n * (Number self, Tensor ", other_name, ")");
    a = *t;
  }
  b = to_tensor(other, other_name);
  return {a, b};
}

namespace {
// Python ints and what converts like them (numpy integers, 0-d integer tensors); not bools.
bool is_index(py::handle h) { return PyIndex_Check(h.ptr()) && !PyBool_Check(h.ptr()); }

int64_t index_value(py::handle h) {
  py::object i = py::reinterpret_steal<py::object>(PyNumber_Index(h.ptr()));
  if (!i) throw py::error_already_set();
  int overflow = 0;
  long long v = PyLong_AsLongLongAndOverflow(i.ptr(), &overflow);
  TG_CHECK(!overflow, RuntimeError, "Overflow when unpacking long");
  return (int64_t)v;
}
}  // namespace

Shape shape_from_seq(py::handle seq) {
  Shape s;
  for (auto item : seq) {
    TG_CHECK(is_index(item), TypeError, "size must be a sequence of ints, but got an element of type ",
             std::string(py::str(py::type::handle_of(item).attr("__name__"))));
    s.push_back(index_value(item));
  }
  return s;
}

Shape shape_from_args(const py::args& args) {
  if (args.size() == 1 && (py::isinstance<py::tuple>(args[0]) || py::isinstance<py::list>(args[0])))
    return shape_from_seq(args[0]);
  return shape_from_seq(args);
}

// A one-element integer tensor is an int here, as in PyTorch, though it is also a sequence.
bool is_scalar_index(py::handle h) {
  return is_index(h) && (!py::isinstance<py::sequence>(h) || py::isinstance<TensorImpl>(h));
}

std::vector<int64_t> dims_arg(py::handle dim) {
  if (dim.is_none()) return {};
  if (is_scalar_index(dim)) return {index_value(dim)};
  return shape_from_seq(dim);
}

std::vector<int64_t> required_dims_arg(py::handle dim, const char* fn, const char* name) {
  TG_CHECK(!dim.is_none(), TypeError, fn, "(): argument '", name, "' must be tuple of ints, not NoneType");
  return dims_arg(dim);
}

int64_t int_arg(py::handle obj, const char* fn, const char* name) {
  TG_CHECK(is_scalar_index(obj), TypeError, fn, "(): argument '", name, "' must be int, not ", type_name(obj));
  return index_value(obj);
}

std::vector<int64_t> int_list_arg(py::handle obj, const char* fn, const char* name, size_t n) {
  auto type_name = [](py::handle h) { return std::string(py::str(py::type::handle_of(h).attr("__name__"))); };
  if (is_scalar_index(obj)) return std::vector<int64_t>(n, index_value(obj));
  TG_CHECK(py::isinstance<py::tuple>(obj) || py::isinstance<py::list>(obj), TypeError, fn, "(): argument '",
           name, "' must be tuple of ints, not ", type_name(obj));
  std::vector<int64_t> v;
  size_t pos = 0;
  for (auto item : obj) {
    TG_CHECK(is_index(item), TypeError, fn, "(): argument '", name,
             "' must be tuple of ints, but found element of type ", type_name(item), " at pos ", pos);
    v.push_back(index_value(item));
    ++pos;
  }
  return v;
}

DType dtype_arg(py::handle dtype, DType fallback) {
  if (dtype.is_none()) return fallback;
  // Python's scalar types name dtypes too, as in PyTorch (dtype=float is float64).
  if (dtype.ptr() == (PyObject*)&PyFloat_Type) return DType::Float64;
  if (dtype.ptr() == (PyObject*)&PyLong_Type) return DType::Int64;
  if (dtype.ptr() == (PyObject*)&PyBool_Type) return DType::Bool;
  TG_CHECK(py::isinstance<DType>(dtype), TypeError, "dtype must be a tinygrad_cpp dtype, not ",
           std::string(py::str(py::type::handle_of(dtype).attr("__name__"))));
  return dtype.cast<DType>();
}

namespace {
py::object g_dtypes[kNumDTypes];
}  // namespace

py::object dtype_object(DType d) { return g_dtypes[(int)d]; }

void bind_dlpack(py::module_& m);  // python/dlpack.cpp

void bind_dtype(py::module_& m) {
  bind_dlpack(m);
  py::class_<DType> cls(m, "dtype");
  cls.def("__repr__", [](DType d) { return std::string("tinygrad_cpp.") + dtype_name(d); })
      .def("__eq__", [](DType a, py::handle b) { return py::isinstance<DType>(b) && a == b.cast<DType>(); })
      .def("__hash__", [](DType d) { return (int)d; })
      .def_property_readonly("is_floating_point", [](DType d) { return is_floating(d); })
      .def_property_readonly("itemsize", [](DType d) { return itemsize(d); })
      .def_property_readonly("is_signed", [](DType d) { return d != DType::Bool && d != DType::UInt8; })
      .def("to_real", [](DType d) { return dtype_object(d); })
      .def("__reduce__", [](DType d) {
        // pickles as the module attribute, so the one object per dtype survives a round trip
        return py::make_tuple(py::module_::import("builtins").attr("getattr"),
                              py::make_tuple(py::module_::import("tinygrad_cpp").attr("dtype"), dtype_name(d)));
      });
  for (int i = 0; i < kNumDTypes; ++i) {
    const DType d = (DType)i;
    g_dtypes[(int)d] = py::cast(d);
    // Held for the interpreter's lifetime: leak the reference on purpose (no static dtor).
    g_dtypes[(int)d].inc_ref();
    cls.attr(dtype_name(d)) = g_dtypes[(int)d];
  }
  // The same memory read as another dtype of the same size (PyTorch's view(dtype)).
  m.def("_reinterpret", [](const Tensor& t, DType d) {
    TG_CHECK(itemsize(d) == itemsize(t->dtype), RuntimeError,
             "_reinterpret: dtypes must have the same size (", dtype_name(t->dtype), ", ", dtype_name(d), ")");
    Tensor v = alias(t);
    v->dtype = d;
    return v;
  });
  m.def("_promote_types", [](DType a, DType b) { return dtype_object(promote(a, b)); });
  // result_type over tensors and Python numbers (numbers as wrapped 0-d tensors)
  m.def("_result_type", [](py::sequence items) {
    std::vector<Tensor> ts;
    for (auto h : items) ts.push_back(to_tensor(h, "result_type(): argument"));
    return dtype_object(result_type(ts));
  });
}

namespace {
py::dtype np_dtype(DType d) {
  switch (d) {
    case DType::Bool: return py::dtype::of<bool>();
    case DType::Int64: return py::dtype::of<int64_t>();
    case DType::Float32: return py::dtype::of<float>();
    case DType::Float64: return py::dtype::of<double>();
    case DType::UInt8: return py::dtype::of<uint8_t>();
    case DType::Int8: return py::dtype::of<int8_t>();
    case DType::Int16: return py::dtype::of<int16_t>();
    case DType::Int32: return py::dtype::of<int32_t>();
    case DType::Float16: return py::dtype("float16");
    case DType::BFloat16: break;
  }
  // numpy has no bfloat16: PyTorch's error
  throw TypeError(cat_str("Got unsupported ScalarType ", scalar_type_name(d)));
}
}  // namespace

py::array to_numpy(const Tensor& t) {
  // The capsule keeps the storage alive as long as numpy holds the array.
  auto* keep = new std::shared_ptr<Storage>(t->storage);
  py::capsule base(keep, [](void* p) { delete static_cast<std::shared_ptr<Storage>*>(p); });
  std::vector<py::ssize_t> shape(t->shape.begin(), t->shape.end()), strides;
  for (int64_t s : t->strides) strides.push_back(s * (int64_t)itemsize(t->dtype));
  py::array arr(np_dtype(t->dtype), shape, strides, t->data(), base);
  if (t->storage->readonly) arr.attr("setflags")(py::arg("write") = false);
  return arr;
}

Tensor from_numpy(py::array a) {
  DType dt;
  char kind = a.dtype().kind();
  size_t size = a.dtype().itemsize();
  if (kind == 'f' && size == 4) dt = DType::Float32;
  else if (kind == 'f' && size == 8) dt = DType::Float64;
  else if (kind == 'f' && size == 2) dt = DType::Float16;
  else if (kind == 'i' && size == 8) dt = DType::Int64;
  else if (kind == 'i' && size == 4) dt = DType::Int32;
  else if (kind == 'i' && size == 2) dt = DType::Int16;
  else if (kind == 'i' && size == 1) dt = DType::Int8;
  else if (kind == 'u' && size == 1) dt = DType::UInt8;
  else if (kind == 'b') dt = DType::Bool;
  else
    throw TypeError("can't convert np.ndarray of type numpy." +
                    std::string(py::str(a.dtype().attr("name"))) +
                    ". The only supported types are: float64, float32, float16, int64, int32, int16, "
                    "int8, uint8, and bool.");
  TG_CHECK(a.dtype().attr("isnative").cast<bool>(), TypeError,
           "given numpy array has byte order different from the native byte order");
  auto t = std::make_shared<TensorImpl>();
  t->dtype = dt;
  size_t nbytes = 0;
  bool empty_array = false;
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    t->shape.push_back(a.shape(i));
    if (a.shape(i) == 0) empty_array = true;
  }
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    py::ssize_t s = a.strides(i);
    TG_CHECK(s >= 0 || a.shape(i) <= 1, ValueError,
             "At least one stride in the given numpy array is negative (strides ",
             std::string(py::str(py::tuple(a.attr("strides")))), ")");
    TG_CHECK(s % (py::ssize_t)size == 0, ValueError,
             "given numpy array strides are not a multiple of the element byte size");
    t->strides.push_back(a.shape(i) <= 1 ? 1 : s / (py::ssize_t)size);
    if (!empty_array) nbytes = std::max(nbytes, (size_t)((a.shape(i) - 1) * (s < 0 ? 0 : s)));
  }
  nbytes = empty_array ? 0 : nbytes + size;
  // Keep the array (not just its buffer) alive; dropping it may run without the GIL.
  PyObject* owner = a.ptr();
  Py_INCREF(owner);
  std::shared_ptr<void> hold(owner, [](void* p) {
    py::gil_scoped_acquire gil;
    Py_DECREF((PyObject*)p);
  });
  t->storage = Storage::wrap(const_cast<void*>(a.data()), nbytes, std::move(hold));
  t->storage->readonly = !a.writeable();
  return t;
}

}  // namespace tg::bind
