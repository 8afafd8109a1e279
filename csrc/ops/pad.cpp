// F.pad: every mode is a gather through per-dimension index maps (kernels/pad.h); the
// backward scatter-adds through the same maps, so the node saves only the plan.
#include "ops/pad.h"

#include <string>

#include "autograd/adjoint.h"
#include "autograd/node.h"
#include "autograd/trace.h"
#include "kernels/pad.h"
#include "ops/creation.h"

namespace tg {

namespace {

using kernels::PadPlan;

const char* mode_name(int64_t mode) {
  switch (mode) {
    case kernels::kPadConstant: return "constant";
    case kernels::kPadReflect: return "reflect";
    case kernels::kPadReplicate: return "replicate";
    default: return "circular";
  }
}

struct GatherBackward : Node {
  PadPlan plan;
  Shape in_shape;
  std::string node_name;
  GatherBackward(PadPlan p, Shape s, std::string n)
      : plan(std::move(p)), in_shape(std::move(s)), node_name(std::move(n)) {}
  std::string name() const override { return node_name; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    Tensor go = contiguous(g[0]);
    Tensor gi = empty(in_shape, go->dtype);
    TG_DISPATCH_FLOAT(go->dtype, T, kernels::pad_backward(go->data_as<T>(), gi->data_as<T>(), plan));
    return {gi};
  }
  // create_graph: linear in g; the adjoint of the scatter is the gather itself (zeros
  // where the forward wrote its constant), recorded with this same node type.
  std::vector<Tensor> apply_graph(std::vector<Tensor>& g) override {
    const PadPlan p = plan;
    const Shape out_shape = g[0]->shape;
    const std::string n = node_name;
    return {linear_in_grad(g[0], backward_of(node_name), [&](const Tensor&) { return apply(g)[0]; },
                           [p, out_shape, n](const Tensor& gg) {
                             Tensor x = contiguous(gg);
                             Tensor out = empty(out_shape, x->dtype);
                             TG_DISPATCH_FLOAT(x->dtype, T,
                                               kernels::pad_forward(x->data_as<T>(), out->data_as<T>(), p, T(0)));
                             record_gather_backward(gg, out, p, n);
                             return out;
                           })};
  }
};

// The checks PyTorch makes per mode (same exception types; messages name the shapes).
void check_mode_limits(const Tensor& input, const std::vector<int64_t>& pad, int64_t mode,
                       int64_t k) {
  const int64_t nd = input->ndim();
  if (mode == kernels::kPadReflect || mode == kernels::kPadReplicate) {
    TG_CHECK(input->dtype != DType::Bool, NotImplementedError, "\"",
             mode == kernels::kPadReflect ? "reflection" : "replication", "_pad", k,
             "d\" not implemented for 'Bool'");
    // every dim but the optional batch dim must be non-empty
    for (int64_t d = nd == k + 2 ? 1 : 0; d < nd; ++d)
      TG_CHECK(input->shape[d] > 0, RuntimeError, "Expected ", k + 1, "D or ", k + 2,
               "D (batch mode) tensor with possibly 0 batch size and other non-zero dimensions for "
               "input, but got: ", shape_str(input->shape));
  }
  for (int64_t i = 0; i < k; ++i) {
    const int64_t d = nd - 1 - i, n = input->shape[d], before = pad[2 * i], after = pad[2 * i + 1];
    int64_t out = 0;
    TG_CHECK(!__builtin_add_overflow(n, before, &out) && !__builtin_add_overflow(out, after, &out),
             RuntimeError, "padding (", before, ", ", after, ") of dimension ", d, " of input ",
             shape_str(input->shape), " overflows the size");
    if (mode == kernels::kPadConstant) {
      TG_CHECK(out >= 0, RuntimeError, "The input size ", n, ", plus negative padding ", before,
               " and ", after, " resulted in a negative output size, which is invalid. Check dimension ",
               d, " of your input ", shape_str(input->shape));
    } else if (mode == kernels::kPadCircular) {
      TG_CHECK(out >= 0, RuntimeError, "Negative padding value is resulting in an empty dimension (",
               "padding (", before, ", ", after, ") at dimension ", d, " of input ",
               shape_str(input->shape), ")");
      TG_CHECK(before <= n && after <= n, RuntimeError,
               "Padding value causes wrapping around more than once (padding (", before, ", ", after,
               ") at dimension ", d, " of input ", shape_str(input->shape), ")");
      // PyTorch wraps around the cropped input; a pad beyond it would read its own output
      // (before, after >= -n here: out >= 0 and both are <= n)
      const int64_t m = n + std::min<int64_t>(before, 0) + std::min<int64_t>(after, 0);
      TG_CHECK(out == 0 || (before <= m && after <= m), RuntimeError, "circular padding (", before,
               ", ", after, ") at dimension ", d, " wraps around the cropped input of size ", m,
               " more than once (input ", shape_str(input->shape), ")");
    } else {
      if (mode == kernels::kPadReflect)
        TG_CHECK(before < n && after < n, RuntimeError, "Argument #", 4 + 2 * i,
                 ": Padding size should be less than the corresponding input dimension, but got: "
                 "padding (", before, ", ", after, ") at dimension ", d, " of input ",
                 shape_str(input->shape));
      TG_CHECK(out >= 1, RuntimeError, "input (size ", n, " at dimension ", d, ") is too small. ",
               "Calculated output size: ", out, " (padding (", before, ", ", after, "))");
    }
  }
}

}  // namespace

Tensor pad(const Tensor& input, const std::vector<int64_t>& pad, int64_t mode,
           std::optional<double> value) {
  return trace::op("pad", {input}, [&] { return trace::Attrs{{"pad", pad}, {"mode", mode}, {"value", value.value_or(0.0)}}; }, [&]() -> Tensor {
  TG_CHECK(mode >= kernels::kPadConstant && mode <= kernels::kPadCircular, ValueError,
           "pad: unknown mode code ", mode);
  TG_CHECK(pad.size() % 2 == 0, RuntimeError, "Padding length must be divisible by 2");
  const int64_t k = (int64_t)pad.size() / 2, nd = input->ndim();
  TG_CHECK(k <= nd, RuntimeError,
           "Padding length should be less than or equal to two times the input dimension but got "
           "padding length ", pad.size(), " and input of dimension ", nd);
  if (mode != kernels::kPadConstant) {
    TG_CHECK(!value || *value == 0, RuntimeError, "Padding mode \"", mode_name(mode),
             "\" doesn't take in value argument");
    TG_CHECK(k >= 1 && k <= 3 && (nd == k + 1 || nd == k + 2), NotImplementedError, "Padding size ",
             pad.size(), " is not supported for ", nd, "D input tensor ", shape_str(input->shape),
             ". Supported combinations for non-constant padding: 2D or 3D input with padding size 2, "
             "3D or 4D input with padding size 4, 4D or 5D input with padding size 6");
  }
  check_mode_limits(input, pad, mode, k);

  Shape out_shape = input->shape;
  for (int64_t i = 0; i < k; ++i) out_shape[nd - 1 - i] += pad[2 * i] + pad[2 * i + 1];
  Tensor out = empty(out_shape, input->dtype);  // refuses impossible sizes before any map is built

  PadPlan plan;
  plan.planes = 1;
  for (int64_t d = 0; d < nd - k; ++d) plan.planes *= input->shape[d];
  for (int64_t d = nd - k; d < nd; ++d) {
    const int64_t i = nd - 1 - d, n = input->shape[d], before = pad[2 * i], after = pad[2 * i + 1];
    // an empty output reads nothing: no maps (their sizes may be huge)
    std::vector<int64_t> map(out->numel() ? out_shape[d] : 0);
    for (int64_t j = 0; j < (int64_t)map.size(); ++j) map[j] = kernels::pad_source(mode, j, n, before, after);
    plan.in.push_back(n);
    plan.out.push_back(out_shape[d]);
    plan.maps.push_back(std::move(map));
  }
  if (k == 0) plan.in = plan.out = {1}, plan.maps = {{0}};  // a copy: every element its own plane
  plan.injective = mode == kernels::kPadConstant;

  // the fill value converted as fill_ converts it (RuntimeError when it does not fit)
  Tensor fill = full({}, scalar_tensor(value.value_or(0.0), DType::Float64), input->dtype);
  Tensor x = contiguous(input);
  TG_DISPATCH_BY_SIZE(input->dtype, T,  // a pure move: one kernel per element size
                      kernels::pad_forward(x->data_as<T>(), out->data_as<T>(), plan, *fill->data_as<T>()));

  std::string name = "ConstantPadNdBackward0";
  if (mode == kernels::kPadReflect) name = "ReflectionPad" + std::to_string(k) + "DBackward0";
  if (mode == kernels::kPadReplicate) name = "ReplicationPad" + std::to_string(k) + "DBackward0";
  if (mode == kernels::kPadCircular) name = "CircularPad" + std::to_string(k) + "DBackward0";
  record_gather_backward(input, out, std::move(plan), std::move(name));
  return out;
  });
}

void record_gather_backward(const Tensor& input, const Tensor& out, kernels::PadPlan plan, std::string name) {
  set_history(make_node<GatherBackward>({input}, std::move(plan), input->shape, std::move(name)), {out});
}

}  // namespace tg
