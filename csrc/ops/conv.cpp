// Convolution and transposed convolution, forward and backward (ConvolutionBackward0),
// on the im2col + GEMM kernels of kernels/conv.h. Both kinds are one geometry seen from
// the image (the side the window slides over) and the map (the convolution's output), so
// each direction of each kind is one of the three kernels.
#include "ops/conv.h"

#include "ops/compute.h"

#include <algorithm>
#include <string>

#include "autograd/node.h"
#include "autograd/trace.h"
#include "kernels/conv.h"
#include "ops/creation.h"
#include "ops/reduce.h"
#include "ops/shape.h"

namespace tg {

namespace {

using kernels::ConvGeom;

// `t` as a contiguous tensor of its own dtype, without autograd history.
Tensor dense(const Tensor& t) {
  if (t->is_contiguous()) return t;
  NoGradGuard ng;
  return contiguous(t);
}

std::string op_name(bool transposed, int64_t dims) {
  return std::string(transposed ? "conv_transpose" : "conv") + std::to_string(dims) + "d";
}

// One value per spatial dim: a single value is repeated, as PyTorch's int-or-tuple args.
Shape per_dim(Shape v, int64_t dims, const char* what) {
  if (v.size() == 1) v.assign(dims, v[0]);
  TG_CHECK((int64_t)v.size() == dims, RuntimeError, "expected ", what,
           " to be a single integer value or a list of ", dims,
           " values to match the convolution dimensions, but got ", what, "=", shape_str(v));
  return v;
}

std::string sizes_str(const Shape& s) {  // "(2 x 2)"
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? " x " : "") + std::to_string(s[i]);
  return out + ")";
}

template <class F>
void dispatch(DType dt, F&& f) {
  switch (dt) {
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
    case DType::Int64: return f(int64_t{});
    default: throw RuntimeError(std::string("convolution is not implemented for dtype ") + dtype_name(dt));
  }
}

struct Params {
  int64_t dims;
  bool transposed;
  Shape stride, pad, pad_end, dilation, output_padding;
  int64_t groups;
};

void check_args(const Tensor& input, const Tensor& weight, const Tensor& bias, const Params& p) {
  const std::string name = op_name(p.transposed, p.dims);
  for (int64_t d = 0; d < p.dims; ++d) {
    TG_CHECK(p.stride[d] > 0, RuntimeError, "non-positive stride is not supported");
    TG_CHECK(p.pad[d] >= 0 && p.pad_end[d] >= 0, RuntimeError, "negative padding is not supported");
    TG_CHECK(p.dilation[d] > 0, RuntimeError, "dilation should be greater than zero, but got ",
             shape_str(p.dilation));
    TG_CHECK(p.output_padding[d] >= 0, RuntimeError, "negative output_padding is not supported");
    TG_CHECK(!p.transposed || p.output_padding[d] < std::max(p.stride[d], p.dilation[d]), RuntimeError,
             "output padding must be smaller than either stride or dilation, but got output_padding=",
             shape_str(p.output_padding), " stride=", shape_str(p.stride), " dilation=", shape_str(p.dilation));
  }
  TG_CHECK(p.groups > 0, RuntimeError, "non-positive groups is not supported");
  TG_CHECK(weight->dtype == input->dtype, RuntimeError, name, ": expected scalar type ",
           dtype_name(input->dtype), " but found ", dtype_name(weight->dtype), " (input ",
           dtype_name(input->dtype), ", weight ", dtype_name(weight->dtype), ")");
  TG_CHECK(!bias || bias->dtype == input->dtype, RuntimeError, "Input type (",
           dtype_name(input->dtype), ") and bias type (", dtype_name(bias->dtype), ") should be the same");
  TG_CHECK(weight->shape[0] % p.groups == 0, RuntimeError, "Given groups=", p.groups,
           ", expected weight to be divisible by ", p.groups, " at dimension 0, but got weight of size ",
           shape_str(weight->shape), " instead");
  const int64_t in_ch = p.transposed ? weight->shape[0] : weight->shape[1] * p.groups;
  TG_CHECK(input->shape[1] == in_ch, RuntimeError, "Given ",
           p.transposed ? "transposed=1" : "groups=" + std::to_string(p.groups), ", weight of size ",
           shape_str(weight->shape), ", expected input", shape_str(input->shape), " to have ", in_ch,
           " channels, but got ", input->shape[1], " channels instead");
  const int64_t out_ch = p.transposed ? weight->shape[1] * p.groups : weight->shape[0];
  TG_CHECK(!bias || (bias->ndim() == 1 && bias->shape[0] == out_ch), RuntimeError, "Given weight of size ",
           shape_str(weight->shape), ", expected bias to be 1-dimensional with ", out_ch,
           " elements, but got bias of size ", shape_str(bias ? bias->shape : Shape{}), " instead");
}

// The geometry of a batched call. Spatial dims are (H, W); a 1-d convolution has H = 1.
ConvGeom geometry(const Tensor& input, const Tensor& weight, const Params& p) {
  const int64_t nd = p.dims, sp = 2 - nd;  // sp: leading spatial dims to fill with 1
  auto at = [&](const Shape& s, int64_t d, int64_t fill) { return d < sp ? fill : s[d - sp]; };
  ConvGeom g;
  g.N = input->shape[0];
  g.groups = p.groups;
  g.kh = nd == 2 ? weight->shape[2] : 1;
  g.kw = weight->shape.back();
  g.sh = at(p.stride, 0, 1), g.sw = p.stride.back();
  g.dh = at(p.dilation, 0, 1), g.dw = p.dilation.back();
  g.ph = at(p.pad, 0, 0), g.pw = p.pad.back();
  const int64_t in_h = nd == 2 ? input->shape[2] : 1, in_w = input->shape.back();
  Shape in_sp(input->shape.begin() + 2, input->shape.end());
  Shape ksize(weight->shape.begin() + 2, weight->shape.end());
  if (!p.transposed) {
    g.C = input->shape[1], g.H = in_h, g.W = in_w, g.O = weight->shape[0];
    Shape padded(nd), dilated(nd), out(nd);
    for (int64_t d = 0; d < nd; ++d) {
      padded[d] = in_sp[d] + p.pad[d] + p.pad_end[d];
      dilated[d] = p.dilation[d] * (ksize[d] - 1) + 1;
    }
    for (int64_t d = 0; d < nd; ++d)
      TG_CHECK(padded[d] >= dilated[d], RuntimeError, "Calculated padded input size per channel: ",
               sizes_str(padded), ". Kernel size: ", sizes_str(dilated),
               ". Kernel size can't be greater than actual input size");
    for (int64_t d = 0; d < nd; ++d) out[d] = (padded[d] - dilated[d]) / p.stride[d] + 1;
    g.OH = nd == 2 ? out[0] : 1, g.OW = out.back();
  } else {
    // The image is the output: (in - 1) * stride - 2 * pad + dilation * (k - 1) + output_padding + 1.
    g.O = input->shape[1], g.OH = in_h, g.OW = in_w, g.C = weight->shape[1] * p.groups;
    Shape out(nd);
    for (int64_t d = 0; d < nd; ++d) {
      out[d] = (in_sp[d] - 1) * p.stride[d] - 2 * p.pad[d] + p.dilation[d] * (ksize[d] - 1) +
               p.output_padding[d] + 1;
      TG_CHECK(out[d] > 0, RuntimeError, "Given input size per channel: ", sizes_str(in_sp),
               ". Calculated output size per channel: ", sizes_str(out), ". Output size is too small");
    }
    g.H = nd == 2 ? out[0] : 1, g.W = out.back();
  }
  return g;
}

Shape image_shape(const ConvGeom& g, int64_t dims) {
  return dims == 2 ? Shape{g.N, g.C, g.H, g.W} : Shape{g.N, g.C, g.W};
}
Shape map_shape(const ConvGeom& g, int64_t dims) {
  return dims == 2 ? Shape{g.N, g.O, g.OH, g.OW} : Shape{g.N, g.O, g.OW};
}

struct ConvolutionBackward : Node {
  SavedTensor input, weight;
  ConvGeom g;
  Params p;
  bool has_bias;
  ConvolutionBackward(const Tensor& x, const Tensor& w, ConvGeom g, Params p, bool has_bias)
      : input(x), weight(w), g(g), p(std::move(p)), has_bias(has_bias) {}
  std::string name() const override { return "ConvolutionBackward0"; }

