#include "bench/commands/bench.h"

#include <fmt/chrono.h>

#include <ctime>
#include <fstream>

namespace aslnet::bench {

void register_bench(CLI::App& app) {
  auto* bench =
      app.add_subcommand("bench", "Benchmarks: kernels, all-reduce bandwidth, training per GPU count, HTTP serving");
  bench->require_subcommand(1);
  register_bench_kernels(*bench);
  register_bench_allreduce(*bench);
  register_bench_train(*bench);
  register_bench_serve(*bench);
}

std::string command_line(const std::string& fallback) {
  std::ifstream file("/proc/self/cmdline", std::ios::binary);
  std::string text;
  for (std::string arg; std::getline(file, arg, '\0');) {
    const bool plain = !arg.empty() && arg.find_first_of(" \t\"'$\\") == std::string::npos;
    text += (text.empty() ? "" : " ") + (plain ? arg : "'" + arg + "'");
  }
  return text.empty() ? fallback : text;
}

std::string utc_now() { return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(std::time(nullptr))); }

}  // namespace aslnet::bench
