#include <exception>

#include "core/error.h"
#include "core/parallel.h"
#include "core/storage.h"
#include "python/bind.h"

PYBIND11_MODULE(_C, m) {
  using namespace tg;
  m.doc() = "tinygrad_cpp's C++ core: tensors, kernels, autograd.";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ValueError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const IndexError& e) {
      PyErr_SetString(PyExc_IndexError, e.what());
    } catch (const TypeError& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    } catch (const NotImplementedError& e) {
      PyErr_SetString(PyExc_NotImplementedError, e.what());
    } catch (const RuntimeError& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });

  bind::bind_dtype(m);
  m.def("set_num_threads", &set_num_threads, py::arg("n"));
  m.def("get_num_threads", &get_num_threads);
  m.def("_available_cpus", &available_cpus);
  m.def("_num_threads_set", &num_threads_set);
  m.def("_parallel_stats", [] {
    ParallelStats s = parallel_stats();
    return py::dict(py::arg("regions") = s.regions, py::arg("chunks_caller") = s.chunks_caller,
                    py::arg("chunks_helpers") = s.chunks_helpers, py::arg("waits") = s.waits,
                    py::arg("sleeps") = s.sleeps, py::arg("wait_ns") = s.wait_ns, py::arg("late") = s.late,
                    py::arg("backed_off") = s.backed_off, py::arg("helper_sleeps") = s.helper_sleeps,
                    py::arg("helper_preempted") = s.helper_preempted, py::arg("shared_core") = s.shared_core,
                    py::arg("helper_moved") = s.helper_moved);
  });
  m.def(
      "_parallel_probe",
      [](int64_t n, int64_t cost, int64_t sleep_us, int64_t slow_index, int64_t throw_at, bool nested) {
        py::gil_scoped_release release;
        ParallelProbe p = parallel_probe(n, cost, sleep_us, slow_index, throw_at, nested);
        return std::make_pair(p.hits, p.threads_seen);
      },
      py::arg("n"), py::arg("cost") = 1, py::arg("sleep_us") = 0, py::arg("slow_index") = -1, py::arg("throw_at") = -1,
      py::arg("nested") = false);
  m.def("_pool_stats", [] {
    PoolStats s = pool_stats();
    return py::dict(py::arg("enabled") = s.enabled, py::arg("cached_bytes") = s.cached_bytes, py::arg("cached_buffers") = s.cached_buffers,
                    py::arg("hits") = s.hits, py::arg("misses") = s.misses);
  });
  m.def("_empty_cache", &pool_empty_cache);

  bind::TensorClass cls(m, "Tensor");
  bind::bind_tensor(m, cls);
  bind::bind_creation(m, cls);
  bind::bind_elementwise(m, cls);
  bind::bind_reduce(m, cls);
  bind::bind_distributed(m);
  bind::bind_shape(m, cls);
  bind::bind_linalg(m, cls);
  bind::bind_autograd(m, cls);
  bind::bind_index(m, cls);
  bind::bind_loss(m, cls);
  bind::bind_optim(m, cls);
  bind::bind_random(m, cls);
  bind::bind_conv(m, cls);
  bind::bind_pool(m, cls);
  bind::bind_batchnorm(m, cls);
  bind::bind_pad(m, cls);
  bind::bind_upsample(m, cls);
  bind::bind_seq(m, cls);
  bind::bind_embedding(m, cls);
  bind::bind_attention(m, cls);
  bind::bind_rnn(m, cls);
  bind::bind_quant(m, cls);
  bind::bind_hooks(m, cls);
  bind::bind_function(m, cls);
  bind::bind_trace(m);
  bind::bind_config(m);
}