  std::vector<Tensor> apply(std::vector<Tensor>& grads) override {
    const Tensor gout = dense(grads[0]);
    const Tensor x = dense(input.get(*this)), w = dense(weight.get(*this));
    std::vector<Tensor> out(3);
    // Conv: the image is x, the map the output. Transposed: the image is the output.
    const Tensor& image = p.transposed ? gout : x;
    const Tensor& map = p.transposed ? x : gout;
    dispatch(x->dtype, [&](auto tag) {
      using T = decltype(tag);
      if (next_edges[0].fn) {
        out[0] = empty(x->shape, x->dtype);
        if (out[0]->numel() > 0) {
          if (p.transposed)
            kernels::conv_map_from_image(g, gout->data_as<T>(), w->data_as<T>(), out[0]->data_as<T>());
          else
            kernels::conv_image_from_map(g, gout->data_as<T>(), w->data_as<T>(), out[0]->data_as<T>());
        }
      }
      if (next_edges[1].fn) {
        out[1] = empty(w->shape, w->dtype);
        T* gw = out[1]->data_as<T>();
        if (image->numel() > 0 && map->numel() > 0)
          kernels::conv_weight_grad(g, image->data_as<T>(), map->data_as<T>(), gw);
        else
          std::fill(gw, gw + out[1]->numel(), T(0));
      }
      if (has_bias && next_edges[2].fn) {
        // The bias was added to the output: the image of a transposed convolution.
        const int64_t C = p.transposed ? g.C : g.O;
        const int64_t S = p.transposed ? g.H * g.W : g.OH * g.OW;
        out[2] = empty({C}, x->dtype);
        kernels::channel_sum(g.N, C, S, gout->data_as<T>(), out[2]->data_as<T>());
      }
    });
    return out;
  }

