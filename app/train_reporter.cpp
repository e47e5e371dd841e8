#include "app/train_reporter.h"

#include <fmt/core.h>

#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "app/device_options.h"
#include "data/classes.h"
#include "engine/ema_weights.h"
#include "engine/replication/bucket_table.h"

namespace aslnet::app {

namespace {

nlohmann::json eval_json(const EvalResult& r) {
  return {{"loss", r.loss}, {"accuracy", r.accuracy()}, {"count", r.count}};
}

// " (kaggle 95.0%, rfasl 20.1%)": each validation set's accuracy.
std::string sets_text(const std::vector<std::pair<std::string, EvalResult>>& sets) {
  std::string text = " (";
  for (size_t i = 0; i < sets.size(); ++i)
    text += fmt::format("{}{} {:.1f}%", i ? ", " : "", sets[i].first, 100.0 * sets[i].second.accuracy());
  return text + ")";
}

nlohmann::json sets_json(const std::vector<std::pair<std::string, EvalResult>>& sets) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, result] : sets) out[name] = eval_json(result);
  return out;
}

nlohmann::json sources_json(const RunData& data) {
  nlohmann::json out = nlohmann::json::array();
  for (size_t s = 0; s < data.train_sources.size(); ++s)
    out.push_back({{"name", data.train_sources[s].name},
                   {"images", data.train_sizes[s]},
                   {"per_epoch", data.mix ? data.mix->draws()[s] : data.train_sizes[s]}});
  return out;
}

std::string validation_text(const TrainOptions& o, const RunData& data) {
  std::string text = fmt::format("{} for validation", data.val_images());
  if (data.val.size() > 1 || (data.val.size() == 1 && data.val[0].name != data.train_sources[0].name)) {
    text += ":";
    for (const NamedIndex& v : data.val) text += fmt::format(" {} {}", v.name, v.index.samples.size());
  }
  if (o.split.val_fraction > 0) text += fmt::format(", {} split", o.split.mode);
  return text;
}

// OUT/log.jsonl, with OUT made first.
std::string log_path(const TrainOptions& o) {
  std::error_code error;
  std::filesystem::create_directories(o.out, error);
  ASLNET_CHECK(!error) << "--out " << o.out << ": cannot make the folder (" << error.message() << ")";
  return (std::filesystem::path(o.out) / "log.jsonl").string();
}

}  // namespace

TrainReporter::TrainReporter(const TrainOptions& options, const RunData& data, ReplicaRun& run,
                             const ReplicaPlace& place, const nlohmann::json& record)
    : o_(options),
      data_(data),
      run_(run),
      place_(place),
      record_(record),
      progress_(options.quiet, log_path(options)) {
  // --resume reads the run's options back from here (app/train_resume.h).
  meta_.extra["run"] = record_.dump();
  meta_.classes = asl_classes();
  meta_.input_height = meta_.input_width = o_.image_size;
  const Normalization& norm = run_.train->options().norm;
  meta_.mean = {norm.mean.begin(), norm.mean.end()};
  meta_.std = {norm.std.begin(), norm.std.end()};
  std::string sources;
  for (const std::string& d : o_.data) sources += (sources.empty() ? "" : " ") + d;
  meta_.extra["train_dir"] = sources;
  meta_.extra["split"] = o_.split.val_fraction > 0 ? o_.split.mode : "none";
  if (!o_.resume.empty()) resume_best_scores(o_.resume);
}

void TrainReporter::resume_best_scores(const std::string& checkpoint) {
  const CheckpointMeta resumed = read_checkpoint_meta(checkpoint);
  resumed_epochs_ = resumed.epoch;
  const auto score = [&](const char* key, double& best) {
    const auto it = resumed.extra.find(key);
    if (it == resumed.extra.end()) return;
    try {
      best = std::stod(it->second);
    } catch (const std::exception&) {
      ASLNET_CHECK(false) << checkpoint << ": metadata " << key << " is '" << it->second << "', not a number";
    }
  };
  double best = -1.0;
  score("best_val_accuracy", best);
  score("best_ema_val_accuracy", best_ema_);
  // The best's epoch; a checkpoint written before it was recorded counts from its own epoch, so that
  // --early-stop's patience starts again at the resume rather than stopping at once.
  int64_t best_epoch = resumed.epoch;
  if (const auto it = resumed.extra.find("best_val_epoch"); it != resumed.extra.end()) {
    const std::string& text = it->second;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), best_epoch);
    ASLNET_CHECK(ec == std::errc() && end == text.data() + text.size() && best_epoch >= 0 &&
                 best_epoch <= resumed.epoch)
        << checkpoint << ": metadata best_val_epoch is '" << text << "', not an epoch in 0.." << resumed.epoch;
  }
  best_ = best >= 0 ? ValidationBest(best, best_epoch) : ValidationBest();
}

