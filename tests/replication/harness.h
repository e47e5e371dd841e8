// What the replication tests share (in-process threads here, MPI ranks in tests/replication_mpi/):
// a few fixed global batches of a toy task, and the same small ResNet trained on them three ways:
// one replica on whole batches, one replica accumulating the shards one after another (the serial
// twin of per-replica batch-norm statistics), and one replica of a data-parallel group on its shard.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "engine/core/device.h"
#include "engine/core/tensor.h"
#include "engine/model.h"
#include "engine/replication/communicator.h"
#include "engine/replication/in_process_ring.h"

namespace aslnet::test {

struct ReplicationCase {
  int64_t steps = 4;         // optimizer steps
  int64_t global_batch = 8;  // images per step over all replicas
  int64_t image_size = 12;
  int64_t classes = 5;
  bool freeze_batch_norm = true;  // batch norm in eval mode (on non-trivial running statistics)
  int64_t accum_steps = 1;        // micro-batches per step for each replica
  Device device = Device::cpu();  // fp32 on a GPU: TF32 off
  // The model: the small ResNet-18, or (true) make_unused_head_model's network, whose auxiliary head
  // backward never reaches.
  bool unused_head = false;
  bool find_unused = false;  // the replicas' reducers count unused gradients as zero (--find-unused)
  // How the in-process communicator all-reduces (--allreduce): for the tests that make the group.
  AllReduceAlgorithm allreduce = AllReduceAlgorithm::Central;
  // ZeRO stage 1 (--zero 1): the replicas' optimizers keep and update only their shard of the state.
  bool zero = false;
  std::string optimizer = "sgd";  // sgd (momentum 0.9) or adamw, both with weight decay
  // The replicas synchronise batch norm (--sync-bn, engine/replication/sync_batch_norm.h): with
  // training-mode batch norm they then match one replica on the whole batch (train_serial(c, 1)).
  bool sync_bn = false;
};

// A small residual network with an unused parameter, the way DDP users meet one: an auxiliary head
// ("aux", a linear layer) that forward runs, but whose output never reaches the loss, so backward never
// runs it and never reports aux.weight and aux.bias. (A ResNet as aslnet builds it has none.)
std::unique_ptr<Model> make_unused_head_model(int64_t classes);

// One replica, `shards` micro-batches per step (shard r of each global batch in turn, gradients
// accumulated): shards = 1 is "one replica on the whole batch". Returns the final parameter arena, and
// in `state` (when given) the final state arena (batch norm's running statistics), both on the CPU.
Tensor train_serial(const ReplicationCase& c, int shards, Tensor* state = nullptr);

// Replica `comm.rank()` of `comm.size()`, training on its shard through the Trainer and a
// GradientReducer. Its weights are initialised with a seed of its own: the broadcast must fix that.
// On a GPU the replica uses `device` whatever the communicator's (replicas may share one GPU).
Tensor train_replica(const ReplicationCase& c, Communicator& comm, Tensor* state = nullptr);
// The weights every serial run starts from.
Tensor initial_weights(const ReplicationCase& c);
// How many gradient buckets train_replica's reducer cuts the model into.
size_t replica_bucket_count(const ReplicationCase& c);

}  // namespace aslnet::test
