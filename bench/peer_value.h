// Runs a benchmark's torchvision peer, bench/peers/SCRIPT under Debian's /usr/bin/python3, and reads
// the one figure it prints as `KEY VALUE` on a line of its own. Shared by the standalone CPU benchmarks
// (cpu_train_step, cpu_inference), which are compiled with ASLNET_SOURCE_DIR. The peer runs with the
// environment the user gave (kernels::peer_environment_prefix: the OpenMP policy aslnet set for itself
// is taken away). When it cannot run or prints no such line, says so and returns 0.
#pragma once

#include <fmt/core.h>

#include <cstdio>
#include <string>

#include "kernels/cpu_kernels.h"

namespace aslnet::bench {

inline double peer_value(const std::string& script, const std::string& arguments, const std::string& key) {
  const std::string command = fmt::format("{}/usr/bin/python3 {}/bench/peers/{} {}", kernels::peer_environment_prefix(),
                                          ASLNET_SOURCE_DIR, script, arguments);
  FILE* pipe = popen(command.c_str(), "r");
  double value = 0;
  if (pipe != nullptr) {
    char line[256];
    const std::string format = key + " %lf";
    while (std::fgets(line, sizeof line, pipe) != nullptr) std::sscanf(line, format.c_str(), &value);
    if (pclose(pipe) != 0) value = 0;
  }
  if (value <= 0)
    fmt::print("torchvision peer did not run (needs /usr/bin/python3 with python3-torch and python3-torchvision)\n");
  return value;
}

}  // namespace aslnet::bench
