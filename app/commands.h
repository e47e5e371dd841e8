// Each subcommand of the aslnet binary lives in its own file and registers itself here; `aslnet bench`
// lives in bench/commands/ (bench/commands/bench.h).
#pragma once

#include <CLI/CLI.hpp>

namespace aslnet::app {

void register_demo(CLI::App& app);
void register_info(CLI::App& app);
void register_train(CLI::App& app);
void register_eval(CLI::App& app);
void register_predict(CLI::App& app);
void register_check_data(CLI::App& app);
void register_synth(CLI::App& app);
void register_translate(CLI::App& app);
void register_serve(CLI::App& app);
void register_plot(CLI::App& app);
void register_export(CLI::App& app);
void register_compare(CLI::App& app);

}  // namespace aslnet::app
