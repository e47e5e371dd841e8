// The cuDNN convolution (kernels/cuda/conv_cudnn.cpp) against the CPU im2col convolution, on the
// shapes a ResNet has (7x7/2 stem on 3 channels, 3x3 with and without stride, 1x1 pointwise and 1x1/2
// downsample) plus odd and non-square ones. Fresh random inputs every run (the seed is printed on
// failure), outputs poisoned with NaN first, both error measures (L2-relative and max-relative) checked:
//   strict fp32 (FMA math): forward within 1e-5, gradients within 1e-4, for EVERY algorithm cuDNN offers;
//   TF32: within 5e-3; bf16 data (fp32 accumulation): within 1e-2, on bf16-exact inputs;
//   deterministic: two runs are bit-identical.
// Skips without a GPU (fails instead under ASLNET_REQUIRE_GPU=1).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "engine/core/buffer.h"
#include "engine/core/context.h"
#include "engine/core/rng.h"
#include "engine/core/tensor.h"
#include "kernels/conv.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

using kernels::ConvShape;
using kernels::cuda::ConvAlgos;
using kernels::cuda::ConvOptions;
using kernels::cuda::CudnnConv;

// Algorithms that want more scratch than this are reported and skipped, not run.
constexpr size_t kMaxTestWorkspace = size_t(1) << 30;

struct NamedShape {
  const char* name;
  ConvShape shape;  // {n, h, w, c, k, r, s, stride, pad}
};

std::vector<NamedShape> resnet_shapes() {
  return {
      {"7x7/2 pad 3 stem, c=3", {2, 30, 34, 3, 16, 7, 7, 2, 3}},
      {"3x3/1 pad 1 typical", {4, 14, 14, 32, 32, 3, 3, 1, 1}},
      {"3x3/2 pad 1, odd input", {2, 15, 15, 16, 32, 3, 3, 2, 1}},
      {"1x1/1 pointwise", {3, 9, 11, 64, 48, 1, 1, 1, 0}},
      {"1x1/2 downsample", {2, 14, 14, 32, 64, 1, 1, 2, 0}},
      {"3x3/1 pad 1 non-square", {2, 13, 21, 8, 12, 3, 3, 1, 1}},
      {"3x3/1 unpadded, odd sizes and channels", {1, 10, 7, 5, 7, 3, 3, 1, 0}},
      {"5x5/2 pad 2 non-square odd", {3, 11, 9, 6, 10, 5, 5, 2, 2}},
  };
}

std::string describe(const ConvShape& s) {
  std::ostringstream out;
  out << "n" << s.n << " " << s.h << "x" << s.w << "x" << s.c << " -> k" << s.k << " " << s.r << "x" << s.s
      << " stride " << s.stride << " pad " << s.pad;
  return out.str();
}

Shape x_shape(const ConvShape& s) { return Shape{s.n, s.h, s.w, s.c}; }
Shape w_shape(const ConvShape& s) { return Shape{s.k, s.r, s.s, s.c}; }
Shape y_shape(const ConvShape& s) { return Shape{s.n, s.out_h(), s.out_w(), s.k}; }

// Random inputs (CPU, f32; bf16-exact when the GPU runs in bf16) and the CPU reference results.
struct Problem {
  ConvShape shape;
  Tensor x, w, dy, dw0;              // dw0: what dw holds before an accumulating backward_filter
  Tensor y, dx, dw, dw_accumulated;  // references: dw_accumulated = dw0 + dw
};

Problem make_problem(const ConvShape& s, uint64_t seed, bool bf16_exact) {
  Rng rng(seed);
  Problem p;
  p.shape = s;
  p.x = test::random_f32(x_shape(s), rng, 1.0, bf16_exact);
  p.w = test::random_f32(w_shape(s), rng, 1.0, bf16_exact);
  p.dy = test::random_f32(y_shape(s), rng, 1.0, bf16_exact);
  // Of the order of the gradient itself, so that forgetting to add it (or adding it twice) shows.
  p.dw0 = test::random_f32(w_shape(s), rng, 4.0, bf16_exact);

  std::vector<float> columns(size_t(kernels::cpu::conv2d_workspace_elems(s)) + 1);
  p.y = Tensor::empty(y_shape(s), DType::F32);
  p.dx = Tensor::empty(x_shape(s), DType::F32);
  p.dw = Tensor::empty(w_shape(s), DType::F32);
  kernels::cpu::conv2d_forward<float>(s, p.x.data<float>(), p.w.data<float>(), p.y.data<float>(), columns.data());
  kernels::cpu::conv2d_backward_data<float>(s, p.dy.data<float>(), p.w.data<float>(), p.dx.data<float>(),
                                            columns.data());
  kernels::cpu::conv2d_backward_filter<float>(s, p.x.data<float>(), p.dy.data<float>(), p.dw.data<float>(),
                                              columns.data(), /*accumulate=*/false);
  p.dw_accumulated = p.dw0.clone();
  for (int64_t i = 0; i < p.dw.numel(); ++i) p.dw_accumulated.data<float>()[i] += p.dw.data<float>()[i];
  return p;
}

