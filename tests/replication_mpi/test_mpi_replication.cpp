// The replication must-haves across processes: run under `mpirun -np 2` (ctest does), each rank
// trains its shard through the MPI communicator and compares its weights with the serial references
// it computes itself. Run alone (one process), it skips.
#include <gtest/gtest.h>

#include "engine/replication/launch.h"
#include "tests/replication/harness.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

ProcessGroup* g_group = nullptr;

void expect_ranks_match(const test::ReplicationCase& c, const Tensor& reference) {
  if (!g_group->multi_process()) ASLNET_SKIP_OR_FAIL("ASLNET_REQUIRE_MPI", "not started by mpirun -np 2 or more");
  auto comms = g_group->communicators({Device::cpu()});
  ASSERT_EQ(comms[0]->name(), "mpi");
  const Tensor mine = test::train_replica(c, *comms[0]);
  const double err = test::relative_error(mine, reference);
  EXPECT_LE(err, 1e-5) << "rank " << g_group->rank() << " of " << g_group->size();
  EXPECT_GT(test::relative_error(reference, test::initial_weights(c)), 1e-3) << "the weights did not move";
  // All ranks hold the same weights: the sum over ranks of (mine - rank 0's) is zero.
  Tensor first = mine.clone();
  comms[0]->broadcast(first, 0, nullptr);
  EXPECT_EQ(test::max_abs_diff(mine, first), 0.0);
}

TEST(MpiReplication, FrozenBatchNormRanksMatchOneReplicaOnTheWholeBatch) {
  const test::ReplicationCase c;
  expect_ranks_match(c, test::train_serial(c, 1));
}

TEST(MpiReplication, TrainingBatchNormRanksMatchASerialRunWithPerShardStatistics) {
  test::ReplicationCase c;
  c.freeze_batch_norm = false;
  c.accum_steps = 2;  // and only the last micro-batch all-reduces
  expect_ranks_match(c, test::train_serial(c, g_group->size()));
}

// --sync-bn across processes: batch norm's statistics and backward sums go over MPI (f64 buffers), and
// the ranks end with the weights and running statistics of one replica on the whole batch.
TEST(MpiReplication, SyncBatchNormRanksMatchOneReplicaOnTheWholeBatch) {
  test::ReplicationCase c;
  c.freeze_batch_norm = false;
  c.sync_bn = true;
  c.accum_steps = 2;  // every micro-batch synchronises its own statistics
  Tensor whole_state;
  const Tensor whole = test::train_serial(c, 1, &whole_state);
  if (!g_group->multi_process()) ASLNET_SKIP_OR_FAIL("ASLNET_REQUIRE_MPI", "not started by mpirun -np 2 or more");
  auto comms = g_group->communicators({Device::cpu()});
  Tensor state;
  const Tensor mine = test::train_replica(c, *comms[0], &state);
  EXPECT_LE(test::relative_error(mine, whole), 1e-5) << "rank " << g_group->rank();
  EXPECT_LE(test::relative_error(state, whole_state), 1e-5) << "rank " << g_group->rank();
}

// --zero 1's collectives over MPI (MPI_Ireduce_scatter_block, whose in-place result the communicator
// moves to the rank's own chunk, and MPI_Iallgather): small integers, so the sums are exact.
TEST(MpiReplication, ReduceScatterAverageAndAllGatherPutEachRanksChunkInPlace) {
  if (!g_group->multi_process()) ASLNET_SKIP_OR_FAIL("ASLNET_REQUIRE_MPI", "not started by mpirun -np 2 or more");
  auto comms = g_group->communicators({Device::cpu()});
  Communicator& comm = *comms[0];
  const int n = comm.size(), rank = comm.rank();
  for (const int64_t chunk : {int64_t(1), int64_t(7), int64_t(100'003)}) {
    Tensor x = Tensor::zeros(Shape{chunk * n}, DType::F32);
    for (int64_t i = 0; i < chunk * n; ++i) x.data<float>()[i] = float((i * 7 + rank * 13) % 101 - 50);
    comm.start_reduce_scatter_average(x, nullptr);
    comm.finish(nullptr);
    for (int64_t i = rank * chunk; i < (rank + 1) * chunk; ++i) {
      double sum = 0;
      for (int q = 0; q < n; ++q) sum += double((i * 7 + q * 13) % 101 - 50);
      ASSERT_EQ(x.data<float>()[i], float(sum) * (1.0f / float(n))) << "rank " << rank << ", value " << i;
    }
    Tensor y = Tensor::zeros(Shape{chunk * n}, DType::F32);
    for (int64_t i = 0; i < chunk; ++i) y.data<float>()[rank * chunk + i] = float(rank * 1000 + i % 997);
    comm.all_gather(y, nullptr);
    for (int owner = 0; owner < n; ++owner)
      for (int64_t i = 0; i < chunk; ++i)
        ASSERT_EQ(y.data<float>()[owner * chunk + i], float(owner * 1000 + i % 997)) << "rank " << rank;
  }
}

// --zero 1 across processes: the ranks' sharded optimizers reach the single replica's weights.
TEST(MpiReplication, ZeroShardedRanksMatchOneReplicaOnTheWholeBatch) {
  for (const char* optimizer : {"sgd", "adamw"}) {
    test::ReplicationCase c;
    c.zero = true;
    c.optimizer = optimizer;
    expect_ranks_match(c, test::train_serial(c, 1));
  }
}

}  // namespace
}  // namespace aslnet

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  aslnet::ProcessGroup group;  // MPI_Init under mpirun
  aslnet::g_group = &group;
  // Only rank 0 prints gtest's report (the others' failures still set their exit status).
  if (group.rank() != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  return RUN_ALL_TESTS();
}
