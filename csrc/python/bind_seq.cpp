// The sequence-model tensor ops: tril/triu, cumsum/cumprod, sort/argsort/topk, repeat,
// roll, flip, multinomial.
#include "ops/ops.h"
#include "ops/seq.h"
#include "python/bind.h"

namespace tg::bind {

namespace {
Generator& gen(py::handle g) { return g.is_none() ? default_generator() : g.cast<Generator&>(); }
// Tensor.repeat's sizes, as PyTorch's parser reads them: several ints or one tuple/list;
// only the first may not be a bool (PyTorch takes True/False as 1/0 after it).
Shape repeats_arg(const py::args& args) {
  py::handle seq = args;
  if (args.size() == 1 && (py::isinstance<py::tuple>(args[0]) || py::isinstance<py::list>(args[0]))) seq = args[0];
  py::list items;
  size_t pos = 0;
  for (auto item : seq) {
    if (pos++ > 0 && PyBool_Check(item.ptr())) items.append(py::int_(item.ptr() == Py_True ? 1 : 0));
    else items.append(item);
  }
  return shape_from_seq(items);
}
std::optional<DType> opt_dtype(py::handle dtype) {
  if (dtype.is_none()) return std::nullopt;
  return dtype_arg(dtype, DType::Float32);
}
}  // namespace

void bind_seq(py::module_& m, TensorClass& cls) {
  // torch.return_types.sort / topk (the submodule bind_reduce made for max/min)
  py::module_ rt = m.attr("return_types").cast<py::module_>();
  auto namedtuple = py::module_::import("collections").attr("namedtuple");
  for (const char* name : {"sort", "topk"})
    rt.attr(name) = namedtuple(name, py::make_tuple("values", "indices"), py::arg("module") = rt.attr("__name__"));
  py::object sort_t = rt.attr("sort"), topk_t = rt.attr("topk");

  def_both(cls, m, "tril", [](const Tensor& a, Int diagonal) { return tril(a, diagonal); },
           py::arg("diagonal") = 0);
  def_both(cls, m, "triu", [](const Tensor& a, Int diagonal) { return triu(a, diagonal); },
           py::arg("diagonal") = 0);
  cls.def("tril_", [](const Tensor& a, Int diagonal) { tril_(a, diagonal); return a; }, py::arg("diagonal") = 0);
  cls.def("triu_", [](const Tensor& a, Int diagonal) { triu_(a, diagonal); return a; }, py::arg("diagonal") = 0);

  def_both(cls, m, "cumsum", [](const Tensor& a, Int dim, py::handle dtype) {
    auto dt = opt_dtype(dtype);
    return maybe_release(a->numel(), [&] { return cumsum(a, dim, dt); });
  }, py::arg("dim"), py::kw_only(), py::arg("dtype") = py::none());
  def_both(cls, m, "cumprod", [](const Tensor& a, Int dim, py::handle dtype) {
    auto dt = opt_dtype(dtype);
    return maybe_release(a->numel(), [&] { return cumprod(a, dim, dt); });
  }, py::arg("dim"), py::kw_only(), py::arg("dtype") = py::none());

  cls.def("cumsum_", [](const Tensor& a, Int dim, py::handle dtype) {
    cumsum_(a, dim, opt_dtype(dtype));
    return a;
  }, py::arg("dim"), py::kw_only(), py::arg("dtype") = py::none());
  cls.def("cumprod_", [](const Tensor& a, Int dim, py::handle dtype) {
    cumprod_(a, dim, opt_dtype(dtype));
    return a;
  }, py::arg("dim"), py::kw_only(), py::arg("dtype") = py::none());

  def_both(cls, m, "sort", [sort_t](const Tensor& a, Int dim, Bool descending, py::handle stable) {
    TG_CHECK(stable.is_none() || PyBool_Check(stable.ptr()), TypeError,
             "sort(): argument 'stable' must be bool, not ", type_name(stable));
    auto r = maybe_release(a->numel(), [&] { return sort(a, dim, descending, !stable.is_none()); });
    return sort_t(r.first, r.second);
  }, py::arg("dim") = -1, py::arg("descending") = false, py::kw_only(), py::arg("stable") = py::none());
  def_both(cls, m, "argsort", [](const Tensor& a, Int dim, Bool descending, Bool /*stable: always*/) {
    return maybe_release(a->numel(), [&] { return argsort(a, dim, descending); });
  }, py::arg("dim") = -1, py::arg("descending") = false, py::kw_only(), py::arg("stable") = false);
  def_both(cls, m, "topk", [topk_t](const Tensor& a, Int k, Int dim, Bool largest, Bool sorted) {
    auto r = maybe_release(a->numel(), [&] { return topk(a, k, dim, largest, sorted); });
    return topk_t(r.first, r.second);
  }, py::arg("k"), py::arg("dim") = -1, py::arg("largest") = true, py::arg("sorted") = true);

  cls.def("repeat", [](const Tensor& a, py::args sizes) {
    TG_CHECK(sizes.size() > 0, TypeError, "repeat() missing 1 required positional arguments: \"repeats\"");
    auto reps = repeats_arg(sizes);
    return maybe_release(a->numel(), [&] { return repeat(a, reps); });
  });
  def_both(cls, m, "roll", [](const Tensor& a, py::handle shifts, py::handle dims) {
    auto s = int_list_arg(shifts, "roll", "shifts", 1);
    std::vector<int64_t> d = dims.is_none() ? std::vector<int64_t>() : int_list_arg(dims, "roll", "dims", 1);
    return maybe_release(a->numel(), [&] { return roll(a, s, d); });
  }, py::arg("shifts"), py::arg("dims") = py::none());
  m.def("flip", [](const Tensor& a, py::handle dims) {
    TG_CHECK(py::isinstance<py::tuple>(dims) || py::isinstance<py::list>(dims), TypeError,
             "flip(): argument 'dims' (position 2) must be tuple of ints, not ", type_name(dims));
    auto d = int_list_arg(dims, "flip", "dims", 1);
    return maybe_release(a->numel(), [&] { return flip(a, d); });
  }, py::arg("input"), py::arg("dims"));
  cls.def("flip", [](const Tensor& a, py::args dims) {
    TG_CHECK(dims.size() > 0, TypeError, "flip() missing 1 required positional arguments: \"dims\"");
    auto d = dims.size() == 1 ? int_list_arg(dims[0], "flip", "dims", 1) : int_list_arg(dims, "flip", "dims", 1);
    return maybe_release(a->numel(), [&] { return flip(a, d); });
  });

  def_both(cls, m, "multinomial", [](const Tensor& p, Int n, Bool replacement, py::handle g) {
    return multinomial(p, n, replacement, gen(g));
  }, py::arg("num_samples"), py::arg("replacement") = false, py::kw_only(), py::arg("generator") = py::none());
}

}  // namespace tg::bind
