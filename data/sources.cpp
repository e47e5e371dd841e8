#include "data/sources.h"

#include <filesystem>
#include <set>

#include "engine/core/error.h"

namespace aslnet {

namespace {

std::vector<std::string> split_on(const std::string& text, char separator) {
  std::vector<std::string> parts;
  size_t begin = 0;
  for (;;) {
    const size_t end = text.find(separator, begin);
    parts.push_back(text.substr(begin, end == std::string::npos ? std::string::npos : end - begin));
    if (end == std::string::npos) return parts;
    begin = end + 1;
  }
}

// "runs/data/" and "runs/data" both name "data".
std::string folder_name(const std::string& dir) {
  std::filesystem::path p(dir);
  if (p.filename().empty()) p = p.parent_path();
  const std::string name = p.filename().string();
  return name.empty() || name == "." ? dir : name;
}

}  // namespace

SourceSpec parse_source(const std::string& text, const std::string& flag) {
  ASLNET_CHECK(!text.empty()) << flag << ": empty source (expected DIR, DIR@ORIGIN[+ORIGIN...] or NAME=DIR)";
  SourceSpec source;
  std::string rest = text;
  // NAME= only when what precedes '=' has no path separator (a folder may contain '=' elsewhere).
  const size_t equals = rest.find('=');
  if (equals != std::string::npos && rest.substr(0, equals).find('/') == std::string::npos) {
    source.name = rest.substr(0, equals);
    rest = rest.substr(equals + 1);
    ASLNET_CHECK(!source.name.empty()) << flag << " '" << text << "': empty name before '='";
  }
  const size_t at = rest.rfind('@');
  if (at != std::string::npos && rest.find('/', at) == std::string::npos) {
    for (const std::string& origin : split_on(rest.substr(at + 1), '+')) {
      ASLNET_CHECK(!origin.empty()) << flag << " '" << text << "': empty origin (expected DIR@ORIGIN[+ORIGIN...])";
      source.origins.push_back(origin);
    }
    rest = rest.substr(0, at);
  }
  ASLNET_CHECK(!rest.empty()) << flag << " '" << text << "': no folder";
  source.dir = rest;
  if (source.name.empty()) {
    std::string joined;
    for (const std::string& origin : source.origins) joined += (joined.empty() ? "" : "+") + origin;
    source.name = joined.empty() ? folder_name(rest) : joined;
  }
  return source;
}

DatasetIndex index_source(const SourceSpec& source, bool test_layout) {
  IndexOptions options;
  options.origins = source.origins;
  options.allow_empty_classes = true;
  return test_layout ? index_test_folder(source.dir, options) : index_class_folders(source.dir, options);
}

DatasetIndex merge_sources(const std::vector<DatasetIndex>& parts) {
  ASLNET_CHECK(!parts.empty()) << "no source to merge";
  DatasetIndex merged;
  merged.root = parts.front().root;
  merged.classes = parts.front().classes;
  for (size_t p = 0; p < parts.size(); ++p) {
    for (Sample sample : parts[p].samples) {
      sample.source = int32_t(p);
      merged.samples.push_back(std::move(sample));
    }
    merged.empty_class_folders.insert(merged.empty_class_folders.end(), parts[p].empty_class_folders.begin(),
                                      parts[p].empty_class_folders.end());
  }
  return merged;
}

void check_unique_names(const std::vector<SourceSpec>& sources, const std::string& flag) {
  std::set<std::string> seen;
  for (const SourceSpec& s : sources) {
    ASLNET_CHECK(seen.insert(s.name).second)
        << flag << ": two sources are named '" << s.name << "' (hint: name them, as NAME=DIR)";
  }
}

}  // namespace aslnet