std::string TrainReporter::path(const std::string& file) const {
  return (std::filesystem::path(o_.out) / file).string();
}

// Where the run stands, in the metadata of the checkpoint about to be written.
void TrainReporter::stamp_meta() {
  meta_.extra["best_val_accuracy"] = fmt::format("{}", best_.accuracy());
  meta_.extra["best_val_epoch"] = std::to_string(best_.epoch());
  meta_.extra["best_ema_val_accuracy"] = fmt::format("{}", best_ema_);
  meta_.step = run_.optimizer->step_count();
  meta_.epoch = meta_.step / run_.steps_per_epoch;
}

void TrainReporter::save(const std::string& file) {
  stamp_meta();
  save_checkpoint(path(file), *run_.model, meta_, run_.optimizer.get());
}

// No optimizer state: an average is nothing to resume from.
void TrainReporter::save_ema(const std::string& file) {
  stamp_meta();
  EmaWeightsScope averaged(run_.ctx, *run_.model, *run_.optimizer);
  save_checkpoint(path(file), *run_.model, meta_);
}

// Which images were held out, so that later work (aslnet translate's tests, a user's own checks) can
// use only images this checkpoint never trained on.
void TrainReporter::write_validation_files() const {
  if (data_.val_images() == 0) return;
  const std::string list = path("validation-files.txt");
  std::ofstream out(list);
  for (const NamedIndex& v : data_.val)
    for (const Sample& s : v.index.samples) out << s.path << "\n";
  ASLNET_CHECK(out.good()) << "cannot write " << list;
}

// OUT/run.json: the run's record, for people and for `aslnet train --config OUT/run.json`.
void TrainReporter::write_run_record() const {
  const std::string file = path("run.json");
  std::ofstream out(file);
  out << record_.dump(2) << "\n";
  ASLNET_CHECK(out.good()) << "cannot write " << file;
}

void TrainReporter::start() {
  write_run_record();
  write_validation_files();
  open_metrics();
  for (const std::string& note : run_.load_notes) progress_.line(note);
  for (const std::string& note : data_.notes) progress_.line(note);
  if (o_.print_buckets) {
    if (run_.reducer != nullptr)
      run_.reducer->on_backward_reduced = [this] { print_buckets(); };
    else
      progress_.line("--print-buckets: one replica all-reduces nothing, so there are no buckets");
  }
  const ModelInfo& info = run_.model->info();
  const int64_t replica_batch = run_.train->options().batch;
  progress_.line(fmt::format(
      "training {} ({} stem, width {}) on {} images{} ({}), {} px, batch {}{}{}, {} epochs of {} steps, {}", info.arch,
      info.stem, info.width, data_.train.samples.size(),
      data_.train_sources.size() > 1 || data_.mix ? " from " + describe_sources(data_) : "", validation_text(o_, data_),
      o_.image_size, o_.batch,
      place_.total() > 1
          ? fmt::format(" ({} per replica x {} replicas, {})", replica_batch, place_.total(), place_.comm->name())
          : "",
      o_.accum_steps > 1 ? fmt::format(" x {} accumulated", o_.accum_steps) : "", o_.epochs, run_.steps_per_epoch,
      describe_device(run_.ctx, o_.precision)));
  progress_.json({{"event", "start"},
                  {"arch", info.arch},
                  {"train_images", data_.train.samples.size()},
                  {"train_sources", sources_json(data_)},
                  {"val_images", data_.val_images()},
                  {"epochs", o_.epochs},
                  {"replicas", place_.total()},
                  {"steps_per_epoch", run_.steps_per_epoch}});
}

