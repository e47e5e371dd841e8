// A trained model ready for inference: rebuilt from a checkpoint's metadata (architecture, stem, width,
// classes, input size, normalisation) and loaded, for eval, predict, translate and serve.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "data/transforms.h"
#include "data/tta.h"
#include "engine/checkpoint.h"
#include "engine/model.h"

namespace aslnet {

struct InferenceModel {
  std::unique_ptr<Model> model;
  CheckpointMeta meta;
  Normalization norm;
  int image_size = 0;
  std::vector<std::string> classes;
  int64_t batch = 0;  // the rows the model is set up for (0: not set up here)
};

// Whether to fold batch norm into the convolutions (engine/layers/conv_bn_inference.h): yes to run the
// model (eval, predict, translate, serve: on the CPU's fast kernels it then runs as fewer, fused
// operations, elsewhere as before); no to read its layers one by one (export, which folds on its own).
enum class BatchNormFold { Fold, Keep };

// Set up for inputs of `batch` images (0: not set up; the caller does it).
InferenceModel load_for_inference(Context& ctx, const std::string& checkpoint, int64_t batch, BatchNormFold fold);

// The class probabilities of decoded photos (any size): each photo's views under `tta` (data/tta.h) run
// through the model m.batch rows at a time (a last partial run padded with zeros), and each photo's views'
// probabilities averaged. One vector per photo, in order.
std::vector<std::vector<double>> classify_photos(Context& ctx, InferenceModel& m, const std::vector<Image>& photos,
                                                 TtaMode tta);

// The device a --device flag names: "cpu", "cuda" (an Error when there is no GPU) or "auto" (the first
// GPU when there is one).
Device inference_device(const std::string& flag);

}  // namespace aslnet
