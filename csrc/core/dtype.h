#pragma once
#include <cstdint>
#include <string>

namespace tg {

enum class DType : uint8_t { Bool = 0, Int64 = 1, Float32 = 2, Float64 = 3 };

inline size_t itemsize(DType d) {
  switch (d) {
    case DType::Bool: return 1;
    case DType::Int64: return 8;
    case DType::Float32: return 4;
    case DType::Float64: return 8;
  }
  return 0;
}

inline bool is_floating(DType d) { return d == DType::Float32 || d == DType::Float64; }

inline const char* dtype_name(DType d) {
  switch (d) {
    case DType::Bool: return "bool";
    case DType::Int64: return "int64";
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
  }
  return "?";
}

// PyTorch's promotion between two tensors of the same category rank:
// bool < int64 < float32 < float64.
inline DType promote(DType a, DType b) { return a > b ? a : b; }

template <class T> struct dtype_of;
template <> struct dtype_of<bool> { static constexpr DType value = DType::Bool; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::Int64; };
template <> struct dtype_of<float> { static constexpr DType value = DType::Float32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::Float64; };

}  // namespace tg

// Runs the trailing statements with `T` bound to the C++ type of `dt`.
#define TG_DISPATCH_ALL(dt, T, ...)                            \
  switch (dt) {                                                \
    case ::tg::DType::Bool: { using T = bool; __VA_ARGS__; break; }      \
    case ::tg::DType::Int64: { using T = int64_t; __VA_ARGS__; break; }  \
    case ::tg::DType::Float32: { using T = float; __VA_ARGS__; break; }  \
    case ::tg::DType::Float64: { using T = double; __VA_ARGS__; break; } \
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
