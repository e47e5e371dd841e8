#include "app/bench.h"

#include "app/commands.h"

namespace aslnet::app {

void register_bench(CLI::App& app) {
  auto* bench = app.add_subcommand("bench", "Benchmarks: kernels, all-reduce bandwidth, training per GPU count");
  bench->require_subcommand(1);
  register_bench_kernels(*bench);
  register_bench_allreduce(*bench);
  register_bench_train(*bench);
}

}  // namespace aslnet::app
