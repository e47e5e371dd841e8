#include "app/eval_report.h"

#include <fmt/core.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "data/jpeg.h"
#include "report/confusion_text.h"
#include "report/contact_sheet.h"

namespace aslnet::app {

namespace {

std::string folder_names(const std::vector<std::string>& folders) {
  std::string names;
  for (const auto& f : folders) names += (names.empty() ? "" : ", ") + std::filesystem::path(f).filename().string();
  return names;
}

std::string class_list(const std::vector<int32_t>& classes, const std::vector<std::string>& names) {
  std::string out;
  for (int32_t c : classes) out += (out.empty() ? "" : " ") + names[size_t(c)];
  return out;
}

nlohmann::json figures_json(const EvalFigures& f, const std::vector<std::string>& classes) {
  const EvalResult& r = f.result;
  nlohmann::json per_class = nlohmann::json::object();
  for (int64_t c = 0; c < r.classes; ++c) {
    const ClassFigures& m = f.per_class.per_class[size_t(c)];
    if (m.images == 0) continue;
    // "accuracy" is the recall, under the name eval has always given it.
    per_class[classes[size_t(c)]] = {{"accuracy", m.recall},
                                     {"count", m.images},
                                     {"predicted", m.predicted},
                                     {"hits", m.hits},
                                     {"precision", m.precision},
                                     {"recall", m.recall},
                                     {"f1", m.f1}};
  }
  nlohmann::json restricted = nlohmann::json::array();
  for (int32_t c : r.restricted_classes) restricted.push_back(classes[size_t(c)]);
  return {{"images", r.count},
          {"correct", r.correct},
          {"accuracy", r.accuracy()},
          {"top1_accuracy", r.accuracy()},
          {"top5_correct", f.top_k_correct},
          {"top5_accuracy", f.top_k_accuracy()},
          {"restricted_correct", r.restricted_correct},
          {"restricted_accuracy", r.restricted_accuracy()},
          {"restricted_classes", restricted},
          {"loss", r.loss},
          {"macro",
           {{"precision", f.per_class.macro_precision},
            {"recall", f.per_class.macro_recall},
            {"f1", f.per_class.macro_f1},
            {"classes", f.per_class.averaged_classes}}},
          {"per_class", per_class},
          {"confusion", r.confusion}};
}

// Every readable image of a source: its path, true and predicted class, and its top 5 with probabilities.
nlohmann::json predictions_json(const EvaluatedSource& s, const std::vector<std::string>& classes) {
  const Predictions& p = s.predictions;
  nlohmann::json out = nlohmann::json::array();
  for (int64_t i = 0; i < p.count(); ++i) {
    const int32_t label = p.labels[size_t(i)];
    if (label == kUnreadableLabel) continue;  // named in skipped_files instead
    nlohmann::json top = nlohmann::json::array();
    const std::vector<int32_t> ranked = top_k_classes(p.row(i), p.classes, kEvalTopK);
    for (int32_t c : ranked) top.push_back({{"class", classes[size_t(c)]}, {"probability", p.row(i)[c]}});
    out.push_back({{"path", s.index.samples[size_t(i)].path},
                   {"true", classes[size_t(label)]},
                   {"predicted", classes[size_t(ranked.front())]},
                   {"top5", top}});
  }
  return out;
}

void print_row(const std::string& name, const EvalFigures& f) {
  const EvalResult& r = f.result;
  const ClassMetrics& m = f.per_class;
  fmt::print("{:<16} {:>7} {:>8.2f}% {:>9.2f}% {:>6.2f}% {:>6.2f}% {:>6.2f}% {:>7.2f}% {:>7.4f} {:>7}\n", name, r.count,
             100.0 * r.accuracy(), 100.0 * r.restricted_accuracy(), 100.0 * f.top_k_accuracy(),
             100.0 * m.macro_precision, 100.0 * m.macro_recall, 100.0 * m.macro_f1, r.loss,
             r.restricted_classes.size());
}

// The per-class figures of the classes with images, as many to a line as fit in 100 columns.
void print_per_class(const EvalRun& run) {
  const ClassMetrics& m = run.total.per_class;
  size_t name_width = 1, count_width = 1;
  for (size_t c = 0; c < m.per_class.size(); ++c)
    if (m.per_class[c].images > 0) {
      name_width = std::max(name_width, run.classes[c].size());
      count_width = std::max(count_width, std::to_string(m.per_class[c].images).size());
    }
  const size_t cell = 2 + name_width + 1 + count_width + 3 * 6;
  const size_t per_line = std::max<size_t>(1, 100 / cell);
  fmt::print("\nper class{} (images, then precision, recall and F1 in %):\n",
             run.sources.size() > 1 ? " of the total" : "");
  std::string line;
  size_t on_line = 0;
  for (size_t c = 0; c < m.per_class.size(); ++c) {
    const ClassFigures& f = m.per_class[c];
    if (f.images == 0) continue;
    line += fmt::format("  {:>{}} {:>{}} {:5.1f} {:5.1f} {:5.1f}", run.classes[c], name_width, f.images, count_width,
                        100.0 * f.precision, 100.0 * f.recall, 100.0 * f.f1);
    if (++on_line == per_line) {
      fmt::print("{}\n", line);
      line.clear();
      on_line = 0;
    }
  }
  if (!line.empty()) fmt::print("{}\n", line);
}

}  // namespace

void print_eval_text(const EvalRun& run, bool matrix) {
  const std::vector<EvalView> views = tta_view_list(run.tta);
  std::string view_names;
  for (EvalView v : views) view_names += (view_names.empty() ? "" : ", ") + view_name(v);
  fmt::print("{} on {}, test-time augmentation {} ({} view{}: {})\n", run.checkpoint, run.device, tta_name(run.tta),
             views.size(), views.size() == 1 ? "" : "s", view_names);
  for (const EvaluatedSource& s : run.sources) {
    if (!s.index.empty_class_folders.empty())
      fmt::print("note: {}: {} class folder(s) without images skipped: {}\n", s.spec.name,
                 s.index.empty_class_folders.size(), folder_names(s.index.empty_class_folders));
    if (!s.skipped.empty()) {
      fmt::print("note: {}: {} unreadable file(s) skipped:\n", s.spec.name, s.skipped.size());
      for (const auto& f : s.skipped) fmt::print("  {}\n", f);
    }
  }
  // "restricted": the prediction restricted to the classes the source has images of ("classes"); the
  // macro averages are over those classes too.
  fmt::print("{:<16} {:>7} {:>9} {:>10} {:>7} {:>7} {:>7} {:>8} {:>7} {:>7}\n", "source", "images", "accuracy",
             "restricted", "top-5", "macro-P", "macro-R", "macro-F1", "loss", "classes");
  for (const EvaluatedSource& s : run.sources) print_row(s.spec.name, s.figures);
  if (run.sources.size() > 1) print_row("total", run.total);
  const EvalResult& t = run.total.result;
  if (int64_t(t.restricted_classes.size()) < t.classes) {
    std::vector<int32_t> absent;
    for (int32_t c = 0; c < int32_t(t.classes); ++c)
      if (!std::binary_search(t.restricted_classes.begin(), t.restricted_classes.end(), c)) absent.push_back(c);
    fmt::print("(restricted: the most probable of the classes the source has images of; in the total never {})\n",
               class_list(absent, run.classes));
  }
  print_per_class(run);
  if (!matrix) return;
  fmt::print("\n{}", confusion_text(run.classes, t.confusion));
}

nlohmann::json eval_json(const EvalRun& run) {
  nlohmann::json views = nlohmann::json::array(), sources = nlohmann::json::array(), skipped = nlohmann::json::array();
  for (EvalView v : tta_view_list(run.tta)) views.push_back(view_name(v));
  for (const EvaluatedSource& s : run.sources) {
    nlohmann::json j = figures_json(s.figures, run.classes);
    j["name"] = s.spec.name;
    j["dir"] = s.spec.dir;
    j["origins"] = s.spec.origins;
    j["empty_class_folders"] = s.index.empty_class_folders;
    j["skipped_files"] = s.skipped;
    j["predictions"] = predictions_json(s, run.classes);
    for (const auto& f : s.skipped) skipped.push_back(f);
    sources.push_back(j);
  }
  nlohmann::json out = figures_json(run.total, run.classes);
  out["checkpoint"] = run.checkpoint;
  out["device"] = run.device;
  out["tta"] = tta_name(run.tta);
  out["views"] = views;
  out["classes"] = run.classes;
  out["sources"] = sources;
  out["total"] = figures_json(run.total, run.classes);
  out["skipped_files"] = skipped;
  return out;
}

EvalFigures eval_figures(const Predictions& predictions) {
  EvalFigures f;
  f.result = score(predictions);
  f.per_class = class_metrics(f.result.confusion, f.result.classes);
  f.top_k_correct = top_k_correct(predictions, kEvalTopK);
  return f;
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
  const std::string title = misread == 0 ? fmt::format("NO MISREADS IN {} PHOTOS", all.count())
                                         : fmt::format("{} OF {} MISREAD ({} PHOTOS), MOST CONFIDENT FIRST",
                                                       tiles.size(), misread, all.count());
  write_contact_sheet(path, tiles, title, layout, "--misread-png");
  return int64_t(tiles.size());
}

}  // namespace aslnet::app
