// aslnet eval --checkpoint C SOURCE... (or eval C SOURCE...): accuracy (top-1 and top-5), accuracy
// restricted to the classes present, per-class precision, recall and F1 with their macro averages, and
// the confusion matrix of a trained model on one or more sources (class folders, some classes only if
// need be, or flat <class>_test.jpg files; DIR@ORIGIN selects file origins, --by-origin splits each
// source by origin), each reported by name, then their total; on the device --device picks, --batch
// images per forward pass; with test-time augmentation (--tta), as text, JSON (with every image's
// prediction), CSV, a PNG of the matrix, and a contact sheet of the misread photos.
#include "app/eval.h"

#include <fmt/core.h>

#include <algorithm>
#include <set>

#include "app/checkpoint_argument.h"
#include "app/cli_checks.h"
#include "app/commands.h"
#include "app/device_options.h"
#include "app/eval_report.h"
#include "app/tta_option.h"
#include "data/loader.h"
#include "models/inference_model.h"
#include "report/confusion_png.h"

namespace aslnet::app {

namespace {

// The sources to evaluate, indexed; with by_origin, each split into one source per file origin, named
// by the origin (by "NAME@ORIGIN" when several sources are split).
std::vector<EvaluatedSource> gather_sources(const EvalOptions& o) {
  std::vector<std::string> texts = o.sources;
  if (!o.data.empty()) texts.insert(texts.begin(), o.data);
  ASLNET_CHECK(!texts.empty()) << "eval: no source given (expected a folder, DIR@ORIGIN or NAME=DIR)";
  std::vector<SourceSpec> specs;
  for (const auto& t : texts) specs.push_back(parse_source(t, "source"));
  check_unique_names(specs, "source");
  std::vector<EvaluatedSource> out;
  for (const SourceSpec& spec : specs) {
    DatasetIndex index = index_source(spec, /*test_layout=*/true);
    if (!o.by_origin) {
      out.push_back({spec, std::move(index), {}, {}, {}});
      continue;
    }
    std::set<std::string> origins;
    for (const Sample& s : index.samples) origins.insert(file_origin(s.path));
    for (const std::string& origin : origins) {
      SourceSpec part{specs.size() == 1 ? origin : spec.name + "@" + origin, spec.dir, {origin}};
      if (origin.empty()) part.name = specs.size() == 1 ? "no-origin" : spec.name + "@no-origin";
      DatasetIndex part_index = index_source(part, /*test_layout=*/true);
      out.push_back({std::move(part), std::move(part_index), {}, {}, {}});
    }
  }
  std::vector<SourceSpec> names;
  for (const auto& s : out) names.push_back(s.spec);
  check_unique_names(names, o.by_origin ? "--by-origin" : "source");
  return out;
}

// One pass per view of `tta` through the loader, the probabilities averaged per sample.
void evaluate_source(Context& ctx, InferenceModel& m, EvaluatedSource& s, TtaMode tta, const EvalOptions& o,
                     int64_t batch) {
  std::vector<std::vector<double>> per_view;
  std::set<std::string> skipped;
  for (EvalView view : tta_view_list(tta)) {
    LoaderOptions lo;
    // On a GPU the loader hands over raw pixels (a quarter of the bytes to copy), normalised there.
    if (ctx.device().is_cuda()) lo.dtype = DType::U8;
    lo.batch = batch;
    lo.image_size = m.image_size;
    lo.train = false;
    lo.drop_last = false;
    lo.norm = m.norm;
    lo.threads = o.threads;
    lo.view = view;
    Loader loader(s.index, lo);
    Predictions p = predict_source(ctx, *m.model, loader);
    ASLNET_CHECK(p.count() == int64_t(s.index.samples.size()))
        << "eval: " << s.spec.name << " gave " << p.count() << " predictions for " << s.index.samples.size()
        << " images";
    if (per_view.empty())
      s.predictions = p;
    else
      ASLNET_CHECK(p.labels == s.predictions.labels) << "eval: the views of " << s.spec.name << " disagree on labels";
    per_view.push_back(std::move(p.probabilities));
    for (const auto& f : loader.skipped_files()) skipped.insert(f);
  }
  s.predictions.probabilities = average_probabilities(per_view);
  s.figures = eval_figures(s.predictions);
  s.skipped.assign(skipped.begin(), skipped.end());
}

}  // namespace

void run_eval(const EvalOptions& o) {
  const TtaMode tta = parse_tta(o.tta);
  ASLNET_CHECK(o.misread_max >= 0) << "--misread-max must not be negative, got " << o.misread_max;
  Context::set_cpu_threads(o.threads);
  Context ctx(inference_device(o.device));
  EvalRun run;
  run.checkpoint = o.checkpoint;
  run.device = describe_device(ctx, "fp32");
  run.tta = tta;
  run.sources = gather_sources(o);
  int64_t largest = 0;
  for (const auto& s : run.sources) largest = std::max(largest, int64_t(s.index.samples.size()));
  const int64_t batch = std::min<int64_t>(o.batch, largest);
  InferenceModel m = load_for_inference(ctx, o.checkpoint, batch, BatchNormFold::Fold);
  run.classes = m.classes;

  Predictions all;
  for (EvaluatedSource& s : run.sources) {
    evaluate_source(ctx, m, s, tta, o, batch);
    all.append(s.predictions);
  }
  run.total = eval_figures(all);

  const EvalResult& total = run.total.result;
  if (!o.csv.empty()) write_confusion_csv(o.csv, run.classes, total);
  if (!o.png.empty())
    write_confusion_png(
        o.png, run.classes, total.confusion,
        fmt::format("accuracy {:.1f}% (restricted {:.1f}%), macro F1 {:.1f}% on {} images", 100.0 * total.accuracy(),
                    100.0 * total.restricted_accuracy(), 100.0 * run.total.per_class.macro_f1, total.count));
  int64_t tiles = 0;
  if (!o.misread_png.empty()) tiles = write_misread_sheet(o.misread_png, run, o.misread_max);

  if (o.json) {
    nlohmann::json j = eval_json(run);
    if (!o.misread_png.empty()) j["misread_png"] = {{"path", o.misread_png}, {"photos", tiles}};
    fmt::print("{}\n", j.dump(2));
    return;
  }
  print_eval_text(run, o.matrix);
  if (!o.misread_png.empty()) fmt::print("\nwrote {} misread photo(s) to {}\n", tiles, o.misread_png);
}

void register_eval(CLI::App& app) {
  auto o = std::make_shared<EvalOptions>();
  auto* cmd = app.add_subcommand("eval",
                                 "Accuracy (top-1, top-5, restricted to the classes present), per-class precision, "
                                 "recall and F1 (macro averages over the classes with images) and confusion of a "
                                 "checkpoint");
  cmd->footer(
      "Forms: aslnet eval --checkpoint C SOURCE... or aslnet eval C SOURCE... (the checkpoint first).\n"
      "A class's precision: the share of the images predicted as it that are of it (0 when none is); its recall:\n"
      "the share of its images predicted as it (its accuracy); F1: their harmonic mean. The macro averages are\n"
      "plain means over the classes with images in the source (macro F1: the mean of the F1s). Top-5: the true\n"
      "class is among the five most probable.");
  add_checkpoint_option(*cmd, o->checkpoint);
  cmd->add_option("sources", o->sources,
                  "SOURCE...: folders of class folders (any subset of classes) or of <class>_test.jpg files; "
                  "DIR@ORIGIN[+ORIGIN] keeps files named ORIGIN_*.jpg; NAME=DIR names a source; without "
                  "--checkpoint, the first argument is the checkpoint")
      ->required();
  cmd->add_flag("--by-origin", o->by_origin, "report each file origin (rfasl_1.jpg: rfasl) of each source apart");
  add_tta_option(*cmd, o->tta);
  cmd->add_option("--device", o->device, "auto (the first GPU when there is one), cpu or cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  cmd->add_option("--batch", o->batch, "images per forward pass")->check(positive());
  cmd->add_option("--threads", o->threads, "CPU threads (0: all cores)")->check(non_negative());
  add_cpu_kernels_option(*cmd);
  cmd->add_option("--csv", o->csv, "write the total's confusion matrix as CSV");
  cmd->add_option("--png", o->png, "write the total's confusion matrix as a PNG picture");
  cmd->add_option("--misread-png", o->misread_png,
                  "write a contact sheet of misread photos (true and read letter, confidence) as PNG");
  cmd->add_option("--misread-max", o->misread_max, "the most confident mistakes shown on --misread-png")
      ->check(non_negative());
  cmd->add_flag("--matrix", o->matrix, "print the confusion matrix too (within 100 columns)");
  cmd->add_flag("--json", o->json,
                "print the results as JSON (every source, and the total; each source with its images' predictions: "
                "path, true and predicted class, top 5 with probabilities)");
  cmd->callback([o] {
    EvalOptions given = *o;
    take_positional_checkpoint("eval", given.checkpoint, given.sources, "SOURCE");
    run_eval(given);
  });
}

}  // namespace aslnet::app
