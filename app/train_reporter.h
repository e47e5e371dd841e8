// What aslnet train shows and writes while the lead replica trains: the run's first line and the
// loading notes, the progress bar, one line and one log.jsonl record per epoch, the held-out file
// list, the bucket table (--print-buckets), and the checkpoints (OUT/last, best, last-ema, best-ema
// .safetensors). The Trainer's hooks call it; it never changes what is trained.
//
// The best validation accuracies so far travel in every checkpoint's metadata (best_val_accuracy,
// best_val_epoch, best_ema_val_accuracy), so a resumed run replaces OUT/best only with a better model
// than the run before the interruption saw, not with its first validated epoch, and --early-stop
// keeps counting from the best epoch before the interruption.
//
// OUT/metrics.csv (report/metrics_csv.h) gets one row per epoch; a resumed run keeps the rows of the
// epochs its checkpoint finished.
#pragma once

#include <chrono>
#include <optional>
#include <set>
#include <string>

#include "app/progress.h"
#include "app/train.h"
#include "app/train_data.h"
#include "engine/checkpoint.h"
#include "engine/early_stop.h"
#include "report/metrics_csv.h"
#include "run/replica_run.h"

namespace aslnet::app {

class TrainReporter {
 public:
  // `record`: the run's record (app/run_record.h), written as OUT/run.json and into every checkpoint.
  TrainReporter(const TrainOptions& options, const RunData& data, ReplicaRun& run, const ReplicaPlace& place,
                const nlohmann::json& record);

  void start();  // the first line, notes, the start record, run.json and validation-files.txt
  void step(const StepReport& report);
  void epoch(const EpochReport& report);
  void stopped(const std::string& why);  // a non-finite loss: the checkpoints on disk stay as they are
  void interrupted();                    // Ctrl-C or --stop-after: writes last.safetensors to resume from
  void done();
  // After epoch(): --early-stop's patience ran out (never after the last epoch).
  bool stopping_early() const { return stopping_early_; }

 private:
  std::string path(const std::string& file) const;
  void stamp_meta();
  void save(const std::string& file);      // a training checkpoint (optimizer state included)
  void save_ema(const std::string& file);  // the averaged weights, as an inference checkpoint
  void write_validation_files() const;
  void write_run_record() const;
  std::string epoch_line(const EpochReport& report);
  std::vector<std::string> skipped_files() const;
  void resume_best_scores(const std::string& checkpoint);
  void open_metrics();
  void write_metrics(const EpochReport& report);
  void print_buckets();  // --print-buckets, after the first reduced backward

  const TrainOptions& o_;
  const RunData& data_;
  ReplicaRun& run_;
  const ReplicaPlace& place_;
  const nlohmann::json& record_;
  Progress progress_;
  CheckpointMeta meta_;
  ValidationBest best_;
  double best_ema_ = -1.0;
  int64_t resumed_epochs_ = 0;  // epochs the resumed checkpoint had finished
  bool stopping_early_ = false;
  std::optional<MetricsWriter> metrics_;
  std::chrono::steady_clock::time_point run_start_;
  double last_lr_ = 0.0, last_rate_ = 0.0;  // the latest step's learning rate and images/s
  std::set<std::string> reported_skips_;  // unreadable files named in an epoch line so far
  std::chrono::steady_clock::time_point epoch_start_;
  int64_t images_this_epoch_ = 0;
  bool buckets_printed_ = false;
};

}  // namespace aslnet::app
