// A checkpoint of the smallest ResNet that serve can load (a resnet18 of width 1/16 on 16-pixel images,
// untrained): for the request-handling tests and the HTTP fuzz target, which test everything around the
// model but not what it has learnt.
#pragma once

#include <string>

#include "engine/checkpoint.h"
#include "engine/core/rng.h"
#include "models/resnet.h"

namespace aslnet::test {

inline void write_tiny_checkpoint(const std::string& path) {
  Rng rng(5);
  const auto model = make_initialised_model({"resnet18", "small", 0.0625, 29, 3}, rng);
  CheckpointMeta meta;
  meta.input_height = meta.input_width = 16;
  meta.mean = {0.5, 0.5, 0.5};
  meta.std = {0.25, 0.25, 0.25};
  save_checkpoint(path, *model, meta);
}

}  // namespace aslnet::test
