// aslnet bench: the engine's own benchmarks, for the users who measure it per GPU count. Each
// subcommand lives in its own file (bench_kernels.cpp, bench_allreduce.cpp, bench_train.cpp,
// bench_serve.cpp) and registers itself under `bench` here.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace aslnet::app {

void register_bench_kernels(CLI::App& bench);
void register_bench_allreduce(CLI::App& bench);
void register_bench_train(CLI::App& bench);
void register_bench_serve(CLI::App& bench);

// For the records each benchmark writes: this process's command line as the shell passed it (CLI11's
// callbacks do not see argv; `fallback` when /proc has none), and the time now, UTC, ISO 8601.
std::string bench_command_line(const std::string& fallback);
std::string bench_utc_now();

}  // namespace aslnet::app
