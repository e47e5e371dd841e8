// Whether this build and machine can run the GPU tests. In a CPU-only build (ASLNET_CUDA off) the GPU
// test files (*_cuda.cpp) are not compiled: this test stands for them, so that ASLNET_REQUIRE_GPU=1
// fails there ("built without CUDA") rather than passing with the GPU tests missing. With CUDA it is
// one more GPU test: it skips without a GPU and passes with one.
#include <gtest/gtest.h>

#include "engine/core/device.h"
#include "tests/test_util.h"

namespace aslnet {

TEST(GpuBuild, CanUseAGpu) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  EXPECT_GT(gpu_count(), 0);
}

// A CPU-only build names no GPU: a CUDA device is refused with the one line that says how to get one.
TEST(CpuOnlyBuild, RefusesEveryOtherDevice) {
  if (kBuiltWithCuda) GTEST_SKIP() << "built with CUDA";
  EXPECT_EQ(gpu_count(), 0);
  for (const char* text : {"cuda", "cuda:1"}) {
    try {
      Device::parse(text);
      ADD_FAILURE() << text << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.message(), kNoGpuSupport);
    }
  }
  EXPECT_THROW(Device::cuda(0), Error);
  EXPECT_EQ(Device::parse("cpu"), Device::cpu());
}

}  // namespace aslnet
