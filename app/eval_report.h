// What aslnet eval reports, once the sources are evaluated: the compact text, the JSON, the confusion
// matrix as CSV, and the contact sheet of misread photos. app/eval.cpp gathers and evaluates.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/dataset_index.h"
#include "data/sources.h"
#include "data/tta.h"
#include "engine/class_metrics.h"
#include "engine/evaluate.h"

namespace aslnet::app {

// eval's top-k accuracy is top-5 (the classes a user would look at; the per-image JSON lists them).
constexpr int kEvalTopK = 5;

// Everything eval reports about one set of predictions (a source, or the total).
struct EvalFigures {
  EvalResult result;          // accuracy, restricted accuracy, loss, confusion (engine/evaluate.h)
  ClassMetrics per_class;     // precision, recall, F1 and their macro averages (engine/class_metrics.h)
  int64_t top_k_correct = 0;  // images whose true class is among their kEvalTopK most probable
  double top_k_accuracy() const { return result.count ? double(top_k_correct) / double(result.count) : 0.0; }
};
EvalFigures eval_figures(const Predictions& predictions);

struct EvaluatedSource {
  SourceSpec spec;
  DatasetIndex index;       // its samples are the predictions' rows, in order
  Predictions predictions;  // averaged over the test-time augmentation's views
  EvalFigures figures;
  std::vector<std::string> skipped;  // unreadable files (their rows hold the next readable sample)
};

struct EvalRun {
  std::string checkpoint;
  std::string device;  // where the model ran (describe_device)
  std::vector<std::string> classes;
  TtaMode tta = TtaMode::none;
  std::vector<EvaluatedSource> sources;
  EvalFigures total;  // every source's predictions scored together (restricted to the classes of any)
};

// One table line per source (and the total when there are several), notes for empty class folders and
// unreadable files, the per-class precision, recall and F1 of the total (classes with images only), and
// with `matrix` its confusion matrix (rows of classes with images only), all within 100 columns.
void print_eval_text(const EvalRun& run, bool matrix);

// Everything, per source and for the total; the total's figures also at the top level. Each source also
// lists its images' predictions (path, true class, predicted class, the top 5 with probabilities), so
// that every figure can be recomputed from the JSON alone.
nlohmann::json eval_json(const EvalRun& run);

// The total's confusion matrix, every class (rows: true, columns: predicted); errors name --csv.
void write_confusion_csv(const std::string& path, const std::vector<std::string>& classes, const EvalResult& r);

// The `max` most confident mistakes over every source (the unrestricted prediction), as a contact
// sheet; rows standing in for an unreadable file are left out. Returns how many tiles it drew.
int64_t write_misread_sheet(const std::string& path, const EvalRun& run, int64_t max);

}  // namespace aslnet::app
