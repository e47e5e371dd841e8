// aslnet: train, evaluate and run ResNets that read the ASL alphabet. Every failure reaches the user
// as one line on stderr and exit status 1: the message; with --verbose (or ASLNET_VERBOSE=1), also
// the failed check and its file:line.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "app/commands.h"
#include "bench/commands/bench.h"
#include "engine/core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"aslnet: a ResNet training engine on CUDA, cuDNN, cuBLAS and NCCL, for the ASL alphabet"};
  app.require_subcommand(1);
  bool verbose = std::getenv("ASLNET_VERBOSE") != nullptr && std::string(std::getenv("ASLNET_VERBOSE")) != "0";
  app.add_flag("--verbose", verbose,
               "errors also name the failed check and its source line (aslnet --verbose train ...)");
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
  aslnet::app::register_plot(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const aslnet::Error& e) {
    std::fprintf(stderr, "aslnet: error: %s\n", verbose ? e.what() : e.message().c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "aslnet: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
