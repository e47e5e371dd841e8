// aslnet eval CHECKPOINT DIR: accuracy, per-class accuracy and the confusion matrix of a trained model
// on a folder (class folders, or flat <class>_test.jpg files), as text, CSV, a PNG picture, or JSON.
#include "app/eval.h"

#include <fmt/core.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "models/inference_model.h"
#include "data/confusion_png.h"
#include "data/dataset_index.h"
#include "data/loader.h"
#include "engine/evaluate.h"

namespace aslnet::app {


void run_eval(const EvalOptions& o) {
  Context::set_cpu_threads(o.threads);
  Context ctx;
  const DatasetIndex index = index_test_folder(o.data);
  const int64_t batch = std::min<int64_t>(o.batch, int64_t(index.samples.size()));
  InferenceModel m = load_for_inference(ctx, o.checkpoint, batch);
  LoaderOptions lo;
  lo.batch = batch;
  lo.image_size = m.image_size;
  lo.train = false;
  lo.drop_last = false;
  lo.norm = m.norm;
  lo.threads = o.threads;
  Loader loader(index, lo);
  const EvalResult r = evaluate(ctx, *m.model, loader);
  const auto skipped = loader.skipped_files();
  const int64_t k = r.classes;

  if (!o.csv.empty()) {
    std::ofstream csv(o.csv);
    ASLNET_CHECK(csv.good()) << "cannot write --csv " << o.csv;
    csv << "true\\predicted";
    for (const auto& c : m.classes) csv << "," << c;
    csv << "\n";
    for (int64_t t = 0; t < k; ++t) {
      csv << m.classes[size_t(t)];
      for (int64_t p = 0; p < k; ++p) csv << "," << r.confusion[size_t(t * k + p)];
      csv << "\n";
    }
    ASLNET_CHECK(csv.good()) << "cannot write --csv " << o.csv;
  }
  if (!o.png.empty())
    write_confusion_png(o.png, m.classes, r.confusion,
                        fmt::format("accuracy {:.1f}% on {} images", 100.0 * r.accuracy(), r.count));

  if (o.json) {
    nlohmann::json per_class = nlohmann::json::object();
    for (int64_t c = 0; c < k; ++c)
      if (r.class_count(c) > 0)
        per_class[m.classes[size_t(c)]] = {{"accuracy", r.class_accuracy(c)}, {"count", r.class_count(c)}};
    fmt::print("{}\n", nlohmann::json{{"checkpoint", o.checkpoint},
                                      {"data", o.data},
                                      {"images", r.count},
                                      {"accuracy", r.accuracy()},
                                      {"loss", r.loss},
                                      {"per_class", per_class},
                                      {"confusion", r.confusion},
                                      {"classes", m.classes},
                                      {"skipped_files", skipped}}
                           .dump(2));
    return;
  }
  fmt::print("{} on {}: accuracy {:.2f}% ({} of {} images), loss {:.4f}\n", o.checkpoint, o.data, 100.0 * r.accuracy(),
             r.correct, r.count, r.loss);
  if (!skipped.empty()) {
    fmt::print("skipped {} unreadable file(s):\n", skipped.size());
    for (const auto& s : skipped) fmt::print("  {}\n", s);
  }
  fmt::print("\nper class:\n");
  for (int64_t c = 0; c < k; ++c)
    if (r.class_count(c) > 0)
      fmt::print("  {:<8} {:6.2f}%  ({} images)\n", m.classes[size_t(c)], 100.0 * r.class_accuracy(c),
                 r.class_count(c));
  fmt::print("\nconfusion matrix (rows: true class, columns: predicted):\n{:>8}", "");
  for (const auto& c : m.classes) fmt::print(" {:>4}", c.substr(0, 4));
  fmt::print("\n");
  for (int64_t t = 0; t < k; ++t) {
    if (r.class_count(t) == 0) continue;
    fmt::print("{:>8}", m.classes[size_t(t)]);
    for (int64_t p = 0; p < k; ++p) {
      const int64_t n = r.confusion[size_t(t * k + p)];
      fmt::print(" {:>4}", n ? std::to_string(n) : ".");
    }
    fmt::print("\n");
  }
}

void register_eval(CLI::App& app) {
  auto o = std::make_shared<EvalOptions>();
  auto* cmd =
      app.add_subcommand("eval", "Accuracy, per-class accuracy and confusion matrix of a checkpoint on a folder");
  cmd->add_option("checkpoint", o->checkpoint, "a checkpoint written by aslnet train")->required();
  cmd->add_option("data", o->data, "class folders, or flat <class>_test.jpg files")->required();
  cmd->add_option("--batch", o->batch)->check(CLI::PositiveNumber);
  cmd->add_option("--threads", o->threads, "CPU threads (0: all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--csv", o->csv, "write the confusion matrix as CSV");
  cmd->add_option("--png", o->png, "write the confusion matrix as a PNG picture");
  cmd->add_flag("--json", o->json, "print the results as JSON");
  cmd->callback([o] { run_eval(*o); });
}

}  // namespace aslnet::app
