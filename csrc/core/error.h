#pragma once
// Typed errors thrown by the core. The bindings translate each to the Python exception
// of the same name; nothing else in the core knows about Python.
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace tg {

struct RuntimeError : std::runtime_error { using std::runtime_error::runtime_error; };
struct ValueError : std::runtime_error { using std::runtime_error::runtime_error; };
struct IndexError : std::runtime_error { using std::runtime_error::runtime_error; };
struct TypeError : std::runtime_error { using std::runtime_error::runtime_error; };
// A combination PyTorch does not implement either (Python's NotImplementedError, itself a
// RuntimeError subclass).
struct NotImplementedError : RuntimeError { using RuntimeError::RuntimeError; };

inline std::string shape_str(const std::vector<int64_t>& s) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << "]";
  return o.str();
}

template <class... A>
std::string cat_str(const A&... a) {
  std::ostringstream o;
  (o << ... << a);
  return o.str();
}

}  // namespace tg

#define TG_CHECK(cond, Err, ...) \
  do { if (!(cond)) throw ::tg::Err(::tg::cat_str(__VA_ARGS__)); } while (0)
