// aslnet bench: the engine's own benchmarks, for the users who measure it per GPU count. Each
// subcommand lives in its own file (bench_kernels.cpp, bench_allreduce.cpp, bench_train.cpp) and
// registers itself under `bench` here.
#pragma once

#include <CLI/CLI.hpp>

namespace aslnet::app {

void register_bench_kernels(CLI::App& bench);
void register_bench_allreduce(CLI::App& bench);
void register_bench_train(CLI::App& bench);

}  // namespace aslnet::app
