// aslnet train: trains a ResNet on one or more sources (folders of class folders in the Kaggle layout,
// app/train_data.h), validating on a split of each (grouped by default: near-duplicate video frames
// never straddle the split) and on --val-dir sources, each reported by name. Writes OUT/last.safetensors (every
// --checkpoint-every epochs, at the end, and on Ctrl-C), OUT/best.safetensors (best validation accuracy), OUT/log.jsonl
// and OUT/validation-files.txt (the held-out images, one path a line). A non-finite loss stops the run and keeps the
// last good checkpoint.
//
// Data parallelism (engine/replication/): --devices 0,1 (GPUs) or --replicas N (CPU) train N replicas
// from this one process, one thread each; under mpirun every process is one replica. --batch is the
// global batch, split evenly; each replica reads its shard of every epoch. Replica 0 of rank 0 (the
// lead) validates, logs and writes the checkpoints.
#include "app/train.h"

#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include "app/commands.h"
#include "app/device_options.h"
#include "app/progress.h"
#include "app/train_data.h"
#include "app/train_recipe.h"
#include "data/augment_policy.h"
#include "data/classes.h"
#include "data/dataset_index.h"
#include "data/loader.h"
#include "engine/checkpoint.h"
#include "engine/ema_weights.h"
#include "engine/replication/launch.h"
#include "engine/replication/replica_threads.h"
#include "engine/trainer.h"
#include "models/resnet.h"

namespace aslnet::app {

namespace {

std::atomic<bool> g_interrupted{false};
void on_sigint(int) {
  g_interrupted = true;
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process at once
}

nlohmann::json eval_json(const EvalResult& r) {
  return {{"loss", r.loss}, {"accuracy", r.accuracy()}, {"count", r.count}};
}

// " (kaggle 95.0%, rfasl 20.1%)": each validation set's accuracy.
std::string sets_text(const std::vector<std::pair<std::string, EvalResult>>& sets) {
  std::string text = " (";
  for (size_t i = 0; i < sets.size(); ++i)
    text += fmt::format("{}{} {:.1f}%", i ? ", " : "", sets[i].first, 100.0 * sets[i].second.accuracy());
  return text + ")";
}

nlohmann::json sets_json(const std::vector<std::pair<std::string, EvalResult>>& sets) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, result] : sets) out[name] = eval_json(result);
  return out;
}

nlohmann::json sources_json(const RunData& data) {
  nlohmann::json out = nlohmann::json::array();
  for (size_t s = 0; s < data.train_sources.size(); ++s)
    out.push_back({{"name", data.train_sources[s].name},
                   {"images", data.train_sizes[s]},
                   {"per_epoch", data.mix ? data.mix->draws()[s] : data.train_sizes[s]}});
  return out;
}

// Where one replica stands in the run.
struct ReplicaPlace {
  ShardSpec shard;               // among all replicas of the run
  Communicator* comm = nullptr;  // null for a single replica
  bool lead() const { return shard.global_replica() == 0; }
  int total() const { return shard.total_replicas(); }
};

