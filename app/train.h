// aslnet train's options and entry point (also used by aslnet demo).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/compose.h"
#include "data/dataset_index.h"
#include "data/mix.h"
#include "data/transforms.h"

namespace aslnet::app {

struct TrainOptions {
  // Training sources (data/sources.h: DIR, DIR@ORIGIN[+ORIGIN...], NAME=DIR) and validation sources.
  std::vector<std::string> data, val_dirs;
  std::vector<double> source_weights;  // one per training source: its share of each epoch; empty: by size
  std::string out;  // "": a new folder under runs/ (app/run_folder.h)
  bool overwrite = false;
  std::string config, resume, init_from;
  bool reset_head = false;
  SplitOptions split;
  std::string arch = "resnet18", stem = "imagenet";
  double width = 1.0;
  int image_size = 64;
  int64_t epochs = 10, batch = 64, accum_steps = 1;
  std::string optimizer = "sgd", schedule = "cosine";
  double lr = 0.1, momentum = 0.9, weight_decay = 5e-4, label_smoothing = 0.1, min_lr = 0.0, gamma = 0.1;
  bool nesterov = false, no_decay_norm_bias = false;
  double warmup_epochs = 1.0, step_epochs = 30;
  // Augmentation: the --augment policy with every augmentation flag given on top of it (the command
  // line resolves them); --no-augment, --no-crop and --no-flip switch parts off whatever the policy.
  std::string augment_policy = "light";
  AugmentOptions augment;
  bool no_augment = false, no_crop = false, no_flip = false;
  MixOptions mix;    // mixup / cutmix of whole batches
  double ema = 0.0;  // decay of the moving average of the weights; 0: none
  // Composition: training sources (by name) whose hands stand on a uniform dark background are cut out
  // and pasted onto backgrounds: photos from these folders, or generated clutter.
  std::vector<std::string> compose_sources, backgrounds;
  double compose_probability = 1.0, clutter_probability = 0.3;
  ComposeOptions compose;
  std::string preset;  // a named recipe (--preset), applied under the flags given
  std::string device = "auto", precision = "fp32";
  std::string devices;  // "0", "0,1", "0,0": one replica per entry (GPU index)
  int replicas = 1;     // CPU replicas of this process
  double bucket_mb = 25.0, comm_timeout = 600.0;
  std::string allreduce = "central";  // the in-process communicator's all-reduce: central or ring
  // Replicas: parameters that get no gradient count as zero instead of stopping the run; the lead
  // prints the gradient buckets after the first step's backward.
  bool find_unused = false, print_buckets = false;
  int zero = 0;  // ZeRO stage 1 (--zero 1): the optimizer state sharded over the replicas
  bool freeze_bn = false;
  bool sync_bn = false;  // replicas: batch norm with the global batch's statistics (SyncBatchNorm)
  bool tf32 = false, deterministic = false, cuda_graph = false;
  uint64_t seed = 0;
  int threads = 0;
  int64_t checkpoint_every = 1;
  int64_t stop_after = 0;
  int64_t early_stop = 0;  // epochs without a better validation accuracy before stopping; 0: never
  int64_t log_every = 10;
  bool quiet = false;
};

// Returns the exit status: 0, or 128 + the signal (SIGINT, SIGTERM) that stopped the run after it wrote
// its last checkpoint. `recorded_options` is the command line's record of every option
// (app/run_options.h), written into OUT/run.json and every checkpoint so that --config and --resume can
// replay the run.
int run_train(const TrainOptions& options, const nlohmann::json& recorded_options = nlohmann::json::object());

}  // namespace aslnet::app
