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
//
// This file only translates the flags: into the data of the run (app/train_data.h), into the run
// builder's description (run/replica_run.h builds each replica from it), and into what the lead shows
// and writes (app/train_reporter.h).
#include "app/train.h"

#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <filesystem>
#include <thread>

#include "app/cli_checks.h"
#include "app/commands.h"
#include "app/device_options.h"
#include "app/run_folder.h"
#include "app/run_options.h"
#include "app/run_record.h"
#include "app/train_data.h"
#include "app/train_recipe.h"
#include "app/train_reporter.h"
#include "app/train_resume.h"
#include "data/augment_policy.h"
#include "data/classes.h"
#include "engine/checkpoint.h"
#include "engine/replication/launch.h"
#include "engine/replication/replica_threads.h"
#include "kernels/cpu_kernels.h"
#include "models/resnet.h"
#include "run/replica_run.h"

namespace aslnet::app {

namespace {

// The signal that asked the run to stop (Ctrl-C's SIGINT, or SIGTERM from a scheduler or `kill`), 0: none.
std::atomic<int> g_stop_signal{0};
void on_stop_signal(int signal) {
  g_stop_signal = signal;
  std::signal(SIGINT, SIG_DFL);  // a second one ends the process at once
  std::signal(SIGTERM, SIG_DFL);
}
void catch_stop_signals(bool on) {
  std::signal(SIGINT, on ? on_stop_signal : SIG_DFL);
  std::signal(SIGTERM, on ? on_stop_signal : SIG_DFL);
}

// The flags as the run builder's description of the run.
RunDescription describe_run(const TrainOptions& o, const RunData& data, DType dtype) {
  RunDescription run;
  run.train = data.train;
  run.val = data.val;
  LoaderOptions& loader = run.loader;
  loader.batch = o.batch;
  loader.image_size = o.image_size;
  loader.seed = o.seed;
  loader.augment = o.no_augment ? augment_policy("none") : o.augment;
  if (o.no_crop) loader.augment.random_resized_crop = false;
  if (o.no_flip) loader.augment.flip = false;
  if (!o.no_augment) loader.batch_mix = o.mix;
  loader.source_mix = data.mix;
  if (!o.no_augment) loader.composition = composition_plan(o, data);
  run.model = {o.arch, o.stem, o.width, int64_t(asl_classes().size()), 3};
  run.resume = o.resume;
  run.init_from = o.init_from;
  run.reset_head = o.reset_head;
  run.dtype = dtype;
  run.optimizer = {.kind = o.optimizer,
                   .momentum = o.momentum,
                   .nesterov = o.nesterov,
                   .weight_decay = o.weight_decay,
                   .decay_norm_and_bias = !o.no_decay_norm_bias};
  run.ema = o.ema;
  TrainerOptions& trainer = run.trainer;
  trainer.epochs = o.epochs;
  trainer.accum_steps = o.accum_steps;
  trainer.label_smoothing = o.label_smoothing;
  trainer.cuda_graph = o.cuda_graph;
  trainer.freeze_batch_norm = o.freeze_bn;
  run.sync_bn = o.sync_bn;
  trainer.log_every = o.log_every;
  trainer.stop_after_steps = o.stop_after;
  trainer.schedule = {.kind = o.schedule, .base_lr = o.lr, .min_lr = o.min_lr, .gamma = o.gamma};
  run.warmup_epochs = o.warmup_epochs;
  run.step_epochs = o.step_epochs;
  run.bucket_mb = o.bucket_mb;
  run.find_unused = o.find_unused;
  run.zero = o.zero;
  run.seed = o.seed;
  run.tf32 = o.tf32;
  run.deterministic = o.deterministic;
  return run;
}

void train_replica(const TrainOptions& o, const RunDescription& description, const RunData& data,
                   const nlohmann::json& record, const ReplicaPlace& place) {
  auto run = build_replica_run(description, place);
  TrainerHooks hooks;
  hooks.should_stop = [] { return g_stop_signal.load() != 0; };
  if (!place.lead()) {
    // The other replicas train silently; the lead speaks for the run.
    run->trainer->fit(*run->train, std::vector<ValidationSet>{}, hooks);
    return;
  }
  TrainReporter reporter(o, data, *run, place, record);
  reporter.start();
  if (place.total() > 1) {
    // What --zero 1 saves, measured on the optimizer itself (one replica's state, its shard when sharded).
    const Optimizer& opt = *run->optimizer;
    const double mb = double(opt.state_bytes()) / 1e6, whole = double(opt.full_state_bytes()) / 1e6;
    fmt::print("optimizer state: {:.1f} MB per replica{}\n", mb,
               opt.sharded() ? fmt::format(" (sharded 1/{} of {:.1f} MB)", place.total(), whole)
                             : fmt::format(" (whole on each of {} replicas; --zero 1 shards it)", place.total()));
  }
  hooks.on_step = [&](const StepReport& r) { reporter.step(r); };
  hooks.on_epoch = [&](const EpochReport& r) { reporter.epoch(r); };
  hooks.end_after_epoch = [&] { return reporter.stopping_early(); };
  bool finished = false;
  try {
    finished = run->trainer->fit(*run->train, run->val_sets, hooks);
  } catch (const NonFiniteLoss& e) {
    reporter.stopped(e.what());
    throw;
  }
  if (finished)
    reporter.done();
  else
    reporter.interrupted();
}

// The network, the batch and the optimisation: what is trained and how.
void add_model_and_optimizer_flags(CLI::App& cmd, TrainOptions& o) {
  cmd.add_option("--arch", o.arch, "resnet18, resnet34 or resnet50")->check(CLI::IsMember(resnet_architectures()));
  cmd.add_option("--stem", o.stem, "imagenet (7x7/2 convolution + max pool) or small (3x3/1)")
      ->check(CLI::IsMember({"imagenet", "small"}));
  cmd.add_option("--width", o.width, "channel multiplier (1: torchvision's widths)")->check(width_check());
  cmd.add_option("--image-size", o.image_size, "input side in pixels")->check(in_range(8, 1024));
  cmd.add_option("--epochs", o.epochs, "passes over the training data")->check(positive());
  cmd.add_option("--batch", o.batch,
                 "the global batch: images per forward and backward pass over all replicas, split evenly among them "
                 "(an optimizer step sees --batch x --accum-steps images)")
      ->check(positive());
  cmd.add_option("--accum-steps", o.accum_steps, "micro-batches per optimizer step")->check(positive());
  cmd.add_option("--optimizer", o.optimizer, "sgd (momentum) or adamw (decoupled weight decay)")->check(CLI::IsMember({"sgd", "adamw"}));
  cmd.add_option("--lr", o.lr, "peak learning rate")->check(positive());
  cmd.add_option("--momentum", o.momentum, "sgd momentum (adamw: beta1 stays 0.9)")->check(in_range(0.0, 0.999));
  cmd.add_flag("--nesterov", o.nesterov, "sgd: Nesterov momentum");
  cmd.add_option("--weight-decay", o.weight_decay, "L2 penalty (sgd) or decoupled decay (adamw)")->check(non_negative());
  cmd.add_flag("--no-decay-norm-bias", o.no_decay_norm_bias, "no weight decay on batch-norm and bias parameters");
  cmd.add_option("--schedule", o.schedule, "learning-rate schedule over the run (onecycle: up, then down)")->check(CLI::IsMember({"cosine", "step", "onecycle", "constant"}));
  cmd.add_option("--warmup-epochs", o.warmup_epochs, "linear warm-up (cosine, step)")->check(non_negative());
  cmd.add_option("--min-lr", o.min_lr, "cosine: final learning rate");
  cmd.add_option("--step-epochs", o.step_epochs, "step: epochs between decays")->check(positive());
  cmd.add_option("--gamma", o.gamma, "step: decay factor");
  cmd.add_option("--label-smoothing", o.label_smoothing, "share of the target spread over the other classes")->check(in_range(0.0, 0.99));
}

// Where it trains: devices, replicas, precision.
void add_device_flags(CLI::App& cmd, TrainOptions& o) {
  cmd.add_option("--device", o.device,
                 "auto (a GPU when there is one and --replicas is 1), cpu or cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  cmd.add_option("--devices", o.devices,
                 "GPUs to train on, one replica each: 0, 0,1,2,3, or 0,0 (two replicas sharing a GPU); under "
                 "mpirun, one entry per process of a machine (default: the local rank)");
  cmd.add_option("--replicas", o.replicas, "CPU replicas trained by this process (data parallelism on threads)")
      ->check(positive());
  cmd.add_option("--bucket-mb", o.bucket_mb, "gradient all-reduce bucket size in MiB (the first bucket is at most 1)")
      ->check(positive());
  cmd.add_flag("--find-unused", o.find_unused,
               "replicas: a parameter that backward never reaches gets a zero gradient (DDP's "
               "find_unused_parameters) instead of stopping the run with an error naming it");
  cmd.add_option("--zero", o.zero,
                 "ZeRO stage 1 with replicas: 1 shards the optimizer state (momentum, Adam's moments) over the "
                 "replicas, each updating its shard of the weights, then all-gathering them (1/N of the state per "
                 "replica, same traffic); 0: every replica keeps the whole state (default 0)")
      ->check(CLI::IsMember({0, 1}));
  cmd.add_flag("--print-buckets", o.print_buckets,
               "replicas: the lead prints the gradient all-reduce buckets (parameters, bytes, first and last "
               "parameter, the layer whose backward completes each) after the first step's backward, then "
               "trains on");
  cmd.add_option("--allreduce", o.allreduce,
                 "replicas of one process (--replicas N on the CPU): central (the last replica to arrive sums "
                 "every buffer, default) or ring (each replica's thread sums one segment, reduce-scatter then "
                 "all-gather); refused where MPI, NCCL or the TCP ring all-reduce (GPU replicas, mpirun, torchrun)")
      ->check(CLI::IsMember({"central", "ring"}));
  cmd.add_option("--comm-timeout", o.comm_timeout,
                 "seconds any replica waits for the others before the run stops with an error")
      ->check(positive());
  cmd.add_flag("--freeze-bn", o.freeze_bn,
               "batch norm in evaluation mode while training (fixed running statistics; weights still learn)");
  cmd.add_flag("--sync-bn", o.sync_bn,
               "replicas: batch norm in training normalises with the mean and variance of the whole global batch "
               "over all replicas, and its gradient is that batch's (torch's SyncBatchNorm; two small all-reduces "
               "per batch-norm layer and step); default off: each replica normalises its own shard. Nothing to do "
               "with one replica or --freeze-bn");
  cmd.add_option("--precision", o.precision, "fp32, or bf16 (mixed precision, GPU only)")
      ->check(CLI::IsMember({"fp32", "bf16"}));
  cmd.add_flag("--tf32", o.tf32, "allow TF32 tensor-core math for fp32 convolutions and matrix products (GPU)");
  cmd.add_flag("--deterministic", o.deterministic, "only deterministic cuDNN algorithms (GPU)");
  cmd.add_flag("--cuda-graph", o.cuda_graph, "replay each training step as one captured CUDA graph (GPU)");
}

// The run itself: seed, threads, outputs, resuming, stopping, logging.
void add_run_flags(CLI::App& cmd, TrainOptions& o) {
  cmd.add_option("--config", o.config,
                 "read options from a file: TOML or INI (key = value, keys as the flags without dashes, e.g. epochs "
                 "= 20) or JSON (a run's run.json replays that run); flags on the command line win");
  cmd.add_option("--seed", o.seed, "seed of the weights' initialisation, the split, the augmentation and the order");
  cmd.add_option("--threads", o.threads, "CPU threads (0: all cores)")->check(non_negative());
  add_cpu_kernels_option(cmd);
  cmd.add_option("--out", o.out,
                 "the run's folder (checkpoints, run.json, log.jsonl, metrics.csv); default: a new folder "
                 "runs/<date>-<time>-<arch>, with runs/latest pointing at it");
  cmd.add_flag("--overwrite", o.overwrite,
               "let a new run replace the run in a --out folder that holds one (its files are removed)");
  cmd.add_option("--resume", o.resume,
                 "continue the run that wrote this checkpoint, with its options and in its folder (options that "
                 "contradict it are refused, except --epochs and those of where it runs; see README)");
  cmd.add_option("--init-from", o.init_from, "start from a checkpoint's weights (fine-tuning)");
  cmd.add_flag("--reset-head", o.reset_head, "with --init-from: re-initialise the classifier");
  cmd.add_option("--checkpoint-every", o.checkpoint_every, "epochs between checkpoints")->check(non_negative());
  cmd.add_option("--stop-after", o.stop_after, "stop as Ctrl-C does after this many optimizer steps (tests resume)")
      ->check(non_negative());
  cmd.add_option("--early-stop", o.early_stop,
                 "stop once this many epochs in a row have not beaten the best validation accuracy (0: never)")
      ->check(non_negative());
  cmd.add_option("--log-every", o.log_every,
                 "optimizer steps between readings of the loss (progress, log.jsonl; a non-finite loss is found "
                 "at the next reading)")
      ->check(positive());
  cmd.add_flag("--quiet", o.quiet, "no progress bar or epoch lines");
}

// The run's folder: the one given (refused when it holds another run, unless --overwrite), the folder
// of the checkpoint a resumed run continues, or a new one under runs/.
std::string run_folder(const TrainOptions& o) {
  namespace fs = std::filesystem;
  if (!o.resume.empty() && o.init_from.empty()) {
    const std::string own = fs::path(o.resume).parent_path().string();
    if (o.out.empty()) return own.empty() ? "." : own;
    std::error_code error;
    if (fs::equivalent(o.out, own.empty() ? "." : own, error)) return o.out;
  }
  if (o.out.empty()) {
    const std::string out = new_run_folder("runs", o.arch);
    if (const std::string note = point_latest(out); !note.empty()) fmt::print(stderr, "aslnet: note: {}\n", note);
    return out;
  }
  prepare_run_folder(o.out, o.overwrite);
  return o.out;
}

}  // namespace

int run_train(const TrainOptions& options, const nlohmann::json& recorded_options) {
  TrainOptions o = options;
  ProcessGroup group(CommOptions{o.comm_timeout});
  try {
    const std::vector<Device> devices =
        training_devices(o.device, o.devices, o.replicas, group.size(), group.local_rank());
    const DType dtype = training_dtype(o.precision, devices[0]);
    const int local = int(devices.size());
    const int total = group.size() * local;
    // Replicas on one machine share its cores (--threads is this process's share; by default the
    // machine's cores divided among its processes); each replica's loader gets its share too.
    const int cores =
        o.threads > 0 ? o.threads : std::max(1, int(std::thread::hardware_concurrency()) / group.local_size());
    Context::set_cpu_threads(devices[0].is_cpu() ? std::max(1, cores / local) : cores);
    const int loader_threads = std::max(1, cores / local);

    const RunData data = load_run_data(o);
    ASLNET_CHECK(o.early_stop == 0 || data.val_images() > 0)
        << "--early-stop needs validation images: give --val-fraction above 0 or --val-dir";
    // The folder once the data has loaded, so that a mistyped source leaves no empty run folder behind.
    // Only the lead process writes; the others never look at it.
    if (group.rank() == 0) o.out = run_folder(o);
    const RunDescription description = describe_run(o, data, dtype);
    const nlohmann::json record = run_record(recorded_options, o, data, devices, group.size(), cores);

    g_stop_signal = 0;
    catch_stop_signals(true);
    auto place_of = [&](int r, Communicator* comm) {
      return ReplicaPlace{devices[size_t(r)], ShardSpec{group.rank(), group.size(), local, r}, comm, loader_threads};
    };
    try {
      if (total == 1) {
        train_replica(o, description, data, record, place_of(0, nullptr));
      } else {
        const auto comms = group.communicators(devices, false, parse_all_reduce_algorithm(o.allreduce));
        run_replica_threads(comms,
                            [&](int r) { train_replica(o, description, data, record, place_of(r, comms[size_t(r)].get())); });
      }
    } catch (...) {
      catch_stop_signals(false);
      throw;
    }
    catch_stop_signals(false);
    // Stopped by a signal: last.safetensors is written, and the status says the run did not finish
    // (128 + the signal, as the shell reports a process the signal ended).
    return g_stop_signal != 0 ? 128 + g_stop_signal : 0;
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
                  "DIR, DIR@ORIGIN[+ORIGIN...] (only files named ORIGIN_*.jpg) or NAME=DIR[@...] (required unless "
                  "--config or --resume gives them)");
  auto* val_dirs = cmd->add_option("--val-dir", o->val_dirs,
                                   "validation sources (same forms), each reported by name; alone, they replace the "
                                   "split of the training sources (repeatable)");
  auto* val_fraction = cmd->add_option("--val-fraction", o->split.val_fraction,
                                       "share of each class of each training source held out for validation (0: "
                                       "none; default 0.1, or 0 with --val-dir)")
                           ->check(in_range(0.0, 0.99));
  cmd->add_option("--source-weight", o->source_weights,
                  "each training source's share of an epoch, one weight per source in order (default: by size)")
      ->delimiter(',');
  cmd->add_option("--split", o->split.mode, "grouped (blocks of consecutive file numbers) or random")
      ->check(CLI::IsMember({"grouped", "random"}));
  cmd->add_option("--group-size", o->split.group_size, "grouped split: consecutive file numbers kept together");
  add_model_and_optimizer_flags(*cmd, *o);
  cmd->add_flag("--no-augment", o->no_augment, "no augmentation at all");
  cmd->add_flag("--no-crop", o->no_crop, "no random resized crop");
  cmd->add_flag("--no-flip", o->no_flip, "no horizontal flip");
  auto recipe = std::make_shared<RecipeFlags>(*cmd, *o);
  add_device_flags(*cmd, *o);
  add_run_flags(*cmd, *o);
  cmd->callback([o, val_dirs, val_fraction, recipe, cmd] {
    // The file's options, then the resumed run's, each only where the command line said nothing.
    if (!o->config.empty()) apply_settings(*cmd, read_option_file(o->config, "train"), "--config " + o->config);
    if (!o->resume.empty()) adopt_resumed_run(*cmd, *o);
    ASLNET_CHECK(!o->data.empty()) << "aslnet train needs training sources (folders of class folders): aslnet train "
                                      "DIR [options] (see aslnet train --help)";
    // --val-dir alone validates on those folders only, as it always did; with --val-fraction too, on both.
    if (val_dirs->count() > 0 && val_fraction->count() == 0) o->split.val_fraction = 0.0;
    recipe->resolve(*o);
    // The record of every option as resolved (the value of --val-fraction above, the preset's choices),
    // less what belongs to this invocation alone.
    nlohmann::json record = option_values(*cmd, {"config", "resume", "overwrite", "out"});
    // --cpu-kernels sets a process-wide choice (a callback, no variable): record what the run used.
    record["cpu-kernels"] = kernels::cpu_kernels_name(kernels::cpu_kernels());
    recipe->record(record, *o);
    if (const int status = run_train(*o, record); status != 0) throw CLI::RuntimeError(status);  // exits quietly
  });
}

}  // namespace aslnet::app
