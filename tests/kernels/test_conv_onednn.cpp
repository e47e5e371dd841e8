// The fast CPU convolution (oneDNN, kernels/conv_onednn.h) against the reference (im2col + OpenBLAS,
// kernels/conv.h), as the CUDA tests compare cuDNN with the CPU: fresh random inputs each run (the seed
// is printed on failure), outputs poisoned with NaN first, every distinct convolution shape of
// ResNet-18 and ResNet-50 at small sizes plus hand-picked awkward ones (stride 2, padding, non-square
// inputs, odd channel counts, negative far-side padding). The inference convolution
// (OnednnConvInference: bias and ReLU fused, weights reordered once) is checked on the same shapes
// against the reference convolution followed by kernels::cpu::add_bias.
//
// Relative error is norm-wise: ||fast - reference||_2 / ||reference||_2 over the whole output (the
// same measure as test_conv_cpu.cpp and test::relative_error). Bounds: 1e-5 for the forward pass, 1e-4
// for the gradients (both fp32, summed in different orders; typical values are near 1e-7).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "engine/core/context.h"
#include "engine/core/rng.h"
#include "engine/layers/conv2d.h"
#include "engine/layers/residual.h"
#include "engine/layers/sequential.h"
#include "kernels/conv.h"
#include "kernels/conv_onednn.h"
#include "kernels/cpu_kernels.h"
#include "kernels/elementwise.h"
#include "models/resnet.h"

namespace aslnet::kernels {
namespace {

std::string describe(const ConvShape& s) {
  return std::to_string(s.n) + "x" + std::to_string(s.h) + "x" + std::to_string(s.w) + "x" + std::to_string(s.c) +
         " * " + std::to_string(s.k) + "x" + std::to_string(s.r) + "x" + std::to_string(s.s) + " /" +
         std::to_string(s.stride) + " pad " + std::to_string(s.pad);
}

double relative(const std::vector<float>& got, const std::vector<float>& want) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(got[i])) return std::numeric_limits<double>::infinity();  // never written
    diff += (double(got[i]) - want[i]) * (double(got[i]) - want[i]);
    norm += double(want[i]) * want[i];
  }
  return std::sqrt(diff / std::max(norm, 1e-300));
}

std::vector<float> normal(size_t n, Rng& rng) {
  std::vector<float> v(n);
  for (auto& x : v) x = float(rng.normal());
  return v;
}

// Forward, backward-data, and backward-filter (overwrite and accumulate) of one shape, both backends.
void compare(const ConvShape& s, uint64_t seed) {
  SCOPED_TRACE(describe(s) + ", seed " + std::to_string(seed));
  Rng rng(seed);
  const size_t xn = size_t(s.n * s.h * s.w * s.c), wn = size_t(s.k * s.r * s.s * s.c),
               yn = size_t(s.n * s.out_h() * s.out_w() * s.k);
  const std::vector<float> x = normal(xn, rng), w = normal(wn, rng), dy = normal(yn, rng), dw0 = normal(wn, rng);
  const float nan = std::numeric_limits<float>::quiet_NaN();

  std::vector<float> columns(size_t(cpu::conv2d_workspace_elems(s)) + 1);
  std::vector<float> y_ref(yn), dx_ref(xn), dw_ref(wn), dw_acc_ref = dw0;
  cpu::conv2d_forward<float>(s, x.data(), w.data(), y_ref.data(), columns.data());
  cpu::conv2d_backward_data<float>(s, dy.data(), w.data(), dx_ref.data(), columns.data());
  cpu::conv2d_backward_filter<float>(s, x.data(), dy.data(), dw_ref.data(), columns.data(), false);
  cpu::conv2d_backward_filter<float>(s, x.data(), dy.data(), dw_acc_ref.data(), columns.data(), true);

  const onednn::OnednnConv fast(s);
  std::vector<char> workspace(fast.workspace_bytes() + 64);
  std::vector<float> y(yn, nan), dx(xn, nan), dw(wn, nan), dw_acc = dw0;
  fast.forward(x.data(), w.data(), y.data(), workspace.data());
  fast.backward_data(dy.data(), w.data(), dx.data(), workspace.data());
  fast.backward_filter(x.data(), dy.data(), dw.data(), workspace.data(), false);
  fast.backward_filter(x.data(), dy.data(), dw_acc.data(), workspace.data(), true);

  EXPECT_LT(relative(y, y_ref), 1e-5) << "forward; " << fast.implementations();
  EXPECT_LT(relative(dx, dx_ref), 1e-4) << "backward data; " << fast.implementations();
  EXPECT_LT(relative(dw, dw_ref), 1e-4) << "backward filter; " << fast.implementations();
  EXPECT_LT(relative(dw_acc, dw_acc_ref), 1e-4) << "backward filter, accumulating; " << fast.implementations();

  // Inference: the bias added, with and without the ReLU post-op.
  const std::vector<float> bias = normal(size_t(s.k), rng);
  for (const bool relu : {false, true}) {
    std::vector<float> want = y_ref;
    cpu::add_bias<float>(s.n * s.out_h() * s.out_w(), s.k, bias.data(), relu, want.data());
    const onednn::OnednnConvInference inference(s, w.data(), bias.data(), relu);
    std::vector<char> scratch(inference.workspace_bytes() + 64);
    std::vector<float> got(yn, nan);
    inference.forward(x.data(), got.data(), scratch.data());
    EXPECT_LT(relative(got, want), 1e-5) << "inference" << (relu ? " + ReLU; " : "; ") << inference.implementation();
  }
}

