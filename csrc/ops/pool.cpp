// Pooling: max (with indices), average, adaptive average and adaptive max, each 2-d op
// next to its backward node. The 1-d forms check their arguments as PyTorch's 1-d ops do,
// then run the 2-d op on [.., 1, L] and squeeze (their grad_fn is SqueezeBackward1, as in
// PyTorch).
#include "ops/pool.h"

#include "ops/compute.h"

#include <climits>

#include "autograd/adjoint.h"
#include "autograd/node.h"
#include "autograd/trace.h"
#include "kernels/pool.h"
#include "ops/creation.h"
#include "ops/index.h"
#include "ops/reduce_dims.h"
#include "ops/shape.h"

namespace tg {

namespace {

using kernels::PoolGeom;

// PyTorch converts the pooling parameters to C int; larger values are its RuntimeError.
void check_fits_int(const IntList& v) {
  for (int64_t x : v)
    TG_CHECK(x >= INT_MIN && x <= INT_MAX, RuntimeError,
             "value cannot be converted to type int without overflow: ", x);
}

int64_t pick(const IntList& v, size_t i) { return v.size() == 1 ? v[0] : v[i]; }

bool one_or_two(const IntList& v) { return v.size() == 1 || v.size() == 2; }

int64_t div_floor(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// PyTorch's pooling_output_shape: with ceil_mode the last window must start inside the
// input or its left padding.
int64_t pooled_size(int64_t in, int64_t k, int64_t pad, int64_t s, int64_t d, bool ceil_mode) {
  int64_t out = div_floor(in + 2 * pad - d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0), s) + 1;
  if (ceil_mode && (out - 1) * s >= in + pad) --out;
  return out;
}

void check_floating(const Tensor& x, const char* op) {
  TG_CHECK(is_floating(x->dtype), RuntimeError, op, ": expected a float32 or float64 input, got ",
           dtype_name(x->dtype), " ", shape_str(x->shape));
}

// [N, C, H, W] or [C, H, W], with C, H and W not empty (an empty batch is fine).
void check_pool_input(const Tensor& x, const char* op) {
  const int64_t nd = x->ndim();
  TG_CHECK(nd == 3 || nd == 4, RuntimeError, op,
           ": non-empty 3D or 4D (batch mode) tensor expected for input, got ", shape_str(x->shape));
  for (int64_t d = nd - 3; d < nd; ++d)
    TG_CHECK(x->shape[d] != 0, RuntimeError,
             "Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but got:",
             shape_str(x->shape));
  check_floating(x, op);
}

int64_t planes_of(const Tensor& x) {
  int64_t p = 1;
  for (int64_t d = 0; d + 2 < x->ndim(); ++d) p *= x->shape[d];
  return p;
}

Shape pooled_shape(const Shape& in, int64_t oh, int64_t ow) {
  Shape s = in;
  s[s.size() - 2] = oh, s[s.size() - 1] = ow;
  return s;
}

// Normalizes and checks kernel/stride/padding/dilation (avg pooling passes dilation {1})
// in PyTorch's order and words, then computes the output plane of `x`.
PoolGeom pool_geometry(const Tensor& x, const char* op, const IntList& kernel, const IntList& stride,
                       const IntList& padding, const IntList& dilation, bool ceil_mode) {
  TG_CHECK(one_or_two(kernel), RuntimeError, op,
           ": kernel_size must either be a single int, or a tuple of two ints");
  TG_CHECK(stride.empty() || one_or_two(stride), RuntimeError, op,
           ": stride must either be omitted, a single int, or a tuple of two ints");
  TG_CHECK(one_or_two(padding), RuntimeError, op,
           ": padding must either be a single int, or a tuple of two ints");
  TG_CHECK(one_or_two(dilation), RuntimeError, op,
           ": dilation must be either a single int, or a tuple of two ints");
  for (const IntList* v : {&kernel, &stride, &padding, &dilation}) check_fits_int(*v);
  PoolGeom g;
  g.kH = pick(kernel, 0), g.kW = pick(kernel, 1);
  g.sH = stride.empty() ? g.kH : pick(stride, 0), g.sW = stride.empty() ? g.kW : pick(stride, 1);
  g.pH = pick(padding, 0), g.pW = pick(padding, 1);
  g.dH = pick(dilation, 0), g.dW = pick(dilation, 1);

  TG_CHECK(g.sH != 0 && g.sW != 0, RuntimeError, "stride should not be zero");
  TG_CHECK(g.pH >= 0 && g.pW >= 0, RuntimeError, "pad must be non-negative, but got pad: ",
           g.pH < 0 ? g.pH : g.pW);
  const int64_t k[2] = {g.kH, g.kW}, p[2] = {g.pH, g.pW}, d[2] = {g.dH, g.dW};
  for (int i = 0; i < 2; ++i)
    TG_CHECK(((k[i] - 1) * d[i] + 1) / 2 >= p[i], RuntimeError,
             "pad should be at most half of effective kernel size, but got pad=", p[i],
             ", kernel_size=", k[i], " and dilation=", d[i]);
  TG_CHECK(g.kH > 0 && g.kW > 0, RuntimeError, "kernel size should be greater than zero, but got kH: ",
           g.kH, " kW: ", g.kW);
  TG_CHECK(g.sH > 0 && g.sW > 0, RuntimeError, "stride should be greater than zero, but got dH: ", g.sH,
           " dW: ", g.sW);
  TG_CHECK(g.dH > 0 && g.dW > 0, RuntimeError,
           "dilation should be greater than zero, but got dilationH: ", g.dH, " dilationW: ", g.dW);
  check_pool_input(x, op);
  TG_CHECK(g.kW / 2 >= g.pW && g.kH / 2 >= g.pH, RuntimeError,
           "pad should be smaller than or equal to half of kernel size, but got padW = ", g.pW,
           ", padH = ", g.pH, ", kW = ", g.kW, ", kH = ", g.kH);
  g.planes = planes_of(x);
  g.H = x->shape[x->ndim() - 2], g.W = x->shape[x->ndim() - 1];
  g.OH = pooled_size(g.H, g.kH, g.pH, g.sH, g.dH, ceil_mode);
  g.OW = pooled_size(g.W, g.kW, g.pW, g.sW, g.dW, ceil_mode);
  const int64_t c = x->shape[x->ndim() - 3];
  TG_CHECK(g.OH >= 1 && g.OW >= 1, RuntimeError, "Given input size: (", c, "x", g.H, "x", g.W,
           "). Calculated output size: (", c, "x", g.OH, "x", g.OW, "). Output size is too small");
  return g;
}

// The upstream gradient as a contiguous tensor of the op's dtype, without history.
Tensor dense_grad(const Tensor& g, DType dt) {
  return reduce_detail::dense(reduce_detail::cast(g, dt));
}

// Max and adaptive max pooling share it: the gradient goes to each window's argmax.
struct MaxPoolBackward : Node {
  SavedTensor indices;
  Shape in_shape;
  DType dt;
  int64_t planes, in_plane, out_plane;
  bool adaptive;
  MaxPoolBackward(const Tensor& idx, const Tensor& x, const PoolGeom& g, bool adaptive)
      : indices(idx, /*is_output=*/true), in_shape(x->shape), dt(x->dtype), planes(g.planes),
        in_plane(g.in_plane()), out_plane(g.out_plane()), adaptive(adaptive) {}
  std::string name() const override {
    return adaptive ? "AdaptiveMaxPool2DBackward0" : "MaxPool2DWithIndicesBackward0";
  }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    Tensor gy = dense_grad(g[0], dt);
    Tensor gx = empty(in_shape, dt);
    const int64_t* idx = indices.get(*this)->data_as<int64_t>();
    TG_DISPATCH_FLOAT(dt, T, {
      kernels::max_pool_backward(planes, in_plane, out_plane, gy->data_as<T>(), idx, gx->data_as<T>());
    });
    return {gx};
  }
  // create_graph: linear in g; the adjoint of the scatter to the argmaxes is a gather of
  // them (recorded as a gather, so differentiable again)
  std::vector<Tensor> apply_graph(std::vector<Tensor>& g) override {
    indices.get(*this);  // (checks it was not modified)
    const Tensor idx = indices.t;  // an int64 output: without the history get() gives it here
    const Shape out_shape = g[0]->shape;
    const int64_t P = planes, IP = in_plane, OP = out_plane;
    return {linear_in_grad(g[0], backward_of(name()), [&](const Tensor&) { return apply(g)[0]; },
                           [idx, out_shape, P, IP, OP](const Tensor& gg) {
                             return reshape(gather(reshape(gg, {P, IP}), 1, reshape(idx, {P, OP})), out_shape);
                           })};
  }
  void release_saved() override { indices.reset(); }
};

// Values and (when asked for, or needed by the backward) indices.
std::pair<Tensor, Tensor> max_pool2d_impl(const Tensor& input, const IntList& kernel_size,
                                          const IntList& stride, const IntList& padding,
                                          const IntList& dilation, bool ceil_mode, bool want_indices) {
  // half types: computed in float32, the result rounded once
  if (is_half(input->dtype)) {
    auto r = max_pool2d_impl(widen(input), kernel_size, stride, padding, dilation, ceil_mode, want_indices);
    return {narrow_to(r.first, input->dtype), r.second};
  }
  const PoolGeom g = pool_geometry(input, "max_pool2d", kernel_size, stride, padding, dilation, ceil_mode);
  const bool grad = any_needs_grad(input);
  const Shape out_shape = pooled_shape(input->shape, g.OH, g.OW);
  Tensor x = reduce_detail::dense(input);
  Tensor y = empty(out_shape, x->dtype);
  Tensor idx = (want_indices || grad) ? empty(out_shape, DType::Int64) : nullptr;
  TG_DISPATCH_FLOAT(x->dtype, T, {
    kernels::max_pool2d_forward(g, x->data_as<T>(), y->data_as<T>(),
                                idx ? idx->data_as<int64_t>() : nullptr);
  });
  if (grad) set_history(make_node<MaxPoolBackward>({input}, idx, input, g, false), {y});
  return {y, idx};
}

}  // namespace

