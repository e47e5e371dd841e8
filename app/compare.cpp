// aslnet compare A B: how far apart two checkpoints' weights are (engine/weights_comparison.h), and
// whether that is within a tolerance: the check that two replicas, two processes or a resumed run
// trained the same network as one replica in one go (docs/replication.md, "Try it in five minutes").
#include <fmt/core.h>

#include <memory>

#include "app/commands.h"
#include "engine/core/error.h"
#include "engine/weights_comparison.h"

namespace aslnet::app {

namespace {

struct CompareOptions {
  std::string a, b;
  double tolerance = 1e-5;
};

void run_compare(const CompareOptions& o) {
  const WeightsComparison c = compare_weights(o.a, o.b);
  fmt::print("{} against {}: {} tensors, {} values\n", o.a, o.b, c.tensors, c.values);
  if (c.differing_tensors == 0) {
    fmt::print("bit for bit the same weights\n");
    return;
  }
  fmt::print("relative error {:.1e} (||a - b|| / ||b||); largest difference {:.1e}, in {}; {} of {} tensors differ\n",
             c.relative_error, c.largest_difference, c.largest_in, c.differing_tensors, c.tensors);
  ASLNET_CHECK(c.relative_error <= o.tolerance)
      << "the weights differ: relative error " << fmt::format("{:.1e}", c.relative_error) << " is above --tolerance "
      << fmt::format("{:g}", o.tolerance);
  fmt::print("the same weights within --tolerance {:g}\n", o.tolerance);
}

}  // namespace

void register_compare(CLI::App& app) {
  auto o = std::make_shared<CompareOptions>();
  auto* cmd = app.add_subcommand("compare", "How far apart two checkpoints' weights are (exit status 1 beyond --tolerance)");
  cmd->footer(
      "Compares the model's weights and batch-norm statistics (not the optimizer's state) by the relative\n"
      "error ||a - b|| / ||b|| over all of them, the measure the replication tests bound by 1e-5.");
  cmd->add_option("a", o->a, "A: a checkpoint (or weights-only safetensors file)")->required();
  cmd->add_option("b", o->b, "B: the one to compare it with (the reference of the relative error)")->required();
  cmd->add_option("--tolerance", o->tolerance, "the largest relative error that counts as the same weights")
      ->check(CLI::NonNegativeNumber);
  cmd->callback([o] { run_compare(*o); });
}

}  // namespace aslnet::app
