// libFuzzer target: the safetensors reader (engine/safetensors.h), which every checkpoint a user hands
// to aslnet goes through: header length, JSON header, metadata, dtypes, shapes and offsets. Every input
// must be read or refused with an Error, never a crash, a leak or undefined behaviour. The reader takes
// a path, so each input is written to a file first. scripts/fuzz.sh runs it.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/core/error.h"
#include "engine/safetensors.h"
#include "tests/fuzz/input_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = aslnet::fuzz::write_input_file(data, size, "safetensors");
  if (path.empty()) return 0;
  try {
    const aslnet::safetensors::File parsed = aslnet::safetensors::File::read(path);
    for (const aslnet::safetensors::TensorInfo& t : parsed.tensors()) (void)aslnet::safetensors::crc32(t.data, t.bytes());
  } catch (const aslnet::Error&) {
  }
  return 0;
}
