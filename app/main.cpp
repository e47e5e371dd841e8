// aslnet: train, evaluate and run ResNets that read the ASL alphabet. Every failure reaches the user
// as one line on stderr and exit status 1.
#include <cstdio>
#include <exception>

#include "app/commands.h"
#include "bench/commands/bench.h"
#include "engine/core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"aslnet: a ResNet training engine on CUDA, cuDNN, cuBLAS and NCCL, for the ASL alphabet"};
  app.require_subcommand(1);
  aslnet::app::register_demo(app);
  aslnet::app::register_info(app);
  aslnet::app::register_train(app);
  aslnet::app::register_eval(app);
  aslnet::app::register_predict(app);
  aslnet::app::register_check_data(app);
  aslnet::app::register_synth(app);
  aslnet::bench::register_bench(app);
  aslnet::app::register_translate(app);
  aslnet::app::register_serve(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "aslnet: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
