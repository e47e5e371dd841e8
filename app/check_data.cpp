// aslnet check-data DIR: every problem in a data folder, before a long run trips on it: the layout
// (missing folder, unknown or empty class folders), files that are not JPEGs or do not decode, and
// images far smaller than training needs. Exits 1 when it found problems.
#include <fmt/core.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "app/cli_checks.h"
#include "app/commands.h"
#include "data/dataset_index.h"
#include "data/jpeg.h"
#include "engine/core/context.h"

namespace aslnet::app {

namespace {

struct CheckOptions {
  std::string data;
  int min_size = 32;
  int threads = 0;
};

void run_check(const CheckOptions& o) {
  Context::set_cpu_threads(o.threads);
  IndexOptions layout;
  layout.collect_layout_problems = true;  // every misnamed or empty folder, not only the first
  const DatasetIndex index = index_test_folder(o.data, layout);  // class folders, or flat <class>_test.jpg files
  std::vector<std::string> problems = index.layout_problems;
  // Files in class folders that the index ignores because of their extension.
  for (const auto& entry : std::filesystem::recursive_directory_iterator(o.data)) {
    if (!entry.is_regular_file()) continue;
    std::string ext = entry.path().extension().string();
    for (char& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
    if (ext != ".jpg" && ext != ".jpeg") problems.push_back(entry.path().string() + ": not a .jpg file (ignored)");
  }
  const size_t n = index.samples.size();
  std::vector<std::string> decode_problems(n);
  std::vector<int64_t> per_class(index.classes.size(), 0);
  const int threads = Context::cpu_threads();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      JpegDecoder decoder;
      for (size_t i = size_t(t); i < n; i += size_t(threads)) {
        try {
          const Image image = decoder.decode_file(index.samples[i].path);
          if (image.width < o.min_size || image.height < o.min_size)
            decode_problems[i] = fmt::format("{}: {}x{} pixels, smaller than {}", index.samples[i].path, image.width,
                                             image.height, o.min_size);
        } catch (const std::exception& e) {
          decode_problems[i] = e.what();  // names the file already
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  for (size_t i = 0; i < n; ++i) {
    ++per_class[size_t(index.samples[i].label)];
    if (!decode_problems[i].empty()) problems.push_back(decode_problems[i]);
  }
  fmt::print("{}: {} images in {} classes\n", o.data, n,
             std::count_if(per_class.begin(), per_class.end(), [](int64_t c) { return c > 0; }));
  if (const std::string one_class = one_class_problem(index); !one_class.empty())
    problems.push_back(o.data + ": " + one_class);
  for (size_t c = 0; c < per_class.size(); ++c)
    if (per_class[c] > 0) fmt::print("  {:<8} {}\n", index.classes[c], per_class[c]);
  if (problems.empty()) {
    fmt::print("no problems found\n");
    return;
  }
  fmt::print("{} problem(s):\n", problems.size());
  for (const auto& p : problems) fmt::print("  {}\n", p);
  ASLNET_CHECK(false) << problems.size() << " problem(s) in " << o.data;
}

}  // namespace

void register_check_data(CLI::App& app) {
  auto o = std::make_shared<CheckOptions>();
  auto* cmd = app.add_subcommand("check-data", "List every problem in a data folder (layout, unreadable images)");
  cmd->add_option("data", o->data, "a folder of class folders, or of <class>_test.jpg files")->required();
  cmd->add_option("--min-size", o->min_size, "report images smaller than this many pixels a side");
  cmd->add_option("--threads", o->threads, "CPU threads (0: all cores)")->check(non_negative());
  cmd->callback([o] { run_check(*o); });
}

}  // namespace aslnet::app