  // create_graph: the same gradients with the public conv / conv_transpose (bilinear in
  // the gradient and the saved tensors), so they can be differentiated again.
  std::vector<Tensor> apply_graph(std::vector<Tensor>& grads) override {
    const Tensor& gout = grads[0];
    const Tensor x = input.get(*this), w = weight.get(*this);
    const int64_t nd = p.dims;
    std::vector<Tensor> out(3);
    if (next_edges[0].fn) {
      if (p.transposed) {
        out[0] = conv(gout, w, nullptr, nd, p.stride, p.pad, p.pad, p.dilation, p.groups);
      } else if (p.pad == p.pad_end) {
        Shape op(nd);
        for (int64_t d = 0; d < nd; ++d) {
          const int64_t k = w->shape[2 + d], o = gout->shape[2 + d];
          op[d] = x->shape[2 + d] - ((o - 1) * p.stride[d] - 2 * p.pad[d] + p.dilation[d] * (k - 1) + 1);
        }
        out[0] = conv_transpose(gout, w, nullptr, nd, p.stride, p.pad, op, p.groups, p.dilation);
      } else {  // uneven padding ('same' with an even kernel): unpadded, then cropped
        Shape op(nd), zero(nd, 0);
        for (int64_t d = 0; d < nd; ++d) {
          const int64_t k = w->shape[2 + d], o = gout->shape[2 + d];
          const int64_t full = (o - 1) * p.stride[d] + p.dilation[d] * (k - 1) + 1;
          op[d] = std::max<int64_t>(0, p.pad[d] + x->shape[2 + d] - full);
          if (op[d] >= p.stride[d] && op[d] >= p.dilation[d]) return Node::apply_graph(grads);
        }
        Tensor r = conv_transpose(gout, w, nullptr, nd, p.stride, zero, op, p.groups, p.dilation);
        for (int64_t d = 0; d < nd; ++d) r = narrow(r, 2 + d, p.pad[d], x->shape[2 + d]);
        out[0] = r;
      }
    }
    if (next_edges[1].fn) out[1] = weight_grad(p.transposed ? gout : x, p.transposed ? x : gout, w->shape);
    if (has_bias && next_edges[2].fn) {
      std::vector<int64_t> dims{0};
      for (int64_t d = 0; d < nd; ++d) dims.push_back(2 + d);
      out[2] = sum(gout, dims, false);
    }
    return out;
  }
  // The weight gradient as a convolution of the image (channels as the batch) with the
  // map (its batch as channels), groups kept apart: the output's stride becomes the
  // dilation and the dilation the stride; the result is cropped to the kernel size.
  Tensor weight_grad(const Tensor& image, const Tensor& map, const Shape& wshape) const {
    const int64_t nd = p.dims, G = p.groups, N = image->shape[0];
    const int64_t Cg = image->shape[1] / G, Og = map->shape[1] / G;
    Shape is{N, G, Cg}, ms{N, G, Og}, ir{Cg, G * N}, mr{G * Og, N};
    std::vector<int64_t> ip{2, 1, 0}, mp{1, 2, 0};
    for (int64_t d = 0; d < nd; ++d) {
      is.push_back(image->shape[2 + d]), ir.push_back(image->shape[2 + d]);
      ms.push_back(map->shape[2 + d]), mr.push_back(map->shape[2 + d]);
      ip.push_back(3 + d), mp.push_back(3 + d);
    }
    const Tensor I = reshape(permute(reshape(image, is), ip), ir);
    const Tensor M = reshape(permute(reshape(map, ms), mp), mr);
    Tensor r = conv(I, M, nullptr, nd, p.dilation, p.pad, p.pad_end, p.stride, G);  // (Cg, G*Og, k'...)
    for (int64_t d = 0; d < nd; ++d)
      if (r->shape[2 + d] != wshape[2 + d]) r = narrow(r, 2 + d, 0, wshape[2 + d]);
    return transpose(r, 0, 1);
  }
  void release_saved() override { input.reset(), weight.reset(); }
};

Tensor run(const Tensor& input_, const Tensor& weight, const Tensor& bias, Params p) {
  TG_CHECK(input_ && weight, TypeError, op_name(p.transposed, p.dims), "(): input and weight must be tensors");
  const int64_t nd = p.dims;
  TG_CHECK(input_->ndim() == nd + 1 || input_->ndim() == nd + 2, RuntimeError, "Expected ", nd + 1,
           "D (unbatched) or ", nd + 2, "D (batched) input to ", op_name(p.transposed, nd),
           ", but got input of size: ", shape_str(input_->shape));
  TG_CHECK(weight->ndim() == nd + 2, RuntimeError, op_name(p.transposed, nd), ": expected a ", nd + 2,
           "-D weight, but got weight of size ", shape_str(weight->shape));
  p.stride = per_dim(p.stride, nd, "stride");
  p.pad = per_dim(p.pad, nd, "padding");
  p.pad_end = p.pad_end.empty() ? p.pad : per_dim(p.pad_end, nd, "padding");
  p.dilation = per_dim(p.dilation, nd, "dilation");
  p.output_padding = per_dim(p.output_padding.empty() ? Shape{0} : p.output_padding, nd, "output_padding");
  const bool unbatched = input_->ndim() == nd + 1;
  const Tensor input = unbatched ? unsqueeze(input_, 0) : input_;
  check_args(input, weight, bias, p);
  const ConvGeom g = geometry(input, weight, p);

  const Tensor x = dense(input), w = dense(weight);
  Tensor out = empty(p.transposed ? image_shape(g, nd) : map_shape(g, nd), input->dtype);
  dispatch(input->dtype, [&](auto tag) {
    using T = decltype(tag);
    if (out->numel() == 0) return;
    if (input->numel() == 0 || w->numel() == 0) {  // an empty sum: the bias alone
      std::fill(out->data_as<T>(), out->data_as<T>() + out->numel(), T(0));
    } else if (p.transposed) {
      kernels::conv_image_from_map(g, x->data_as<T>(), w->data_as<T>(), out->data_as<T>());
    } else {
      kernels::conv_map_from_image(g, x->data_as<T>(), w->data_as<T>(), out->data_as<T>());
    }
    if (bias) {
      const Tensor b = dense(bias);
      const int64_t S = p.transposed ? g.H * g.W : g.OH * g.OW;
      kernels::channel_bias_add(out->shape[0], out->shape[1], S, b->data_as<T>(), out->data_as<T>());
    }
  });
  set_history(make_node<ConvolutionBackward>({input, weight, bias}, input, weight, g, p, (bool)bias), {out});
  return unbatched ? squeeze(out, 0) : out;
}

}  // namespace

