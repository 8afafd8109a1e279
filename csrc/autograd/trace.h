#pragma once
// The forward-pass recorder behind tg.onnx.export.
//
// Design: while a Recorder is installed on this thread (tg.onnx.export's tracing context),
// each traced op appends one Record: its kind (our op's name, e.g. "linear", "conv",
// "rnn_layer"), its input and output tensors, and the attributes an exporter needs
// (stride, padding, dims, eps, ...). The hook sits in the op's public C++ function, where
// every attribute is still at hand, rather than in the autograd graph: nodes keep only
// what their backward needs (and none is made under no_grad or for tensors that do not
// require grad), while the entry point sees every call. An op called from inside another
// traced op (linear's matmul, split's slices) is an implementation detail of the outer one
// and records nothing (the depth counter), so a record is exactly one user-level op.
//
// Cost when not tracing: `trace::op` tests one thread-local pointer and calls the body;
// the inputs are passed as TensorRefs (no allocation, no reference counting) and the
// attributes are a lambda that only runs while recording.
//
// Tensors are identified by their TensorImpl. A record holds its tensors, so no id is
// reused while the trace lives. Tensors no record produced are the graph's inputs,
// parameters and buffers (the exporter knows them) or constants (initializers); the
// exporter refuses a tensor that has autograd history but no record (an op that has no
// trace hook sat on the path), naming the op from its grad_fn.
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "core/tensor.h"

namespace tg::trace {

using AttrValue = std::variant<int64_t, double, std::string, std::vector<int64_t>>;
using Attrs = std::vector<std::pair<std::string, AttrValue>>;

struct Record {
  std::string op;
  std::vector<Tensor> inputs;   // null entries: absent optional inputs (a Linear without bias)
  std::vector<Tensor> outputs;
  Attrs attrs;
};

struct Recorder {
  std::vector<Record> records;
  int depth = 0;  // > 0 while a traced op runs: ops it calls are not recorded
};

// The recorder of this thread, null when not tracing.
inline thread_local Recorder* current = nullptr;

// Installs a fresh recorder on this thread (RuntimeError if one is already there).
void start();
// Removes this thread's recorder and returns what it recorded.
std::vector<Record> stop();

// `head` then `tail` (rnn_layer's inputs then its weights), built only while tracing.
inline std::vector<Tensor> concat(std::vector<Tensor> head, const std::vector<Tensor>& tail) {
  head.insert(head.end(), tail.begin(), tail.end());
  return head;
}

namespace detail {
inline void push_outputs(std::vector<Tensor>& out, const Tensor& t) { out.push_back(t); }
inline void push_outputs(std::vector<Tensor>& out, const std::vector<Tensor>& ts) {
  out.insert(out.end(), ts.begin(), ts.end());
}
inline void push_outputs(std::vector<Tensor>& out, const std::pair<Tensor, Tensor>& p) {
  out.push_back(p.first);
  out.push_back(p.second);
}
struct DepthGuard {
  Recorder* r;
  explicit DepthGuard(Recorder* rec) : r(rec) { ++r->depth; }
  ~DepthGuard() { --r->depth; }
};
}  // namespace detail

// Runs `body` (the op's own code) and, while tracing and not nested in another traced op,
// records `name`, `inputs`, body's result and `attrs()`.
template <class Body, class AttrFn>
auto op(const char* name, TensorRefs inputs, AttrFn&& attrs, Body&& body) -> decltype(body()) {
  Recorder* r = current;
  if (!r) return body();  // the fast path: not tracing
  const bool top = r->depth == 0;
  decltype(body()) result = [&] {
    detail::DepthGuard g(r);
    return body();
  }();
  if (top) {
    Record rec;
    rec.op = name;
    rec.inputs.reserve(inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) rec.inputs.push_back(inputs[i]);
    detail::push_outputs(rec.outputs, result);
    rec.attrs = attrs();
    r->records.push_back(std::move(rec));
  }
  return result;
}
template <class Body>
auto op(const char* name, TensorRefs inputs, Body&& body) -> decltype(body()) {
  return op(name, inputs, [] { return Attrs{}; }, std::forward<Body>(body));
}

// For in-place ops returning void: records `self` as both input and output.
template <class Body>
void op_inplace(const char* name, const Tensor& self, TensorRefs others, Body&& body) {
  Recorder* r = current;
  if (!r) return body();
  const bool top = r->depth == 0;
  {
    detail::DepthGuard g(r);
    body();
  }
  if (top) {
    Record rec;
    rec.op = name;
    rec.inputs.push_back(self);
    for (size_t i = 0; i < others.size(); ++i) rec.inputs.push_back(others[i]);
    // the exporter reads later uses of self as this record's output
    rec.outputs.push_back(self);
    r->records.push_back(std::move(rec));
  }
}

}  // namespace tg::trace