void collect(Layer& layer, std::vector<ConvShape>& shapes) {
  if (auto* seq = dynamic_cast<Sequential*>(&layer)) {
    for (const auto& child : seq->layers()) collect(*child, shapes);
  } else if (auto* res = dynamic_cast<Residual*>(&layer)) {
    collect(res->main(), shapes);
    collect(res->shortcut(), shapes);
  } else if (auto* conv = dynamic_cast<Conv2d*>(&layer)) {
    const ConvShape& s = conv->conv_shape();
    const auto same = [&](const ConvShape& t) {
      return t.n == s.n && t.h == s.h && t.w == s.w && t.c == s.c && t.k == s.k && t.r == s.r && t.stride == s.stride &&
             t.pad == s.pad;
    };
    if (std::none_of(shapes.begin(), shapes.end(), same)) shapes.push_back(s);
  }
}

// Every distinct convolution of the model, set up (with the reference kernels: only the shapes are
// wanted) at `batch` x `size` x `size`.
std::vector<ConvShape> model_shapes(const std::string& arch, const std::string& stem, int64_t batch, int64_t size) {
  const CpuKernels before = cpu_kernels();
  set_cpu_kernels(CpuKernels::Reference);
  Context ctx;
  auto model = make_resnet({arch, stem, 1.0, 29, 3});
  model->setup(ctx, batch, size, size);
  set_cpu_kernels(before);
  std::vector<ConvShape> shapes;
  collect(model->net(), shapes);
  return shapes;
}

class ConvOnednn : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!onednn::available()) GTEST_SKIP() << "built without oneDNN (ASLNET_ONEDNN=OFF)";
  }
  uint64_t seed_ = std::random_device{}();
};

TEST_F(ConvOnednn, MatchesReferenceOnEveryResnet18Shape) {
  const auto shapes = model_shapes("resnet18", "imagenet", 2, 32);
  // The stem, layer1's 3x3, and in each later stage its 3x3/2, 3x3/1 and 1x1/2 shortcut.
  EXPECT_EQ(shapes.size(), 11u);
  for (const ConvShape& s : shapes) compare(s, seed_++);
}

TEST_F(ConvOnednn, MatchesReferenceOnEveryResnet50Shape) {
  for (const ConvShape& s : model_shapes("resnet50", "imagenet", 2, 32)) compare(s, seed_++);
}

TEST_F(ConvOnednn, MatchesReferenceOnTheSmallStem) {
  for (const ConvShape& s : model_shapes("resnet18", "small", 2, 12)) compare(s, seed_++);
}

