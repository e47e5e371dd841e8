// OUT/run.json: what a training run was, complete enough to know it and to replay it. Every option with
// its resolved value (app/run_options.h; `aslnet train --config OUT/run.json` replays them), the aslnet
// version and commit, the devices and library versions, and the data: each source's folder and image
// count. The same record travels in every checkpoint's metadata (key "run"), which is how
// `--resume CHECKPOINT` knows the run's options.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "app/train.h"
#include "app/train_data.h"
#include "engine/core/device.h"

namespace aslnet::app {

nlohmann::json run_record(const nlohmann::json& options, const TrainOptions& o, const RunData& data,
                          const std::vector<Device>& devices, int processes, int cpu_threads);

}  // namespace aslnet::app
