// A trained model ready for inference: rebuilt from a checkpoint's metadata (architecture, stem, width,
// classes, input size, normalisation) and loaded, for eval and predict.
#pragma once

#include <memory>
#include <string>

#include "data/transforms.h"
#include "engine/checkpoint.h"
#include "engine/model.h"

namespace aslnet::app {

struct InferenceModel {
  std::unique_ptr<Model> model;
  CheckpointMeta meta;
  Normalization norm;
  int image_size = 0;
  std::vector<std::string> classes;
};

InferenceModel load_for_inference(Context& ctx, const std::string& checkpoint, int64_t batch);

}  // namespace aslnet::app
