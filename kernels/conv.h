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

// The CUDA version, on cuDNN, NHWC activations and KRSC filters (cuDNN's NHWC filter layout). One
// CudnnConv per layer shape, built at setup: it owns the descriptors and the algorithm of each pass,
// chosen once (cuDNN's measured find, or its heuristics, or a fixed deterministic choice), so a step
// only launches. T is float or bf16 (bf16 data, fp32 accumulation).
#include <memory>
#include <vector>

#include "engine/core/dtype.h"
#include "engine/core/gpu_types.h"

namespace aslnet::kernels::cuda {

struct ConvOptions {
  DType dtype = DType::F32;  // F32 or BF16
  bool allow_tf32 = false;   // false: CUDNN_FMA_MATH for fp32 (exact fp32 products); true: tensor-op math
  bool deterministic = false;  // only algorithms cuDNN marks deterministic
  bool benchmark = true;       // true: time every candidate (CUDA events); false: heuristics only
};

// One pass's algorithm, as an int so that callers need no cuDNN enums: a cudnnConvolutionFwdAlgo_t,
// cudnnConvolutionBwdDataAlgo_t or cudnnConvolutionBwdFilterAlgo_t.
struct ConvAlgos {
  int forward = -1, backward_data = -1, backward_filter = -1;
};

class CudnnConv {
 public:
  // Builds the descriptors and chooses the algorithms (may run cuDNN's find on `handle`'s stream with
  // scratch memory of its own: call it at setup, never inside a step or a graph capture).
  CudnnConv(cudnnHandle_t handle, const ConvShape& shape, const ConvOptions& options);
  ~CudnnConv();
  CudnnConv(CudnnConv&&) noexcept;
  CudnnConv& operator=(CudnnConv&&) noexcept;

  const ConvShape& shape() const;
  const ConvAlgos& algos() const;
  // Replaces the chosen algorithms (tests run every algorithm cuDNN offers).
  void set_algos(const ConvAlgos& algos);
  // Scratch the chosen algorithms need (the largest of the three passes).
  size_t workspace_bytes() const;

  // Every algorithm cuDNN supports for this shape and options, per pass (for the tests).
  std::vector<int> supported_forward_algos(cudnnHandle_t handle) const;
  std::vector<int> supported_backward_data_algos(cudnnHandle_t handle) const;
  std::vector<int> supported_backward_filter_algos(cudnnHandle_t handle) const;
  // The workspace a given algorithm needs (for the tests).
  size_t forward_workspace_bytes(cudnnHandle_t handle, int algo) const;
  size_t backward_data_workspace_bytes(cudnnHandle_t handle, int algo) const;
  size_t backward_filter_workspace_bytes(cudnnHandle_t handle, int algo) const;

  // y = conv(x, w). Pointers are T device buffers of the options' dtype.
  void forward(cudnnHandle_t handle, const void* x, const void* w, void* y, void* workspace,
               size_t workspace_bytes) const;
  // dx = conv_transpose(dy, w), overwritten.
  void backward_data(cudnnHandle_t handle, const void* dy, const void* w, void* dx, void* workspace,
                     size_t workspace_bytes) const;
  // dw = sum over the batch of dy (x) x-patches; `accumulate` adds to dw instead of overwriting.
  void backward_filter(cudnnHandle_t handle, const void* x, const void* dy, void* dw, void* workspace,
                       size_t workspace_bytes, bool accumulate) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aslnet::kernels::cuda