TEST_F(ConvOnednn, MatchesReferenceOnAwkwardShapes) {
  auto shape = [](int64_t n, int64_t h, int64_t w, int64_t c, int64_t k, int64_t r, int64_t stride, int64_t pad) {
    ConvShape s;
    s.n = n, s.h = h, s.w = w, s.c = c, s.k = k, s.r = s.s = r, s.stride = stride, s.pad = pad;
    return s;
  };
  const std::vector<ConvShape> shapes = {
      shape(3, 9, 13, 3, 5, 3, 2, 1),    // non-square, odd sizes and channels, stride 2
      shape(1, 11, 7, 7, 9, 7, 2, 3),    // 7x7/2 stem-like on an odd, non-square input
      shape(2, 8, 10, 5, 3, 1, 2, 0),    // 1x1/2: far-side padding -1
      shape(2, 6, 5, 1, 1, 3, 1, 1),     // one channel in and out
      shape(1, 10, 10, 17, 33, 5, 1, 2), // 5x5, odd channel counts
      shape(2, 7, 7, 16, 8, 3, 3, 0),    // stride 3, no padding, rows dropped
      shape(1, 5, 9, 4, 6, 3, 1, 0),     // no padding, non-square
      shape(4, 4, 4, 64, 64, 1, 1, 0),   // pointwise
  };
  for (const ConvShape& s : shapes) compare(s, seed_++);
}

// Random shapes, as test_conv_cpu.cpp draws them.
TEST_F(ConvOnednn, MatchesReferenceOnRandomShapes) {
  Rng rng(seed_);
  for (int trial = 0; trial < 20; ++trial) {
    ConvShape s;
    s.n = 1 + int64_t(rng.below(3));
    s.c = 1 + int64_t(rng.below(20));
    s.k = 1 + int64_t(rng.below(20));
    s.r = s.s = int64_t(std::vector<int>{1, 3, 5, 7}[rng.below(4)]);
    s.stride = 1 + int64_t(rng.below(2));
    s.pad = int64_t(rng.below(uint64_t(s.r / 2 + 1)));
    s.h = s.r + int64_t(rng.below(9));
    s.w = s.s + int64_t(rng.below(9));
    compare(s, seed_ + 1000 + uint64_t(trial));
  }
}

// The layer's choice: fast for fp32 under --cpu-kernels fast where oneDNN pays off, the reference for
// f64, for narrow outputs and under reference.
TEST_F(ConvOnednn, Conv2dPicksItsBackendAtSetup) {
  const CpuKernels before = cpu_kernels();
  Context ctx;
  Conv2d conv("c", 3, 4, 3, 1, 1);
  set_cpu_kernels(CpuKernels::Fast);
  conv.setup(ctx, Shape{1, 5, 5, 3}, DType::F32);
  EXPECT_NE(conv.onednn(), nullptr);
  conv.setup(ctx, Shape{1, 5, 5, 3}, DType::F64);
  EXPECT_EQ(conv.onednn(), nullptr);
  conv.setup(ctx, Shape{1, 2, 2, 3}, DType::F32);  // rows of 2 pixels: oneDNN does not pay off (pays_off)
  EXPECT_EQ(conv.onednn(), nullptr);
  set_cpu_kernels(CpuKernels::Reference);
  conv.setup(ctx, Shape{1, 5, 5, 3}, DType::F32);
  EXPECT_EQ(conv.onednn(), nullptr);
  set_cpu_kernels(before);
}

TEST(CpuKernels, ParsesTheFlagAndDefaultsToFastWithOnednn) {
  EXPECT_EQ(parse_cpu_kernels("fast"), CpuKernels::Fast);
  EXPECT_EQ(parse_cpu_kernels("reference"), CpuKernels::Reference);
  EXPECT_THROW(parse_cpu_kernels("quick"), std::exception);
  EXPECT_EQ(default_cpu_kernels(), onednn::available() ? CpuKernels::Fast : CpuKernels::Reference);
  if (!onednn::available()) {
    EXPECT_THROW(set_cpu_kernels(CpuKernels::Fast), std::exception);
  }
}

}  // namespace
}  // namespace aslnet::kernels
