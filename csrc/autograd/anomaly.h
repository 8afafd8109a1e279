#pragma once
// Anomaly mode (PyTorch's torch.autograd.set_detect_anomaly): while it is on, every node
// records the (Python) stack that created it, and the engine checks each node's outputs
// for NaN during backward; an error in a node's backward first warns with the forward
// stack of that node. Off, it costs one relaxed load where a node is created and one per
// node run in backward.
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace tg {

struct Node;

namespace anomaly {

extern std::atomic<bool> g_enabled;
extern std::atomic<bool> g_check_nan;
inline bool enabled() { return g_enabled.load(std::memory_order_relaxed); }
inline bool check_nan() { return g_check_nan.load(std::memory_order_relaxed); }
void set_enabled(bool enabled, bool check_nan);

// Set by the binding: the current stack as text (called where a node is created), and the
// warning that names a failed node and its forward stack (null: none was recorded).
using StackRecorder = std::shared_ptr<const std::string> (*)();
using ErrorReporter = void (*)(const std::string& node_name, const std::string* forward_stack);
void set_handlers(StackRecorder record, ErrorReporter report);

// The recorded stack for a node being created now (null when no recorder is set).
std::shared_ptr<const std::string> record_stack();
// Warns about an error in `n`'s backward (PyTorch's "Error detected in ...").
void report_error(const Node& n);
// RuntimeError "Function 'MulBackward0' returned nan values in its 0th output." when one
// of `outputs` holds a NaN.
void check_outputs(const Node& n, const std::vector<Tensor>& outputs);

}  // namespace anomaly
}  // namespace tg