// The problem's inputs on the GPU, in the dtype under test.
struct DeviceInputs {
  DType dtype = DType::F32;
  Tensor x, w, dy, dw0;
};

Tensor to_device(const Tensor& f32, DType dtype) {
  return (dtype == DType::BF16 ? test::to_bf16(f32) : f32).to(Device::cuda(0));
}

DeviceInputs upload(const Problem& p, DType dtype) {
  return DeviceInputs{dtype, to_device(p.x, dtype), to_device(p.w, dtype), to_device(p.dy, dtype),
                      to_device(p.dw0, dtype)};
}

// Both error measures within `tol`; on failure, both values and the first element that is NaN or off by
// more than tol * max|reference|.
::testing::AssertionResult close(const Tensor& actual, const Tensor& reference, double tol) {
  const Tensor a = test::to_f32(actual);
  const double rel = test::relative_error(a, reference), most = test::max_relative_error(a, reference);
  if (rel <= tol && most <= tol) return ::testing::AssertionSuccess();
  double max_ref = 0.0;
  for (int64_t i = 0; i < reference.numel(); ++i)
    max_ref = std::max(max_ref, double(std::abs(reference.data<float>()[i])));
  auto failure = ::testing::AssertionFailure();
  failure << "relative error " << rel << ", max relative error " << most << " (tolerance " << tol << ")";
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double got = a.data<float>()[i], want = reference.data<float>()[i];
    if (std::isnan(got) || std::abs(got - want) > tol * max_ref) {
      failure << "; first bad index " << i << " of " << a.numel() << ": got " << got << ", expected " << want;
      break;
    }
  }
  return failure;
}

// Each pass, run with `conv`'s current algorithms on a workspace of `workspace` bytes, into a freshly
// poisoned output (or, for the accumulating backward_filter, a copy of dw0).
Tensor run_forward(Context& ctx, const CudnnConv& conv, const DeviceInputs& d, size_t workspace) {
  Tensor y = test::poisoned(y_shape(conv.shape()), d.dtype, ctx.device());
  Buffer ws = Buffer::device(workspace, ctx.device().index);
  conv.forward(ctx.cudnn(), d.x.raw(), d.w.raw(), y.raw(), ws.data(), workspace);
  ctx.synchronize();
  return y;
}

Tensor run_backward_data(Context& ctx, const CudnnConv& conv, const DeviceInputs& d, size_t workspace) {
  Tensor dx = test::poisoned(x_shape(conv.shape()), d.dtype, ctx.device());
  Buffer ws = Buffer::device(workspace, ctx.device().index);
  conv.backward_data(ctx.cudnn(), d.dy.raw(), d.w.raw(), dx.raw(), ws.data(), workspace);
  ctx.synchronize();
  return dx;
}

Tensor run_backward_filter(Context& ctx, const CudnnConv& conv, const DeviceInputs& d, size_t workspace,
                           bool accumulate) {
  Tensor dw = accumulate ? d.dw0.clone() : test::poisoned(w_shape(conv.shape()), d.dtype, ctx.device());
  Buffer ws = Buffer::device(workspace, ctx.device().index);
  conv.backward_filter(ctx.cudnn(), d.x.raw(), d.dy.raw(), dw.raw(), ws.data(), workspace, accumulate);
  ctx.synchronize();
  return dw;
}

struct Tolerance {
  double forward, gradient;
};

