// aslnet synth --out DIR --per-class N --size S --seed K: writes a synthetic data set of drawn hands in
// the Kaggle layout (DIR/<class>/<class><n>.jpg, all 29 classes), so the pipeline can be run and tested
// without the real photos. The images are a function of (seed, class, index) only: the same flags give
// the same files on any machine and thread count. A folder that already holds a data set is refused.
#include "data/synth.h"

#include <fmt/core.h>

#include <chrono>

#include "app/cli_checks.h"
#include "app/commands.h"
#include "data/classes.h"

namespace aslnet::app {

namespace {

struct SynthCommandOptions {
  std::string out;
  SynthOptions synth{.per_class = 100, .size = 64, .seed = 0, .quality = 90};
  bool quiet = false;
};

void run_synth(const SynthCommandOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  write_synthetic_dataset(o.out, o.synth);
  if (o.quiet) return;
  const size_t classes = asl_classes().size();
  fmt::print("wrote {} images ({} classes x {}, {}x{} px, seed {}) to {} in {:.1f} s\n",
             classes * size_t(o.synth.per_class), classes, o.synth.per_class, o.synth.size, o.synth.size, o.synth.seed,
             o.out, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

}  // namespace

void register_synth(CLI::App& app) {
  auto o = std::make_shared<SynthCommandOptions>();
  auto* cmd = app.add_subcommand(
      "synth", "Write a synthetic data set of hand-sign images in the Kaggle layout (29 class folders of JPEGs)");
  cmd->add_option("--out", o->out, "the folder to write (created; must not already hold a data set)")->required();
  cmd->add_option("--per-class", o->synth.per_class, "images per class")->check(in_range(1, 1000000));
  cmd->add_option("--size", o->synth.size, "side of the square images, pixels")->check(in_range(8, 4096));
  cmd->add_option("--seed", o->synth.seed, "the same seed gives the same images");
  cmd->add_option("--quality", o->synth.quality, "JPEG quality")->check(in_range(1, 100));
  cmd->add_flag("--quiet", o->quiet, "print nothing");
  cmd->callback([o] { run_synth(*o); });
}

}  // namespace aslnet::app
