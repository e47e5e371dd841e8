// Checkpoint metadata: see checkpoint_meta.h. Each value is a string in the file; numbers and arrays are
// parsed and range-checked here, naming the file and the key.
#include "engine/checkpoint_meta.h"

#include <fmt/core.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>

#include "engine/core/error.h"

namespace aslnet {

namespace {

using json = nlohmann::json;

constexpr const char* kFormat = "aslnet-checkpoint-1";
// Metadata: a JSON object of every tensor's CRC-32 (8 hex digits), verified on load.
constexpr const char* kChecksumsKey = "tensor_crc32";

// Metadata keys aslnet itself writes (here and in checkpoint.cpp); meta.extra may not use them.
const std::set<std::string>& standard_keys() {
  static const std::set<std::string> keys = {
      "format", "arch",  "stem", "width", "num_classes", "in_channels", "classes", "input_height",
      "input_width", "mean", "std", "epoch", "step", "optimizer", "optimizer_steps", "ema_decay", kChecksumsKey};
  return keys;
}

std::string format_doubles(const std::vector<double>& values, const char* what) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    ASLNET_CHECK(std::isfinite(values[i])) << "checkpoint metadata '" << what << "' holds " << values[i];
    out += (i ? ", " : "") + format_double(values[i]);
  }
  return out + "]";
}

// Reads the values, each checked, naming the file and the key.
struct MetaReader {
  const std::string& path;
  const std::map<std::string, std::string>& md;

  const std::string& get(const std::string& key) const {
    const auto it = md.find(key);
    ASLNET_CHECK(it != md.end()) << "checkpoint " << path << " has no '" << key << "' in its metadata";
    return it->second;
  }
  int64_t integer(const std::string& key, int64_t low, int64_t high) const {
    const std::string& text = get(key);
    int64_t v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    ASLNET_CHECK(ec == std::errc() && end == text.data() + text.size())
        << "checkpoint " << path << ": metadata '" << key << "' is '" << text << "', not an integer";
    ASLNET_CHECK(v >= low && v <= high) << "checkpoint " << path << ": metadata '" << key << "' is " << v
                                        << ", outside " << low << ".." << high << " (the file is damaged)";
    return v;
  }
  // A finite number in (0, high].
  double positive(const std::string& key, double high) const {
    const std::string& text = get(key);
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    ASLNET_CHECK(!text.empty() && end == text.c_str() + text.size())
        << "checkpoint " << path << ": metadata '" << key << "' is '" << text << "', not a number";
    ASLNET_CHECK(v > 0 && v <= high) << "checkpoint " << path << ": metadata '" << key << "' is " << text
                                     << ", outside (0, " << high << "] (the file is damaged)";
    return v;
  }
  json array(const std::string& key) const {
    json value;
    try {
      value = json::parse(get(key));
    } catch (const json::exception&) {
      value = nullptr;
    }
    ASLNET_CHECK(value.is_array()) << "checkpoint " << path << ": metadata '" << key << "' is not a JSON array";
    return value;
  }
  std::vector<double> finite_numbers(const std::string& key, size_t max_size) const {
    const json values = array(key);
    ASLNET_CHECK(values.size() <= max_size) << "checkpoint " << path << ": metadata '" << key << "' holds "
                                            << values.size() << " values, more than its " << max_size << " channels";
    std::vector<double> out;
    for (const auto& v : values) {
      ASLNET_CHECK(v.is_number() && std::isfinite(v.get<double>()))
          << "checkpoint " << path << ": metadata '" << key << "' holds " << v.dump();
      out.push_back(v.get<double>());
    }
    return out;
  }
};

}  // namespace

