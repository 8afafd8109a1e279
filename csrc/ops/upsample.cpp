// F.interpolate: nearest modes gather through index maps (the padding kernel), linear
// modes blend two taps per dim (kernels/upsample.h); each backward scatters through the
// same geometry, recomputed from the sizes the node keeps.
#include "ops/upsample.h"

#include "ops/compute.h"

#include <cmath>
#include <string>

#include "autograd/adjoint.h"
#include "autograd/node.h"
#include "autograd/trace.h"
#include "kernels/upsample.h"
#include "ops/creation.h"
#include "ops/pad.h"

namespace tg {

namespace {

// What both node kinds keep: planes (N*C), spatial sizes in and out, the scales (<= 0:
// none), the input's shape.
struct Geometry {
  int64_t planes = 0;
  Shape in, out, in_shape;
  std::vector<double> scales;
};

std::string sizes_str(const Shape& s) {
  static const char* names[] = {"D", "H", "W"};
  std::string r = "(";
  const size_t first = 3 - s.size();
  for (size_t i = 0; i < s.size(); ++i)
    r += cat_str(i ? ", " : "", names[first + i], ": ", s[i]);
  return r + ")";
}

// Checks the input and resolves the output size, as PyTorch's upsample ops do.
Geometry plan_geometry(const Tensor& input, const std::optional<Shape>& output_size,
                       const std::optional<std::vector<double>>& scale_factors, int64_t max_dims,
                       const std::string& op) {
  const int64_t nd = input->ndim(), k = nd - 2;
  TG_CHECK(k >= 1 && k <= max_dims, RuntimeError, op, ": expected a 3D", max_dims > 1 ? " to " : "",
           max_dims > 1 ? std::to_string(max_dims + 2) + "D" : "", " input (N, C, spatial...), got ",
           shape_str(input->shape));
  TG_CHECK(output_size.has_value() != scale_factors.has_value(), RuntimeError, op,
           ": must specify exactly one of output_size and scale_factors");
  // nearest also takes uint8 (images), as in PyTorch
  const bool nearest = op.rfind("upsample_nearest", 0) == 0;
  TG_CHECK(is_floating(input->dtype) || (nearest && input->dtype == DType::UInt8), NotImplementedError, "\"",
           op, "\" not implemented for '", dtype_name(input->dtype), "'");
  Geometry g;
  g.in_shape = input->shape;
  g.in.assign(input->shape.begin() + 2, input->shape.end());
  g.planes = input->shape[0] * input->shape[1];
  if (output_size) {
    TG_CHECK((int64_t)output_size->size() == k, RuntimeError, op, ": expected output_size of ", k,
             " elements for input ", shape_str(input->shape), ", got ", shape_str(*output_size));
    g.out = *output_size;
    g.scales.assign(k, -1.0);
  } else {
    TG_CHECK((int64_t)scale_factors->size() == k, RuntimeError, op, ": expected ", k,
             " scale factors for input ", shape_str(input->shape), ", got ", scale_factors->size());
    g.scales = *scale_factors;
    for (int64_t d = 0; d < k; ++d) {
      const double s = std::floor(double(g.in[d]) * g.scales[d]);
      TG_CHECK(std::isfinite(s) && std::abs(s) < 9.2e18, RuntimeError, op, ": scale factor ",
               g.scales[d], " gives an output size that cannot be converted to type int64_t without "
               "overflow (input ", shape_str(input->shape), ")");
      g.out.push_back(int64_t(s));
    }
  }
  bool positive = true;
  for (int64_t d = 0; d < k; ++d) positive &= g.in[d] > 0 && g.out[d] > 0;
  TG_CHECK(positive, RuntimeError, op, ": Input and output sizes should be greater than 0, but got input ",
           sizes_str(g.in), " output ", sizes_str(g.out));
  // only the batch may be empty
  TG_CHECK(input->shape[1] > 0, RuntimeError, "Non-empty ", nd,
           "D data tensor expected but got a tensor with sizes ", shape_str(input->shape));
  return g;
}

Shape output_shape(const Tensor& input, const Geometry& g) {
  Shape s{input->shape[0], input->shape[1]};
  s.insert(s.end(), g.out.begin(), g.out.end());
  return s;
}

// Runs f(h_taps or null, w_taps) with the taps of g in T.
template <class T, class F>
void with_taps(const Geometry& g, bool align_corners, F f) {
  const size_t k = g.in.size();
  auto w = kernels::linear_taps<T>(g.in[k - 1], g.out[k - 1], align_corners, g.scales[k - 1]);
  if (k == 1) return f(static_cast<const kernels::LinearTaps<T>*>(nullptr), w);
  auto h = kernels::linear_taps<T>(g.in[0], g.out[0], align_corners, g.scales[0]);
  f(static_cast<const kernels::LinearTaps<T>*>(&h), w);
}

struct UpsampleLinearBackward : Node {
  Geometry geo;
  bool align_corners;
  UpsampleLinearBackward(Geometry g, bool ac) : geo(std::move(g)), align_corners(ac) {}
  std::string name() const override {
    return geo.in.size() == 1 ? "UpsampleLinear1DBackward0" : "UpsampleBilinear2DBackward0";
  }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    Tensor go = contiguous(g[0]);
    Tensor gi = empty(geo.in_shape, go->dtype);
    const bool two = geo.in.size() == 2;
    const int64_t ih = two ? geo.in[0] : 1, oh = two ? geo.out[0] : 1;
    TG_DISPATCH_FLOAT(go->dtype, T, with_taps<T>(geo, align_corners, [&](auto* h, auto& w) {
      kernels::linear_backward(go->data_as<T>(), gi->data_as<T>(), geo.planes, ih, geo.in.back(), oh,
                               geo.out.back(), h, w);
    }));
    return {gi};
  }
  // create_graph: linear in g; the adjoint of the backward is the interpolation itself
  std::vector<Tensor> apply_graph(std::vector<Tensor>& g) override;
};

// The interpolation of `x` (geo's input shape) with a fixed geometry, recorded.
Tensor linear_with(const Tensor& xin, const Geometry& geo, bool align_corners, const Shape& out_shape) {
  Tensor x = contiguous(xin);
  Tensor out = empty(out_shape, x->dtype);
  const bool two = geo.in.size() == 2;
  const int64_t ih = two ? geo.in[0] : 1, oh = two ? geo.out[0] : 1;
  TG_DISPATCH_FLOAT(x->dtype, T, with_taps<T>(geo, align_corners, [&](auto* h, auto& w) {
    kernels::linear_forward(x->data_as<T>(), out->data_as<T>(), geo.planes, ih, geo.in.back(), oh,
                            geo.out.back(), h, w);
  }));
  set_history(make_node<UpsampleLinearBackward>({xin}, geo, align_corners), {out});
  return out;
}

std::vector<Tensor> UpsampleLinearBackward::apply_graph(std::vector<Tensor>& g) {
  const Geometry ge = geo;
  const bool ac = align_corners;
  const Shape out_shape = g[0]->shape;
  return {linear_in_grad(g[0], backward_of(name()), [&](const Tensor&) { return apply(g)[0]; },
                         [ge, ac, out_shape](const Tensor& gg) { return linear_with(gg, ge, ac, out_shape); })};
}

}  // namespace

