#include "app/eval_report.h"

#include <fmt/core.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "report/contact_sheet.h"
#include "data/jpeg.h"

namespace aslnet::app {

namespace {

std::string folder_names(const std::vector<std::string>& folders) {
  std::string names;
  for (const auto& f : folders)
    names += (names.empty() ? "" : ", ") + std::filesystem::path(f).filename().string();
  return names;
}

std::string class_list(const std::vector<int32_t>& classes, const std::vector<std::string>& names) {
  std::string out;
  for (int32_t c : classes) out += (out.empty() ? "" : " ") + names[size_t(c)];
  return out;
}

nlohmann::json figures_json(const EvalResult& r, const std::vector<std::string>& classes) {
  nlohmann::json per_class = nlohmann::json::object();
  for (int64_t c = 0; c < r.classes; ++c)
    if (r.class_count(c) > 0)
      per_class[classes[size_t(c)]] = {{"accuracy", r.class_accuracy(c)}, {"count", r.class_count(c)}};
  nlohmann::json restricted = nlohmann::json::array();
  for (int32_t c : r.restricted_classes) restricted.push_back(classes[size_t(c)]);
  return {{"images", r.count},
          {"correct", r.correct},
          {"accuracy", r.accuracy()},
          {"restricted_correct", r.restricted_correct},
          {"restricted_accuracy", r.restricted_accuracy()},
          {"restricted_classes", restricted},
          {"loss", r.loss},
          {"per_class", per_class},
          {"confusion", r.confusion}};
}

void print_row(const std::string& name, const EvalResult& r) {
  fmt::print("{:<16} {:>7} {:>9.2f}% {:>11.2f}% {:>8.4f} {:>8}\n", name, r.count, 100.0 * r.accuracy(),
             100.0 * r.restricted_accuracy(), r.loss, r.restricted_classes.size());
}

}  // namespace

void print_eval_text(const EvalRun& run, bool matrix) {
  const std::vector<EvalView> views = tta_view_list(run.tta);
  std::string view_names;
  for (EvalView v : views) view_names += (view_names.empty() ? "" : ", ") + view_name(v);
  fmt::print("{}, test-time augmentation {} ({} view{}: {})\n", run.checkpoint, tta_name(run.tta), views.size(),
             views.size() == 1 ? "" : "s", view_names);
  for (const EvaluatedSource& s : run.sources) {
    if (!s.index.empty_class_folders.empty())
      fmt::print("note: {}: {} class folder(s) without images skipped: {}\n", s.spec.name,
                 s.index.empty_class_folders.size(), folder_names(s.index.empty_class_folders));
    if (!s.skipped.empty()) {
      fmt::print("note: {}: {} unreadable file(s) skipped:\n", s.spec.name, s.skipped.size());
      for (const auto& f : s.skipped) fmt::print("  {}\n", f);
    }
  }
  // "restricted": the prediction restricted to the classes the source has images of ("classes").
  fmt::print("{:<16} {:>7} {:>10} {:>12} {:>8} {:>8}\n", "source", "images", "accuracy", "restricted", "loss",
             "classes");
  for (const EvaluatedSource& s : run.sources) print_row(s.spec.name, s.result);
  if (run.sources.size() > 1) print_row("total", run.total);
  const EvalResult& t = run.total;
  if (int64_t(t.restricted_classes.size()) < t.classes) {
    std::vector<int32_t> absent;
    for (int32_t c = 0; c < int32_t(t.classes); ++c)
      if (!std::binary_search(t.restricted_classes.begin(), t.restricted_classes.end(), c)) absent.push_back(c);
    fmt::print("(restricted: the most probable of the classes the source has images of; in the total never {})\n",
               class_list(absent, run.classes));
  }

  fmt::print("\nper class{}:\n", run.sources.size() > 1 ? " (total)" : "");
  size_t name_width = 1;
  for (int64_t c = 0; c < t.classes; ++c)
    if (t.class_count(c) > 0) name_width = std::max(name_width, run.classes[size_t(c)].size());
  std::string line;
  int on_line = 0;
  for (int64_t c = 0; c < t.classes; ++c) {
    if (t.class_count(c) == 0) continue;
    line += fmt::format("  {:<{}} {:5.1f}% {:<6}", run.classes[size_t(c)], name_width, 100.0 * t.class_accuracy(c),
                        fmt::format("({})", t.class_count(c)));
    if (++on_line == 6) {
      fmt::print("{}\n", line.substr(0, line.find_last_not_of(' ') + 1));
      line.clear();
      on_line = 0;
    }
  }
  if (!line.empty()) fmt::print("{}\n", line.substr(0, line.find_last_not_of(' ') + 1));
  if (!matrix) return;
  const int64_t k = t.classes;
  fmt::print("\nconfusion matrix (rows: true class, columns: predicted):\n{:>8}", "");
  for (const auto& c : run.classes) fmt::print(" {:>4}", c.substr(0, 4));
  fmt::print("\n");
  for (int64_t r = 0; r < k; ++r) {
    if (t.class_count(r) == 0) continue;
    fmt::print("{:>8}", run.classes[size_t(r)]);
    for (int64_t p = 0; p < k; ++p) {
      const int64_t n = t.confusion[size_t(r * k + p)];
      fmt::print(" {:>4}", n ? std::to_string(n) : ".");
    }
    fmt::print("\n");
  }
}

nlohmann::json eval_json(const EvalRun& run) {
  nlohmann::json views = nlohmann::json::array(), sources = nlohmann::json::array(), skipped = nlohmann::json::array();
  for (EvalView v : tta_view_list(run.tta)) views.push_back(view_name(v));
  for (const EvaluatedSource& s : run.sources) {
    nlohmann::json j = figures_json(s.result, run.classes);
    j["name"] = s.spec.name;
    j["dir"] = s.spec.dir;
    j["origins"] = s.spec.origins;
    j["empty_class_folders"] = s.index.empty_class_folders;
    j["skipped_files"] = s.skipped;
    for (const auto& f : s.skipped) skipped.push_back(f);
    sources.push_back(j);
  }
  nlohmann::json out = figures_json(run.total, run.classes);
  out["checkpoint"] = run.checkpoint;
  out["tta"] = tta_name(run.tta);
  out["views"] = views;
  out["classes"] = run.classes;
  out["sources"] = sources;
  out["total"] = figures_json(run.total, run.classes);
  out["skipped_files"] = skipped;
  return out;
}

void write_confusion_csv(const std::string& path, const std::vector<std::string>& classes, const EvalResult& r) {
  std::ofstream csv(path);
  ASLNET_CHECK(csv.good()) << "cannot write --csv " << path;
  const int64_t k = r.classes;
  csv << "true\\predicted";
  for (const auto& c : classes) csv << "," << c;
  csv << "\n";
  for (int64_t t = 0; t < k; ++t) {
    csv << classes[size_t(t)];
    for (int64_t p = 0; p < k; ++p) csv << "," << r.confusion[size_t(t * k + p)];
    csv << "\n";
  }
  ASLNET_CHECK(csv.good()) << "cannot write --csv " << path;
}

int64_t write_misread_sheet(const std::string& path, const EvalRun& run, int64_t max) {
  // The rows of every source, in order, with the file each one shows.
  Predictions all;
  all.classes = int64_t(run.classes.size());
  std::vector<std::string> files;
  for (const EvaluatedSource& s : run.sources) {
    all.append(s.predictions);
    const std::set<std::string> skipped(s.skipped.begin(), s.skipped.end());
    for (const Sample& sample : s.index.samples) files.push_back(skipped.count(sample.path) ? "" : sample.path);
  }
  ASLNET_CHECK(int64_t(files.size()) == all.count())
      << "eval: " << all.count() << " predictions for " << files.size() << " images";
  std::vector<int64_t> wrong;
  int64_t misread = 0;
  for (int64_t row : most_confident_misreads(all, all.count())) {
    if (files[size_t(row)].empty()) continue;
    ++misread;
    if (int64_t(wrong.size()) < max) wrong.push_back(row);
  }
  const ContactSheetLayout layout;
  JpegDecoder decoder;
  std::vector<ContactSheetTile> tiles;
  for (int64_t row : wrong) {
    ContactSheetTile tile;
    tile.photo = decoder.decode_file(files[size_t(row)], layout.thumbnail, layout.thumbnail);
    const int32_t predicted = top_class(all.row(row), all.classes);
    tile.truth = run.classes[size_t(all.labels[size_t(row)])];
    tile.predicted = run.classes[size_t(predicted)];
    tile.confidence = all.row(row)[predicted];
    tiles.push_back(std::move(tile));
  }
  const std::string title =
      misread == 0 ? fmt::format("NO MISREADS IN {} PHOTOS", all.count())
                   : fmt::format("{} OF {} MISREAD ({} PHOTOS), MOST CONFIDENT FIRST", tiles.size(), misread,
                                 all.count());
  write_contact_sheet(path, tiles, title, layout, "--misread-png");
  return int64_t(tiles.size());
}

}  // namespace aslnet::app