// All passes with the algorithms `conv` chose itself, on the workspace it asks for.
void check_chosen(Context& ctx, const CudnnConv& conv, const Problem& p, const DeviceInputs& d, Tolerance tol) {
  const ConvAlgos a = conv.algos();
  SCOPED_TRACE("chosen algorithms: forward " + std::to_string(a.forward) + ", backward data " +
               std::to_string(a.backward_data) + ", backward filter " + std::to_string(a.backward_filter));
  const size_t ws = conv.workspace_bytes();
  EXPECT_TRUE(close(run_forward(ctx, conv, d, ws), p.y, tol.forward)) << "forward";
  EXPECT_TRUE(close(run_backward_data(ctx, conv, d, ws), p.dx, tol.gradient)) << "backward data";
  EXPECT_TRUE(close(run_backward_filter(ctx, conv, d, ws, false), p.dw, tol.gradient)) << "backward filter";
  EXPECT_TRUE(close(run_backward_filter(ctx, conv, d, ws, true), p.dw_accumulated, tol.gradient))
      << "backward filter, accumulating";
}

// Every algorithm cuDNN offers for each pass, each on a workspace of exactly the size it asks for.
void check_every_algorithm(Context& ctx, CudnnConv& conv, const Problem& p, const DeviceInputs& d, Tolerance tol) {
  const cudnnHandle_t h = ctx.cudnn();
  const ConvAlgos original = conv.algos();
  const std::vector<int> fwd = conv.supported_forward_algos(h), bwd_data = conv.supported_backward_data_algos(h),
                         bwd_filter = conv.supported_backward_filter_algos(h);
  EXPECT_FALSE(fwd.empty());
  EXPECT_FALSE(bwd_data.empty());
  EXPECT_FALSE(bwd_filter.empty());

  for (int algo : fwd) {
    const size_t ws = conv.forward_workspace_bytes(h, algo);
    if (ws > kMaxTestWorkspace) {
      std::printf("  skipping forward algorithm %d of %s: %zu bytes of workspace\n", algo,
                  describe(p.shape).c_str(), ws);
      continue;
    }
    ConvAlgos a = original;
    a.forward = algo;
    conv.set_algos(a);
    EXPECT_EQ(conv.algos().forward, algo);
    EXPECT_GE(conv.workspace_bytes(), ws);
    EXPECT_TRUE(close(run_forward(ctx, conv, d, ws), p.y, tol.forward))
        << "forward algorithm " << algo << " (workspace " << ws << " bytes)";
  }
  for (int algo : bwd_data) {
    const size_t ws = conv.backward_data_workspace_bytes(h, algo);
    if (ws > kMaxTestWorkspace) {
      std::printf("  skipping backward-data algorithm %d of %s: %zu bytes of workspace\n", algo,
                  describe(p.shape).c_str(), ws);
      continue;
    }
    ConvAlgos a = original;
    a.backward_data = algo;
    conv.set_algos(a);
    EXPECT_EQ(conv.algos().backward_data, algo);
    EXPECT_TRUE(close(run_backward_data(ctx, conv, d, ws), p.dx, tol.gradient))
        << "backward data algorithm " << algo << " (workspace " << ws << " bytes)";
  }
  for (int algo : bwd_filter) {
    const size_t ws = conv.backward_filter_workspace_bytes(h, algo);
    if (ws > kMaxTestWorkspace) {
      std::printf("  skipping backward-filter algorithm %d of %s: %zu bytes of workspace\n", algo,
                  describe(p.shape).c_str(), ws);
      continue;
    }
    ConvAlgos a = original;
    a.backward_filter = algo;
    conv.set_algos(a);
    EXPECT_EQ(conv.algos().backward_filter, algo);
    EXPECT_TRUE(close(run_backward_filter(ctx, conv, d, ws, false), p.dw, tol.gradient))
        << "backward filter algorithm " << algo << " (workspace " << ws << " bytes)";
    EXPECT_TRUE(close(run_backward_filter(ctx, conv, d, ws, true), p.dw_accumulated, tol.gradient))
        << "backward filter algorithm " << algo << ", accumulating (workspace " << ws << " bytes)";
  }
  conv.set_algos(original);
}

bool contains(const std::vector<int>& v, int x) { return std::find(v.begin(), v.end(), x) != v.end(); }

