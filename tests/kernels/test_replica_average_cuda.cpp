// The replicas' average on one GPU (kernels/replica_average.h) against its CPU twin, on fresh random
// buffers for 2, 3 and 5 replicas, whole buffers and sub-ranges with odd ends: the results must be
// bit-identical (both sum in replica order in fp32 and scale once), and elements outside the range
// untouched. Skips without a GPU (fails instead under ASLNET_REQUIRE_GPU=1).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "engine/core/context.h"
#include "kernels/replica_average.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

TEST(ReplicaAverageCuda, MatchesCpuBitForBit) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  Context ctx(Device::cuda(0));
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  const int64_t count = 1000003;
  for (int n : {2, 3, 5}) {
    for (auto [begin, end] : std::vector<std::pair<int64_t, int64_t>>{{0, count}, {7, 77777}, {count - 1, count}}) {
      SCOPED_TRACE(std::to_string(n) + " replicas, range [" + std::to_string(begin) + ", " + std::to_string(end) + ")");
      std::vector<Tensor> host(static_cast<size_t>(n)), device(static_cast<size_t>(n));
      kernels::ReplicaBuffers on_host, on_device;
      on_host.count = on_device.count = n;
      for (int r = 0; r < n; ++r) {
        host[size_t(r)] = test::random_f32(Shape{count}, rng);
        device[size_t(r)] = host[size_t(r)].to(ctx.device());
        on_host.data[r] = host[size_t(r)].raw();
        on_device.data[r] = device[size_t(r)].raw();
      }
      const Tensor before = host[0].clone();
      kernels::cpu::average_replicas<float>(on_host, begin, end);
      kernels::cuda::average_replicas(ctx.stream(), on_device, begin, end);
      ctx.synchronize();
      for (int r = 0; r < n; ++r) {
        const Tensor back = device[size_t(r)].to(Device::cpu());
        ASSERT_EQ(std::memcmp(back.raw(), host[size_t(r)].raw(), host[size_t(r)].bytes()), 0) << "replica " << r;
      }
      if (begin > 0) {
        EXPECT_EQ(host[0].data<float>()[begin - 1], before.data<float>()[begin - 1]);
      }
    }
  }
}

}  // namespace
}  // namespace aslnet
