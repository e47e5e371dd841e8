// For fuzz targets whose reader takes a path: the input written to a file of this process's own, whose
// path is returned ("" when it could not be written; the target then skips the input).
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

namespace aslnet::fuzz {

inline std::string write_input_file(const uint8_t* data, size_t size, const std::string& name) {
  const std::string path = "/tmp/aslnet-fuzz-" + name + "-" + std::to_string(getpid()) + ".safetensors";
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) return "";
  const bool written = std::fwrite(data, 1, size, file) == size;
  std::fclose(file);
  return written ? path : "";
}

}  // namespace aslnet::fuzz
