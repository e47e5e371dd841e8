// aslnet predict's options and entry point (also used by aslnet demo).
#pragma once

#include <string>
#include <vector>

namespace aslnet::app {

struct PredictOptions {
  std::string checkpoint;
  std::vector<std::string> images;
  int top_k = 3;
  std::string tta = "none";  // test-time augmentation: none, flip or crops (data/tta.h)
  bool json = false;
};

void run_predict(const PredictOptions& options);

}  // namespace aslnet::app
