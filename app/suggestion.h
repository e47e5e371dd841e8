// "Did you mean": the nearest known name to a mistyped option or subcommand, for the error a typo gets
// (`aslnet train --epoch 3`, a key in a --config file, `aslnet trian`).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace aslnet::app {

// The candidate nearest to `given` by edit distance (case-insensitive), if it is near enough to be a
// typo (at most a third of the longer name, and 1 for short names; a prefix of one candidate counts as
// near); "" otherwise.
std::string nearest(const std::string& given, const std::vector<std::string>& candidates);

// " (did you mean --epochs?)" for an unknown option of `cmd` (given with its dashes, with or without
// "=VALUE"), or "" when nothing is near.
std::string option_suggestion(const CLI::App& cmd, const std::string& given);

// The deepest subcommand the parse reached ("train", "bench train"), or the app itself.
const CLI::App& deepest_subcommand(const CLI::App& app);

// The one-line message for unknown arguments: each unknown option named with a suggestion, e.g.
// "train: unknown option --epoch (did you mean --epochs?)"; an unknown subcommand likewise.
std::string unknown_arguments_message(const CLI::App& app, const std::vector<std::string>& extras);

}  // namespace aslnet::app
