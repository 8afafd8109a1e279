#pragma once
#include <cstdint>
#include <string>

#include "core/half.h"

namespace tg {

// The four original dtypes keep their numbers; the storage dtypes of data and checkpoints
// follow. Never compare DType values for ordering: use promote() / result_type().
enum class DType : uint8_t {
  Bool = 0, Int64 = 1, Float32 = 2, Float64 = 3,
  UInt8 = 4, Int8 = 5, Int16 = 6, Int32 = 7, Float16 = 8, BFloat16 = 9,
};
constexpr int kNumDTypes = 10;

inline size_t itemsize(DType d) {
  switch (d) {
    case DType::Bool: case DType::UInt8: case DType::Int8: return 1;
    case DType::Int16: case DType::Float16: case DType::BFloat16: return 2;
    case DType::Int32: case DType::Float32: return 4;
    case DType::Int64: case DType::Float64: return 8;
  }
  return 0;
}

inline bool is_floating(DType d) {
  return d == DType::Float32 || d == DType::Float64 || d == DType::Float16 || d == DType::BFloat16;
}
// float16 / bfloat16: stored in 16 bits, computed in float32.
inline bool is_half(DType d) { return d == DType::Float16 || d == DType::BFloat16; }
// Integer dtypes (not bool).
inline bool is_integral(DType d) { return !is_floating(d) && d != DType::Bool; }
// uint8 / int8 / int16 / int32: stored narrow, computed in int64 and wrapped on store.
inline bool is_small_int(DType d) {
  return d == DType::UInt8 || d == DType::Int8 || d == DType::Int16 || d == DType::Int32;
}
// One of the dtypes most kernels are instantiated for (bool, int64, float32, float64).
inline bool is_base(DType d) { return (int)d <= 3; }

// The dtype kernels compute a dtype in: half types in float32, small integers in int64.
inline DType compute_dtype(DType d) {
  if (is_half(d)) return DType::Float32;
  if (is_small_int(d)) return DType::Int64;
  return d;
}

inline const char* dtype_name(DType d) {
  switch (d) {
    case DType::Bool: return "bool";
    case DType::Int64: return "int64";
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::UInt8: return "uint8";
    case DType::Int8: return "int8";
    case DType::Int16: return "int16";
    case DType::Int32: return "int32";
    case DType::Float16: return "float16";
    case DType::BFloat16: return "bfloat16";
  }
  return "?";
}

// PyTorch's ScalarType names, as its kernels' "not implemented for 'Half'" messages use.
inline const char* scalar_type_name(DType d) {
  switch (d) {
    case DType::Bool: return "Bool";
    case DType::Int64: return "Long";
    case DType::Float32: return "Float";
    case DType::Float64: return "Double";
    case DType::UInt8: return "Byte";
    case DType::Int8: return "Char";
    case DType::Int16: return "Short";
    case DType::Int32: return "Int";
    case DType::Float16: return "Half";
    case DType::BFloat16: return "BFloat16";
  }
  return "?";
}

// PyTorch's promotion of two tensor dtypes (its promoteTypes table): bool < integers <
// floats; among integers uint8/int8 < int16 < int32 < int64 with uint8 + int8 -> int16;
// among floats float16/bfloat16 < float32 < float64 with float16 + bfloat16 -> float32.
inline DType promote(DType a, DType b) {
  if (a == b) return a;
  if (a == DType::Bool) return b;
  if (b == DType::Bool) return a;
  auto irank = [](DType d) {
    switch (d) {
      case DType::UInt8: case DType::Int8: return 1;
      case DType::Int16: return 2;
      case DType::Int32: return 3;
      default: return 4;
    }
  };
  auto frank = [](DType d) {
    switch (d) {
      case DType::Float16: case DType::BFloat16: return 1;
      case DType::Float32: return 2;
      default: return 3;
    }
  };
  const bool fa = is_floating(a), fb = is_floating(b);
  if (fa && !fb) return a;
  if (fb && !fa) return b;
  if (fa) {  // both floating
    const int ra = frank(a), rb = frank(b);
    if (ra == rb) return DType::Float32;  // float16 + bfloat16
    return ra > rb ? a : b;
  }
  const int ra = irank(a), rb = irank(b);
  if (ra == rb) return DType::Int16;  // uint8 + int8
  return ra > rb ? a : b;
}

template <class T> struct dtype_of;
template <> struct dtype_of<bool> { static constexpr DType value = DType::Bool; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::Int64; };
template <> struct dtype_of<float> { static constexpr DType value = DType::Float32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::Float64; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = DType::UInt8; };
template <> struct dtype_of<int8_t> { static constexpr DType value = DType::Int8; };
template <> struct dtype_of<int16_t> { static constexpr DType value = DType::Int16; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::Int32; };
template <> struct dtype_of<Half> { static constexpr DType value = DType::Float16; };
template <> struct dtype_of<BFloat16> { static constexpr DType value = DType::BFloat16; };

// The error the dispatch macros raise for a dtype an op has no kernel for (PyTorch's
// NotImplementedError, a RuntimeError: "\"op\" not implemented for 'Half'").
[[noreturn]] void throw_not_implemented(const char* what, DType dt);

}  // namespace tg

