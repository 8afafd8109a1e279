#pragma once
// Convolution on the packed GEMM, NCHW (1-d convolutions run as 2-d with H = 1).
//
// Every convolution here is seen from its "image" side: the tensor the kernel window
// slides over (a convolution's input, a transposed convolution's output) with C channels,
// and its "map" side (the convolution's output) with O channels. Three kernels cover
// forward and backward of both convolution kinds:
//   map_from_image:   map[n]     = W @ im2col(image[n])          (conv forward)
//   image_from_map:   image[n]   = col2im(W^T @ map[n])          (conv grad_input,
//                                                                  transposed forward)
//   weight_grad:      gW         = sum_n map[n] @ im2col(image[n])^T
// W is [O, C / groups, kh, kw] in both kinds (PyTorch stores a transposed convolution's
// weight as [in, out / groups, ...], which is that layout seen from the image side).
//
// im2col is tiled per thread: each thread unfolds one image at a time, a band of output
// positions at a time (at most kColElems elements), into its own scratch, so the unfolded
// matrix never exists for the whole batch; threads take whole images when there are
// enough of them, else the GEMM threads inside. All tensors contiguous.
#include <cstdint>

namespace tg::kernels {

struct ConvGeom {
  int64_t N = 0;                     // batch
  int64_t C = 0, H = 0, W = 0;       // image channels and size
  int64_t O = 0, OH = 0, OW = 0;     // map channels and size
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;  // ph/pw: leading pad
  int64_t groups = 1;

  int64_t Cg() const { return C / groups; }
  int64_t Og() const { return O / groups; }
  int64_t Kg() const { return Cg() * kh * kw; }  // rows of one group's unfolded image
  int64_t image_plane() const { return H * W; }
  int64_t map_plane() const { return OH * OW; }
  // A 1x1 window over every pixel: the image already is its unfolded matrix.
  bool pointwise() const {
    return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0 && OH == H && OW == W;
  }
};

template <class T>
void conv_map_from_image(const ConvGeom& g, const T* image, const T* weight, T* map);
template <class T>
void conv_image_from_map(const ConvGeom& g, const T* map, const T* weight, T* image);
template <class T>
void conv_weight_grad(const ConvGeom& g, const T* image, const T* map, T* weight_grad);

// out[n, c, :] += bias[c] over a [N, C, S] tensor; sum[c] = sum over n, s of x[n, c, s].
template <class T>
void channel_bias_add(int64_t N, int64_t C, int64_t S, const T* bias, T* out);
template <class T>
void channel_sum(int64_t N, int64_t C, int64_t S, const T* x, T* sum);

}  // namespace tg::kernels
