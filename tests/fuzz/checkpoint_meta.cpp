// libFuzzer target: the checkpoint metadata reader (engine/checkpoint_meta.h) behind every checkpoint a
// user hands to aslnet: the header's strings parsed into numbers, arrays, classes and ranges, and every
// tensor's CRC-32 checked against the JSON object that records them. Every input must be read or refused
// with an Error, never a crash, a leak, undefined behaviour or an allocation sized by the file. The reader
// takes a path, so each input is written to a file first. scripts/fuzz.sh runs it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/checkpoint_meta.h"
#include "engine/core/error.h"
#include "tests/fuzz/input_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = aslnet::fuzz::write_input_file(data, size, "meta");
  if (path.empty()) return 0;
  try {
    const aslnet::safetensors::File parsed = aslnet::safetensors::File::read(path);
    const aslnet::CheckpointMeta meta = aslnet::parse_checkpoint_meta(parsed);
    std::vector<std::string> notes;
    aslnet::verify_checksums(parsed, notes);
    (void)aslnet::describe(meta.model);
  } catch (const aslnet::Error&) {
  }
  return 0;
}
