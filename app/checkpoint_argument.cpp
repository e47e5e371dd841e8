#include "app/checkpoint_argument.h"

#include "engine/core/error.h"

namespace aslnet::app {

namespace {

bool looks_like_checkpoint(const std::string& path) {
  const std::string suffix = ".safetensors";
  return path.size() > suffix.size() && path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

CLI::Option* add_checkpoint_option(CLI::App& cmd, std::string& checkpoint) {
  return cmd.add_option("--checkpoint", checkpoint,
                        "a checkpoint written by aslnet train (or give it as the first argument, the older form)");
}

void take_positional_checkpoint(const std::string& command, std::string& checkpoint,
                                std::vector<std::string>& positionals, const std::string& rest) {
  if (!checkpoint.empty()) {
    // A mix of both forms would read the checkpoint as a SOURCE or IMAGE, with a puzzling message.
    ASLNET_CHECK(positionals.empty() || !looks_like_checkpoint(positionals.front()))
        << command << ": the checkpoint is given twice, --checkpoint " << checkpoint << " and " << positionals.front()
        << " (drop one)";
  } else {
    ASLNET_CHECK(!positionals.empty())
        << command << ": no checkpoint given (--checkpoint C, or the checkpoint as the first argument)";
    checkpoint = positionals.front();
    positionals.erase(positionals.begin());
  }
  ASLNET_CHECK(!positionals.empty()) << command << ": no " << rest << " given after the checkpoint " << checkpoint
                                     << " (usage: aslnet " << command << " --checkpoint C " << rest << "...)";
}

}  // namespace aslnet::app