void train_replica(const TrainOptions& o, const RunData& data, Device device, DType dtype, const ReplicaPlace& place,
                   int loader_threads) {
  const bool lead = place.lead();
  Context ctx(device, o.seed);
  ctx.set_allow_tf32(o.tf32);
  ctx.set_deterministic(o.deterministic);

  LoaderOptions train_opts;
  train_opts.batch = o.batch / place.total();
  train_opts.image_size = o.image_size;
  train_opts.train = true;
  train_opts.seed = o.seed;
  train_opts.threads = loader_threads;
  train_opts.shard = place.shard;
  // On a GPU the loader hands over raw pixels (a quarter of the bytes to copy); the GPU normalises them.
  if (device.is_cuda()) train_opts.dtype = DType::U8;
  train_opts.augment = o.no_augment ? augment_policy("none") : o.augment;
  if (o.no_crop) train_opts.augment.random_resized_crop = false;
  if (o.no_flip) train_opts.augment.flip = false;
  if (!o.no_augment) train_opts.batch_mix = o.mix;
  train_opts.source_mix = data.mix;
  if (!o.no_augment) train_opts.composition = composition_plan(o, data);
  Loader train_loader(data.train, train_opts);
  // The lead validates on every validation set (the others wait for it at their next collective).
  std::vector<std::unique_ptr<Loader>> val_loaders;
  std::vector<ValidationSet> val_sets;
  if (lead) {
    LoaderOptions val_opts = train_opts;
    val_opts.train = false;
    val_opts.drop_last = false;
    val_opts.shard = ShardSpec{};
    val_opts.source_mix = nullptr;
    val_opts.batch_mix = MixOptions{};
    val_opts.composition = LoaderOptions::Composition{};
    for (const NamedIndex& v : data.val) {
      val_loaders.push_back(std::make_unique<Loader>(v.index, val_opts));
      val_sets.push_back({v.name, val_loaders.back().get()});
    }
  }

  // Model and optimizer, fresh or from a checkpoint.
  ModelInfo info{o.arch, o.stem, o.width, int64_t(asl_classes().size()), 3};
  // Resuming and fine-tuning take the network from the checkpoint; fine-tuning keeps 29 outputs.
  if (!o.resume.empty()) info = read_checkpoint_meta(o.resume).model;
  if (!o.init_from.empty()) {
    info = read_checkpoint_meta(o.init_from).model;
    info.num_classes = int64_t(asl_classes().size());
  }
  auto model = make_initialised_model(info, ctx.rng(), dtype, device);
  OptimizerConfig opt_config{.kind = o.optimizer,
                             .momentum = o.momentum,
                             .nesterov = o.nesterov,
                             .weight_decay = o.weight_decay,
                             .decay_norm_and_bias = !o.no_decay_norm_bias};
  Optimizer optimizer(*model, opt_config);
  // The average starts before a resumed checkpoint loads (which restores it) and after fine-tuning's
  // weights load (so that it averages from them).
  if (o.ema > 0) optimizer.enable_ema(ctx, o.ema);
  std::vector<std::string> load_notes;
  if (!o.resume.empty()) {
    load_notes = load_checkpoint(o.resume, *model, &optimizer).load_notes;
  } else if (!o.init_from.empty()) {
    load_weights(o.init_from, *model, o.reset_head);
    if (o.ema > 0) optimizer.enable_ema(ctx, o.ema);
  }
  setup_or_explain(ctx, *model, train_opts.batch, o.image_size);
  std::unique_ptr<GradientReducer> reducer;
  if (place.comm != nullptr)
    reducer = std::make_unique<GradientReducer>(
        *model, *place.comm,
        ReducerOptions{.bucket_bytes = int64_t(o.bucket_mb * double(1 << 20)),
                       .first_bucket_bytes = std::min<int64_t>(1 << 20, int64_t(o.bucket_mb * double(1 << 20)))});

  TrainerOptions trainer_opts;
  trainer_opts.epochs = o.epochs;
  trainer_opts.accum_steps = o.accum_steps;
  trainer_opts.label_smoothing = o.label_smoothing;
  trainer_opts.cuda_graph = o.cuda_graph;
  trainer_opts.u8_normalization = train_opts.norm;
  trainer_opts.freeze_batch_norm = o.freeze_bn;
  trainer_opts.reducer = reducer.get();
  trainer_opts.log_every = o.log_every;
  trainer_opts.stop_after_steps = o.stop_after;
  const int64_t per_epoch = train_loader.batches_per_epoch() / o.accum_steps;
  ScheduleConfig& sched = trainer_opts.schedule;
  sched.kind = o.schedule;
  sched.base_lr = o.lr;
  sched.min_lr = o.min_lr;
  sched.warmup_steps = int64_t(o.warmup_epochs * double(per_epoch));
  sched.step_size = std::max<int64_t>(1, int64_t(o.step_epochs * double(per_epoch)));
  sched.gamma = o.gamma;
  Trainer trainer(ctx, *model, optimizer, trainer_opts);

  TrainerHooks hooks;
  hooks.should_stop = [] { return g_interrupted.load(); };
  if (!lead) {
    // The other replicas train silently; the lead speaks for the run.
    trainer.fit(train_loader, std::vector<ValidationSet>{}, hooks);
    return;
  }

  std::filesystem::create_directories(o.out);
  Progress progress(o.quiet, (std::filesystem::path(o.out) / "log.jsonl").string());
  // Which images were held out, so that later work (aslnet translate's tests, a user's own checks) can
  // use only images this checkpoint never trained on.
  if (data.val_images() > 0) {
    const auto list = std::filesystem::path(o.out) / "validation-files.txt";
    std::ofstream out(list);
    for (const NamedIndex& v : data.val)
      for (const Sample& s : v.index.samples) out << s.path << "\n";
    ASLNET_CHECK(out.good()) << "cannot write " << list.string();
  }
  CheckpointMeta meta;
  meta.classes = asl_classes();
  meta.input_height = meta.input_width = o.image_size;
  meta.mean = {train_opts.norm.mean.begin(), train_opts.norm.mean.end()};
  meta.std = {train_opts.norm.std.begin(), train_opts.norm.std.end()};
  std::string sources;
  for (const std::string& d : o.data) sources += (sources.empty() ? "" : " ") + d;
  meta.extra["train_dir"] = sources;
  meta.extra["split"] = o.split.val_fraction > 0 ? o.split.mode : "none";
  auto save = [&](const std::string& name) {
    meta.step = optimizer.step_count();
    meta.epoch = meta.step / per_epoch;
    save_checkpoint((std::filesystem::path(o.out) / name).string(), *model, meta, &optimizer);
  };
  // The averaged weights as a plain inference checkpoint (no optimizer state: nothing to resume from).
  auto save_ema = [&](const std::string& name) {
    meta.step = optimizer.step_count();
    meta.epoch = meta.step / per_epoch;
    EmaWeightsScope averaged(ctx, *model, optimizer);
    save_checkpoint((std::filesystem::path(o.out) / name).string(), *model, meta);
  };
  for (const std::string& note : load_notes) progress.line(note);

  for (const std::string& note : data.notes) progress.line(note);
  std::string val_text = fmt::format("{} for validation", data.val_images());
  if (data.val.size() > 1 || (data.val.size() == 1 && data.val[0].name != data.train_sources[0].name)) {
    val_text += ":";
    for (const NamedIndex& v : data.val) val_text += fmt::format(" {} {}", v.name, v.index.samples.size());
  }
  if (o.split.val_fraction > 0) val_text += fmt::format(", {} split", o.split.mode);
  progress.line(fmt::format(
      "training {} ({} stem, width {}) on {} images{} ({}), {} px, "
      "batch {}{}{}, {} epochs of {} steps, {}",
      info.arch, info.stem, info.width, data.train.samples.size(),
      data.train_sources.size() > 1 || data.mix ? " from " + describe_sources(data) : "", val_text, o.image_size,
      o.batch,
      place.total() > 1
          ? fmt::format(" ({} per replica x {} replicas, {})", train_opts.batch, place.total(), place.comm->name())
          : "",
      o.accum_steps > 1 ? fmt::format(" x {} accumulated", o.accum_steps) : "", o.epochs, per_epoch,
      describe_device(ctx, o.precision)));
  progress.json({{"event", "start"},
                 {"arch", info.arch},
                 {"train_images", data.train.samples.size()},
                 {"train_sources", sources_json(data)},
                 {"val_images", data.val_images()},
                 {"epochs", o.epochs},
                 {"replicas", place.total()},
                 {"steps_per_epoch", per_epoch}});

  double best = -1.0, best_ema = -1.0;
  size_t skipped_reported = 0;
  auto epoch_start = std::chrono::steady_clock::now();
  int64_t images_this_epoch = 0;
  hooks.on_step = [&](const StepReport& r) {
    if (r.step_in_epoch == 0 || images_this_epoch == 0) {
      epoch_start = std::chrono::steady_clock::now();
      images_this_epoch = 0;
    }
    images_this_epoch += r.images;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
    const double rate = seconds > 0 ? double(images_this_epoch) / seconds : 0.0;
    progress.bar(fmt::format("epoch {}/{}", r.epoch + 1, o.epochs), r.step_in_epoch + 1, r.steps_per_epoch, r.loss,
                 r.accuracy, rate);
    if (r.measured)
      progress.json({{"event", "step"},
                     {"epoch", r.epoch + 1},
                     {"step", r.step},
                     {"loss", r.loss},
                     {"accuracy", r.accuracy},
                     {"lr", r.lr},
                     {"images_per_second", rate}});
  };
  hooks.on_epoch = [&](const EpochReport& r) {
    images_this_epoch = 0;
    std::string text = fmt::format("epoch {}/{}  train loss {:.4f} acc {:5.1f}%", r.epoch + 1, o.epochs, r.train_loss,
                                   100.0 * r.train_accuracy);
    if (r.has_val) text += fmt::format("  val loss {:.4f} acc {:5.1f}%", r.val.loss, 100.0 * r.val.accuracy());
    if (r.val_sets.size() > 1) text += sets_text(r.val_sets);
    if (r.has_ema_val) {
      text += fmt::format("  ema acc {:5.1f}%", 100.0 * r.ema_val.accuracy());
      if (r.ema_val_sets.size() > 1) text += sets_text(r.ema_val_sets);
    }
    text += fmt::format("  {:.0f}s", r.seconds);
    const auto skipped = train_loader.skipped_files();
    if (skipped.size() > skipped_reported) {
      text += fmt::format("  skipped {} unreadable file(s):", skipped.size() - skipped_reported);
      for (size_t i = skipped_reported; i < skipped.size(); ++i) text += " " + skipped[i];
      skipped_reported = skipped.size();
    }
    progress.line(text);
    nlohmann::json record{{"event", "epoch"},           {"epoch", r.epoch + 1},
                          {"train_loss", r.train_loss}, {"train_accuracy", r.train_accuracy},
                          {"seconds", r.seconds},       {"skipped_files", skipped.size()}};
    if (r.has_val) {
      record["val"] = eval_json(r.val);
      record["val_sets"] = sets_json(r.val_sets);
    }
    if (r.has_ema_val) {
      record["ema_val"] = eval_json(r.ema_val);
      record["ema_val_sets"] = sets_json(r.ema_val_sets);
    }
    progress.json(record);
    const bool last = r.epoch + 1 == o.epochs;
    if (last || (o.checkpoint_every > 0 && (r.epoch + 1) % o.checkpoint_every == 0)) {
      save("last.safetensors");
      if (optimizer.has_ema()) save_ema("last-ema.safetensors");
    }
    if (r.has_val && r.val.accuracy() > best) {
      best = r.val.accuracy();
      save("best.safetensors");
    }
    if (r.has_ema_val && r.ema_val.accuracy() > best_ema) {
      best_ema = r.ema_val.accuracy();
      save_ema("best-ema.safetensors");
    }
  };

  bool finished = false;
  try {
    finished = trainer.fit(train_loader, val_sets, hooks);
  } catch (const NonFiniteLoss& e) {
    progress.json({{"event", "stopped"}, {"reason", e.what()}});
    throw;
  }
  if (!finished) {
    save("last.safetensors");
    progress.line(fmt::format("interrupted at step {}: wrote {} (continue with --resume {})", optimizer.step_count(),
                              (std::filesystem::path(o.out) / "last.safetensors").string(),
                              (std::filesystem::path(o.out) / "last.safetensors").string()));
    progress.json({{"event", "interrupted"}, {"step", optimizer.step_count()}});
    return;
  }
  progress.json({{"event", "done"}, {"step", optimizer.step_count()}, {"best_val_accuracy", best}});
  fmt::print("done: {} steps; checkpoints in {}{}\n", optimizer.step_count(), o.out,
             best >= 0 ? fmt::format(" (best validation accuracy {:.2f}%)", 100.0 * best) : "");
}

}  // namespace

