// 2-D convolution over NHWC activations with KRSC filters (K output channels, R x S window, C input
// channels), no bias (every convolution in a ResNet is followed by batch norm).
#pragma once

#include <cstdint>

namespace aslnet::kernels {

struct ConvShape {
  int64_t n = 0, h = 0, w = 0, c = 0;  // input
  int64_t k = 0, r = 0, s = 0;          // filters
  int64_t stride = 1, pad = 0;

  int64_t out_h() const { return (h + 2 * pad - r) / stride + 1; }
  int64_t out_w() const { return (w + 2 * pad - s) / stride + 1; }
  // A 1x1, stride-1, unpadded convolution is a plain matrix product: no im2col columns needed.
  bool is_pointwise() const { return r == 1 && s == 1 && stride == 1 && pad == 0; }
  // Multiply-adds of the forward pass (each backward pass costs the same).
  double macs() const { return double(n) * out_h() * out_w() * k * r * s * c; }
};

namespace cpu {

// Bytes of scratch the CPU convolution needs for its im2col columns (0 for pointwise convolutions).
int64_t conv2d_workspace_elems(const ConvShape& shape);

// y[n, oh, ow, k] = sum_{r,s,c} x[n, oh*stride - pad + r, ow*stride - pad + s, c] * w[k, r, s, c]
template <class T>
void conv2d_forward(const ConvShape& shape, const T* x, const T* w, T* y, T* columns);
// dx = conv2d_transpose(dy, w); dx is overwritten.
template <class T>
void conv2d_backward_data(const ConvShape& shape, const T* dy, const T* w, T* dx, T* columns);
// dw (+)= sum over batch and positions of dy (x) x-patches; `accumulate` adds to dw instead of overwriting.
template <class T>
void conv2d_backward_filter(const ConvShape& shape, const T* x, const T* dy, T* dw, T* columns, bool accumulate);

}  // namespace cpu
}  // namespace aslnet::kernels
