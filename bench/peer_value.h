// Runs a benchmark's peer (a torchvision script, through the shell) and reads the one figure it prints
// as `KEY VALUE` on a line of its own. Shared by the standalone CPU benchmarks (cpu_train_step,
// cpu_inference). 0 when the peer could not run or printed no such line.
#pragma once

#include <cstdio>
#include <cstring>
#include <string>

namespace aslnet::bench {

inline double peer_value(const std::string& command, const std::string& key) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return 0;
  char line[256];
  double value = 0;
  const std::string format = key + " %lf";
  while (std::fgets(line, sizeof line, pipe) != nullptr) std::sscanf(line, format.c_str(), &value);
  const int status = pclose(pipe);
  return status == 0 ? value : 0;
}

}  // namespace aslnet::bench
