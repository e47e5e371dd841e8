// aslnet bench: the engine's own benchmarks, for the users who measure it per GPU count. The aslnet
// binary (app/main.cpp) registers `bench` with register_bench; each subcommand lives in its own file
// beside this one (kernels.cpp, allreduce.cpp, train.cpp, serve.cpp) and registers itself under it.
// All of bench/commands/ and bench/scaling/ is the library aslnet_bench (bench/CMakeLists.txt).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace aslnet::bench {

// `aslnet bench` and its subcommands, under `app`.
void register_bench(CLI::App& app);

void register_bench_kernels(CLI::App& bench);
void register_bench_allreduce(CLI::App& bench);
void register_bench_train(CLI::App& bench);
void register_bench_serve(CLI::App& bench);

// For the records each benchmark writes: this process's command line as the shell passed it (CLI11's
// callbacks do not see argv; `fallback` when /proc has none), and the time now, UTC, ISO 8601.
std::string command_line(const std::string& fallback);

// Where a benchmark writes its results: `file` when given (the --json FILE of kernels and allreduce),
// else OUT/bench-<name>.json, as bench train and serve write theirs; the folder is made now, so that an
// unwritable path stops the benchmark before it measures.
std::string results_file(const std::string& out, const std::string& file, const std::string& name);
std::string utc_now();

}  // namespace aslnet::bench
