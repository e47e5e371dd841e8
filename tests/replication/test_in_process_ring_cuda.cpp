// The GPU twin of test_in_process_ring.cpp: replicas sharing one GPU (--devices 0,0) refuse
// `--allreduce ring` with a message saying what to use instead (the ring is implemented for CPU
// replicas only; see in_process_ring.h), through the path `aslnet train` takes (ProcessGroup). Skips
// without a GPU (fails instead under ASLNET_REQUIRE_GPU=1).
#include <gtest/gtest.h>

#include <string>

#include "engine/replication/launch.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

TEST(InProcessRingCuda, ReplicasSharingOneGpuRefuseTheRingWithAMessage) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  ProcessGroup group;
  try {
    group.communicators({Device::cuda(0), Device::cuda(0)}, false, AllReduceAlgorithm::Ring);
    FAIL() << "--allreduce ring accepted on a GPU";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--allreduce ring is implemented for CPU replicas only"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("use --allreduce central"), std::string::npos) << e.what();
  }
  // The central sum is still there, and is the default.
  EXPECT_EQ(group.communicators({Device::cuda(0), Device::cuda(0)}).size(), 2u);
}

}  // namespace
}  // namespace aslnet
