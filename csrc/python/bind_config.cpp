// _C._build_info() and _C._cpu_flags(): what tinygrad_cpp.show_config() reports about
// this build and this CPU. The build facts arrive as compile definitions that
// CMakeLists.txt sets on this file only (so changing them recompiles nothing else).
#include <string>

#include "kernels/cpu_features.h"
#include "python/bind.h"

#ifndef TG_BUILD_TYPE
#define TG_BUILD_TYPE "unknown"
#endif
#ifndef TG_COMPILER
#define TG_COMPILER "unknown"
#endif
#ifndef TG_CXX_FLAGS
#define TG_CXX_FLAGS ""
#endif
#ifndef TG_LTO
#define TG_LTO "unknown"
#endif
#ifndef TG_SANITIZER
#define TG_SANITIZER "OFF"
#endif
#ifndef TG_CMAKE_VERSION
#define TG_CMAKE_VERSION "unknown"
#endif
#ifndef TG_SYSTEM_PROCESSOR
#define TG_SYSTEM_PROCESSOR "unknown"
#endif

namespace tg::bind {

void bind_config(py::module_& m) {
  m.def("_build_info", [] {
    py::dict d;
    d["build_type"] = TG_BUILD_TYPE;
    d["compiler"] = TG_COMPILER;
    d["cxx_flags"] = TG_CXX_FLAGS;
    d["lto"] = TG_LTO;
    d["sanitizer"] = TG_SANITIZER;
    d["cmake_version"] = TG_CMAKE_VERSION;
    d["target_processor"] = TG_SYSTEM_PROCESSOR;
    d["cplusplus"] = static_cast<long>(__cplusplus);
    d["pybind11_version"] = std::to_string(PYBIND11_VERSION_MAJOR) + "." + std::to_string(PYBIND11_VERSION_MINOR) +
                            "." + std::to_string(PYBIND11_VERSION_PATCH);
#ifdef TG_X86
    d["simd_builds"] = py::make_tuple("portable", "avx2", "avx512");
#else
    d["simd_builds"] = py::make_tuple("portable");
#endif
#ifdef TG_NO_POOL
    d["threads"] = "serial (TG_NO_POOL: sanitizer build)";
#else
    d["threads"] = "tinygrad_cpp thread pool (csrc/core/parallel.cpp); no OpenMP";
#endif
#ifdef NDEBUG
    d["assertions"] = false;
#else
    d["assertions"] = true;
#endif
    return d;
  });
  // CPU features as detected at run time: those the kernels choose by ("usable"), and a
  // wider list of raw CPUID flags for bug reports.
  m.def("_cpu_flags", [] {
    const kernels::CpuFeatures& f = kernels::cpu_features();
    py::dict usable;
    usable["avx2_fma"] = f.avx2_fma;
    usable["avx512"] = f.avx512;
    py::dict raw;
#if defined(TG_X86) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    raw["sse4.2"] = static_cast<bool>(__builtin_cpu_supports("sse4.2"));
    raw["avx"] = static_cast<bool>(__builtin_cpu_supports("avx"));
    raw["avx2"] = static_cast<bool>(__builtin_cpu_supports("avx2"));
    raw["fma"] = static_cast<bool>(__builtin_cpu_supports("fma"));
    raw["avx512f"] = static_cast<bool>(__builtin_cpu_supports("avx512f"));
    raw["avx512dq"] = static_cast<bool>(__builtin_cpu_supports("avx512dq"));
    raw["avx512bw"] = static_cast<bool>(__builtin_cpu_supports("avx512bw"));
    raw["avx512vl"] = static_cast<bool>(__builtin_cpu_supports("avx512vl"));
    raw["avx512vnni"] = static_cast<bool>(__builtin_cpu_supports("avx512vnni"));
#endif
    return py::make_tuple(usable, raw);
  });
}

}  // namespace tg::bind
