#include "app/train_resume.h"

#include <fmt/core.h>

#include <nlohmann/json.hpp>

#include "app/run_options.h"
#include "engine/checkpoint.h"

namespace aslnet::app {

namespace {

// Options that belong to one invocation, never to the run: they are not taken from the record.
const std::set<std::string>& per_invocation() {
  static const std::set<std::string> keys = {"resume", "config", "overwrite", "out", "stop-after", "init-from",
                                             "reset-head"};
  return keys;
}

// The record of the run's options in the checkpoint's metadata, or null for a checkpoint written
// before records.
nlohmann::json recorded_options(const CheckpointMeta& meta, const std::string& checkpoint) {
  const auto it = meta.extra.find("run");
  if (it == meta.extra.end()) return nullptr;
  nlohmann::json record;
  try {
    record = nlohmann::json::parse(it->second);
  } catch (const nlohmann::json::exception&) {
    ASLNET_CHECK(false) << "--resume " << checkpoint << ": its metadata's record of the run is not valid JSON";
  }
  ASLNET_CHECK(record.is_object() && record.contains("options") && record["options"].is_object())
      << "--resume " << checkpoint << ": its metadata's record of the run has no options";
  return record["options"];
}

void adopt_record(CLI::App& cmd, const nlohmann::json& options, const std::string& checkpoint) {
  const std::string origin = "--resume " + checkpoint;
  for (const OptionSetting& saved : settings_from_json(options)) {
    if (per_invocation().count(saved.name)) continue;
    CLI::Option* opt = cmd.get_option_no_throw("--" + saved.name);
    if (opt == nullptr) opt = cmd.get_option_no_throw(saved.name);
    if (opt == nullptr) continue;  // an option this version no longer has
    if (opt->count() == 0) {
      if (!saved.values.empty() && !(saved.values.size() == 1 && saved.values[0].empty()))
        set_option(*opt, saved.values, origin);
      continue;
    }
    const std::vector<std::string> given = current_values(*opt);
    if (same_values(given, saved.values) || may_change_on_resume().count(saved.name)) continue;
    std::string changeable;
    for (const std::string& key : may_change_on_resume()) changeable += (changeable.empty() ? "--" : ", --") + key;
    ASLNET_CHECK(false) << origin << ": that run trained with " << describe_setting(option_flag(*opt), saved.values)
                        << ", not " << describe_setting(option_flag(*opt), given)
                        << "; resume it as it was (only " << changeable
                        << " may change), or start a new run from its weights with --init-from";
  }
}

// Checkpoints written before records: the network and input size come from the metadata, and one
// given now that differs is refused.
void check_model(const CLI::App& cmd, TrainOptions& o, const CheckpointMeta& meta) {
  const auto same = [&](const char* flag, bool equal, const std::string& theirs) {
    ASLNET_CHECK(cmd.count(flag) == 0 || equal)
        << "--resume " << o.resume << ": that run trained with " << flag << " " << theirs
        << "; continue it with the same options (or start a new run from its weights with --init-from)";
  };
  same("--arch", o.arch == meta.model.arch, meta.model.arch);
  same("--stem", o.stem == meta.model.stem, meta.model.stem);
  same("--width", o.width == meta.model.width, fmt::format("{}", meta.model.width));
  if (meta.input_height > 0) {
    same("--image-size", o.image_size == meta.input_height, std::to_string(meta.input_height));
    o.image_size = int(meta.input_height);
  }
}

}  // namespace

const std::set<std::string>& may_change_on_resume() {
  static const std::set<std::string> keys = {
      "epochs",       "early-stop", "threads",          "device", "devices",    "replicas",      "bucket-mb",
      "comm-timeout", "log-every",  "checkpoint-every", "quiet",  "cuda-graph", "deterministic", "print-buckets",
      // --allreduce: how the replicas' gradients are summed, not what. Like --replicas it may round the last
      // bits differently (in_process_ring.h), and a resumed run is not required to repeat those bits.
      "allreduce",
      "zero",
      // --cpu-kernels: which CPU implementation computes the same layers (to rounding, like --device).
      "cpu-kernels"};
  return keys;
}

void adopt_resumed_run(CLI::App& cmd, TrainOptions& o) {
  // The pair is refused by the run builder, which owns that rule; checked against this run, the
  // checkpoint would earn a misleading message first.
  if (!o.init_from.empty()) return;
  const CheckpointMeta meta = read_checkpoint_meta(o.resume);
  if (const nlohmann::json options = recorded_options(meta, o.resume); !options.is_null())
    adopt_record(cmd, options, o.resume);
  check_model(cmd, o, meta);
  // A run resumed at its end would train nothing and write nothing.
  ASLNET_CHECK(meta.epoch < o.epochs) << "--resume " << o.resume << ": that run already finished " << meta.epoch
                                      << " epochs; give --epochs above " << meta.epoch << " to train it further";
}

}  // namespace aslnet::app
