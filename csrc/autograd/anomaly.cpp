#include "autograd/anomaly.h"

#include <cmath>

#include "autograd/node.h"
#include "ops/creation.h"

namespace tg::anomaly {

std::atomic<bool> g_enabled{false};
std::atomic<bool> g_check_nan{true};

namespace {
std::atomic<StackRecorder> g_record{nullptr};
std::atomic<ErrorReporter> g_report{nullptr};

template <class T>
bool has_nan(const Tensor& t) {
  Tensor c = contiguous(t);
  const T* p = c->data_as<T>();
  const int64_t n = c->numel();
  for (int64_t i = 0; i < n; ++i)
    if (std::isnan(p[i])) return true;
  return false;
}
}  // namespace

void set_enabled(bool enabled, bool check_nan) {
  g_check_nan.store(check_nan, std::memory_order_relaxed);
  g_enabled.store(enabled, std::memory_order_relaxed);
}

void set_handlers(StackRecorder record, ErrorReporter report) {
  g_record.store(record);
  g_report.store(report);
}

std::shared_ptr<const std::string> record_stack() {
  StackRecorder r = g_record.load();
  return r ? r() : nullptr;
}

void report_error(const Node& n) {
  if (ErrorReporter r = g_report.load()) r(n.name(), n.anomaly_stack.get());
}

void check_outputs(const Node& n, const std::vector<Tensor>& outputs) {
  if (!check_nan()) return;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& t = outputs[i];
    if (!t) continue;
    bool nan = false;
    if (t->dtype == DType::Float32) nan = has_nan<float>(t);
    else if (t->dtype == DType::Float64) nan = has_nan<double>(t);
    TG_CHECK(!nan, RuntimeError, "Function '", n.name(), "' returned nan values in its ", i, "th output.");
  }
}

}  // namespace tg::anomaly
