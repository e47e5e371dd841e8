// Image files through a model, a batch of files at a time: what predict and translate share. Files are
// JPEG or PNG, told apart by their first bytes (serve/image_input.h, as for uploads); one that cannot be
// read or decoded keeps its one-line reason and is skipped, never fatal.
#pragma once

#include <string>
#include <vector>

#include "data/tta.h"
#include "models/inference_model.h"

namespace aslnet::app {

struct FileResult {
  std::string error;                  // why the file could not be read; empty when it was classified
  std::vector<double> probabilities;  // one per class, averaged over the views of --tta
};

// `batch` files decoded and classified at a time (m must be set up for batch x views rows), so memory
// stays bounded however many files there are. One result per file, in order.
std::vector<FileResult> classify_files(Context& ctx, InferenceModel& m, const std::vector<std::string>& files,
                                       int64_t batch, TtaMode tta);

}  // namespace aslnet::app