// The table is printed once the first reduced backward has run, because which layer completes a bucket
// is observed there (engine/replication/bucket_table.h); no weight has changed yet. Asked for, so printed
// even with --quiet.
void TrainReporter::print_buckets() {
  if (buckets_printed_) return;
  buckets_printed_ = true;
  const GradientReducer& reducer = *run_.reducer;
  fmt::print(
      "gradient buckets: {} (--bucket-mb {}), all-reduced in this order over {} replicas ({}); seen in "
      "the first step's backward:\n{}",
      reducer.buckets().size(), o_.bucket_mb, place_.total(), place_.comm->name(), bucket_table(reducer));
  std::fflush(stdout);
}

void TrainReporter::step(const StepReport& r) {
  if (r.step_in_epoch == 0 || images_this_epoch_ == 0) {
    epoch_start_ = std::chrono::steady_clock::now();
    images_this_epoch_ = 0;
  }
  images_this_epoch_ += r.images;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start_).count();
  const double rate = seconds > 0 ? double(images_this_epoch_) / seconds : 0.0;
  last_lr_ = r.lr;
  last_rate_ = rate;
  progress_.bar(fmt::format("epoch {}/{}", r.epoch + 1, o_.epochs), r.step_in_epoch + 1, r.steps_per_epoch, r.loss,
                r.accuracy, rate);
  if (r.measured)
    progress_.json({{"event", "step"},
                    {"epoch", r.epoch + 1},
                    {"step", r.step},
                    {"loss", r.loss},
                    {"accuracy", r.accuracy},
                    {"lr", r.lr},
                    {"images_per_second", rate}});
}

std::string TrainReporter::epoch_line(const EpochReport& r) {
  std::string text = fmt::format("epoch {}/{}  train loss {:.4f} acc {:5.1f}%", r.epoch + 1, o_.epochs, r.train_loss,
                                 100.0 * r.train_accuracy);
  if (r.has_val) text += fmt::format("  val loss {:.4f} acc {:5.1f}%", r.val.loss, 100.0 * r.val.accuracy());
  if (r.val_sets.size() > 1) text += sets_text(r.val_sets);
  if (r.has_ema_val) {
    text += fmt::format("  ema acc {:5.1f}%", 100.0 * r.ema_val.accuracy());
    if (r.ema_val_sets.size() > 1) text += sets_text(r.ema_val_sets);
  }
  text += fmt::format("  {:.0f}s", r.seconds);
  if (stopping_early_)
    text += fmt::format("  stopping early: no better validation accuracy in {} epoch(s) since epoch {}", o_.early_stop,
                        best_.epoch());
  std::vector<std::string> fresh;
  for (const std::string& file : skipped_files())
    if (reported_skips_.insert(file).second) fresh.push_back(file);
  if (!fresh.empty()) {
    text += fmt::format("  skipped {} unreadable file(s):", fresh.size());
    for (const std::string& file : fresh) text += " " + file;
  }
  return text;
}

// Unreadable files of the training data (stood in for by the next sample) and of the validation sets
// (left out of the figures), over the run so far.
std::vector<std::string> TrainReporter::skipped_files() const {
  std::vector<std::string> files = run_.train->skipped_files();
  for (const auto& loader : run_.val_loaders) {
    const std::vector<std::string> val = loader->skipped_files();
    files.insert(files.end(), val.begin(), val.end());
  }
  return files;
}

