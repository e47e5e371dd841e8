// --zero 1 on a GPU: replicas sharing one GPU (the in-process group's default reduce-scatter and
// all-gather, in stream order) and NCCL ranks (ncclReduceScatter, ncclAllGather) with sharded optimizer
// state reach the weights of plain replication on the same devices, bit-identical across replicas, for
// SGD with momentum and AdamW, with 2 and 3 replicas (3: buckets that do not split evenly). Skips without
// a GPU (fails instead under ASLNET_REQUIRE_GPU=1); the NCCL case needs 2 or more GPUs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "engine/replication/launch.h"
#include "engine/replication/replica_threads.h"
#include "tests/replication/harness.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

std::vector<Tensor> train_on(const std::vector<Device>& devices, bool nccl, test::ReplicationCase c) {
  ProcessGroup group;
  auto comms = group.communicators(devices, nccl);
  std::vector<Tensor> weights(comms.size());
  run_replica_threads(comms, [&](int r) {
    test::ReplicationCase mine = c;
    mine.device = devices[size_t(r)];
    weights[size_t(r)] = test::train_replica(mine, *comms[size_t(r)]);
  });
  return weights;
}

void expect_zero_matches_plain(const std::vector<Device>& devices, bool nccl) {
  for (const char* optimizer : {"sgd", "adamw"}) {
    SCOPED_TRACE(std::string(optimizer) + ", " + std::to_string(devices.size()) + " replicas");
    test::ReplicationCase c;
    c.device = devices[0];
    c.optimizer = optimizer;
    const std::vector<Tensor> plain = train_on(devices, nccl, c);
    c.zero = true;
    const std::vector<Tensor> zero = train_on(devices, nccl, c);
    for (size_t r = 0; r < zero.size(); ++r) {
      EXPECT_LE(test::relative_error(zero[r], plain[0]), 1e-6) << "replica " << r;
      EXPECT_TRUE(test::same_bytes(zero[r], zero[0])) << "replica " << r << " differs from replica 0";
    }
    EXPECT_GT(test::relative_error(plain[0], test::initial_weights(c)), 1e-3) << "the weights did not move";
  }
}

TEST(ZeroCuda, ReplicasSharingOneGpuMatchPlainReplication) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  expect_zero_matches_plain({Device::cuda(0), Device::cuda(0)}, false);
  expect_zero_matches_plain({Device::cuda(0), Device::cuda(0), Device::cuda(0)}, false);
}

TEST(ZeroCuda, NcclAcrossGpusMatchesPlainReplication) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  if (!built_with_nccl()) ASLNET_SKIP_OR_FAIL("ASLNET_REQUIRE_GPU", "built without NCCL");
  if (gpu_count() < 2) GTEST_SKIP() << "needs 2 or more GPUs (found " << gpu_count() << ")";
  std::vector<Device> devices;
  for (int i = 0; i < std::min(gpu_count(), 3); ++i) devices.push_back(Device::cuda(i));
  expect_zero_matches_plain(devices, true);
}

}  // namespace
}  // namespace aslnet
