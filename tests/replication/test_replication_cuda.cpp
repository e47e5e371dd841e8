// Replication on a GPU: replicas sharing one GPU (the in-process communicator's events and averaging
// kernel, the reducer's communication stream), NCCL with one rank, and NCCL across GPUs where there
// are two or more. Each run must end with the weights of one replica on the whole batch (frozen batch
// norm, fp32 without TF32). Skips without a GPU (fails instead under ASLNET_REQUIRE_GPU=1); the
// multi-GPU case skips with "needs 2 or more GPUs".
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

void expect_match(const std::vector<Device>& devices, bool nccl, double tolerance) {
  test::ReplicationCase c;
  c.device = Device::cuda(0);
  const Tensor whole = test::train_serial(c, 1);
  ProcessGroup group;
  auto comms = group.communicators(devices, nccl);
  const int n = int(comms.size());
  ::testing::Test::RecordProperty("communicator", comms[0]->name());
  std::vector<Tensor> weights(static_cast<size_t>(n));
  run_replica_threads(comms, [&](int r) {
    test::ReplicationCase mine = c;
    mine.device = devices[size_t(r)];
    weights[size_t(r)] = test::train_replica(mine, *comms[size_t(r)]);
  });
  for (int r = 0; r < n; ++r) {
    const double err = test::relative_error(weights[size_t(r)], whole);
    EXPECT_LE(err, tolerance) << comms[0]->name() << ", replica " << r << " of " << n;
    EXPECT_EQ(std::memcmp(weights[size_t(r)].raw(), weights[0].raw(), whole.bytes()), 0) << "replica " << r;
  }
  EXPECT_GT(test::relative_error(whole, test::initial_weights(c)), 1e-3) << "the weights did not move";
}

TEST(ReplicationCuda, ReplicasSharingOneGpuMatchOneReplica) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  // cuDNN picks algorithms per batch size, so the shards' convolutions round differently from the
  // whole batch's: 1e-5 still holds after a few steps in fp32.
  expect_match({Device::cuda(0), Device::cuda(0)}, false, 1e-5);
  expect_match({Device::cuda(0), Device::cuda(0), Device::cuda(0), Device::cuda(0)}, false, 1e-5);
}

TEST(ReplicationCuda, NcclWithOneRankMatchesOneReplica) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  if (!built_with_nccl()) ASLNET_SKIP_OR_FAIL("ASLNET_REQUIRE_GPU", "built without NCCL");
  expect_match({Device::cuda(0)}, true, 1e-5);
}

TEST(ReplicationCuda, NcclAcrossGpusMatchesOneReplica) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  if (gpu_count() < 2) GTEST_SKIP() << "needs 2 or more GPUs (found " << gpu_count() << ")";
  std::vector<Device> devices;
  for (int i = 0; i < std::min(gpu_count(), 4); ++i) devices.push_back(Device::cuda(i));
  expect_match(devices, true, 1e-5);
}

// --sync-bn on a GPU (the CUDA kernels of kernels/norm_sync.h, all-reduced in stream order): replicas
// with training-mode batch norm end with the weights and running statistics of one replica on the
// whole batch, and with equal bits among themselves.
void expect_sync_bn_match(const std::vector<Device>& devices, bool nccl) {
  test::ReplicationCase c;
  c.device = Device::cuda(0);
  c.freeze_batch_norm = false;
  c.sync_bn = true;
  Tensor whole_state;
  const Tensor whole = test::train_serial(c, 1, &whole_state);
  ProcessGroup group;
  auto comms = group.communicators(devices, nccl);
  const int n = int(comms.size());
  std::vector<Tensor> weights(static_cast<size_t>(n)), states(static_cast<size_t>(n));
  run_replica_threads(comms, [&](int r) {
    test::ReplicationCase mine = c;
    mine.device = devices[size_t(r)];
    weights[size_t(r)] = test::train_replica(mine, *comms[size_t(r)], &states[size_t(r)]);
  });
  for (int r = 0; r < n; ++r) {
    EXPECT_LE(test::relative_error(weights[size_t(r)], whole), 1e-5) << comms[0]->name() << ", replica " << r;
    EXPECT_LE(test::relative_error(states[size_t(r)], whole_state), 1e-5) << comms[0]->name() << ", replica " << r;
    EXPECT_TRUE(test::same_bytes(weights[size_t(r)], weights[0])) << "replica " << r;
    EXPECT_TRUE(test::same_bytes(states[size_t(r)], states[0])) << "replica " << r;
  }
  EXPECT_GT(test::relative_error(whole, test::initial_weights(c)), 1e-3) << "the weights did not move";
}

TEST(ReplicationCuda, SyncBatchNormReplicasSharingOneGpuMatchOneReplicaOnTheWholeBatch) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  expect_sync_bn_match({Device::cuda(0), Device::cuda(0)}, false);
  expect_sync_bn_match({Device::cuda(0), Device::cuda(0), Device::cuda(0), Device::cuda(0)}, false);
}

TEST(ReplicationCuda, SyncBatchNormNcclAcrossGpusMatchesOneReplicaOnTheWholeBatch) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  if (gpu_count() < 2) GTEST_SKIP() << "needs 2 or more GPUs (found " << gpu_count() << ")";
  std::vector<Device> devices;
  for (int i = 0; i < std::min(gpu_count(), 4); ++i) devices.push_back(Device::cuda(i));
  expect_sync_bn_match(devices, true);
}

}  // namespace
}  // namespace aslnet