Tensor conv(const Tensor& input, const Tensor& weight, const Tensor& bias, int64_t dims, Shape stride,
            Shape padding, Shape pad_end, Shape dilation, int64_t groups) {
  return trace::op("conv", {input, weight, bias}, [&] { return trace::Attrs{{"stride", stride}, {"padding", padding}, {"pad_end", pad_end}, {"dilation", dilation}, {"groups", groups}}; }, [&]() -> Tensor {
  TG_CHECK(dims == 1 || dims == 2, ValueError, "conv: ", dims, "-d convolutions are not supported");
  // half types: computed in float32, the result rounded once (PyTorch CPU computes them in float too)
  if (is_half(input->dtype) && weight->dtype == input->dtype && (!bias || bias->dtype == input->dtype))
    return narrow_to(conv(widen(input), widen(weight), widen(bias), dims, std::move(stride), std::move(padding),
                          std::move(pad_end), std::move(dilation), groups), input->dtype);
  return run(input, weight, bias,
             Params{dims, false, stride, padding, pad_end, dilation, {}, groups});  // copies: traced after
  });
}

Tensor conv_transpose(const Tensor& input, const Tensor& weight, const Tensor& bias, int64_t dims,
                      Shape stride, Shape padding, Shape output_padding, int64_t groups, Shape dilation) {
  return trace::op("conv_transpose", {input, weight, bias}, [&] { return trace::Attrs{{"stride", stride}, {"padding", padding}, {"output_padding", output_padding}, {"dilation", dilation}, {"groups", groups}}; }, [&]() -> Tensor {
  TG_CHECK(dims == 1 || dims == 2, ValueError, "conv_transpose: ", dims, "-d convolutions are not supported");
  // half types: computed in float32, the result rounded once (PyTorch CPU computes them in float too)
  if (is_half(input->dtype) && weight->dtype == input->dtype && (!bias || bias->dtype == input->dtype))
    return narrow_to(conv_transpose(widen(input), widen(weight), widen(bias), dims, std::move(stride),
                                    std::move(padding), std::move(output_padding), groups, std::move(dilation)),
                     input->dtype);
  return run(input, weight, bias,
             Params{dims, true, stride, padding, {}, dilation, output_padding, groups});  // copies: traced after
  });
}

}  // namespace tg
