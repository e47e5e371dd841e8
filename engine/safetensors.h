// A small, general reader and writer of safetensors files: an 8-byte little-endian header length N,
// N bytes of JSON header ({"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
// "__metadata__": {string: string}}, padded with spaces to a multiple of 8 bytes), then the raw
// little-endian data, offsets counted from the start of the data. It is the container of our
// checkpoints (engine/checkpoint.cpp gives the tensors their meaning) and the format PyTorch users
// already load, so files written here must open in the `safetensors` Python package: tensors are
// packed without holes, larger elements first so every tensor stays aligned to its element size.
// The reader trusts nothing in a file: every length and offset is checked before it is used, and each
// problem is one aslnet::Error naming the file and the tensor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace aslnet::safetensors {

// Bytes per element of a safetensors dtype name ("F32", "F64", "BF16", "I64", "I32", "U8"); 0 for a
// name this reader does not support.
size_t dtype_size(const std::string& dtype);
// "[64, 3, 7, 7]", as error messages print shapes.
std::string shape_str(const std::vector<int64_t>& shape);

// Collects tensors and metadata, then writes them in one go.
// zlib's CRC-32 of `bytes` bytes.
uint32_t crc32(const uint8_t* data, size_t bytes);

class Writer {
 public:
  // A tensor whose bytes the caller keeps alive (and unchanged) until write() returns.
  void add(std::string name, std::string dtype, std::vector<int64_t> shape, const void* data, size_t bytes);
  // A tensor whose bytes the writer keeps.
  void add_owned(std::string name, std::string dtype, std::vector<int64_t> shape, std::vector<uint8_t> bytes);
  void set_metadata(const std::string& key, std::string value);
  // The CRC-32 of each tensor's bytes (crc32() below), by name: what a checkpoint records so that a
  // flipped byte is found on load (safetensors itself has no checksum).
  std::map<std::string, uint32_t> crc32s() const;

  // Atomic: writes "<path>.tmp.<pid>", flushes and fsyncs it, renames it over `path` and fsyncs the
  // folder, so a crash leaves either the old file or the new one, never a torn one. On failure the
  // temporary file is removed and an Error names the path.
  void write(const std::string& path) const;

 private:
  struct Entry {
    std::string name, dtype;
    std::vector<int64_t> shape;
    const uint8_t* data;
    size_t bytes;
    std::shared_ptr<const std::vector<uint8_t>> owned;  // null when the caller owns the bytes
  };
  // write()'s steps (see safetensors.cpp): the order of the data, the padded JSON header, the bytes.
  std::vector<size_t> packing_order() const;
  std::string header_text(const std::string& path, const std::vector<size_t>& order) const;
  bool write_contents(std::FILE* fp, const std::string& header, const std::vector<size_t>& order) const;

  std::vector<Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

struct TensorInfo {
  std::string name, dtype;
  std::vector<int64_t> shape;
  int64_t numel = 1;
  size_t begin = 0, end = 0;       // data_offsets, relative to the start of the data
  const uint8_t* data = nullptr;   // the bytes (not aligned); null in a header-only read
  size_t bytes() const { return end - begin; }
};

// A parsed and validated file.
class File {
 public:
  // Move-only: the tensors point into the file's bytes.
  File(File&&) = default;
  File& operator=(File&&) = default;
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  // Reads and checks the whole file.
  static File read(const std::string& path);
  // Reads and checks the header only (offsets are checked against the file's size): what a caller
  // needs to decide what to build before paying for the data.
  static File read_header(const std::string& path);

  const std::string& path() const { return path_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // In the order of their data.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find(const std::string& name) const;  // null when absent

 private:
  File() = default;
  static File parse(const std::string& path, bool with_data);

  std::string path_;
  std::map<std::string, std::string> metadata_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> index_;
  std::vector<uint8_t> bytes_;  // the whole file (empty in a header-only read)
};

}  // namespace aslnet::safetensors
