#include "app/train_data.h"

#include <fmt/core.h>

#include <filesystem>
#include <set>

#include "engine/core/error.h"

namespace aslnet::app {

namespace fs = std::filesystem;

int64_t RunData::val_images() const {
  int64_t n = 0;
  for (const NamedIndex& v : val) n += int64_t(v.index.samples.size());
  return n;
}

RunData load_run_data(const TrainOptions& o) {
  ASLNET_CHECK(!o.data.empty()) << "aslnet train needs at least one training folder";
  RunData data;
  std::vector<SourceSpec> val_sources;
  for (const std::string& text : o.data) data.train_sources.push_back(parse_source(text, "training source"));
  for (const std::string& text : o.val_dirs) val_sources.push_back(parse_source(text, "--val-dir"));
  std::vector<SourceSpec> all = data.train_sources;
  all.insert(all.end(), val_sources.begin(), val_sources.end());
  check_unique_names(all, "training sources and --val-dir");
  ASLNET_CHECK(o.source_weights.empty() || o.source_weights.size() == data.train_sources.size())
      << "--source-weight gives " << o.source_weights.size() << " weights for " << data.train_sources.size()
      << " training sources (one per source, in the order given)";

  auto note_empty = [&](const SourceSpec& source, const DatasetIndex& index) {
    if (index.empty_class_folders.empty()) return;
    std::string classes;
    for (const std::string& folder : index.empty_class_folders)
      classes += (classes.empty() ? "" : ", ") + std::filesystem::path(folder).filename().string();
    data.notes.push_back(
        fmt::format("note: {} has no images of {} (empty class folders skipped)", source.name, classes));
  };
  std::vector<DatasetIndex> parts;
  for (const SourceSpec& source : data.train_sources) {
    const DatasetIndex index = index_source(source);
    note_empty(source, index);
    if (o.split.val_fraction > 0) {
      Split split = split_train_val(index, o.split);
      if (split.val.samples.empty()) {
        data.notes.push_back(
            fmt::format("note: the {} split of {} gave no validation images (groups of {} are "
                        "larger than its classes' share)",
                        o.split.mode, source.name, o.split.group_size));
      } else {
        data.val.push_back({source.name, std::move(split.val)});
      }
      parts.push_back(std::move(split.train));
    } else {
      parts.push_back(index);
    }
    data.train_sizes.push_back(int64_t(parts.back().samples.size()));
  }
  data.train = merge_sources(parts);
  const std::string one_class = one_class_problem(data.train);
  ASLNET_CHECK(one_class.empty()) << "the training data holds " << one_class;
  if (!o.source_weights.empty() || data.train_sources.size() > 1)
    data.mix = std::make_shared<SourceMix>(data.train_sizes, o.source_weights, o.seed);
  for (const SourceSpec& source : val_sources) {
    DatasetIndex index = index_source(source);
    note_empty(source, index);
    data.val.push_back({source.name, std::move(index)});
  }
  return data;
}

LoaderOptions::Composition composition_plan(const TrainOptions& o, const RunData& data) {
  LoaderOptions::Composition plan;
  check_compose_options(o.compose);
  plan.options = o.compose;
  plan.probability = o.compose_probability;
  plan.clutter_probability = o.clutter_probability;
  if (o.compose_sources.empty()) {
    ASLNET_CHECK(o.backgrounds.empty()) << "--backgrounds is for --compose: name the sources to compose";
    return plan;
  }
  plan.sources.assign(data.train_sources.size(), false);
  for (const std::string& name : o.compose_sources) {
    bool found = false;
    for (size_t s = 0; s < data.train_sources.size(); ++s) {
      if (data.train_sources[s].name == name) plan.sources[s] = found = true;
    }
    std::string names;
    for (const SourceSpec& source : data.train_sources) names += (names.empty() ? "" : ", ") + source.name;
    ASLNET_CHECK(found) << "--compose " << name << ": no training source has that name (they are: " << names << ")";
  }
  // A background folder may lie inside a source (Kaggle's nothing/ frames): its validation photos stay
  // out of training even as backgrounds.
  std::set<std::string> held_out;
  for (const NamedIndex& v : data.val)
    for (const Sample& sample : v.index.samples) held_out.insert(fs::weakly_canonical(sample.path).string());
  for (const std::string& dir : o.backgrounds) {
    for (const std::string& file : list_jpegs(dir))
      if (!held_out.count(fs::weakly_canonical(file).string())) plan.backgrounds.push_back(file);
    ASLNET_CHECK(!plan.backgrounds.empty()) << "--backgrounds " << dir << ": every photo is held out for validation";
  }
  return plan;
}

std::string describe_sources(const RunData& data) {
  std::string text;
  for (size_t s = 0; s < data.train_sources.size(); ++s) {
    text += fmt::format("{}{} {}", s ? ", " : "", data.train_sources[s].name, data.train_sizes[s]);
    if (data.mix && data.mix->draws()[s] != data.train_sizes[s])
      text += fmt::format(" ({} an epoch)", data.mix->draws()[s]);
  }
  return text;
}

}  // namespace aslnet::app
