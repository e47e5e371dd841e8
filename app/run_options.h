// A command's options as values: what OUT/run.json records of a run, and what `--config FILE` and
// `--resume CHECKPOINT` read back. One place knows how a CLI11 option becomes a value and a value an
// option again, so that a recorded run replays exactly as typed.
//
// An option is named by its long name without dashes ("epochs", "image-size"), a positional by its own
// name ("data"). Values are JSON: numbers as numbers, flags as booleans, lists as arrays.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace aslnet::app {

struct OptionSetting {
  std::string name;                 // as written in the file (dashes or underscores)
  std::vector<std::string> values;  // as they would be typed; a flag's is "true" or "false"
};

// The option's name in records and files: its long name without dashes, or a positional's name.
std::string option_key(const CLI::Option& opt);
// As typed: "--epochs", or a positional's name ("data").
std::string option_flag(const CLI::Option& opt);

// Every option of `cmd` but --help and those named in `skip`, with its value now: as given, or else
// the value its variable holds (the default, or what the command resolved it to after parsing).
// An option with no variable (a callback) reads as "" unless given: its command records it itself.
nlohmann::json option_values(const CLI::App& cmd, const std::set<std::string>& skip);

// A record's value as settings (run.json's "options", or any JSON object of them).
std::vector<OptionSetting> settings_from_json(const nlohmann::json& options);

// The settings of a file: JSON (an object; run.json's "options" when it has them), else TOML or INI as
// CLI11 reads them (INI for a .ini file), keys at the top or in a [command] section. `command` is
// the subcommand the file is for; keys of other sections are refused.
std::vector<OptionSetting> read_option_file(const std::string& path, const std::string& command);

// The option a setting names (dashes or underscores), or an Error naming `origin`, the key and the
// nearest option.
CLI::Option* find_option(CLI::App& cmd, const std::string& name, const std::string& origin);

// Gives the option `values` as if typed on the command line (validated, callbacks run); a bad value is an
// Error naming `origin` and the option.
void set_option(CLI::Option& opt, const std::vector<std::string>& values, const std::string& origin);

// What a given option says, as typed ("true"/"false" for a flag).
std::vector<std::string> current_values(const CLI::Option& opt);

// Each setting whose option was not given on the command line (the command line wins).
void apply_settings(CLI::App& cmd, const std::vector<OptionSetting>& settings, const std::string& origin);

// Whether two values of one option say the same ("0.1" and "0.10", "true" and "1").
bool same_values(const std::vector<std::string>& a, const std::vector<std::string>& b);

// "--lr 0.1", "--val-dir a b", "--nesterov false": for messages (`flag` as option_flag gives it).
std::string describe_setting(const std::string& flag, const std::vector<std::string>& values);

}  // namespace aslnet::app
