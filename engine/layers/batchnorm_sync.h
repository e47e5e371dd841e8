// How a BatchNorm2d reaches the other replicas under --sync-bn (torch.nn.SyncBatchNorm): an averaging
// all-reduce of a small per-channel buffer, once in each training forward (the batch's sums, so every
// replica normalises with the global batch's mean and variance) and once in each backward (the sums
// that batch-norm backward needs, so the input gradient is the global batch's). kernels/norm_sync.h
// has the arithmetic; engine/replication/sync_batch_norm.h connects this to a Communicator.
//
// An interface of its own rather than the Communicator itself: the layer needs one blocking
// collective and the replica count, and stays free of the replication module and of CUDA's types.
#pragma once

#include "engine/core/context.h"
#include "engine/core/tensor.h"

namespace aslnet {

class BatchNormSync {
 public:
  virtual ~BatchNormSync() = default;
  // The replicas that share the statistics (more than one: with one, no layer is given a sync).
  virtual int replicas() const = 0;
  // Replaces `buffer` (on the layer's device: f64 on the CPU, f32 on a GPU) by its average over the
  // replicas. On return it is final for the host (CPU) or for work queued next on ctx's stream (GPU).
  // Every replica's layers call it in the same order, as all collectives require.
  virtual void all_reduce_average(Context& ctx, const Tensor& buffer) = 0;
};

}  // namespace aslnet