// ---- max pooling -------------------------------------------------------------------------

std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& input, const IntList& kernel_size,
                                                  const IntList& stride, const IntList& padding,
                                                  const IntList& dilation, bool ceil_mode) {
  return max_pool2d_impl(input, kernel_size, stride, padding, dilation, ceil_mode, true);
}

Tensor max_pool2d(const Tensor& input, const IntList& kernel_size, const IntList& stride,
                  const IntList& padding, const IntList& dilation, bool ceil_mode) {
  return trace::op("max_pool2d", {input}, [&] { return trace::Attrs{{"kernel_size", kernel_size}, {"stride", stride}, {"padding", padding}, {"dilation", dilation}, {"ceil_mode", int64_t(ceil_mode)}}; }, [&]() -> Tensor {
  return max_pool2d_impl(input, kernel_size, stride, padding, dilation, ceil_mode, false).first;
  });
}

namespace {

// [N, C, L] or [C, L] with C and L not empty, for the 1-d max pool.
void check_max_pool1d(const Tensor& x, const IntList& k, const IntList& s, const IntList& p,
                      const IntList& d, bool ceil_mode) {
  const int64_t nd = x->ndim();
  bool ok = nd == 2 || nd == 3;
  for (int64_t i = nd - 2; ok && i < nd; ++i) ok = x->shape[i] != 0;
  TG_CHECK(ok, RuntimeError,
           "max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size for "
           "input, but got:", shape_str(x->shape));
  TG_CHECK(k.size() == 1, RuntimeError,
           "max_pool1d() kernel_size must be an int, list of ints or tuple of ints of size 1 but got size ",
           k.size());
  TG_CHECK(s.size() <= 1, RuntimeError,
           "max_pool1d() stride must be None, an int, list of ints, or tuple of ints of size 1 but got size ",
           s.size());
  TG_CHECK(p.size() == 1, RuntimeError,
           "max_pool1d() padding must be an int, list of ints, or tuple of ints of size 1 but got size ",
           p.size());
  TG_CHECK(d.size() == 1, RuntimeError,
           "max_pool1d() dilation must be an int, list of ints or tuple of ints of size 1 but got size ",
           d.size());
  for (const IntList* v : {&k, &s, &p, &d}) check_fits_int(*v);
  const int64_t ks = k[0], st = s.empty() ? ks : s[0], pad = p[0], dil = d[0];
  TG_CHECK(ks > 0, RuntimeError, "max_pool1d() kernel_size must be greater than zero, but got ", ks);
  TG_CHECK(st > 0, RuntimeError, "max_pool1d() stride must be greater than zero, but got ", st);
  TG_CHECK(pad >= 0, RuntimeError, "max_pool1d() padding must be non-negative, but got ", pad);
  TG_CHECK(pad <= ks / 2, RuntimeError, "max_pool1d() padding should be at most half of kernel size, but got padding=",
           pad, " and kernel_size=", ks);
  TG_CHECK(dil > 0, RuntimeError, "max_pool1d() dilation must be greater than zero, but got ", dil);
  const int64_t out = pooled_size(x->shape[nd - 1], ks, pad, st, dil, ceil_mode);
  TG_CHECK(out >= 1, RuntimeError, "max_pool1d() Invalid computed output size: ", out);
}

IntList as_2d(const IntList& v, int64_t first) {
  return v.empty() ? IntList{} : IntList{first, v[0]};
}

}  // namespace

