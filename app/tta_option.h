// The --tta flag shared by eval, predict, translate and serve: one text, one list of modes (data/tta.h).
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace aslnet::app {

CLI::Option* add_tta_option(CLI::App& cmd, std::string& tta);

}  // namespace aslnet::app
