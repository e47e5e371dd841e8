#include "app/run_record.h"

#include <fmt/chrono.h>
#include <fmt/core.h>

#include <ctime>

#include "app/versions.h"
#include "engine/core/device_peaks.h"

namespace aslnet::app {

namespace {

nlohmann::json data_record(const RunData& data) {
  nlohmann::json train = nlohmann::json::array();
  for (size_t s = 0; s < data.train_sources.size(); ++s) {
    const SourceSpec& source = data.train_sources[s];
    train.push_back({{"name", source.name},
                     {"folder", source.dir},
                     {"origins", source.origins},
                     {"images", data.train_sizes[s]},
                     {"per_epoch", data.mix ? data.mix->draws()[s] : data.train_sizes[s]}});
  }
  nlohmann::json validation = nlohmann::json::array();
  for (const NamedIndex& v : data.val) validation.push_back({{"name", v.name}, {"images", v.index.samples.size()}});
  return {{"train", train}, {"validation", validation}};
}

nlohmann::json devices_record(const std::vector<Device>& devices, int processes, int cpu_threads) {
  nlohmann::json names = nlohmann::json::array();
  for (const Device& d : devices) names.push_back(d.str() + " (" + device_name(d) + ")");
  return {{"device", devices[0].is_cpu() ? "cpu" : "cuda"},
          {"replicas", int(devices.size()) * processes},
          {"processes", processes},
          {"cpu_threads", cpu_threads},
          {"this_process", names}};
}

}  // namespace

nlohmann::json run_record(const nlohmann::json& options, const TrainOptions& o, const RunData& data,
                          const std::vector<Device>& devices, int processes, int cpu_threads) {
  nlohmann::json libraries = nlohmann::json::object();
  for (const auto& [name, version] : library_versions()) libraries[name] = version;
  return {{"aslnet", {{"version", aslnet_version()}, {"commit", aslnet_commit()}}},
          {"command", "train"},
          {"started", fmt::format("{:%Y-%m-%dT%H:%M:%S%z}", fmt::localtime(std::time(nullptr)))},
          {"out", o.out},
          {"resumed_from", o.resume.empty() ? nlohmann::json(nullptr) : nlohmann::json(o.resume)},
          {"options", options},
          {"devices", devices_record(devices, processes, cpu_threads)},
          {"libraries", libraries},
          {"data", data_record(data)}};
}

}  // namespace aslnet::app
