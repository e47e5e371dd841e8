// CUDA element-wise kernels against their CPU twins on fresh random inputs, outputs poisoned first.
// Skips without a GPU (fails instead under ASLNET_REQUIRE_GPU=1).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "engine/core/context.h"
#include "engine/core/tensor.h"
#include "kernels/elementwise.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

Tensor random_tensor(int64_t count, Rng& rng) {
  Tensor t = Tensor::empty(Shape{count}, DType::F32);
  test::fill_normal(t, rng);
  return t;
}

Tensor poisoned_device(int64_t count) {
  Tensor host = Tensor::empty(Shape{count}, DType::F32);
  std::fill_n(host.data<float>(), count, std::nanf(""));
  return host.to(Device::cuda(0));
}

TEST(ElementwiseCuda, MatchesCpu) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  Context ctx(Device::cuda(0));
  Rng rng(std::random_device{}());
  for (int64_t count : {int64_t(1), int64_t(1000), int64_t(3) << 20, int64_t(70000) * 256 + 13}) {
    const Tensor x = random_tensor(count, rng), g = random_tensor(count, rng), b = random_tensor(count, rng);
    const Tensor dx = x.to(ctx.device()), dg = g.to(ctx.device()), db = b.to(ctx.device());
    Tensor y = poisoned_device(count), dxo = poisoned_device(count), sum = poisoned_device(count);
    kernels::cuda::relu_forward(ctx.stream(), count, dx.data<float>(), y.data<float>());
    kernels::cuda::relu_backward(ctx.stream(), count, y.data<float>(), dg.data<float>(), dxo.data<float>());
    kernels::cuda::add(ctx.stream(), count, dx.data<float>(), db.data<float>(), sum.data<float>());
    ctx.synchronize();
    Tensor y_ref = Tensor::empty(Shape{count}, DType::F32), dx_ref = y_ref.clone(), sum_ref = y_ref.clone();
    kernels::cpu::relu_forward<float>(count, x.data<float>(), y_ref.data<float>());
    kernels::cpu::relu_backward<float>(count, y_ref.data<float>(), g.data<float>(), dx_ref.data<float>());
    kernels::cpu::add<float>(count, x.data<float>(), b.data<float>(), sum_ref.data<float>());
    EXPECT_EQ(test::max_abs_diff(y, y_ref), 0.0) << count;
    EXPECT_EQ(test::max_abs_diff(dxo, dx_ref), 0.0) << count;
    EXPECT_EQ(test::max_abs_diff(sum, sum_ref), 0.0) << count;
  }
}

}  // namespace
}  // namespace aslnet
