#include "app/run_folder.h"

#include <fmt/chrono.h>
#include <fmt/core.h>

#include <ctime>
#include <filesystem>

#include "engine/core/error.h"

namespace aslnet::app {

namespace fs = std::filesystem;

const std::vector<std::string>& run_files() {
  static const std::vector<std::string> files = {
      "last.safetensors", "best.safetensors", "last-ema.safetensors", "best-ema.safetensors", "log.jsonl",
      "metrics.csv",      "run.json",         "validation-files.txt"};
  return files;
}

std::string new_run_folder(const std::string& parent, const std::string& arch) {
  const std::time_t now = std::time(nullptr);
  const std::string stem = fmt::format("{:%Y%m%d-%H%M%S}-{}", fmt::localtime(now), arch);
  std::error_code error;
  fs::create_directories(parent, error);
  ASLNET_CHECK(!error) << "cannot make the runs folder " << parent << " (" << error.message()
                       << "); give --out DIR";
  // create_directory says whether it made the folder: two runs started in one second get two.
  for (int n = 1;; ++n) {
    const fs::path folder = fs::path(parent) / (n == 1 ? stem : fmt::format("{}-{}", stem, n));
    if (fs::create_directory(folder, error)) return folder.string();
    ASLNET_CHECK(!error) << "cannot make the run folder " << folder.string() << " (" << error.message() << ")";
  }
}

void prepare_run_folder(const std::string& out, bool overwrite) {
  std::error_code error;
  fs::create_directories(out, error);
  ASLNET_CHECK(!error) << "--out " << out << ": cannot make the folder (" << error.message() << ")";
  ASLNET_CHECK(fs::is_directory(out)) << "--out " << out << ": not a folder";
  if (fs::is_empty(out)) return;
  ASLNET_CHECK(overwrite) << "--out " << out
                          << " already holds files (a run before?): give a new folder, leave --out out for a new "
                             "one under runs/, --resume its last.safetensors to continue it, or --overwrite to "
                             "replace it";
  // (A killed write's temporary file is removed by the next write of its checkpoint.)
  for (const std::string& file : run_files()) fs::remove(fs::path(out) / file, error);
}

std::string point_latest(const std::string& out) {
  const fs::path target = fs::path(out);
  const fs::path link = target.parent_path() / "latest";
  std::error_code error;
  if (fs::exists(fs::symlink_status(link)) && !fs::is_symlink(fs::symlink_status(link)))
    return link.string() + " is not a link (left as it is)";
  fs::remove(link, error);
  fs::create_directory_symlink(target.filename(), link, error);
  return error ? fmt::format("cannot point {} at {} ({})", link.string(), out, error.message()) : "";
}

}  // namespace aslnet::app
