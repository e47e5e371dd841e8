// The data of a training run, assembled from aslnet train's sources: every training source indexed and
// split into its training and validation parts (grouped or random, per source), the training parts
// merged into one index with the per-epoch source mix (--source-weight), and the validation sets, each
// named: the held-out part of each training source, then every --val-dir source.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "app/train.h"
#include "data/dataset_index.h"
#include "data/loader.h"
#include "data/source_mix.h"
#include "data/sources.h"

namespace aslnet::app {

struct RunData {
  std::vector<SourceSpec> train_sources;
  DatasetIndex train;                    // the training parts, source after source
  std::vector<int64_t> train_sizes;      // files of each source in `train`
  std::shared_ptr<const SourceMix> mix;  // null: one source, or several without weights
  std::vector<NamedIndex> val;           // non-empty validation sets only
  std::vector<std::string> notes;        // empty class folders, sources that gave no validation images

  int64_t val_images() const;
};

RunData load_run_data(const TrainOptions& options);

// --compose and --backgrounds as the loader's plan: which training sources (by name) to compose, and
// every background photo. Errors name an unknown source.
LoaderOptions::Composition composition_plan(const TrainOptions& options, const RunData& data);

// "name 4,320 (weight 0.5: 2,900 an epoch)" for each training source, for the run's first line.
std::string describe_sources(const RunData& data);

}  // namespace aslnet::app
