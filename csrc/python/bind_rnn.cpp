// Recurrent layers (the Python modules in nn/modules/rnn.py check arguments and shapes
// with PyTorch's messages, and loop over layers; each layer runs in C++).
#include "ops/rnn.h"
#include "python/bind.h"

namespace tg::bind {

namespace {
kernels::RnnMode rnn_mode(const std::string& m) {
  if (m == "RNN_TANH") return kernels::RnnMode::Tanh;
  if (m == "RNN_RELU") return kernels::RnnMode::Relu;
  if (m == "LSTM") return kernels::RnnMode::Lstm;
  if (m == "GRU") return kernels::RnnMode::Gru;
  throw ValueError("Unrecognized RNN mode: " + m);
}
}  // namespace

void bind_rnn(py::module_& m, TensorClass&) {
  m.def("_rnn_layer", [](const std::string& mode, const Tensor& input, const OptTensor& hx, const OptTensor& cx,
                         const std::vector<OptTensor>& weights, Bool bidirectional, Bool batch_first) {
    const kernels::RnnMode md = rnn_mode(mode);
    std::vector<Tensor> w;
    w.reserve(weights.size());
    for (const auto& t : weights) w.push_back(or_null(t));
    return maybe_release(input->numel() * 64, [&] {
      return rnn_layer(md, input, or_null(hx), or_null(cx), w, bidirectional, batch_first);
    });
  }, py::arg("mode"), py::arg("input"), py::arg("hx"), py::arg("cx"), py::arg("weights"),
        py::arg("bidirectional") = false, py::arg("batch_first") = false,
        "One recurrent layer over a sequence: (output, h_n) or, for LSTM, (output, h_n, c_n).");
}

}  // namespace tg::bind
