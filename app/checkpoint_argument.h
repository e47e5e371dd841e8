// The checkpoint argument of the commands that run a trained model. One spelling, --checkpoint C, as
// translate and serve take it; eval and predict, which took the checkpoint as their first positional
// argument, still accept that form: without --checkpoint, the first positional is the checkpoint.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace aslnet::app {

// Adds --checkpoint to `cmd` (not required: the positional form may give it instead).
CLI::Option* add_checkpoint_option(CLI::App& cmd, std::string& checkpoint);

// After parsing: when --checkpoint was not given, moves the first of `positionals` into `checkpoint`.
// One-line errors, prefixed with `command`, when there is no checkpoint, no `rest` ("SOURCE", "IMAGE")
// after it, or the checkpoint given both ways (a .safetensors file first among the positionals).
void take_positional_checkpoint(const std::string& command, std::string& checkpoint,
                                std::vector<std::string>& positionals, const std::string& rest);

}  // namespace aslnet::app
