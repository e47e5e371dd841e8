// The recipe flags of aslnet train: augmentation (--augment POLICY and one flag per augmentation),
// mixup / cutmix, the moving average of the weights, composition, and --preset. A policy or a preset sets
// many values at once; a flag given on the command line always wins over both. Registered on the train
// command, resolved after parsing.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <nlohmann/json.hpp>

#include "app/train.h"

namespace aslnet::app {

class RecipeFlags {
 public:
  // Registers the flags on `cmd`, writing into `o` when resolved.
  RecipeFlags(CLI::App& cmd, TrainOptions& o);
  // After parsing: the preset's values where no flag was given, then the augmentation policy with the
  // augmentation flags given on top.
  void resolve(TrainOptions& o) const;
  // Into a record of the options (app/run_options.h): the resolved value of each augmentation flag,
  // given or not, so that the record replays the same augmentation whatever the policy's defaults become.
  void record(nlohmann::json& options, const TrainOptions& o) const;

 private:
  CLI::App& cmd_;
  std::shared_ptr<AugmentOptions> parsed_;  // what the augmentation flags said (used where given)
};

// The presets' names, and what each sets (for --help and the README).
const char* preset_help();

}  // namespace aslnet::app
