// Arithmetic operators, comparisons, elementwise functions and their in-place forms.
#include "core/convert.h"
#include "kernels/vec_unary.h"
#include "ops/ops.h"
#include "ops/special.h"
#include "python/bind.h"

namespace tg::bind {

namespace {

int64_t work_of(const Tensor& a, const Tensor& b) { return std::max(a->numel(), b->numel()); }

// Binary dunder: NotImplemented for operand types we do not know, so Python can try the
// other operand (and `t == None` is False, as in PyTorch).
template <class F>
auto binary(F f, bool reflected = false) {
  return [f, reflected](const Tensor& self, py::handle other) -> py::object {
    auto o = as_tensor(other);
    if (!o) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
    const Tensor& a = reflected ? *o : self;
    const Tensor& b = reflected ? self : *o;
    return py::cast(maybe_release(work_of(a, b), [&] { return f(a, b); }));
  };
}

// In-place dunder (`x += y`): returns self; NotImplemented lets Python fall back to `+`.
template <class F>
auto binary_inplace(F f) {
  return [f](const Tensor& self, py::handle other) -> py::object {
    auto o = as_tensor(other);
    if (!o) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
    maybe_release(work_of(self, *o), [&] { f(self, *o); });
    return py::cast(self);
  };
}

// `fn(input, other)` where other may be a Python number.
template <class F>
auto with_other(F f) {
  return [f](const Tensor& a, py::handle other) {
    Tensor b = to_tensor(other, "other");
    return maybe_release(work_of(a, b), [&] { return f(a, b); });
  };
}

// `fn(input, other)` where PyTorch's parser also takes a Python number as `input` (its
// Scalar overloads: tg.add(2, t), tg.pow(2, t)), wrapped as a 0-d tensor of the number's
// kind so the result type and autograd are those of `2 + t`. `pair_ok`: two numbers are a
// valid call too (add, mul, div, ...: a 0-d result), else a TypeError (remainder, pow).
template <class F>
auto number_input(F f, const char* name, const char* other_name, bool pair_ok) {
  return [f, name, other_name, pair_ok](py::handle a_obj, py::handle b_obj) {
    Tensor a, b;
    std::tie(a, b) = binary_operands(a_obj, b_obj, name, other_name, pair_ok);
    return maybe_release(work_of(a, b), [&] { return f(a, b); });
  };
}

// `fn(input, other)` where both must be tensors (maximum, logical_and, ...): a Python
// number is a TypeError in PyTorch, not a wrapped scalar.
template <class F>
auto tensors_only(F f, const char* name) {
  return [f, name](py::handle a_obj, py::handle b_obj) {
    Tensor a = tensor_arg(a_obj, name, "input", 1), b = tensor_arg(b_obj, name, "other", 2);
    return maybe_release(work_of(a, b), [&] { return f(a, b); });
  };
}

template <class F>
auto unary(F f) {
  return [f](const Tensor& a) { return maybe_release(a->numel(), [&] { return f(a); }); };
}

// `x.op_()`: runs f in place and returns x itself.
template <class F>
auto unary_inplace(F f) {
  return [f](const Tensor& self) {
    maybe_release(self->numel(), [&] { f(self); });
    return self;
  };
}

// alpha=: a Python bool, int or float (numpy scalars included), or a one-element tensor
// (its value, as PyTorch takes it), keeping which kind it was. Tensors come first: they
// have __index__, which would read a float tensor as an integer.
Scalar scalar_arg(py::handle h, const char* what) {
  if (py::isinstance<TensorImpl>(h)) {
    const Tensor t = h.cast<Tensor>();
    TG_CHECK(t->numel() == 1, TypeError, "argument '", what, "' must be Number, not Tensor (a ",
             dtype_name(t->dtype), " tensor of shape ", shape_str(t->shape), ")");
    if (t->dtype == DType::Bool) return Scalar::boolean(*t->data_as<bool>());
    if (!is_floating(t->dtype)) {
      int64_t v = 0;
      TG_DISPATCH_ALL_TYPES(t->dtype, T, { v = convert<int64_t>(*t->data_as<T>()); });
      return Scalar::integer(v);
    }
    double v = 0;
    TG_DISPATCH_ALL_TYPES(t->dtype, T, { v = convert<double>(*t->data_as<T>()); });
    return Scalar(v);
  }
  if (PyBool_Check(h.ptr())) return Scalar::boolean(h.ptr() == Py_True);
  if (PyLong_Check(h.ptr()) || (!PyFloat_Check(h.ptr()) && PyIndex_Check(h.ptr())))
    return Scalar::integer(h.cast<int64_t>());
  TG_CHECK(PyFloat_Check(h.ptr()) || PyObject_HasAttrString(h.ptr(), "__float__"), TypeError, what,
           " must be a number, not ", std::string(py::str(py::type::handle_of(h).attr("__name__"))));
  return Scalar(h.cast<double>());
}

// clamp bounds: None, a number or a tensor.
Tensor bound_arg(py::handle h, const char* what) { return h.is_none() ? nullptr : to_tensor(h, what); }

// clamp(min, max): PyTorch's two overloads take (Tensor?, Tensor?) or (Scalar?, Scalar?), so a
// tensor bound beside a number bound is a TypeError unless the tensor is 0-d (a Scalar then).
std::pair<Tensor, Tensor> bounds_arg(py::handle lo, py::handle hi) {
  Tensor l = bound_arg(lo, "min"), h = bound_arg(hi, "max");
  auto number = [](py::handle o) { return !o.is_none() && !py::isinstance<TensorImpl>(o); };
  auto dim_tensor = [](py::handle o, const Tensor& t) { return py::isinstance<TensorImpl>(o) && t->ndim() > 0; };
  TG_CHECK(!((number(lo) && dim_tensor(hi, h)) || (number(hi) && dim_tensor(lo, l))), TypeError,
           "clamp() received an invalid combination of arguments - got (Tensor, ", type_name(lo), ", ",
           type_name(hi), "), but expected one of:\n * (Tensor input, Tensor min = None, Tensor max = None)\n"
           " * (Tensor input, Number min = None, Number max = None)");
  return {l, h};
}

// rounding_mode: None or a str (PyTorch's parser refuses other types with TypeError).
std::string rounding_arg(py::handle h) {
  if (h.is_none()) return "";
  TG_CHECK(PyUnicode_Check(h.ptr()) || PyBytes_Check(h.ptr()), TypeError, "div(): argument 'rounding_mode' must be str, not ",
           type_name(h));
  return h.cast<std::string>();
}

}  // namespace

void bind_elementwise(py::module_& m, TensorClass& cls) {
  m.def("_vec_isa", &kernels::vec_isa);
  m.def("_set_vec_isa", &kernels::set_vec_isa, py::arg("isa"));

  // ---- operators --------------------------------------------------------------------------
  auto add_f = [](const Tensor& a, const Tensor& b) { return add(a, b); };
  auto sub_f = [](const Tensor& a, const Tensor& b) { return sub(a, b); };
  auto rsub_f = [](const Tensor& a, const Tensor& b) { return rsub(b, a); };  // a - b via rsub(b, a)
  auto div_f = [](const Tensor& a, const Tensor& b) { return div(a, b); };
  auto floordiv_f = [](const Tensor& a, const Tensor& b) { return div(a, b, "floor"); };
  cls.def("__add__", binary(add_f)).def("__radd__", binary(add_f, true));
  cls.def("__sub__", binary(sub_f)).def("__rsub__", binary(rsub_f, true));
  cls.def("__mul__", binary(mul)).def("__rmul__", binary(mul, true));
  cls.def("__truediv__", binary(div_f)).def("__rtruediv__", binary(div_f, true));
  cls.def("__floordiv__", binary(floordiv_f)).def("__rfloordiv__", binary(floordiv_f, true));
  cls.def("__mod__", binary(remainder)).def("__rmod__", binary(remainder, true));
  cls.def("__pow__", binary(pow)).def("__rpow__", binary(pow, true));
  cls.def("__eq__", binary(eq)).def("__ne__", binary(ne));
  cls.def("__lt__", binary(lt)).def("__le__", binary(le));
  cls.def("__gt__", binary(gt)).def("__ge__", binary(ge));
  cls.def("__and__", binary(bitwise_and)).def("__rand__", binary(bitwise_and, true));
  cls.def("__or__", binary(bitwise_or)).def("__ror__", binary(bitwise_or, true));
  cls.def("__xor__", binary(bitwise_xor)).def("__rxor__", binary(bitwise_xor, true));
  cls.def("__invert__", unary(bitwise_not));
  cls.def("__neg__", unary(neg));
  cls.def("__pos__", [](const Tensor& t) { return t; });
  cls.def("__abs__", unary(abs));

  auto add_i = [](const Tensor& a, const Tensor& b) { add_(a, b); };
  auto sub_i = [](const Tensor& a, const Tensor& b) { sub_(a, b); };
  cls.def("__iadd__", binary_inplace(add_i)).def("__isub__", binary_inplace(sub_i));
  cls.def("__imul__", binary_inplace(mul_)).def("__itruediv__", binary_inplace(div_));
  cls.def("__ipow__", binary_inplace(pow_));

  // ---- arithmetic -------------------------------------------------------------------------
  auto add_a = [](py::handle a_obj, py::handle b, py::handle alpha) {
    Tensor a, o;
    std::tie(a, o) = binary_operands(a_obj, b, "add", "other", true);
    Scalar s = scalar_arg(alpha, "alpha");
    return maybe_release(work_of(a, o), [&] { return add(a, o, s); });
  };
  auto sub_a = [](py::handle a_obj, py::handle b, py::handle alpha) {
    Tensor a, o;
    std::tie(a, o) = binary_operands(a_obj, b, "sub", "other", true);
    Scalar s = scalar_arg(alpha, "alpha");
    return maybe_release(work_of(a, o), [&] { return sub(a, o, s); });
  };
  def_both(cls, m, "add", add_a, py::arg("other"), py::kw_only(), py::arg("alpha") = 1);
  def_both(cls, m, "sub", sub_a, py::arg("other"), py::kw_only(), py::arg("alpha") = 1);
  def_both(cls, m, "subtract", sub_a, py::arg("other"), py::kw_only(), py::arg("alpha") = 1);
  m.def("rsub", [](const Tensor& a, py::handle b, py::handle alpha) {
    return rsub(a, to_tensor(b, "other"), scalar_arg(alpha, "alpha"));
  }, py::arg("input"), py::arg("other"), py::kw_only(), py::arg("alpha") = 1);
  def_both(cls, m, "mul", number_input(mul, "mul", "other", true), py::arg("other"));
  def_both(cls, m, "multiply", number_input(mul, "multiply", "other", true), py::arg("other"));
  auto div_r = [](py::handle a_obj, py::handle b, py::handle mode) {
    Tensor a, o;
    std::tie(a, o) = binary_operands(a_obj, b, "div", "other", true);
    std::string r = rounding_arg(mode);
    return maybe_release(work_of(a, o), [&] { return div(a, o, r); });
  };
  def_both(cls, m, "div", div_r, py::arg("other"), py::kw_only(), py::arg("rounding_mode") = py::none());
  def_both(cls, m, "divide", div_r, py::arg("other"), py::kw_only(), py::arg("rounding_mode") = py::none());
  def_both(cls, m, "true_divide", number_input(div_f, "true_divide", "other", true), py::arg("other"));
  def_both(cls, m, "floor_divide", number_input(floordiv_f, "floor_divide", "other", true), py::arg("other"));
  def_both(cls, m, "remainder", number_input(remainder, "remainder", "other", false), py::arg("other"));
  cls.def("pow", with_other(pow), py::arg("exponent"));
  m.def("pow", number_input(pow, "pow", "exponent", false), py::arg("input"), py::arg("exponent"));

  // ---- comparisons ------------------------------------------------------------------------
  def_both(cls, m, "eq", with_other(eq), py::arg("other"));
  def_both(cls, m, "ne", with_other(ne), py::arg("other"));
  def_both(cls, m, "lt", with_other(lt), py::arg("other"));
  def_both(cls, m, "le", with_other(le), py::arg("other"));
  def_both(cls, m, "gt", with_other(gt), py::arg("other"));
  def_both(cls, m, "ge", with_other(ge), py::arg("other"));

  // ---- logical and bitwise ---------------------------------------------------------------
  def_both(cls, m, "logical_not", unary(logical_not));
  def_both(cls, m, "logical_and", tensors_only(logical_and, "logical_and"), py::arg("other"));
  def_both(cls, m, "logical_or", tensors_only(logical_or, "logical_or"), py::arg("other"));
  def_both(cls, m, "logical_xor", tensors_only(logical_xor, "logical_xor"), py::arg("other"));
  def_both(cls, m, "bitwise_not", unary(bitwise_not));
  def_both(cls, m, "bitwise_and", number_input(bitwise_and, "bitwise_and", "other", false), py::arg("other"));
  def_both(cls, m, "bitwise_or", number_input(bitwise_or, "bitwise_or", "other", false), py::arg("other"));
  def_both(cls, m, "bitwise_xor", number_input(bitwise_xor, "bitwise_xor", "other", false), py::arg("other"));

  // ---- selection --------------------------------------------------------------------------
  def_both(cls, m, "maximum", tensors_only(maximum, "maximum"), py::arg("other"));
  def_both(cls, m, "minimum", tensors_only(minimum, "minimum"), py::arg("other"));
  m.def("where", [](const Tensor& cond, py::handle a, py::handle b) {
    return where(cond, to_tensor(a, "input"), to_tensor(b, "other"));
  }, py::arg("condition"), py::arg("input"), py::arg("other"));
  cls.def("where", [](const Tensor& self, const Tensor& cond, py::handle other) {
    return where(cond, self, to_tensor(other, "other"));
  }, py::arg("condition"), py::arg("other"));
  auto clamp_f = [](const Tensor& x, py::handle lo, py::handle hi) {
    Tensor l, h;
    std::tie(l, h) = bounds_arg(lo, hi);
    return maybe_release(x->numel(), [&] { return clamp(x, l, h); });
  };
  def_both(cls, m, "clamp", clamp_f, py::arg("min") = py::none(), py::arg("max") = py::none());
  def_both(cls, m, "clip", clamp_f, py::arg("min") = py::none(), py::arg("max") = py::none());
  def_both(cls, m, "clamp_min", [](const Tensor& x, py::handle lo) {
    return clamp(x, to_tensor(lo, "min"), nullptr);
  }, py::arg("min"));
  def_both(cls, m, "clamp_max", [](const Tensor& x, py::handle hi) {
    return clamp(x, nullptr, to_tensor(hi, "max"));
  }, py::arg("max"));

  // ---- unary math and activations ---------------------------------------------------------
  def_both(cls, m, "neg", unary(neg));
  def_both(cls, m, "negative", unary(neg));
  def_both(cls, m, "abs", unary(abs));
  def_both(cls, m, "sign", unary(sign));
  def_both(cls, m, "square", unary(square));
  def_both(cls, m, "exp", unary(exp));
  def_both(cls, m, "expm1", unary(expm1));
  def_both(cls, m, "erf", unary(erf));
  def_both(cls, m, "log", unary(log));
  def_both(cls, m, "log1p", unary(log1p));
  def_both(cls, m, "sqrt", unary(sqrt));
  def_both(cls, m, "rsqrt", unary(rsqrt));
  def_both(cls, m, "reciprocal", unary(reciprocal));
  def_both(cls, m, "sin", unary(sin));
  def_both(cls, m, "cos", unary(cos));
  def_both(cls, m, "floor", unary(floor));
  def_both(cls, m, "ceil", unary(ceil));
  def_both(cls, m, "round", [](const Tensor& a, Int decimals) {
    return maybe_release(a->numel(), [&] { return round(a, decimals); });
  }, py::kw_only(), py::arg("decimals") = 0);
  def_both(cls, m, "sigmoid", unary(sigmoid));
  def_both(cls, m, "tanh", unary(tanh));
  def_both(cls, m, "relu", unary(relu));
  def_both(cls, m, "silu", unary(silu));
  def_both(cls, m, "gelu", [](const Tensor& a, const std::string& approximate) {
    return maybe_release(a->numel(), [&] { return gelu(a, approximate); });
  }, py::kw_only(), py::arg("approximate") = "none");
  def_both(cls, m, "softplus", [](const Tensor& a, double beta, double threshold) {
    return maybe_release(a->numel(), [&] { return softplus(a, beta, threshold); });
  }, py::arg("beta") = 1.0, py::arg("threshold") = 20.0);
  def_both(cls, m, "leaky_relu", [](const Tensor& a, double slope) {
    return maybe_release(a->numel(), [&] { return leaky_relu(a, slope); });
  }, py::arg("negative_slope") = 0.01);
  def_both(cls, m, "elu", [](const Tensor& a, double alpha) {
    return maybe_release(a->numel(), [&] { return elu(a, alpha); });
  }, py::arg("alpha") = 1.0);

  // ---- in place ---------------------------------------------------------------------------
  cls.def("add_", [](const Tensor& self, py::handle other, py::handle alpha) {
    Tensor o = to_tensor(other, "other");
    Scalar s = scalar_arg(alpha, "alpha");
    maybe_release(work_of(self, o), [&] { add_(self, o, s); });
    return self;
  }, py::arg("other"), py::kw_only(), py::arg("alpha") = 1);
  cls.def("sub_", [](const Tensor& self, py::handle other, py::handle alpha) {
    Tensor o = to_tensor(other, "other");
    Scalar s = scalar_arg(alpha, "alpha");
    maybe_release(work_of(self, o), [&] { sub_(self, o, s); });
    return self;
  }, py::arg("other"), py::kw_only(), py::arg("alpha") = 1);
  auto inplace_other = [](auto f, const char* what) {
    return [f, what](const Tensor& self, py::handle other) {
      Tensor o = to_tensor(other, what);
      maybe_release(work_of(self, o), [&] { f(self, o); });
      return self;
    };
  };
  cls.def("mul_", inplace_other(mul_, "other"), py::arg("other"));
  cls.def("div_", inplace_other(div_, "other"), py::arg("other"));
  cls.def("pow_", inplace_other(pow_, "exponent"), py::arg("exponent"));
  cls.def("copy_", inplace_other(copy_, "src"), py::arg("src"));
  cls.def("fill_", inplace_other(fill_, "value"), py::arg("value"));
  cls.def("zero_", unary_inplace(zero_));
  auto clamp_i = [](const Tensor& self, py::handle lo, py::handle hi) {
    Tensor l, h;
    std::tie(l, h) = bounds_arg(lo, hi);
    maybe_release(self->numel(), [&] { clamp_(self, l, h); });
    return self;
  };
  cls.def("clamp_", clamp_i, py::arg("min") = py::none(), py::arg("max") = py::none());
  cls.def("clip_", clamp_i, py::arg("min") = py::none(), py::arg("max") = py::none());
  cls.def("neg_", unary_inplace(neg_));
  cls.def("abs_", unary_inplace(abs_));
  cls.def("exp_", unary_inplace(exp_));
  cls.def("log_", unary_inplace(log_));
  cls.def("sqrt_", unary_inplace(sqrt_));
  cls.def("rsqrt_", unary_inplace(rsqrt_));
  cls.def("reciprocal_", unary_inplace(reciprocal_));
  cls.def("floor_", unary_inplace(floor_));
  cls.def("ceil_", unary_inplace(ceil_));
  cls.def("round_", unary_inplace(round_));
  cls.def("sigmoid_", unary_inplace(sigmoid_));
  cls.def("tanh_", unary_inplace(tanh_));
  cls.def("relu_", unary_inplace(relu_));
  m.def("relu_", unary_inplace(relu_), py::arg("input"));
  m.def("silu_", unary_inplace(silu_), py::arg("input"));
  m.def("leaky_relu_", [](const Tensor& self, double slope) {
    maybe_release(self->numel(), [&] { leaky_relu_(self, slope); });
    return self;
  }, py::arg("input"), py::arg("negative_slope") = 0.01);
}

}  // namespace tg::bind
