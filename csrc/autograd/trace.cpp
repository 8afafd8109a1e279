// The forward-pass recorder of tg.onnx.export (see trace.h).
#include "autograd/trace.h"

#include "core/error.h"

namespace tg::trace {

void start() {
  TG_CHECK(current == nullptr, RuntimeError, "a trace is already being recorded on this thread");
  current = new Recorder();
}

std::vector<Record> stop() {
  Recorder* r = current;
  if (!r) return {};
  current = nullptr;
  std::vector<Record> out = std::move(r->records);
  delete r;
  return out;
}

}  // namespace tg::trace
