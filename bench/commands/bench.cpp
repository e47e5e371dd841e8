#include "bench/commands/bench.h"

#include <fmt/chrono.h>

#include <ctime>
#include <filesystem>
#include <fstream>

#include "engine/core/error.h"

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

std::string results_file(const std::string& out, const std::string& file, const std::string& name) {
  namespace fs = std::filesystem;
  const fs::path path = file.empty() ? fs::path(out) / ("bench-" + name + ".json") : fs::path(file);
  std::error_code error;
  fs::create_directories(fs::absolute(path).parent_path(), error);
  ASLNET_CHECK(!error && fs::is_directory(fs::absolute(path).parent_path()))
      << (file.empty() ? "--out " + out : "--json " + file) << ": cannot make the folder "
      << fs::absolute(path).parent_path().string();
  return path.string();
}

std::string utc_now() { return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(std::time(nullptr))); }

}  // namespace aslnet::bench
