// engine/core: shapes, tensors and views, bf16 rounding, devices, buffers, the random generator, errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "engine/core/buffer.h"
#include "engine/core/context.h"
#include "engine/core/rng.h"
#include "engine/core/tensor.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

TEST(Shape, NumelAndText) {
  const Shape s{4, 64, 64, 3};
  EXPECT_EQ(s.numel(), 4 * 64 * 64 * 3);
  EXPECT_EQ(s.str(), "[4, 64, 64, 3]");
  EXPECT_EQ(Shape{}.numel(), 1);  // a scalar
  EXPECT_THROW((Shape{1, 2, 3, 4, 5}), Error);
}

TEST(Tensor, ViewsShareMemoryWithTheirArena) {
  Tensor arena = Tensor::zeros(Shape{10}, DType::F32);
  Tensor view = arena.slice(4, Shape{2, 3});
  view.data<float>()[0] = 7.0f;
  EXPECT_EQ(arena.data<float>()[4], 7.0f);
  EXPECT_THROW(arena.slice(5, Shape{6}), Error);
  EXPECT_THROW(arena.data<double>(), Error);
  EXPECT_THROW(arena.reshape(Shape{3, 3}), Error);
  Tensor copy = arena.clone();
  copy.data<float>()[4] = 1.0f;
  EXPECT_EQ(arena.data<float>()[4], 7.0f);
}

TEST(Tensor, HostBuffersAreAligned) {
  for (size_t bytes : {1, 3, 64, 1000}) {
    Buffer b = Buffer::host(bytes);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % 64, 0u);
    Buffer moved = std::move(b);
    EXPECT_EQ(b.data(), nullptr);
    EXPECT_EQ(moved.bytes(), bytes);
  }
}

TEST(BFloat16, RoundsToNearestEven) {
  EXPECT_EQ(to_bf16(1.0f).bits, 0x3f80);
  EXPECT_EQ(from_bf16(to_bf16(1.0f)), 1.0f);
  // 1 + 2^-8 is exactly halfway between two bf16 values: ties go to the even one (1.0).
  EXPECT_EQ(from_bf16(to_bf16(1.0f + std::ldexp(1.0f, -8))), 1.0f);
  EXPECT_EQ(from_bf16(to_bf16(1.0f + 3 * std::ldexp(1.0f, -8))), 1.0f + std::ldexp(1.0f, -6));
  EXPECT_TRUE(std::isnan(from_bf16(to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_TRUE(std::isinf(from_bf16(to_bf16(std::numeric_limits<float>::infinity()))));
}

TEST(Device, ParsesNamesAndRejectsBadOnes) {
  EXPECT_EQ(Device::parse("cpu"), Device::cpu());
  EXPECT_THROW(Device::parse("gpu"), Error);
  EXPECT_THROW(Device::parse("cuda:x"), Error);
  if (!kBuiltWithCuda) return;  // a CPU-only build refuses every CUDA device (CpuOnlyBuild.RefusesEveryOtherDevice)
  EXPECT_EQ(Device::parse("cuda"), Device::cuda(0));
  EXPECT_EQ(Device::parse("cuda:3"), Device::cuda(3));
  EXPECT_EQ(Device::cuda(2).str(), "cuda:2");
}

TEST(Rng, SameSeedSameStreamDifferentSeedDifferentStream) {
  Rng a(5), b(5), c(6), d(5, 1);
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.next_u64();
    EXPECT_EQ(x, b.next_u64());
    EXPECT_NE(x, c.next_u64());
    EXPECT_NE(x, d.next_u64());
  }
  double sum = 0, sq = 0;
  Rng r(1);
  for (int i = 0; i < 100000; ++i) {
    const double v = r.normal();
    sum += v;
    sq += v * v;
  }
  EXPECT_NEAR(sum / 1e5, 0.0, 0.02);
  EXPECT_NEAR(sq / 1e5, 1.0, 0.02);
}

TEST(Error, ChecksNameTheirFileAndLine) {
  try {
    ASLNET_CHECK(1 + 1 == 3) << "arithmetic is off by " << 1;
    FAIL() << "no throw";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("arithmetic is off by 1"), std::string::npos) << what;
    EXPECT_NE(what.find("tests/core/test_core.cpp:"), std::string::npos) << what;
    EXPECT_NE(what.find("[1 + 1 == 3]"), std::string::npos) << what;
    // What users read: the message alone.
    EXPECT_EQ(e.message(), "arithmetic is off by 1");
  }
  try {
    ASLNET_CHECK(false);
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("[false]"), std::string::npos) << "a check without text keeps its place";
  }
}

TEST(Gpu, DeviceTensorRoundTrip) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  Tensor host = Tensor::empty(Shape{3, 5}, DType::F32);
  for (int i = 0; i < 15; ++i) host.data<float>()[i] = float(i) * 0.5f;
  Tensor device = host.to(Device::cuda(0));
  EXPECT_TRUE(device.device().is_cuda());
  Tensor back = device.to(Device::cpu());
  EXPECT_EQ(std::memcmp(back.raw(), host.raw(), host.bytes()), 0);
  Context ctx(Device::cuda(0));
  EXPECT_NE(ctx.stream(), nullptr);
  EXPECT_NE(ctx.cudnn(), nullptr);
}

// An allocation that cannot fit is its own error type (callers turn it into a --batch hint), still an Error
// with one line that names the device and the size.
TEST(Gpu, AnAllocationThatCannotFitIsOutOfDeviceMemory) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  const size_t petabyte = size_t(1) << 50;
  try {
    Buffer::device(petabyte, 0);
    ADD_FAILURE() << "a petabyte fitted on cuda:0";
  } catch (const OutOfDeviceMemory& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("cuda:0"), std::string::npos) << what;
    EXPECT_NE(what.find(std::to_string(petabyte)), std::string::npos) << what;
  }
  // The device still works afterwards.
  EXPECT_NO_THROW(Buffer::device(1024, 0));
}

// A host allocation that cannot be made is an OutOfMemory (which callers restate with the flag to lower),
// not a crash or a plain Error.
TEST(Core, AHostAllocationThatCannotFitIsOutOfMemory) {
  try {
    (void)Buffer::host(size_t(1) << 62);
    FAIL() << "a 4 EiB allocation succeeded";
  } catch (const OutOfMemory& e) {
    EXPECT_EQ(dynamic_cast<const OutOfDeviceMemory*>(&e), nullptr);
    EXPECT_NE(e.message().find("out of host memory allocating 4611686018427387904 bytes"), std::string::npos)
        << e.message();
  }
}

TEST(Core, OutOfDeviceMemoryIsAnErrorWithItsPlace) {
  try {
    throw_out_of_device_memory(__FILE__, __LINE__, "out of GPU memory on cuda:3 allocating 12 bytes");
  } catch (const Error& e) {
    EXPECT_NE(dynamic_cast<const OutOfDeviceMemory*>(&e), nullptr);
    const std::string what = e.what();
    EXPECT_NE(what.find("allocating 12 bytes"), std::string::npos) << what;
    EXPECT_NE(what.find("tests/core/test_core.cpp:"), std::string::npos) << what;
  }
}

TEST(Gpu, NoGpuMeansZeroDevicesNotAnError) {
  // Whatever the machine, asking never throws; without a driver the answer is 0.
  EXPECT_GE(gpu_count(), 0);
}

}  // namespace
}  // namespace aslnet
