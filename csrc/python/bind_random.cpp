// Random tensors, seeding and dropout.
#include "ops/ops.h"
#include "python/bind.h"

namespace tg::bind {

namespace {
Generator& gen(py::handle g) { return g.is_none() ? default_generator() : g.cast<Generator&>(); }
}  // namespace

void bind_random(py::module_& m, TensorClass& cls) {
  py::class_<Generator>(m, "Generator")
      .def(py::init<>())
      .def("manual_seed", [](Generator& g, uint64_t s) -> Generator& { g.manual_seed(s); return g; },
           py::return_value_policy::reference)
      .def("initial_seed", [](Generator& g) { return g.seed; });
  // PyTorch's manual_seed runs int(seed): 1.5 seeds 1, "a" is int()'s ValueError.
  m.def("manual_seed", [](py::handle s) {
    default_generator().manual_seed((uint64_t)py::int_(py::reinterpret_borrow<py::object>(s)).cast<int64_t>());
  }, py::arg("seed"));
  m.def("_rand", [](const Shape& s, DType d, py::handle g) { return rand(s, d, gen(g)); });
  m.def("_randn", [](const Shape& s, DType d, py::handle g) { return randn(s, d, gen(g)); });
  m.def("_randint", [](int64_t lo, int64_t hi, const Shape& s, DType d, py::handle g) {
    return randint(lo, hi, s, d, gen(g));
  });
  m.def("randperm", [](Int n, DType dtype, py::handle g) { return randperm(n, dtype, gen(g)); },
        py::arg("n"), py::kw_only(), py::arg("dtype") = DType::Int64, py::arg("generator") = py::none());
  def_both(cls, m, "bernoulli", [](const Tensor& p, py::handle g) { return bernoulli(p, gen(g)); },
           py::kw_only(), py::arg("generator") = py::none());
  m.def("dropout", [](const Tensor& x, double p, Bool train) {
    return dropout(x, p, train, default_generator());
  }, py::arg("input"), py::arg("p"), py::arg("train"));
  m.def("_feature_dropout", [](const Tensor& x, double p, Bool train) {
    return feature_dropout(x, p, train, default_generator());
  }, py::arg("input"), py::arg("p"), py::arg("train"));
  m.def("dropout_", [](const Tensor& x, double p, Bool train) {
    dropout_(x, p, train, default_generator());
    return x;
  }, py::arg("input"), py::arg("p"), py::arg("train"));
  cls.def("uniform_", [](const Tensor& t, double a, double b, py::handle g) {
    uniform_(t, a, b, gen(g));
    return t;
  }, py::arg("from") = 0.0, py::arg("to") = 1.0, py::kw_only(), py::arg("generator") = py::none());
  cls.def("normal_", [](const Tensor& t, double mean, double std, py::handle g) {
    normal_(t, mean, std, gen(g));
    return t;
  }, py::arg("mean") = 0.0, py::arg("std") = 1.0, py::kw_only(), py::arg("generator") = py::none());
}

}  // namespace tg::bind
