// The run builder: turns a training run's description (data, model, optimizer, schedule, device and
// the replica's place among the run's replicas) into everything one replica trains with: its Context,
// its shard's loader, the validation loaders (the lead replica's), the model (fresh, resumed or
// initialised from a checkpoint), the optimizer, the gradient reducer and the Trainer. aslnet train
// (app/train.cpp) fills the description from its flags and calls it once per replica; tests build runs
// with it as the command line does.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "data/dataset_index.h"
#include "data/loader.h"
#include "engine/model.h"
#include "engine/optimizer.h"
#include "engine/replication/communicator.h"
#include "engine/replication/sync_batch_norm.h"
#include "engine/trainer.h"

namespace aslnet {

struct RunDescription {
  // Data: the training index (every replica reads its shard of each epoch) and the validation sets.
  DatasetIndex train;
  std::vector<NamedIndex> val;
  // The loader of the training data for the whole run: `batch` is the global batch (split evenly over
  // the replicas); shard, threads and dtype are set per replica. Validation loaders derive from it
  // (evaluation transform, dataset order, no mixing or composition).
  LoaderOptions loader;
  // Model: a fresh `model`, or the network and weights of `resume` (a training checkpoint, optimizer
  // state included) or of `init_from` (fine-tuning: weights only; `reset_head` re-initialises the
  // classifier), always with `model.num_classes` outputs.
  ModelInfo model;
  std::string resume, init_from;
  bool reset_head = false;
  DType dtype = DType::F32;  // the compute type: f32, or bf16 mixed precision (GPU)
  OptimizerConfig optimizer;
  double ema = 0.0;  // decay of the moving average of the weights; 0: none
  // The trainer's options; its schedule's warm-up and step length are set from the two below, in
  // epochs, once the steps of an epoch are known.
  TrainerOptions trainer;
  double warmup_epochs = 0.0, step_epochs = 30.0;
  double bucket_mb = 25.0;   // gradient all-reduce buckets (the first is at most 1 MiB)
  bool find_unused = false;  // a parameter without a gradient counts as zero (ReducerOptions::find_unused)
  bool sync_bn = false;      // batch norm's training statistics over all replicas (--sync-bn)
  // ZeRO stage 1 (--zero 1): the optimizer state sharded over the replicas (ReducerOptions::zero); 0: off.
  int zero = 0;
  uint64_t seed = 0;
  bool tf32 = false, deterministic = false;
};

// Where one replica stands in the run.
struct ReplicaPlace {
  Device device = Device::cpu();
  ShardSpec shard;               // among all replicas of the run
  Communicator* comm = nullptr;  // null for a single replica
  int loader_threads = 0;
  bool lead() const { return shard.global_replica() == 0; }
  int total() const { return shard.total_replicas(); }
};

// Everything one replica trains with, built in this order and torn down in reverse.
struct ReplicaRun {
  Context ctx;
  std::unique_ptr<Loader> train;
  std::vector<std::unique_ptr<Loader>> val_loaders;  // the lead's; none on the other replicas
  std::vector<ValidationSet> val_sets;
  std::unique_ptr<Model> model;
  std::unique_ptr<Optimizer> optimizer;
  std::unique_ptr<GradientReducer> reducer;  // with several replicas
  std::unique_ptr<SyncBatchNorm> sync_bn;    // with several replicas and --sync-bn
  std::unique_ptr<Trainer> trainer;
  std::vector<std::string> load_notes;  // what loading the checkpoint had to say
  int64_t steps_per_epoch = 0;

  ReplicaRun(Device device, uint64_t seed) : ctx(device, seed) {}
};

// Builds one replica. Errors are one line and name the flag or file (a batch that does not fit in the
// GPU's memory: --batch, with a hint).
std::unique_ptr<ReplicaRun> build_replica_run(const RunDescription& run, const ReplicaPlace& place);

}  // namespace aslnet
