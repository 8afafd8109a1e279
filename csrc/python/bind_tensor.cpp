// The Tensor class: attributes, conversion and autograd flags.
#include "autograd/node.h"
#include "core/convert.h"
#include "ops/ops.h"
#include "python/bind.h"

namespace tg::bind {

namespace {
double item(const Tensor& t) {
  TG_CHECK(t->numel() == 1, RuntimeError, "a Tensor with ", t->numel(),
           " elements cannot be converted to Scalar");
  double v = 0;
  TG_DISPATCH_ALL_TYPES(t->dtype, T, { v = convert<double>(*t->data_as<T>()); });
  return v;
}

void set_requires_grad(const Tensor& t, bool flag) {
  TG_CHECK(t->is_leaf() || flag, RuntimeError,
           "you can only change requires_grad flags of leaf variables. If you want to use a "
           "computed variable in a subgraph that doesn't require differentiation use "
           "var_no_grad = var.detach().");
  TG_CHECK(!flag || is_floating(t->dtype), RuntimeError,
           "only Tensors of floating point dtype can require gradients (got ", dtype_name(t->dtype), ")");
  t->requires_grad = flag;
}
}  // namespace

void bind_tensor(py::module_& m, TensorClass& cls) {
  // Parameter(data) and other subclasses wrap the same storage as `data`.
  cls.def(py::init([](const Tensor& data) { return alias(data); }), py::arg("data"));
  cls.def_property_readonly("shape", [](const Tensor& t) { return py::tuple(py::cast(t->shape)); });
  cls.def_property_readonly("ndim", [](const Tensor& t) { return t->ndim(); });
  cls.def("dim", [](const Tensor& t) { return t->ndim(); });
  cls.def("numel", [](const Tensor& t) { return t->numel(); });
  cls.def("size", [](const Tensor& t, std::optional<Int> dim) -> py::object {
    if (!dim) return py::tuple(py::cast(t->shape));
    return py::int_(t->size(*dim));
  }, py::arg("dim") = py::none());
  cls.def("stride", [](const Tensor& t, std::optional<Int> dim) -> py::object {
    if (!dim) return py::tuple(py::cast(t->strides));
    const int64_t d = *dim;
    t->size(d);  // the same IndexError as size(d), also for a 0-d tensor
    return py::int_(t->strides[wrap_dim(d, t->ndim())]);
  }, py::arg("dim") = py::none());
  cls.def("storage_offset", [](const Tensor& t) { return t->offset; });
  cls.def("is_contiguous", [](const Tensor& t) { return t->is_contiguous(); });
  cls.def("data_ptr", [](const Tensor& t) { return (uintptr_t)t->data(); });
  cls.def("element_size", [](const Tensor& t) { return itemsize(t->dtype); });
  cls.def_property_readonly("dtype", [](const Tensor& t) { return dtype_object(t->dtype); });
  cls.def("is_floating_point", [](const Tensor& t) { return is_floating(t->dtype); });

  // PyTorch's setter refuses anything but a bool with RuntimeError (not its parser's TypeError).
  cls.def_property("requires_grad", [](const Tensor& t) { refresh(t); return t->requires_grad; },
                   [](const Tensor& t, py::handle flag) {
                     TG_CHECK(PyBool_Check(flag.ptr()), RuntimeError, "requires_grad must be a bool");
                     set_requires_grad(t, flag.ptr() == Py_True);
                   });
  cls.def("requires_grad_", [](const Tensor& t, Bool flag) { set_requires_grad(t, flag); return t; },
          py::arg("requires_grad") = true);
  cls.def_property("grad", [](const Tensor& t) { return t->grad; }, [](const Tensor& t, const OptTensor& opt) {
    Tensor g = or_null(opt);
    TG_CHECK(!g || (g->shape == t->shape && g->dtype == t->dtype), RuntimeError,
             "assigned grad has data of a different size or type: expected ", dtype_name(t->dtype),
             " ", shape_str(t->shape), ", got ", g ? dtype_name(g->dtype) : "", " ",
             g ? shape_str(g->shape) : "");
    t->grad = g;
  });
  cls.def_property_readonly("is_leaf", [](const Tensor& t) { refresh(t); return t->is_leaf(); });
  cls.def_property_readonly("grad_fn", [](const Tensor& t) { refresh(t); return node_object(t->grad_fn); });
  cls.def_property_readonly("_version", [](const Tensor& t) { return t->storage->version.load(); });

  cls.def("item", [](const Tensor& t) -> py::object {
    double v = item(t);
    if (t->dtype == DType::Bool) return py::bool_(v != 0);
    if (is_integral(t->dtype)) {
      int64_t i = 0;
      TG_DISPATCH_ALL_TYPES(t->dtype, T, { i = convert<int64_t>(*t->data_as<T>()); });
      return py::int_(i);
    }
    return py::float_(v);
  });
  cls.def("numpy", [](const Tensor& t, Bool force) {
    TG_CHECK(!t->requires_grad || force, RuntimeError,
             "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.");
    return to_numpy(t);
  }, py::arg("force") = false);
  cls.def("detach", [](const Tensor& t) { return alias(t); });
  cls.def("detach_", [](const Tensor& t) {
    // its history would come back from the base's the next time the base is written
    TG_CHECK(!t->view_base, RuntimeError, "Can't detach views in-place. Use detach() instead.");
    t->grad_fn.reset();
    t->requires_grad = false;
    return t;
  });
  cls.def("to", [](const Tensor& t, py::object dtype) {
    DType d = dtype_arg(dtype, t->dtype);
    return d == t->dtype ? t : to_dtype(t, d);
  }, py::arg("dtype"));
  cls.def("float", [](const Tensor& t) { return t->dtype == DType::Float32 ? t : to_dtype(t, DType::Float32); });
  cls.def("double", [](const Tensor& t) { return t->dtype == DType::Float64 ? t : to_dtype(t, DType::Float64); });
  cls.def("long", [](const Tensor& t) { return t->dtype == DType::Int64 ? t : to_dtype(t, DType::Int64); });
  cls.def("bool", [](const Tensor& t) { return t->dtype == DType::Bool ? t : to_dtype(t, DType::Bool); });
  cls.def("half", [](const Tensor& t) { return t->dtype == DType::Float16 ? t : to_dtype(t, DType::Float16); });
  cls.def("bfloat16", [](const Tensor& t) { return t->dtype == DType::BFloat16 ? t : to_dtype(t, DType::BFloat16); });
  cls.def("int", [](const Tensor& t) { return t->dtype == DType::Int32 ? t : to_dtype(t, DType::Int32); });
  cls.def("short", [](const Tensor& t) { return t->dtype == DType::Int16 ? t : to_dtype(t, DType::Int16); });
  cls.def("char", [](const Tensor& t) { return t->dtype == DType::Int8 ? t : to_dtype(t, DType::Int8); });
  cls.def("byte", [](const Tensor& t) { return t->dtype == DType::UInt8 ? t : to_dtype(t, DType::UInt8); });
  cls.def_property_readonly("itemsize", [](const Tensor& t) { return itemsize(t->dtype); });
  cls.def_property_readonly("nbytes", [](const Tensor& t) { return itemsize(t->dtype) * t->numel(); });
  def_both(cls, m, "clone", [](const Tensor& t) { return clone(t); });
  cls.def("contiguous", [](const Tensor& t) { return contiguous(t); });
  cls.def("__hash__", [](py::handle self) { return (intptr_t)self.ptr(); });

  m.def("from_numpy", &from_numpy, py::arg("ndarray"));
  // Copies `a` into a new tensor of `dtype` (tg.tensor's core).
  m.def("_tensor_from_numpy", [](py::array a, DType dtype) {
    return to_dtype(from_numpy(a), dtype);
  });
}

}  // namespace tg::bind