Tensor upsample_nearest(const Tensor& input, const std::optional<Shape>& output_size,
                        const std::optional<std::vector<double>>& scale_factors, bool exact) {
  return trace::op("upsample_nearest", {input}, [&] { return trace::Attrs{{"exact", int64_t(exact)}}; }, [&]() -> Tensor {
  // half types: through float32, so the backward sums gradients in float32
  if (is_half(input->dtype))
    return narrow_to(upsample_nearest(widen(input), output_size, scale_factors, exact), input->dtype);
  const int64_t k = input->ndim() - 2;
  const std::string op = cat_str("upsample_nearest", exact ? "_exact" : "", k, "d");
  Geometry g = plan_geometry(input, output_size, scale_factors, 3, op);
  Tensor out = empty(output_shape(input, g), input->dtype);  // refuses impossible sizes first
  kernels::PadPlan plan = kernels::nearest_plan(g.planes, g.in, g.out, g.scales, exact);
  Tensor x = contiguous(input);
  // nearest only moves elements: one kernel per element size serves every dtype (uint8 images too)
  TG_DISPATCH_BY_SIZE(input->dtype, T, kernels::pad_forward(x->data_as<T>(), out->data_as<T>(), plan, T(0)));
  std::string name = cat_str("UpsampleNearest", exact ? "Exact" : "", k, "DBackward0");
  record_gather_backward(input, out, std::move(plan), std::move(name));
  return out;
  });
}

Tensor upsample_linear(const Tensor& input, const std::optional<Shape>& output_size,
                       bool align_corners, const std::optional<std::vector<double>>& scale_factors) {
  return trace::op("upsample_linear", {input}, [&] { return trace::Attrs{{"align_corners", int64_t(align_corners)}}; }, [&]() -> Tensor {
  // half types: computed in float32, the result rounded once
  if (is_half(input->dtype))
    return narrow_to(upsample_linear(widen(input), output_size, align_corners, scale_factors), input->dtype);
  const std::string op = input->ndim() == 4 ? "upsample_bilinear2d" : "upsample_linear1d";
  Geometry g = plan_geometry(input, output_size, scale_factors, 2, op);
  Tensor out = empty(output_shape(input, g), input->dtype);  // before the taps, as above
  Tensor x = contiguous(input);
  const bool two = g.in.size() == 2;
  const int64_t ih = two ? g.in[0] : 1, oh = two ? g.out[0] : 1;
  TG_DISPATCH_FLOAT(input->dtype, T, with_taps<T>(g, align_corners, [&](auto* h, auto& w) {
    kernels::linear_forward(x->data_as<T>(), out->data_as<T>(), g.planes, ih, g.in.back(), oh,
                            g.out.back(), h, w);
  }));
  set_history(make_node<UpsampleLinearBackward>({input}, std::move(g), align_corners), {out});
  return out;
  });
}

}  // namespace tg