void run_train(const TrainOptions& o) {
  ASLNET_CHECK(o.resume.empty() || o.init_from.empty()) << "--resume and --init-from exclude each other";
  ProcessGroup group(CommOptions{o.comm_timeout});
  try {
    const std::vector<Device> devices =
        training_devices(o.device, o.devices, o.replicas, group.size(), group.local_rank());
    const DType dtype = training_dtype(o.precision, devices[0]);
    const int local = int(devices.size());
    const int total = group.size() * local;
    ASLNET_CHECK(o.batch % total == 0) << "--batch " << o.batch << " is the global batch: it must split evenly over "
                                       << total << " replicas";
    // Replicas on one machine share its cores (--threads is this process's share; by default the
    // machine's cores divided among its processes); each replica's loader gets its share too.
    const int cores =
        o.threads > 0 ? o.threads : std::max(1, int(std::thread::hardware_concurrency()) / group.local_size());
    Context::set_cpu_threads(devices[0].is_cpu() ? std::max(1, cores / local) : cores);
    const int loader_threads = std::max(1, cores / local);

    const RunData data = load_run_data(o);

    g_interrupted = false;
    std::signal(SIGINT, on_sigint);
    auto place_of = [&](int r, Communicator* comm) {
      ReplicaPlace place;
      place.shard = ShardSpec{group.rank(), group.size(), local, r};
      place.comm = comm;
      return place;
    };
    try {
      if (total == 1) {
        train_replica(o, data, devices[0], dtype, place_of(0, nullptr), loader_threads);
      } else {
        const auto comms = group.communicators(devices);
        run_replica_threads(comms, [&](int r) {
          train_replica(o, data, devices[size_t(r)], dtype, place_of(r, comms[size_t(r)].get()), loader_threads);
        });
      }
    } catch (...) {
      std::signal(SIGINT, SIG_DFL);
      throw;
    }
    std::signal(SIGINT, SIG_DFL);
  } catch (const std::exception& e) {
    // Under mpirun a failed rank ends the whole job (MPI_Abort), or the others would wait for it.
    if (group.multi_process()) group.abort_run(e.what());
    throw;
  }
}