// Runs the trailing statements with `T` bound to the C++ type of `dt`, for the four base
// dtypes (bool, int64, float32, float64); other dtypes raise. Ops reach their kernels for
// the narrow dtypes through their compute dtype (compute_dtype()).
#define TG_DISPATCH_ALL(dt, T, ...)                            \
  switch (dt) {                                                \
    case ::tg::DType::Bool: { using T = bool; __VA_ARGS__; break; }      \
    case ::tg::DType::Int64: { using T = int64_t; __VA_ARGS__; break; }  \
    case ::tg::DType::Float32: { using T = float; __VA_ARGS__; break; }  \
    case ::tg::DType::Float64: { using T = double; __VA_ARGS__; break; } \
    default: ::tg::throw_not_implemented(__func__, dt);                  \
  }

// Every dtype, the storage types included: for copies, conversions and fills.
#define TG_DISPATCH_ALL_TYPES(dt, T, ...)                                  \
  switch (dt) {                                                            \
    case ::tg::DType::Bool: { using T = bool; __VA_ARGS__; break; }        \
    case ::tg::DType::Int64: { using T = int64_t; __VA_ARGS__; break; }    \
    case ::tg::DType::Float32: { using T = float; __VA_ARGS__; break; }    \
    case ::tg::DType::Float64: { using T = double; __VA_ARGS__; break; }   \
    case ::tg::DType::UInt8: { using T = uint8_t; __VA_ARGS__; break; }    \
    case ::tg::DType::Int8: { using T = int8_t; __VA_ARGS__; break; }      \
    case ::tg::DType::Int16: { using T = int16_t; __VA_ARGS__; break; }    \
    case ::tg::DType::Int32: { using T = int32_t; __VA_ARGS__; break; }    \
    case ::tg::DType::Float16: { using T = ::tg::Half; __VA_ARGS__; break; }      \
    case ::tg::DType::BFloat16: { using T = ::tg::BFloat16; __VA_ARGS__; break; } \
  }

// An unsigned integer type of the dtype's size: for ops that only move elements
// (gather, index, cat, pad ...), which need one instantiation per size, not per dtype.
#define TG_DISPATCH_BY_SIZE(dt, T, ...)                                   \
  switch (::tg::itemsize(dt)) {                                           \
    case 1: { using T = uint8_t; __VA_ARGS__; break; }                    \
    case 2: { using T = uint16_t; __VA_ARGS__; break; }                   \
    case 4: { using T = uint32_t; __VA_ARGS__; break; }                   \
    default: { using T = uint64_t; __VA_ARGS__; break; }                  \
  }

#define TG_DISPATCH_FLOAT(dt, T, ...)                                   \
  switch (dt) {                                                         \
    case ::tg::DType::Float32: { using T = float; __VA_ARGS__; break; }  \
    case ::tg::DType::Float64: { using T = double; __VA_ARGS__; break; } \
    default: throw ::tg::TypeError(std::string("expected a floating dtype, got ") + ::tg::dtype_name(dt)); \
  }

#define TG_DISPATCH_NUMERIC(dt, T, ...)                                 \
  switch (dt) {                                                         \
    case ::tg::DType::Int64: { using T = int64_t; __VA_ARGS__; break; }  \
    case ::tg::DType::Float32: { using T = float; __VA_ARGS__; break; }  \
    case ::tg::DType::Float64: { using T = double; __VA_ARGS__; break; } \
    default: throw ::tg::TypeError(std::string("operation does not support dtype ") + ::tg::dtype_name(dt)); \
  }