void TrainReporter::epoch(const EpochReport& r) {
  images_this_epoch_ = 0;
  // The scores first, so that the line says whether the run stops and every checkpoint written below
  // records them.
  const bool better = r.has_val && best_.offer(r.epoch + 1, r.val.accuracy());
  const bool better_ema = r.has_ema_val && r.ema_val.accuracy() > best_ema_;
  if (better_ema) best_ema_ = r.ema_val.accuracy();
  stopping_early_ = r.has_val && r.epoch + 1 < o_.epochs && best_.patience_ran_out(r.epoch + 1, o_.early_stop);
  progress_.line(epoch_line(r));
  write_metrics(r);
  nlohmann::json record{{"event", "epoch"},           {"epoch", r.epoch + 1},
                        {"train_loss", r.train_loss}, {"train_accuracy", r.train_accuracy},
                        {"seconds", r.seconds},       {"skipped_files", reported_skips_.size()}};
  if (r.has_val) {
    record["val"] = eval_json(r.val);
    record["val_sets"] = sets_json(r.val_sets);
  }
  if (r.has_ema_val) {
    record["ema_val"] = eval_json(r.ema_val);
    record["ema_val_sets"] = sets_json(r.ema_val_sets);
  }
  progress_.json(record);
  const bool last = r.epoch + 1 == o_.epochs || stopping_early_;
  if (last || (o_.checkpoint_every > 0 && (r.epoch + 1) % o_.checkpoint_every == 0)) {
    save("last.safetensors");
    if (run_.optimizer->has_ema()) save_ema("last-ema.safetensors");
  }
  if (better) save("best.safetensors");
  if (better_ema) save_ema("best-ema.safetensors");
}

void TrainReporter::stopped(const std::string& why) { progress_.json({{"event", "stopped"}, {"reason", why}}); }

void TrainReporter::interrupted() {
  save("last.safetensors");
  const int64_t step = run_.optimizer->step_count();
  progress_.line(fmt::format("interrupted at step {}: wrote {} (continue with --resume {})", step,
                             path("last.safetensors"), path("last.safetensors")));
  progress_.json({{"event", "interrupted"}, {"step", step}});
}

void TrainReporter::done() {
  const int64_t step = run_.optimizer->step_count();
  const int64_t epochs = step / run_.steps_per_epoch;
  nlohmann::json record{{"event", "done"}, {"step", step}, {"epoch", epochs}, {"best_val_accuracy", best_.accuracy()}};
  if (best_.any()) record["best_epoch"] = best_.epoch();
  record["stopped_early"] = stopping_early_;
  progress_.json(record);
  const std::string early =
      stopping_early_ ? fmt::format("; stopped early after epoch {} of {} (--early-stop {})", epochs, o_.epochs,
                                    o_.early_stop)
                      : "";
  fmt::print("done: {} steps{}; checkpoints in {}{}\n", step, early, o_.out,
             best_.any() ? fmt::format(" (best validation accuracy {:.2f}% at epoch {})", 100.0 * best_.accuracy(),
                                       best_.epoch())
                         : "");
}

// OUT/metrics.csv; a resumed run keeps the rows of the epochs its checkpoint finished, from OUT's own
// file or, when the run goes on in another folder, from the file beside the checkpoint.
void TrainReporter::open_metrics() {
  run_start_ = std::chrono::steady_clock::now();
  std::vector<std::string> set_names;
  for (const NamedIndex& v : data_.val) set_names.push_back(v.name);
  const std::string file = path("metrics.csv");
  if (o_.resume.empty()) {
    metrics_.emplace(file, metrics_columns(set_names));
    return;
  }
  std::string previous = file, note;
  if (std::error_code error; !std::filesystem::exists(previous, error))
    previous = (std::filesystem::path(o_.resume).parent_path() / "metrics.csv").string();
  metrics_.emplace(file, metrics_columns(set_names), previous, resumed_epochs_, note);
  if (!note.empty()) progress_.line(note);
}

void TrainReporter::write_metrics(const EpochReport& r) {
  EpochMetrics m;
  m.epoch = r.epoch + 1;
  m.train_loss = r.train_loss;
  m.train_accuracy = r.train_accuracy;
  if (r.has_val) {
    m.val_loss = r.val.loss;
    m.val_accuracy = r.val.accuracy();
  }
  if (r.has_ema_val) m.ema_val_accuracy = r.ema_val.accuracy();
  if (data_.val.size() > 1)  // metrics_columns names each set only when there are several
    for (size_t i = 0; i < data_.val.size(); ++i)
      m.set_accuracy.push_back(i < r.val_sets.size() ? r.val_sets[i].second.accuracy() : NAN);
  m.lr = last_lr_;
  m.images_per_second = last_rate_;
  m.seconds = r.seconds;
  m.elapsed_seconds = metrics_->elapsed_before() +
                      std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start_).count();
  metrics_->append(m);
}

}  // namespace aslnet::app
