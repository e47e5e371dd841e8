// aslnet: train, evaluate and run ResNets that read the ASL alphabet. Every failure reaches the user
// as one line on stderr and exit status 1: the message; with --verbose (or ASLNET_VERBOSE=1), also
// the failed check and its file:line.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "app/commands.h"
#include "app/suggestion.h"
#include "app/versions.h"
#include "bench/commands/bench.h"
#include "engine/core/error.h"
#include "kernels/cpu_kernels.h"

namespace {

// An empty list's captured default ("[]") says nothing in --help: show none.
void drop_empty_defaults(CLI::App& app) {
  for (CLI::Option* opt : app.get_options())
    if (opt->get_default_str() == "[]") opt->default_str("");
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) drop_empty_defaults(*sub);
}

}  // namespace

int main(int argc, char** argv) {
  aslnet::kernels::use_passive_openmp(argv);  // may restart the program once (kernels/cpu_kernels.h)
  CLI::App app{"aslnet: a ResNet training engine on CUDA, cuDNN, cuBLAS and NCCL, for the ASL alphabet"};
  app.require_subcommand(1);
  app.set_version_flag("--version", [] { return aslnet::app::version_text(); },
                       "print the version, the commit and the library versions, and exit");
  // --help shows every option's default, as the option's variable holds it before parsing.
  app.option_defaults()->always_capture_default();
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
  aslnet::app::register_export(app);
  aslnet::app::register_compare(app);
  drop_empty_defaults(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // A typo (an unknown option or command) gets the nearest name, not CLI11's "arguments were not expected"
    // or "A subcommand is required".
    const bool unknown = dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr ||
                         (app.get_subcommands().empty() && !app.remaining(true).empty());
    if (!unknown) return app.exit(e);
    std::fprintf(stderr, "aslnet: error: %s\n", aslnet::app::unknown_arguments_message(app, app.remaining(true)).c_str());
    return e.get_exit_code();
  } catch (const aslnet::Error& e) {
    std::fprintf(stderr, "aslnet: error: %s\n", verbose ? e.what() : e.message().c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "aslnet: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