// The chosen algorithms are among the offered ones, and the workspace covers each of them.
void check_choice_is_consistent(const Context& ctx, const CudnnConv& conv) {
  const cudnnHandle_t h = ctx.cudnn();
  const ConvAlgos a = conv.algos();
  EXPECT_TRUE(contains(conv.supported_forward_algos(h), a.forward)) << "forward " << a.forward;
  EXPECT_TRUE(contains(conv.supported_backward_data_algos(h), a.backward_data)) << "backward data " << a.backward_data;
  EXPECT_TRUE(contains(conv.supported_backward_filter_algos(h), a.backward_filter))
      << "backward filter " << a.backward_filter;
  const size_t most = std::max({conv.forward_workspace_bytes(h, a.forward),
                                conv.backward_data_workspace_bytes(h, a.backward_data),
                                conv.backward_filter_workspace_bytes(h, a.backward_filter)});
  EXPECT_EQ(conv.workspace_bytes(), most);
}

// One options set over every shape: the chosen algorithms, then (if asked) every offered one.
void check_options(const ConvOptions& options, Tolerance tol, bool every_algorithm) {
  Context ctx(Device::cuda(0));
  for (const NamedShape& named : resnet_shapes()) {
    const uint64_t seed = test::fresh_seed();
    SCOPED_TRACE(std::string(named.name) + " (" + describe(named.shape) + "), seed " + std::to_string(seed));
    const Problem p = make_problem(named.shape, seed, options.dtype == DType::BF16);
    const DeviceInputs d = upload(p, options.dtype);
    CudnnConv conv(ctx.cudnn(), named.shape, options);
    check_choice_is_consistent(ctx, conv);
    check_chosen(ctx, conv, p, d, tol);
    if (every_algorithm) check_every_algorithm(ctx, conv, p, d, tol);
  }
}

TEST(ConvCuda, Fp32StrictEveryAlgorithmMatchesCpu) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  check_options(ConvOptions{DType::F32, /*allow_tf32=*/false, /*deterministic=*/false, /*benchmark=*/false},
                Tolerance{1e-5, 1e-4}, /*every_algorithm=*/true);
}

TEST(ConvCuda, Fp32StrictBenchmarkedChoiceMatchesCpu) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  check_options(ConvOptions{DType::F32, false, false, /*benchmark=*/true}, Tolerance{1e-5, 1e-4},
                /*every_algorithm=*/false);
}

TEST(ConvCuda, Tf32EveryAlgorithmMatchesCpuLoosely) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  check_options(ConvOptions{DType::F32, /*allow_tf32=*/true, false, /*benchmark=*/true}, Tolerance{5e-3, 5e-3},
                /*every_algorithm=*/true);
}

TEST(ConvCuda, Bf16EveryAlgorithmMatchesCpu) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  check_options(ConvOptions{DType::BF16, false, false, /*benchmark=*/true}, Tolerance{1e-2, 1e-2},
                /*every_algorithm=*/true);
}

TEST(ConvCuda, Bf16HeuristicChoiceMatchesCpu) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  check_options(ConvOptions{DType::BF16, false, false, /*benchmark=*/false}, Tolerance{1e-2, 1e-2},
                /*every_algorithm=*/false);
}

