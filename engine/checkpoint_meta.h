// A checkpoint's metadata (the safetensors header's "__metadata__", a map of strings): what the network
// is, its classes, input size and normalisation, where training stood, and every tensor's CRC-32. Written
// and read here and nowhere else; reading checks every value against what the engine can build, so a
// damaged or hostile header is an error naming the file and the key, never a huge allocation or a NaN
// that reaches the model. engine/checkpoint.h writes and loads the tensors around it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/model_info.h"
#include "engine/safetensors.h"

namespace aslnet {

struct CheckpointMeta {
  ModelInfo model;                    // arch, stem, width, num_classes, in_channels
  std::vector<std::string> classes;   // class names in label order (may be empty)
  int64_t input_height = 0, input_width = 0;
  std::vector<double> mean, std;      // input normalisation (per channel)
  int64_t epoch = 0, step = 0;
  std::map<std::string, std::string> extra;  // anything else worth keeping (free-form strings)
  // Read from a file that holds an optimizer's state: its kind ("" when none) and step count. Written by
  // save_checkpoint from the optimizer itself, not from these fields.
  std::string optimizer;
  int64_t optimizer_steps = 0;
  // load_checkpoint: what it did that the user should hear of (one line each), e.g. an EMA restarted
  // from the loaded weights because the file holds none. Never written to a file.
  std::vector<std::string> load_notes;
};

// Limits of what a checkpoint may describe (beyond them the header is damaged or not aslnet's).
constexpr int64_t kMaxClasses = 100'000;
constexpr int64_t kMaxInputChannels = 64;
constexpr int64_t kMaxInputSide = 8192;

// Writes `meta` with `model` as the network (the model's own info is the truth about the file, not
// meta.model), and the CRC-32 of every tensor added to `writer` so far. `path` names the file in errors.
void write_checkpoint_meta(safetensors::Writer& writer, const ModelInfo& model, const CheckpointMeta& meta,
                           const std::string& path);
// The metadata of a file written by write_checkpoint_meta, every value checked.
CheckpointMeta parse_checkpoint_meta(const safetensors::File& file);
// Every tensor's bytes against the CRC-32 the writer recorded: an Error naming the tensor on a mismatch.
// A file written before checksums loads with a note in `notes`.
void verify_checksums(const safetensors::File& file, std::vector<std::string>& notes);

// The shortest decimal text that reads back as the same double ("0.25", not "0.25000000000000000").
std::string format_double(double v);
// "a resnet18 (29 classes, small stem, width 0.25, 3 input channels)": for messages.
std::string describe(const ModelInfo& m);

}  // namespace aslnet
