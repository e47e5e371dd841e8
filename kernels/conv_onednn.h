// The fast CPU convolution: oneDNN's primitives (forward, backward-data, backward-weights) on the
// engine's own NHWC activations and KRSC filters, as cuDNN's CudnnConv is on the GPU. One OnednnConv
// per layer shape, built at setup: the primitives are created once (oneDNN chooses its implementation
// for this shape and this CPU then), and a step only executes them on memory that wraps the engine's
// tensors (no copies, no reorders) with oneDNN's scratchpad taken from the layer's workspace, so
// nothing is allocated in a step. fp32 only: oneDNN has no f64 convolution (the f64 tests stay on the
// reference path) and the CPU trains in fp32 only.
//
// The reference, kernels/conv.h's im2col + OpenBLAS, stays: it is what this one is tested against
// (tests/kernels/test_conv_onednn.cpp) and what `--cpu-kernels reference` runs.
//
// A build without oneDNN compiles kernels/no_onednn/ instead of kernels/onednn/: available() is false
// there and the constructor throws, so no caller needs an #if.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "kernels/conv.h"

namespace aslnet::kernels::onednn {

// Whether this build has oneDNN, and its version ("2.6.3") or "not built".
bool available();
std::string version();

// Whether oneDNN beats the reference on this shape. oneDNN 2.6's fast convolutions (brgconv, jit)
// vectorise along the output row: a row of 2 pixels (ResNet's last stage at 64 px) leaves most of each
// vector idle, and measured at batch 32 on 2 cores they ran at 0.25-0.3x the reference's im2col +
// sgemm there, against 1.4-2.5x on rows of 4 pixels and more (aslnet bench kernels). Such shapes
// stay on the reference. (Correctness does not depend on it: the tests run oneDNN on every shape.)
bool pays_off(const ConvShape& shape);

class OnednnConv {
 public:
  explicit OnednnConv(const ConvShape& shape);
  ~OnednnConv();
  OnednnConv(OnednnConv&&) noexcept;
  OnednnConv& operator=(OnednnConv&&) noexcept;

  const ConvShape& shape() const;
  // Scratch every pass needs, from the caller's workspace (oneDNN's scratchpad, plus a filter-gradient
  // buffer for accumulate: oneDNN's backward-weights overwrites).
  size_t workspace_bytes() const;
  // oneDNN's implementation of each pass ("brg:avx512_core", "jit:avx2", "gemm:jit", ...), for benchmarks.
  std::string implementations() const;

  // y = conv(x, w), overwritten. All pointers are fp32 host buffers; workspace holds workspace_bytes().
  void forward(const float* x, const float* w, float* y, void* workspace) const;
  // dx = conv_transpose(dy, w), overwritten.
  void backward_data(const float* dy, const float* w, float* dx, void* workspace) const;
  // dw (+)= sum over the batch of dy (x) x-patches; `accumulate` adds to dw instead of overwriting
  // (the contract of kernels::cpu::conv2d_backward_filter).
  void backward_filter(const float* x, const float* dy, float* dw, void* workspace, bool accumulate) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Inference only: y = conv(x, w) + bias, then ReLU when asked, in one oneDNN primitive (the ReLU a
// post-op applied as the output is written). For a convolution with batch norm folded into its weights
// and bias (engine/fold.h, engine/layers/conv_bn_inference.h). The weights do not change between calls,
// so they are reordered into oneDNN's layout once, here, and kept: no reorder per call, which is what a
// batch of one image pays most for in OnednnConv.
class OnednnConvInference {
 public:
  // `weights`: KRSC, shape.k * shape.r * shape.s * shape.c values; `bias`: shape.k values. Both copied.
  OnednnConvInference(const ConvShape& shape, const float* weights, const float* bias, bool relu);
  ~OnednnConvInference();
  OnednnConvInference(OnednnConvInference&&) noexcept;
  OnednnConvInference& operator=(OnednnConvInference&&) noexcept;

  const ConvShape& shape() const;
  size_t workspace_bytes() const;  // oneDNN's scratchpad
  std::string implementation() const;
  void forward(const float* x, float* y, void* workspace) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aslnet::kernels::onednn