std::pair<Tensor, Tensor> max_pool1d_with_indices(const Tensor& input, const IntList& kernel_size,
                                                  const IntList& stride, const IntList& padding,
                                                  const IntList& dilation, bool ceil_mode) {
  check_max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode);
  auto r = max_pool2d_impl(unsqueeze(input, -2), as_2d(kernel_size, 1), as_2d(stride, 1),
                           as_2d(padding, 0), as_2d(dilation, 1), ceil_mode, true);
  return {squeeze(r.first, -2), squeeze(r.second, -2)};
}

Tensor max_pool1d(const Tensor& input, const IntList& kernel_size, const IntList& stride,
                  const IntList& padding, const IntList& dilation, bool ceil_mode) {
  check_max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode);
  auto r = max_pool2d_impl(unsqueeze(input, -2), as_2d(kernel_size, 1), as_2d(stride, 1),
                           as_2d(padding, 0), as_2d(dilation, 1), ceil_mode, false);
  return squeeze(r.first, -2);
}

// ---- average pooling ---------------------------------------------------------------------

namespace {

struct AvgPool2DBackward0 : Node {
  PoolGeom g;
  Shape in_shape;
  DType dt;
  bool count_include_pad;
  int64_t divisor;  // 0: none
  AvgPool2DBackward0(const PoolGeom& g, const Tensor& x, bool cip, int64_t divisor)
      : g(g), in_shape(x->shape), dt(x->dtype), count_include_pad(cip), divisor(divisor) {}
  std::string name() const override { return "AvgPool2DBackward0"; }
  std::vector<Tensor> apply(std::vector<Tensor>& grads) override {
    Tensor gy = dense_grad(grads[0], dt);
    Tensor gx = empty(in_shape, dt);
    TG_DISPATCH_FLOAT(dt, T, {
      kernels::avg_pool2d_backward(g, count_include_pad, divisor, gy->data_as<T>(), gx->data_as<T>());
    });
    return {gx};
  }
  // create_graph: linear in g; the adjoint of avg_pool's backward is avg_pool itself
  std::vector<Tensor> apply_graph(std::vector<Tensor>& grads) override;
};

// avg_pool2d of `x` (in_shape, dtype dt) with a fixed geometry, recorded.
Tensor avg_pool_with(const Tensor& x, const PoolGeom& g, DType dt, const Shape& out_shape, bool cip, int64_t divisor) {
  Tensor xd = dense_grad(x, dt);
  Tensor y = empty(out_shape, dt);
  TG_DISPATCH_FLOAT(dt, T, { kernels::avg_pool2d_forward(g, cip, divisor, xd->data_as<T>(), y->data_as<T>()); });
  set_history(make_node<AvgPool2DBackward0>({x}, g, x, cip, divisor), {y});
  return y;
}

std::vector<Tensor> AvgPool2DBackward0::apply_graph(std::vector<Tensor>& grads) {
  const PoolGeom geom = g;
  const DType d = dt;
  const Shape out_shape = grads[0]->shape;
  const bool cip = count_include_pad;
  const int64_t div = divisor;
  return {linear_in_grad(grads[0], backward_of(name()), [&](const Tensor&) { return apply(grads)[0]; },
                         [geom, d, out_shape, cip, div](const Tensor& gg) {
                           return avg_pool_with(gg, geom, d, out_shape, cip, div);
                         })};
}

}  // namespace

