// aslnet eval's options and entry point (also used by aslnet demo).
#pragma once

#include <cstdint>
#include <string>

namespace aslnet::app {

struct EvalOptions {
  std::string checkpoint, data, csv, png;
  int64_t batch = 64;
  int threads = 0;
  bool json = false;
};

void run_eval(const EvalOptions& options);

}  // namespace aslnet::app
