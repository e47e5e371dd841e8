// --sync-bn: synchronised batch norm across the replicas of a data-parallel run, as
// torch.nn.SyncBatchNorm. SyncBatchNorm gives every BatchNorm2d of a model a BatchNormSync
// (engine/layers/batchnorm_sync.h) that all-reduces through the run's Communicator; the layers then
// normalise with the global batch's statistics in training and compute that batch's gradient
// (engine/layers/batchnorm_sync.cpp). The replica run (run/replica_run.cpp) makes one per replica when
// there are several replicas and --sync-bn is given; with one replica there is nothing to synchronise
// and nothing is installed.
#pragma once

#include <vector>

#include "engine/layers/batchnorm_sync.h"
#include "engine/model.h"
#include "engine/replication/communicator.h"

namespace aslnet {

class BatchNorm2d;

class SyncBatchNorm final : public BatchNormSync {
 public:
  // Installs itself on every BatchNorm2d of `model` (removed again by the destructor).
  SyncBatchNorm(Model& model, Communicator& communicator) : SyncBatchNorm(model.net(), communicator) {}
  // The same for the layers under `net` (a network, or one layer: tests).
  SyncBatchNorm(Layer& net, Communicator& communicator);
  ~SyncBatchNorm() override;
  SyncBatchNorm(const SyncBatchNorm&) = delete;
  SyncBatchNorm& operator=(const SyncBatchNorm&) = delete;

  int replicas() const override { return comm_.size(); }
  // Blocking: the communicator's finish() also completes any gradient bucket already in flight (it
  // completes every collective this rank started), which is harmless: the reducer's own finish()
  // then has less to wait for. All replicas reach each layer's call at the same point of forward or
  // backward, so the collectives stay in the same order on every rank.
  void all_reduce_average(Context& ctx, const Tensor& buffer) override;
  // How many layers it synchronises.
  size_t layers() const { return layers_.size(); }

 private:
  Communicator& comm_;
  std::vector<BatchNorm2d*> layers_;
};

}  // namespace aslnet