Tensor avg_pool2d(const Tensor& input, const IntList& kernel_size, const IntList& stride,
                  const IntList& padding, bool ceil_mode, bool count_include_pad,
                  std::optional<int64_t> divisor_override) {
  return trace::op("avg_pool2d", {input}, [&] { return trace::Attrs{{"kernel_size", kernel_size}, {"stride", stride}, {"padding", padding}, {"ceil_mode", int64_t(ceil_mode)}, {"count_include_pad", int64_t(count_include_pad)}, {"divisor_override", divisor_override.value_or(0)}}; }, [&]() -> Tensor {
  // half types: computed in float32, the result rounded once
  if (is_half(input->dtype))
    return narrow_to(avg_pool2d(widen(input), kernel_size, stride, padding, ceil_mode, count_include_pad,
                                divisor_override), input->dtype);
  // PyTorch reads the sizes at dims -3..-1 first: fewer dims are its IndexError.
  TG_CHECK(input->ndim() >= 3, IndexError,
           "avg_pool2d: Dimension out of range (expected a 3D or 4D input, got ",
           shape_str(input->shape), ")");
  PoolGeom g = pool_geometry(input, "avg_pool2d", kernel_size, stride, padding, {1}, ceil_mode);
  if (divisor_override) {
    TG_CHECK(*divisor_override != 0, RuntimeError, "divisor must be not zero");
    check_fits_int({*divisor_override});
  }
  const int64_t divisor = divisor_override.value_or(0);
  Tensor x = reduce_detail::dense(input);
  Tensor y = empty(pooled_shape(input->shape, g.OH, g.OW), x->dtype);
  TG_DISPATCH_FLOAT(x->dtype, T, {
    kernels::avg_pool2d_forward(g, count_include_pad, divisor, x->data_as<T>(), y->data_as<T>());
  });
  set_history(make_node<AvgPool2DBackward0>({input}, g, input, count_include_pad, divisor), {y});
  return y;
  });
}

