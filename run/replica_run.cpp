#include "run/replica_run.h"

#include <algorithm>

#include "engine/checkpoint.h"
#include "engine/core/device.h"
#include "engine/core/error.h"
#include "engine/replication/gradient_reducer.h"
#include "models/resnet.h"

namespace aslnet {

namespace {

LoaderOptions training_loader(const RunDescription& run, const ReplicaPlace& place) {
  LoaderOptions options = run.loader;
  options.batch = run.loader.batch / place.total();
  options.train = true;
  options.threads = place.loader_threads;
  options.shard = place.shard;
  // On a GPU the loader hands over raw pixels (a quarter of the bytes to copy); the GPU normalises them.
  if (place.device.is_cuda()) options.dtype = DType::U8;
  return options;
}

// The lead validates on every validation set (the others wait for it at their next collective).
void add_validation(ReplicaRun& r, const RunDescription& run, const LoaderOptions& train) {
  LoaderOptions options = train;
  options.train = false;
  options.drop_last = false;
  options.shard = ShardSpec{};
  options.source_mix = nullptr;
  options.batch_mix = MixOptions{};
  options.composition = LoaderOptions::Composition{};
  for (const NamedIndex& v : run.val) {
    r.val_loaders.push_back(std::make_unique<Loader>(v.index, options));
    r.val_sets.push_back({v.name, r.val_loaders.back().get()});
  }
}

// The model and its optimizer, fresh or from a checkpoint.
void add_model(ReplicaRun& r, const RunDescription& run, const ReplicaPlace& place) {
  ModelInfo info = run.model;
  // Resuming and fine-tuning take the network from the checkpoint; fine-tuning keeps this run's outputs.
  if (!run.resume.empty()) info = read_checkpoint_meta(run.resume).model;
  if (!run.init_from.empty()) {
    info = read_checkpoint_meta(run.init_from).model;
    info.num_classes = run.model.num_classes;
  }
  try {
    r.model = make_initialised_model(info, r.ctx.rng(), run.dtype, place.device);
    r.optimizer = std::make_unique<Optimizer>(*r.model, run.optimizer);
  } catch (const OutOfMemory& e) {
    const bool from_checkpoint = !run.resume.empty() || !run.init_from.empty();
    throw OutOfMemory(e.message() + (from_checkpoint ? "" : " (hint: a smaller --width)"));
  }
  // The average starts before a resumed checkpoint loads (which restores it) and after fine-tuning's
  // weights load (so that it averages from them).
  if (run.ema > 0) r.optimizer->enable_ema(r.ctx, run.ema);
  if (!run.resume.empty()) {
    r.load_notes = load_checkpoint(run.resume, *r.model, r.optimizer.get()).load_notes;
  } else if (!run.init_from.empty()) {
    load_weights(run.init_from, *r.model, run.reset_head);
    if (run.ema > 0) r.optimizer->enable_ema(r.ctx, run.ema);
  }
}

// Model::setup, with an out-of-memory failure restated with the batch size that failed.
void setup_model(ReplicaRun& r, int64_t batch, int64_t image_size) {
  try {
    r.model->setup(r.ctx, batch, image_size, image_size);
  } catch (const OutOfMemory&) {
    const Device device = r.ctx.device();
    ASLNET_CHECK(false) << "--batch " << batch << " at " << image_size << " px does not fit in the memory of "
                        << device.str() << (device.is_cuda() ? " (" + gpu_name(device.index) + ")" : "")
                        << ": try a smaller --batch, or --accum-steps to keep the effective batch";
  }
}

TrainerOptions trainer_options(const RunDescription& run, const ReplicaRun& r) {
  TrainerOptions options = run.trainer;
  options.reducer = r.reducer.get();
  ScheduleConfig& schedule = options.schedule;
  schedule.warmup_steps = int64_t(run.warmup_epochs * double(r.steps_per_epoch));
  schedule.step_size = std::max<int64_t>(1, int64_t(run.step_epochs * double(r.steps_per_epoch)));
  return options;
}

}  // namespace

std::unique_ptr<ReplicaRun> build_replica_run(const RunDescription& run, const ReplicaPlace& place) {
  ASLNET_CHECK(run.resume.empty() || run.init_from.empty()) << "--resume and --init-from exclude each other";
  ASLNET_CHECK(run.loader.batch % place.total() == 0)
      << "--batch " << run.loader.batch << " is the global batch: it must split evenly over " << place.total()
      << " replicas";
  ASLNET_CHECK(run.zero == 0 || run.zero == 1) << "--zero " << run.zero << ": 0 (off) or 1 (shard the optimizer state)";
  ASLNET_CHECK(run.zero == 0 || !run.trainer.cuda_graph)
      << "--zero 1 does not work with --cuda-graph yet (the weights' all-gather runs after the captured step)";
  auto r = std::make_unique<ReplicaRun>(place.device, run.seed);
  r->ctx.set_allow_tf32(run.tf32);
  r->ctx.set_deterministic(run.deterministic);
  const LoaderOptions train = training_loader(run, place);
  r->train = std::make_unique<Loader>(run.train, train);
  if (place.lead()) add_validation(*r, run, train);
  add_model(*r, run, place);
  setup_model(*r, train.batch, train.image_size);
  if (place.comm != nullptr) {
    const auto bucket = int64_t(run.bucket_mb * double(1 << 20));
    r->reducer =
        std::make_unique<GradientReducer>(*r->model, *place.comm,
                                          ReducerOptions{.bucket_bytes = bucket,
                                                         .first_bucket_bytes = std::min<int64_t>(1 << 20, bucket),
                                                         .find_unused = run.find_unused,
                                                         .zero = run.zero == 1});
    // After any checkpoint has loaded: a resumed run's whole state is sharded again.
    r->reducer->shard_optimizer(*r->optimizer);
    // Alone, a replica's batch is the global batch: --sync-bn has nothing to do.
    if (run.sync_bn && place.comm->size() > 1) r->sync_bn = std::make_unique<SyncBatchNorm>(*r->model, *place.comm);
  }
  // The optimizer's state at the size this replica keeps (its shard with --zero 1), before the first step.
  try {
    r->optimizer->allocate_state();
  } catch (const OutOfMemory& e) {
    throw OutOfMemory(e.message() + " (the optimizer state; hint: a smaller --width, or --zero 1 with replicas)");
  }
  r->steps_per_epoch = r->train->batches_per_epoch() / run.trainer.accum_steps;
  r->trainer = std::make_unique<Trainer>(r->ctx, *r->model, *r->optimizer, trainer_options(run, *r));
  return r;
}

}  // namespace aslnet
