// What a checkpoint must know to rebuild a network: a plain struct of its own, so that readers of
// checkpoint metadata (and their fuzz target) need nothing of the model.
#pragma once

#include <cstdint>
#include <string>

namespace aslnet {

struct ModelInfo {
  std::string arch;           // "resnet18", "resnet34", "resnet50", or a test network's name
  std::string stem = "imagenet";
  double width = 1.0;         // channel multiplier (1.0: torchvision's widths)
  int64_t num_classes = 29;
  int64_t in_channels = 3;
};

// The largest channel multiplier accepted (--width, a checkpoint's metadata): a resnet50 of width 16
// already has 6 billion parameters; a larger value is a typo.
constexpr double kMaxWidth = 16.0;

}  // namespace aslnet