Tensor avg_pool1d(const Tensor& input, const IntList& kernel_size, const IntList& stride,
                  const IntList& padding, bool ceil_mode, bool count_include_pad) {
  TG_CHECK(input->ndim() == 2 || input->ndim() == 3, RuntimeError, "Expected 2 to 3 dimensions, but got ",
           input->ndim(), "-dimensional tensor for argument #1 'self' (while checking arguments for avg_pool1d)");
  TG_CHECK(kernel_size.size() == 1, RuntimeError,
           "avg_pool1d() argument 'kernel_size' should contain one int (got ", kernel_size.size(), ")");
  TG_CHECK(stride.size() <= 1, RuntimeError, "avg_pool1d() argument 'stride' should contain one int (got ",
           stride.size(), ")");
  TG_CHECK(padding.size() == 1, RuntimeError,
           "avg_pool1d() argument 'padding' should contain one int (got ", padding.size(), ")");
  Tensor y = avg_pool2d(unsqueeze(input, -2), as_2d(kernel_size, 1), as_2d(stride, 1),
                        as_2d(padding, 0), ceil_mode, count_include_pad, std::nullopt);
  return squeeze(y, -2);
}

// ---- adaptive pooling --------------------------------------------------------------------

namespace {

struct AdaptiveAvgPool2DBackward0 : Node {
  PoolGeom g;
  Shape in_shape;
  DType dt;
  AdaptiveAvgPool2DBackward0(const PoolGeom& g, const Tensor& x) : g(g), in_shape(x->shape), dt(x->dtype) {}
  std::string name() const override { return "AdaptiveAvgPool2DBackward0"; }
  std::vector<Tensor> apply(std::vector<Tensor>& grads) override {
    Tensor gy = dense_grad(grads[0], dt);
    Tensor gx = empty(in_shape, dt);
    TG_DISPATCH_FLOAT(dt, T, { kernels::adaptive_avg_pool2d_backward(g, gy->data_as<T>(), gx->data_as<T>()); });
    return {gx};
  }
  // create_graph: linear in g; the adjoint is the adaptive pool itself
  std::vector<Tensor> apply_graph(std::vector<Tensor>& grads) override {
    const PoolGeom geom = g;
    const DType d = dt;
    const Shape out_shape = grads[0]->shape;
    return {linear_in_grad(grads[0], backward_of(name()),
                           [&](const Tensor&) { return apply(grads)[0]; },
                           [geom, d, out_shape](const Tensor& gg) {
                             Tensor xd = dense_grad(gg, d);
                             Tensor y = empty(out_shape, d);
                             TG_DISPATCH_FLOAT(d, T, {
                               kernels::adaptive_avg_pool2d_forward(geom, xd->data_as<T>(), y->data_as<T>());
                             });
                             set_history(make_node<AdaptiveAvgPool2DBackward0>({gg}, geom, gg), {y});
                             return y;
                           })};
  }
};

// Checks an adaptive pool's input and output_size. H and W must not be empty; a batched
// max pool refuses empty channels too, an avg pool does not (PyTorch's checks differ).
PoolGeom adaptive_geometry(const Tensor& x, const IntList& output_size, const char* op, bool is_max) {
  if (is_max)
    TG_CHECK(output_size.size() == 2, RuntimeError, op, "(): internal error: output_size.size() must be 2");
  else
    TG_CHECK(output_size.size() == 2, RuntimeError, op, ": output_size must be 2");
  const int64_t nd = x->ndim();
  TG_CHECK(nd == 3 || nd == 4, RuntimeError, op, "(): Expected 3D or 4D tensor, but got ", shape_str(x->shape));
  TG_CHECK(output_size[0] >= 0 && output_size[1] >= 0, RuntimeError, op,
           ": elements of output_size must be greater than or equal to 0 but received {", output_size[0],
           ", ", output_size[1], "}");
  for (int64_t d = (is_max && nd == 4) ? 1 : nd - 2; d < nd; ++d)
    TG_CHECK(x->shape[d] != 0, RuntimeError, op,
             "(): Expected input to have non-zero size for non-batch dimensions, but input has sizes ",
             shape_str(x->shape), " with dimension ", d, " being empty");
  check_floating(x, op);
  numel_of(output_size);  // bad_alloc (MemoryError) when the plane's size overflows
  PoolGeom g;
  g.planes = planes_of(x);
  g.H = x->shape[nd - 2], g.W = x->shape[nd - 1];
  g.OH = output_size[0], g.OW = output_size[1];
  return g;
}

}  // namespace