std::string format_double(double v) {
  char buf[40];
  for (int precision = 15; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

std::string describe(const ModelInfo& m) {
  return fmt::format("{} ({} classes, {} stem, width {}, {} input channels)", m.arch, m.num_classes, m.stem,
                     format_double(m.width), m.in_channels);
}

void write_checkpoint_meta(safetensors::Writer& writer, const ModelInfo& model, const CheckpointMeta& meta,
                           const std::string& path) {
  for (const auto& [key, value] : meta.extra) {
    ASLNET_CHECK(!standard_keys().count(key))
        << "cannot write checkpoint " << path << ": extra metadata key '" << key << "' is a standard key";
    writer.set_metadata(key, value);
  }
  writer.set_metadata("format", kFormat);
  writer.set_metadata("arch", model.arch);
  writer.set_metadata("stem", model.stem);
  writer.set_metadata("width", format_double(model.width));
  writer.set_metadata("num_classes", std::to_string(model.num_classes));
  writer.set_metadata("in_channels", std::to_string(model.in_channels));
  writer.set_metadata("classes", json(meta.classes).dump());
  writer.set_metadata("input_height", std::to_string(meta.input_height));
  writer.set_metadata("input_width", std::to_string(meta.input_width));
  writer.set_metadata("mean", format_doubles(meta.mean, "mean"));
  writer.set_metadata("std", format_doubles(meta.std, "std"));
  writer.set_metadata("epoch", std::to_string(meta.epoch));
  writer.set_metadata("step", std::to_string(meta.step));
  json checksums = json::object();
  for (const auto& [name, crc] : writer.crc32s()) checksums[name] = fmt::format("{:08x}", crc);
  writer.set_metadata(kChecksumsKey, checksums.dump());
}

CheckpointMeta parse_checkpoint_meta(const safetensors::File& file) {
  const std::string& path = file.path();
  const auto& md = file.metadata();
  const auto format = md.find("format");
  ASLNET_CHECK(format != md.end()) << path << " is not an aslnet checkpoint: its metadata has no \"format\" key";
  ASLNET_CHECK(format->second == kFormat) << "checkpoint " << path << " has format '" << format->second
                                          << "'; this build reads '" << kFormat << "'";
  const MetaReader r{path, md};
  CheckpointMeta meta;
  meta.model.arch = r.get("arch");
  meta.model.stem = r.get("stem");
  meta.model.width = r.positive("width", kMaxWidth);
  meta.model.num_classes = r.integer("num_classes", 1, kMaxClasses);
  meta.model.in_channels = r.integer("in_channels", 1, kMaxInputChannels);
  const json classes = r.array("classes");
  ASLNET_CHECK(classes.size() <= size_t(meta.model.num_classes))
      << "checkpoint " << path << ": metadata 'classes' names " << classes.size() << " classes for a "
      << meta.model.num_classes << "-class model";
  for (const auto& c : classes) {
    ASLNET_CHECK(c.is_string()) << "checkpoint " << path << ": metadata 'classes' holds " << c.dump();
    meta.classes.push_back(c.get<std::string>());
  }
  meta.input_height = r.integer("input_height", 0, kMaxInputSide);
  meta.input_width = r.integer("input_width", 0, kMaxInputSide);
  meta.mean = r.finite_numbers("mean", size_t(meta.model.in_channels));
  meta.std = r.finite_numbers("std", size_t(meta.model.in_channels));
  ASLNET_CHECK(meta.mean.size() == meta.std.size())
      << "checkpoint " << path << ": metadata 'mean' has " << meta.mean.size() << " channels, 'std' "
      << meta.std.size();
  for (double s : meta.std)
    ASLNET_CHECK(s > 0) << "checkpoint " << path << ": metadata 'std' holds " << s
                        << ": every channel's standard deviation must be positive (it divides the pixels)";
  meta.epoch = r.integer("epoch", 0, INT64_MAX);
  meta.step = r.integer("step", 0, INT64_MAX);
  if (md.count("optimizer")) {
    meta.optimizer = r.get("optimizer");
    meta.optimizer_steps = r.integer("optimizer_steps", 0, INT64_MAX);
  }
  for (const auto& [key, value] : md)
    if (!standard_keys().count(key)) meta.extra[key] = value;
  return meta;
}

void verify_checksums(const safetensors::File& file, std::vector<std::string>& notes) {
  const std::string& path = file.path();
  const auto found = file.metadata().find(kChecksumsKey);
  if (found == file.metadata().end()) {
    notes.push_back("checkpoint " + path + " carries no checksums (written by an older aslnet): its bytes are not verified");
    return;
  }
  json checksums;
  try {
    checksums = json::parse(found->second);
  } catch (const json::exception&) {
    ASLNET_CHECK(false) << "checkpoint " << path << ": metadata '" << kChecksumsKey << "' is not JSON";
  }
  ASLNET_CHECK(checksums.is_object()) << "checkpoint " << path << ": metadata '" << kChecksumsKey
                                      << "' is not a JSON object";
  for (const safetensors::TensorInfo& t : file.tensors()) {
    const auto want = checksums.find(t.name);
    ASLNET_CHECK(want != checksums.end() && want->is_string())
        << "checkpoint " << path << ": tensor " << t.name << " has no checksum (the file is damaged)";
    const std::string got = fmt::format("{:08x}", safetensors::crc32(t.data, t.bytes()));
    ASLNET_CHECK(got == want->get<std::string>())
        << "checkpoint " << path << ": tensor " << t.name << " does not match its checksum (the file is damaged: "
        << "use another copy or an earlier checkpoint)";
  }
}

}  // namespace aslnet
