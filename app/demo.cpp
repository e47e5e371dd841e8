// aslnet demo: a newcomer's first command. Trains a small ResNet on the CPU on a generated tensor task
// for a few hundred steps and prints the falling loss, so a fresh build shows it learns.
#include <fmt/core.h>

#include <chrono>

#include "app/commands.h"
#include "data/toy_task.h"
#include "engine/schedule.h"
#include "engine/train_step.h"
#include "models/resnet.h"

namespace aslnet::app {

namespace {
struct DemoOptions {
  std::string arch = "resnet18";
  std::string stem = "imagenet";
  double width = 0.25;
  int64_t size = 32, classes = 29, samples = 640, batch = 32, steps = 200;
  double lr = 0.05;
  double noise = 1.5;
  uint64_t seed = 0;
  int threads = 0;
};

void run_demo(const DemoOptions& o) {
  ASLNET_CHECK(o.samples % o.batch == 0) << "--samples must be a multiple of --batch";
  Context::set_cpu_threads(o.threads);
  Context ctx(Device::cpu(), o.seed);
  const ToyTask task = make_toy_task(o.samples, o.classes, o.size, o.seed, DType::F32, o.noise);
  auto model = make_resnet({o.arch, o.stem, o.width, o.classes, 3});
  init_torchvision(*model, ctx.rng());
  model->setup(ctx, o.batch, o.size, o.size);
  CrossEntropyLoss loss;
  Optimizer optimizer(*model, {.kind = "sgd", .momentum = 0.9, .weight_decay = 5e-4, .decay_norm_and_bias = false});
  const ScheduleConfig schedule{.kind = "cosine", .base_lr = o.lr, .total_steps = o.steps, .warmup_steps = 10};
  fmt::print(
      "aslnet demo: {} (width {}, {} stem), {} generated {}x{} images in {} classes, batch {}, cpu ({} threads)\n",
      o.arch, o.width, o.stem, o.samples, o.size, o.size, o.classes, o.batch, Context::cpu_threads());
  const auto start = std::chrono::steady_clock::now();
  double window_loss = 0.0;
  int64_t window_correct = 0, window_seen = 0;
  for (int64_t step = 0; step < o.steps; ++step) {
    const ToyTask batch = toy_batch(task, (step * o.batch) % o.samples, o.batch);
    const LossResult r =
        train_step(ctx, *model, loss, optimizer, batch.images, batch.labels, learning_rate(schedule, step));
    ASLNET_CHECK(std::isfinite(r.loss)) << "loss became " << r.loss << " at step " << step;
    window_loss += r.loss * double(o.batch);
    window_correct += r.correct;
    window_seen += o.batch;
    if ((step + 1) % 20 == 0 || step + 1 == o.steps) {
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      fmt::print("step {:>4}/{}  loss {:.4f}  accuracy {:5.1f}%  {:6.1f} img/s\n", step + 1, o.steps,
                 window_loss / double(window_seen), 100.0 * double(window_correct) / double(window_seen),
                 double((step + 1) * o.batch) / seconds);
      window_loss = 0.0;
      window_correct = window_seen = 0;
    }
  }
  // Held-out images: the same classes' patterns, new samples, batch norm on its running statistics.
  const ToyTask held_out = make_toy_task(o.samples, o.classes, o.size, o.seed, DType::F32, o.noise, 1);
  int64_t correct = 0;
  for (int64_t first = 0; first < o.samples; first += o.batch) {
    const ToyTask batch = toy_batch(held_out, first, o.batch);
    correct += loss.evaluate(ctx, model->forward(ctx, batch.images, /*training=*/false), batch.labels).correct;
  }
  fmt::print("held-out accuracy {:.1f}% on {} new images\n", 100.0 * double(correct) / double(o.samples), o.samples);
}
}  // namespace

void register_demo(CLI::App& app) {
  auto options = std::make_shared<DemoOptions>();
  auto* cmd = app.add_subcommand("demo", "Train a small ResNet on generated tensors and watch the loss fall (CPU)");
  cmd->add_option("--arch", options->arch, "resnet18, resnet34 or resnet50")
      ->check(CLI::IsMember(resnet_architectures()));
  cmd->add_option("--stem", options->stem, "imagenet (7x7/2 convolution and max pool) or small (3x3/1, no pool)")
      ->check(CLI::IsMember({"imagenet", "small"}));
  cmd->add_option("--width", options->width, "channel multiplier")->check(CLI::PositiveNumber);
  cmd->add_option("--size", options->size, "image side in pixels")->check(CLI::Range(8, 512));
  cmd->add_option("--classes", options->classes, "number of classes")->check(CLI::Range(2, 1000));
  cmd->add_option("--noise", options->noise, "standard deviation of the pixel noise (the patterns peak near 1.5)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--samples", options->samples, "images in the task")->check(CLI::PositiveNumber);
  cmd->add_option("--batch", options->batch, "batch size")->check(CLI::PositiveNumber);
  cmd->add_option("--steps", options->steps, "training steps")->check(CLI::PositiveNumber);
  cmd->add_option("--lr", options->lr, "peak learning rate (cosine schedule)")->check(CLI::PositiveNumber);
  cmd->add_option("--seed", options->seed, "random seed");
  cmd->add_option("--threads", options->threads, "CPU threads (0: all cores)")->check(CLI::NonNegativeNumber);
  cmd->callback([options] { run_demo(*options); });
}

}  // namespace aslnet::app
