// aslnet demo: a newcomer's first command. With no data given, it synthesises a small ASL-like data set
// of hand shapes (aslnet synth) into a temporary folder, trains a small ResNet on it (aslnet train),
// evaluates it on held-out synthetic images (aslnet eval) and predicts a few of them (aslnet predict):
// the whole pipeline, end to end, in a few minutes on 2 CPU cores. With --data it trains on that
// folder instead (e.g. the extracted Kaggle images) and evaluates on its validation split.
#include <fmt/core.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "app/cli_checks.h"
#include "app/device_options.h"
#include "app/commands.h"
#include "app/eval.h"
#include "app/predict.h"
#include "app/train.h"
#include "data/classes.h"
#include "data/synth.h"
#include "models/resnet.h"

namespace aslnet::app {

namespace {

struct DemoOptions {
  std::string data, out;
  // A recipe that suits both the synthetic hands and the real photos on 2 cores: the ImageNet stem (4x
  // cheaper than the small one at this size), AdamW, and no random resized crop (it cuts fingers off).
  std::string arch = "resnet18", stem = "imagenet";
  double width = 0.25;
  int per_class = 200, test_per_class = 20, synth_size = 64, image_size = 48;
  int64_t epochs = 12, batch = 32;
  double lr = 0.003;
  uint64_t seed = 0;
  int threads = 0;
  std::string device = "auto";  // auto: the first GPU when there is one, else the CPU
  bool quiet = false;
};

void run_demo(const DemoOptions& o) {
  namespace fs = std::filesystem;
  const auto start = std::chrono::steady_clock::now();
  const fs::path work =
      o.out.empty() ? fs::temp_directory_path() / fmt::format("aslnet-demo-{}", ::getpid()) : fs::path(o.out);
  fs::create_directories(work);
  std::string train_dir = o.data, test_dir;
  if (train_dir.empty()) {
    train_dir = (work / "synthetic" / "train").string();
    test_dir = (work / "synthetic" / "test").string();
    fmt::print("1. synthesising {} training and {} held-out images of {} classes ({} px) in {}\n",
               o.per_class * asl_classes().size(), o.test_per_class * asl_classes().size(), asl_classes().size(),
               o.synth_size, (work / "synthetic").string());
    if (!fs::exists(train_dir)) write_synthetic_dataset(train_dir, {o.per_class, o.synth_size, o.seed});
    if (!fs::exists(test_dir)) write_synthetic_dataset(test_dir, {o.test_per_class, o.synth_size, o.seed + 1});
  }

  TrainOptions t;
  t.data = {train_dir};
  t.out = (work / "run").string();
  t.overwrite = true;  // the demo's own folder: a demo run again replaces its run
  t.arch = o.arch;
  t.stem = o.stem;
  t.width = o.width;
  t.image_size = o.image_size;
  t.epochs = o.epochs;
  t.batch = o.batch;
  t.optimizer = "adamw";
  t.lr = o.lr;
  t.warmup_epochs = 1;
  t.no_crop = true;
  t.augment.rotation_degrees = 0;
  t.augment.brightness = t.augment.contrast = t.augment.saturation = 0.1;
  // The synthetic hands are all right hands with a class-specific wrist angle: a flip only adds a
  // variation to learn. Real photos keep it.
  t.no_flip = o.data.empty();
  t.seed = o.seed;
  t.threads = o.threads;
  t.device = o.device == "auto" ? (gpu_count() > 0 ? "cuda" : "cpu") : o.device;
  t.quiet = o.quiet;
  // Synthetic images are independent draws (no video frames): a random split is honest for them.
  t.split.mode = o.data.empty() ? "random" : "grouped";
  fmt::print("2. training {} (width {}, {} stem) at {} px for {} epochs on the {}\n", o.arch, o.width, o.stem,
             o.image_size, o.epochs, t.device == "cuda" ? "GPU" : "CPU");
  if (const int status = run_train(t); status != 0) throw CLI::RuntimeError(status);  // stopped by Ctrl-C

  const std::string checkpoint = (work / "run" / "best.safetensors").string();
  if (!test_dir.empty()) {
    fmt::print("\n3. evaluating on the held-out images\n");
    EvalOptions e;
    e.checkpoint = checkpoint;
    e.data = test_dir;
    e.png = (work / "run" / "confusion.png").string();
    e.threads = o.threads;
    e.device = t.device;  // where the demo trained
    run_eval(e);
    fmt::print("(confusion matrix picture: {})\n", e.png);

    fmt::print("\n4. predicting a few held-out images\n");
    PredictOptions p;
    p.checkpoint = checkpoint;
    for (const char* cls : {"A", "L", "Y", "space"})
      p.images.push_back((fs::path(test_dir) / cls / fmt::format("{}1.jpg", cls)).string());
    p.device = t.device;
    run_predict(p);
  }
  fmt::print("\ndone in {:.0f} s; everything is in {}\n",
             std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), work.string());
}

}  // namespace

void register_demo(CLI::App& app) {
  auto o = std::make_shared<DemoOptions>();
  auto* cmd = app.add_subcommand("demo",
                                 "Synthesise hand-sign images, train a small ResNet on them, evaluate and predict (a "
                                 "few minutes on 2 CPU cores, seconds on a GPU)");
  cmd->add_option("--data", o->data, "train on this folder of class folders instead of synthetic images");
  cmd->add_option("--out", o->out, "work folder (default: a new folder under the system's temporary folder)");
  cmd->add_option("--arch", o->arch, "resnet18, resnet34 or resnet50")->check(CLI::IsMember(resnet_architectures()));
  cmd->add_option("--stem", o->stem, "imagenet (7x7/2 convolution + max pool) or small (3x3/1)")
      ->check(CLI::IsMember({"imagenet", "small"}));
  cmd->add_option("--width", o->width, "channel multiplier")->check(width_check());
  cmd->add_option("--per-class", o->per_class, "synthetic training images per class")->check(in_range(10, 10000));
  cmd->add_option("--image-size", o->image_size, "training input size in pixels")->check(in_range(16, 512));
  cmd->add_option("--epochs", o->epochs, "passes over the training images")->check(positive());
  cmd->add_option("--batch", o->batch, "images per step")->check(positive());
  cmd->add_option("--lr", o->lr, "AdamW's peak learning rate")->check(positive());
  cmd->add_option("--seed", o->seed, "seed of the synthetic images and of training");
  cmd->add_option("--threads", o->threads, "CPU threads (0: all cores)")->check(non_negative());
  app::add_cpu_kernels_option(*cmd);
  cmd->add_option("--device", o->device, "auto (a GPU when there is one), cpu or cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  cmd->add_flag("--quiet", o->quiet, "no progress bar");
  cmd->callback([o] { run_demo(*o); });
}

}  // namespace aslnet::app