void register_train(CLI::App& app) {
  auto o = std::make_shared<TrainOptions>();
  auto* cmd = app.add_subcommand("train", "Train a ResNet on one or more folders of class folders (Kaggle ASL layout)");
  cmd->add_option("data", o->data,
                  "training sources: folders of class folders (any subset of A..Z, del, nothing, space), each "
                  "DIR, DIR@ORIGIN[+ORIGIN...] (only files named ORIGIN_*.jpg) or NAME=DIR[@...]")
      ->required();
  auto* val_dirs = cmd->add_option("--val-dir", o->val_dirs,
                                   "validation sources (same forms), each reported by name; alone, they replace the "
                                   "split of the training sources (repeatable)");
  auto* val_fraction = cmd->add_option("--val-fraction", o->split.val_fraction,
                                       "share of each class of each training source held out for validation (0: "
                                       "none; default 0.1, or 0 with --val-dir)");
  cmd->add_option("--source-weight", o->source_weights,
                  "each training source's share of an epoch, one weight per source in order (default: by size)")
      ->delimiter(',');
  cmd->add_option("--split", o->split.mode, "grouped (blocks of consecutive file numbers) or random")
      ->check(CLI::IsMember({"grouped", "random"}));
  cmd->add_option("--group-size", o->split.group_size, "grouped split: consecutive file numbers kept together");
  cmd->add_option("--arch", o->arch, "resnet18, resnet34 or resnet50")->check(CLI::IsMember(resnet_architectures()));
  cmd->add_option("--stem", o->stem, "imagenet (7x7/2 convolution + max pool) or small (3x3/1)")
      ->check(CLI::IsMember({"imagenet", "small"}));
  cmd->add_option("--width", o->width, "channel multiplier (1: torchvision's widths)")->check(CLI::PositiveNumber);
  cmd->add_option("--image-size", o->image_size, "input side in pixels")->check(CLI::Range(8, 1024));
  cmd->add_option("--epochs", o->epochs)->check(CLI::PositiveNumber);
  cmd->add_option("--batch", o->batch, "images per micro-batch")->check(CLI::PositiveNumber);
  cmd->add_option("--accum-steps", o->accum_steps, "micro-batches per optimizer step")->check(CLI::PositiveNumber);
  cmd->add_option("--optimizer", o->optimizer)->check(CLI::IsMember({"sgd", "adamw"}));
  cmd->add_option("--lr", o->lr, "peak learning rate")->check(CLI::PositiveNumber);
  cmd->add_option("--momentum", o->momentum, "sgd momentum (adamw: beta1 stays 0.9)");
  cmd->add_flag("--nesterov", o->nesterov);
  cmd->add_option("--weight-decay", o->weight_decay)->check(CLI::NonNegativeNumber);
  cmd->add_flag("--no-decay-norm-bias", o->no_decay_norm_bias, "no weight decay on batch-norm and bias parameters");
  cmd->add_option("--schedule", o->schedule)->check(CLI::IsMember({"cosine", "step", "onecycle", "constant"}));
  cmd->add_option("--warmup-epochs", o->warmup_epochs, "linear warm-up (cosine, step)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--min-lr", o->min_lr, "cosine: final learning rate");
  cmd->add_option("--step-epochs", o->step_epochs, "step: epochs between decays")->check(CLI::PositiveNumber);
  cmd->add_option("--gamma", o->gamma, "step: decay factor");
  cmd->add_option("--label-smoothing", o->label_smoothing)->check(CLI::Range(0.0, 0.99));
  cmd->add_flag("--no-augment", o->no_augment, "no augmentation at all");
  cmd->add_flag("--no-crop", o->no_crop, "no random resized crop");
  cmd->add_flag("--no-flip", o->no_flip, "no horizontal flip");
  auto recipe = std::make_shared<RecipeFlags>(*cmd, *o);
  cmd->add_option("--device", o->device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  cmd->add_option("--devices", o->devices,
                  "GPUs to train on, one replica each: 0, 0,1,2,3, or 0,0 (two replicas sharing a GPU); under "
                  "mpirun, one entry per process of a machine (default: the local rank)");
  cmd->add_option("--replicas", o->replicas, "CPU replicas trained by this process (data parallelism on threads)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--bucket-mb", o->bucket_mb, "gradient all-reduce bucket size in MiB (the first bucket is at most 1)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--comm-timeout", o->comm_timeout,
                  "seconds any replica waits for the others before the run stops with an error")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--freeze-bn", o->freeze_bn,
                "batch norm in evaluation mode while training (fixed running statistics; weights still learn)");
  cmd->add_option("--precision", o->precision, "fp32, or bf16 (mixed precision, GPU only)")
      ->check(CLI::IsMember({"fp32", "bf16"}));
  cmd->add_flag("--tf32", o->tf32, "allow TF32 tensor-core math for fp32 convolutions and matrix products (GPU)");
  cmd->add_flag("--deterministic", o->deterministic, "only deterministic cuDNN algorithms (GPU)");
  cmd->add_flag("--cuda-graph", o->cuda_graph, "replay each training step as one captured CUDA graph (GPU)");
  cmd->add_option("--seed", o->seed);
  cmd->add_option("--threads", o->threads, "CPU threads (0: all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--out", o->out, "output folder for checkpoints and log.jsonl");
  cmd->add_option("--resume", o->resume, "continue a run from its checkpoint (same options)");
  cmd->add_option("--init-from", o->init_from, "start from a checkpoint's weights (fine-tuning)");
  cmd->add_flag("--reset-head", o->reset_head, "with --init-from: re-initialise the classifier");
  cmd->add_option("--checkpoint-every", o->checkpoint_every, "epochs between checkpoints")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--stop-after", o->stop_after, "stop as Ctrl-C does after this many optimizer steps (tests resume)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--log-every", o->log_every,
                  "optimizer steps between readings of the loss (progress, log.jsonl; a non-finite loss is found "
                  "at the next reading)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--quiet", o->quiet, "no progress bar or epoch lines");
  cmd->callback([o, val_dirs, val_fraction, recipe] {
    // --val-dir alone validates on those folders only, as it always did; with --val-fraction too, on both.
    if (val_dirs->count() > 0 && val_fraction->count() == 0) o->split.val_fraction = 0.0;
    recipe->resolve(*o);
    run_train(*o);
  });
}

}  // namespace aslnet::app
