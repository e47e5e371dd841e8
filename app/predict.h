// aslnet predict's options and entry point (also used by aslnet demo).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace aslnet::app {

struct PredictOptions {
  std::string checkpoint;
  std::vector<std::string> images;  // files, or folders of them (data/image_files.h)
  int top_k = 3;
  std::string tta = "none";     // test-time augmentation: none, flip or crops (data/tta.h)
  std::string device = "auto";  // auto (the first GPU when there is one), cpu or cuda
  int64_t batch = 32;           // images per forward pass (each with its --tta views)
  int threads = 0;              // CPU threads (0: all cores)
  bool json = false;
};

void run_predict(const PredictOptions& options);

}  // namespace aslnet::app