// Deterministic mode: every offered algorithm is one cuDNN marks deterministic, and two runs of each
// gradient pass give the same bits. A larger shape than the others, so that an algorithm that split
// its reductions across thread blocks with atomics would have many chances to differ.
TEST(ConvCuda, DeterministicRunsAreBitIdentical) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  Context ctx(Device::cuda(0));
  std::vector<NamedShape> shapes = resnet_shapes();
  shapes.push_back({"3x3/1 pad 1, large batch", {16, 28, 28, 64, 64, 3, 3, 1, 1}});
  shapes.push_back({"1x1/2 downsample, large batch", {16, 28, 28, 64, 128, 1, 1, 2, 0}});
  for (DType dtype : {DType::F32, DType::BF16}) {
    const ConvOptions options{dtype, false, /*deterministic=*/true, /*benchmark=*/true};
    const Tolerance tol = dtype == DType::F32 ? Tolerance{1e-5, 1e-4} : Tolerance{1e-2, 1e-2};
    for (const NamedShape& named : shapes) {
      const uint64_t seed = test::fresh_seed();
      SCOPED_TRACE(std::string(dtype_name(dtype)) + " " + named.name + " (" + describe(named.shape) + "), seed " +
                   std::to_string(seed));
      const Problem p = make_problem(named.shape, seed, dtype == DType::BF16);
      const DeviceInputs d = upload(p, dtype);
      CudnnConv conv(ctx.cudnn(), named.shape, options);
      check_choice_is_consistent(ctx, conv);
      // cuDNN documents these three as non-deterministic (atomics): never offered here.
      EXPECT_FALSE(contains(conv.supported_backward_data_algos(ctx.cudnn()), CUDNN_CONVOLUTION_BWD_DATA_ALGO_0));
      EXPECT_FALSE(contains(conv.supported_backward_filter_algos(ctx.cudnn()), CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0));
      EXPECT_FALSE(contains(conv.supported_backward_filter_algos(ctx.cudnn()), CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3));
      check_chosen(ctx, conv, p, d, tol);

      const ConvAlgos original = conv.algos();
      auto same_bits = [](const Tensor& a, const Tensor& b) {
        const Tensor ha = a.to(Device::cpu()), hb = b.to(Device::cpu());
        return ha.bytes() == hb.bytes() && std::memcmp(ha.raw(), hb.raw(), ha.bytes()) == 0;
      };
      for (int algo : conv.supported_backward_data_algos(ctx.cudnn())) {
        const size_t ws = conv.backward_data_workspace_bytes(ctx.cudnn(), algo);
        if (ws > kMaxTestWorkspace) continue;
        ConvAlgos a = original;
        a.backward_data = algo;
        conv.set_algos(a);
        const Tensor first = run_backward_data(ctx, conv, d, ws), second = run_backward_data(ctx, conv, d, ws);
        EXPECT_TRUE(same_bits(first, second)) << "backward data algorithm " << algo << " differs between two runs";
      }
      for (int algo : conv.supported_backward_filter_algos(ctx.cudnn())) {
        const size_t ws = conv.backward_filter_workspace_bytes(ctx.cudnn(), algo);
        if (ws > kMaxTestWorkspace) continue;
        ConvAlgos a = original;
        a.backward_filter = algo;
        conv.set_algos(a);
        const Tensor first = run_backward_filter(ctx, conv, d, ws, false),
                     second = run_backward_filter(ctx, conv, d, ws, false);
        EXPECT_TRUE(same_bits(first, second)) << "backward filter algorithm " << algo << " differs between two runs";
        const Tensor acc1 = run_backward_filter(ctx, conv, d, ws, true), acc2 = run_backward_filter(ctx, conv, d, ws, true);
        EXPECT_TRUE(same_bits(acc1, acc2)) << "backward filter algorithm " << algo
                                           << " (accumulating) differs between two runs";
      }
      conv.set_algos(original);
    }
  }
}

// Moving keeps the shape and the choice; a bad request fails with an aslnet::Error and changes nothing.
TEST(ConvCuda, MoveAndBadRequests) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  Context ctx(Device::cuda(0));
  const ConvShape s{2, 9, 9, 8, 16, 3, 3, 1, 1};
  CudnnConv a(ctx.cudnn(), s, ConvOptions{DType::F32, false, false, false});
  const ConvAlgos chosen = a.algos();
  const size_t ws = a.workspace_bytes();
  CudnnConv b(std::move(a));
  EXPECT_EQ(b.shape().k, s.k);
  EXPECT_EQ(b.algos().forward, chosen.forward);
  EXPECT_EQ(b.algos().backward_data, chosen.backward_data);
  EXPECT_EQ(b.algos().backward_filter, chosen.backward_filter);
  EXPECT_EQ(b.workspace_bytes(), ws);

  ConvAlgos bad = chosen;
  bad.forward = 999;
  EXPECT_THROW(b.set_algos(bad), Error);
  EXPECT_EQ(b.algos().forward, chosen.forward);

  // Too little workspace is refused before cuDNN is called.
  const size_t fwd_ws = b.forward_workspace_bytes(ctx.cudnn(), chosen.forward);
  if (fwd_ws > 0) {
    const Tensor x = Tensor::zeros(x_shape(s), DType::F32, ctx.device());
    const Tensor w = Tensor::zeros(w_shape(s), DType::F32, ctx.device());
    Tensor y = Tensor::zeros(y_shape(s), DType::F32, ctx.device());
    Buffer small = Buffer::device(fwd_ws - 1, ctx.device().index);
    EXPECT_THROW(b.forward(ctx.cudnn(), x.raw(), w.raw(), y.raw(), small.data(), fwd_ws - 1), Error);
  }

  EXPECT_THROW(CudnnConv(ctx.cudnn(), s, ConvOptions{DType::F64, false, false, false}), Error);
  EXPECT_THROW(CudnnConv(ctx.cudnn(), ConvShape{1, 2, 2, 3, 4, 5, 5, 1, 0}, ConvOptions{}), Error);  // no output
}

}  // namespace
}  // namespace aslnet