Tensor adaptive_avg_pool2d(const Tensor& input, const IntList& output_size) {
  return trace::op("adaptive_avg_pool2d", {input}, [&] { return trace::Attrs{{"output_size", output_size}}; }, [&]() -> Tensor {
  // half types: computed in float32, the result rounded once
  if (is_half(input->dtype)) return narrow_to(adaptive_avg_pool2d(widen(input), output_size), input->dtype);
  const PoolGeom g = adaptive_geometry(input, output_size, "adaptive_avg_pool2d", false);
  Tensor x = reduce_detail::dense(input);
  Tensor y = empty(pooled_shape(input->shape, g.OH, g.OW), x->dtype);
  if (y->numel() > 0)
    TG_DISPATCH_FLOAT(x->dtype, T, { kernels::adaptive_avg_pool2d_forward(g, x->data_as<T>(), y->data_as<T>()); });
  set_history(make_node<AdaptiveAvgPool2DBackward0>({input}, g, input), {y});
  return y;
  });
}

std::pair<Tensor, Tensor> adaptive_max_pool2d(const Tensor& input, const IntList& output_size) {
  // half types: computed in float32, the result rounded once
  if (is_half(input->dtype)) {
    auto r = adaptive_max_pool2d(widen(input), output_size);
    return {narrow_to(r.first, input->dtype), r.second};
  }
  const PoolGeom g = adaptive_geometry(input, output_size, "adaptive_max_pool2d", true);
  Tensor x = reduce_detail::dense(input);
  const Shape out_shape = pooled_shape(input->shape, g.OH, g.OW);
  Tensor y = empty(out_shape, x->dtype), idx = empty(out_shape, DType::Int64);
  if (y->numel() > 0)
    TG_DISPATCH_FLOAT(x->dtype, T, {
      kernels::adaptive_max_pool2d_forward(g, x->data_as<T>(), y->data_as<T>(), idx->data_as<int64_t>());
    });
  set_history(make_node<MaxPoolBackward>({input}, idx, input, g, true), {y});
  return {y, idx};
}

namespace {
void check_adaptive_1d(const Tensor& x, const IntList& output_size, const char* op) {
  TG_CHECK(x->ndim() == 2 || x->ndim() == 3, RuntimeError, "Expected 2 to 3 dimensions, but got ", x->ndim(),
           "-dimensional tensor for argument #1 'self' (while checking arguments for ", op, ")");
  TG_CHECK(output_size.size() == 1, RuntimeError, op, "() argument 'output_size' should contain one int (got ",
           output_size.size(), ")");
}
}  // namespace

Tensor adaptive_avg_pool1d(const Tensor& input, const IntList& output_size) {
  check_adaptive_1d(input, output_size, "adaptive_avg_pool1d");
  return squeeze(adaptive_avg_pool2d(unsqueeze(input, -2), {1, output_size[0]}), -2);
}

std::pair<Tensor, Tensor> adaptive_max_pool1d(const Tensor& input, const IntList& output_size) {
  check_adaptive_1d(input, output_size, "adaptive_max_pool1d");
  auto r = adaptive_max_pool2d(unsqueeze(input, -2), {1, output_size[0]});
  return {squeeze(r.first, -2), squeeze(r.second, -2)};
}

}  // namespace tg
