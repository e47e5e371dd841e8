// safetensors reader and writer (see safetensors.h). The reader parses the JSON header with
// nlohmann_json and then checks every entry against the real size of the file before any byte of data
// is touched, so a truncated or hand-edited file is an Error with the file and tensor in it, never a
// read past the end of a buffer. The writer packs tensors without holes (the Python package rejects
// gaps) and makes the write atomic with a temporary file, fsync and rename.
#include "engine/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>
#include <sstream>

#include "engine/core/error.h"

namespace aslnet::safetensors {

// The data section is copied to and from memory as is: safetensors is little-endian, and so is
// every machine this engine targets.
static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

using json = nlohmann::json;

size_t dtype_size(const std::string& dtype) {
  if (dtype == "F64" || dtype == "I64") return 8;
  if (dtype == "F32" || dtype == "I32") return 4;
  if (dtype == "BF16") return 2;
  if (dtype == "U8") return 1;
  return 0;
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << "]";
  return out.str();
}

namespace {

// Element count of a shape, or false when it would overflow (a hostile header can claim anything).
bool checked_numel(const std::vector<int64_t>& shape, int64_t& numel) {
  numel = 1;
  for (int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(numel, d, &numel)) return false;
  }
  return true;
}

std::string errno_text(int err) { return std::strerror(err); }

// Closes a FILE* on every path out of a function.
struct FileCloser {
  std::FILE* fp = nullptr;
  ~FileCloser() {
    if (fp != nullptr) std::fclose(fp);
  }
};

// Reads exactly `bytes` bytes, or returns false (end of file or an I/O error).
bool read_exact(std::FILE* fp, void* dst, size_t bytes) {
  return bytes == 0 || std::fread(dst, 1, bytes, fp) == bytes;
}

// nlohmann's parse messages begin with "[json.exception.parse_error.101] ": the user needs the rest.
std::string json_reason(const std::exception& e) {
  std::string text = e.what();
  if (!text.empty() && text[0] == '[') {
    const size_t close = text.find("] ");
    if (close != std::string::npos) text = text.substr(close + 2);
  }
  return text;
}

}  // namespace

void Writer::add(std::string name, std::string dtype, std::vector<int64_t> shape, const void* data, size_t bytes) {
  ASLNET_CHECK(data != nullptr || bytes == 0) << "safetensors tensor '" << name << "' has no data";
  entries_.push_back({std::move(name), std::move(dtype), std::move(shape), static_cast<const uint8_t*>(data), bytes, {}});
}

void Writer::add_owned(std::string name, std::string dtype, std::vector<int64_t> shape, std::vector<uint8_t> bytes) {
  auto owned = std::make_shared<const std::vector<uint8_t>>(std::move(bytes));
  entries_.push_back({std::move(name), std::move(dtype), std::move(shape), owned->data(), owned->size(), owned});
}

void Writer::set_metadata(const std::string& key, std::string value) { metadata_[key] = std::move(value); }

void Writer::write(const std::string& path) const {
  // Larger elements first (stable, so otherwise in the order added): with the data section starting
  // on an 8-byte boundary and no holes, every tensor then starts aligned to its element size, which
  // is how the reference implementation lays files out.
  std::vector<size_t> order(entries_.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return dtype_size(entries_[a].dtype) > dtype_size(entries_[b].dtype);
  });

  json header = json::object();
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  std::set<std::string> names;
  size_t offset = 0;
  for (size_t i : order) {
    const Entry& e = entries_[i];
    const size_t elem = dtype_size(e.dtype);
    ASLNET_CHECK(elem != 0) << "cannot write " << path << ": tensor '" << e.name << "' has unsupported dtype '"
                            << e.dtype << "'";
    int64_t numel = 0;
    ASLNET_CHECK(checked_numel(e.shape, numel) && size_t(numel) * elem == e.bytes)
        << "cannot write " << path << ": tensor '" << e.name << "' is " << e.dtype << shape_str(e.shape) << " but has "
        << e.bytes << " bytes";
    ASLNET_CHECK(e.name != "__metadata__" && names.insert(e.name).second)
        << "cannot write " << path << ": tensor name '" << e.name << "' is reserved or used twice";
    header[e.name] = {{"dtype", e.dtype}, {"shape", e.shape}, {"data_offsets", {offset, offset + e.bytes}}};
    offset += e.bytes;
  }
  std::string text, reason;
  try {
    text = header.dump();
  } catch (const json::exception& e) {  // names or metadata that are not valid UTF-8
    reason = json_reason(e);
  }
  const bool serialised = reason.empty();
  ASLNET_CHECK(serialised) << "cannot write " << path << ": " << reason;
  text.append((8 - text.size() % 8) % 8, ' ');
  uint8_t length[8];
  for (int i = 0; i < 8; ++i) length[i] = uint8_t(uint64_t(text.size()) >> (8 * i));

  // Until the rename succeeds, leaving the function (by an Error) closes and removes the temporary.
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  struct TempFile {
    std::string path;
    std::FILE* fp = nullptr;
    bool renamed = false;
    ~TempFile() {
      if (fp != nullptr) std::fclose(fp);
      if (!renamed) std::remove(path.c_str());
    }
  } guard{tmp};
  guard.fp = std::fopen(tmp.c_str(), "wb");
  int err = errno;
  ASLNET_CHECK(guard.fp != nullptr) << "cannot write " << path << ": cannot create " << tmp << ": " << errno_text(err)
                                    << (err == ENOENT ? " (does the folder exist?)" : "");

  bool ok = std::fwrite(length, 1, 8, guard.fp) == 8 && std::fwrite(text.data(), 1, text.size(), guard.fp) == text.size();
  for (size_t i : order) {
    const Entry& e = entries_[i];
    if (ok && e.bytes > 0) ok = std::fwrite(e.data, 1, e.bytes, guard.fp) == e.bytes;
  }
  err = errno;
  ASLNET_CHECK(ok) << "cannot write " << path << ": writing " << tmp << " failed: " << errno_text(err);
  // Data must be on disk before the rename makes it visible under the real name; otherwise a crash
  // could leave a complete-looking but empty file.
  ok = std::fflush(guard.fp) == 0 && ::fsync(::fileno(guard.fp)) == 0;
  err = errno;
  ASLNET_CHECK(ok) << "cannot write " << path << ": flushing " << tmp << " failed: " << errno_text(err);
  const int closed = std::fclose(guard.fp);
  err = errno;
  guard.fp = nullptr;
  ASLNET_CHECK(closed == 0) << "cannot write " << path << ": closing " << tmp << " failed: " << errno_text(err);
  const int renamed = std::rename(tmp.c_str(), path.c_str());
  err = errno;
  ASLNET_CHECK(renamed == 0) << "cannot write " << path << ": renaming " << tmp << " failed: " << errno_text(err);
  guard.renamed = true;

  // The rename itself lives in the folder's entry, which needs its own fsync to survive a crash.
  // Some file systems cannot fsync a folder (EINVAL): the file is complete either way.
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  err = errno;
  ASLNET_CHECK(fd >= 0) << "wrote " << path << " but cannot open its folder to sync it: " << errno_text(err);
  const int synced = ::fsync(fd);
  err = errno;
  ::close(fd);
  ASLNET_CHECK(synced == 0 || err == EINVAL) << "wrote " << path << " but syncing its folder failed: " << errno_text(err);
}

File File::read(const std::string& path) { return parse(path, true); }
File File::read_header(const std::string& path) { return parse(path, false); }

const TensorInfo* File::find(const std::string& name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

File File::parse(const std::string& path, bool with_data) {
  File file;
  file.path_ = path;
  FileCloser closer{std::fopen(path.c_str(), "rb")};
  int err = errno;
  ASLNET_CHECK(closer.fp != nullptr) << "cannot open safetensors file " << path << ": " << errno_text(err);
  struct stat st {};
  ASLNET_CHECK(::fstat(::fileno(closer.fp), &st) == 0 && S_ISREG(st.st_mode))
      << "cannot read safetensors file " << path << ": not a regular file";
  const uint64_t size = uint64_t(st.st_size);

  ASLNET_CHECK(size >= 8) << "safetensors file " << path << " is truncated: " << size
                          << " bytes, shorter than the 8-byte header length";
  uint8_t length[8];
  ASLNET_CHECK(read_exact(closer.fp, length, 8)) << "cannot read safetensors file " << path;
  uint64_t header_bytes = 0;
  for (int i = 0; i < 8; ++i) header_bytes |= uint64_t(length[i]) << (8 * i);
  ASLNET_CHECK(header_bytes <= size - 8) << "safetensors file " << path << " is truncated or corrupt: its header length is "
                                         << header_bytes << " bytes, but only " << size - 8 << " bytes follow";
  const uint64_t data_bytes = size - 8 - header_bytes;

  std::string text(header_bytes, '\0');
  if (with_data) {
    file.bytes_.resize(size);
    std::memcpy(file.bytes_.data(), length, 8);
    ASLNET_CHECK(read_exact(closer.fp, file.bytes_.data() + 8, size - 8))
        << "cannot read safetensors file " << path << ": it shrank while being read";
    std::memcpy(text.data(), file.bytes_.data() + 8, header_bytes);
  } else {
    ASLNET_CHECK(read_exact(closer.fp, text.data(), header_bytes))
        << "cannot read safetensors file " << path << ": it shrank while being read";
  }

  json header;
  std::string reason;
  try {
    header = json::parse(text);
  } catch (const json::exception& e) {
    reason = json_reason(e);
  }
  const bool parsed = reason.empty();
  ASLNET_CHECK(parsed) << "safetensors file " << path << " has a corrupt header (" << header_bytes
                       << " bytes of JSON): " << reason;
  ASLNET_CHECK(header.is_object()) << "safetensors file " << path << " has a corrupt header: a JSON "
                                   << header.type_name() << " instead of an object";

  const uint8_t* data = with_data ? file.bytes_.data() + 8 + header_bytes : nullptr;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      ASLNET_CHECK(entry.is_object()) << "safetensors file " << path << ": __metadata__ is not a JSON object";
      for (const auto& [key, value] : entry.items()) {
        ASLNET_CHECK(value.is_string()) << "safetensors file " << path << ": metadata '" << key
                                        << "' is not a string";
        file.metadata_[key] = value.get<std::string>();
      }
      continue;
    }
    const std::string where = "safetensors file " + path + ": tensor '" + name + "'";
    ASLNET_CHECK(entry.is_object()) << where << " is not a JSON object";
    TensorInfo t;
    t.name = name;
    const auto dtype = entry.find("dtype");
    ASLNET_CHECK(dtype != entry.end() && dtype->is_string()) << where << " has no dtype";
    t.dtype = dtype->get<std::string>();
    const size_t elem = dtype_size(t.dtype);
    ASLNET_CHECK(elem != 0) << where << " has unsupported dtype '" << t.dtype
                            << "' (supported: F64, F32, BF16, I64, I32, U8)";

    const auto shape = entry.find("shape");
    ASLNET_CHECK(shape != entry.end() && shape->is_array()) << where << " has no shape";
    for (const auto& d : *shape) {
      ASLNET_CHECK(d.is_number_unsigned() && d.get<uint64_t>() <= uint64_t(INT64_MAX))
          << where << " has a shape entry " << d.dump() << " that is not a size";
      t.shape.push_back(int64_t(d.get<uint64_t>()));
    }
    ASLNET_CHECK(checked_numel(t.shape, t.numel) && uint64_t(t.numel) <= UINT64_MAX / elem)
        << where << " has an impossible shape " << shape_str(t.shape);

    const auto offsets = entry.find("data_offsets");
    ASLNET_CHECK(offsets != entry.end() && offsets->is_array() && offsets->size() == 2 &&
                 (*offsets)[0].is_number_unsigned() && (*offsets)[1].is_number_unsigned())
        << where << " has no data_offsets [begin, end]";
    const uint64_t begin = (*offsets)[0].get<uint64_t>(), end = (*offsets)[1].get<uint64_t>();
    ASLNET_CHECK(begin <= end && end <= data_bytes)
        << where << " has data_offsets [" << begin << ", " << end << "] outside the " << data_bytes
        << " bytes of data (is the file truncated?)";
    ASLNET_CHECK(end - begin == uint64_t(t.numel) * elem)
        << where << " is " << t.dtype << shape_str(t.shape) << " (" << uint64_t(t.numel) * elem
        << " bytes) but its data_offsets [" << begin << ", " << end << "] hold " << end - begin << " bytes";
    t.begin = size_t(begin);
    t.end = size_t(end);
    if (data != nullptr) t.data = data + begin;
    file.tensors_.push_back(std::move(t));
  }

  std::sort(file.tensors_.begin(), file.tensors_.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.name < b.name;
  });
  for (size_t i = 0; i < file.tensors_.size(); ++i) file.index_[file.tensors_[i].name] = i;
  return file;
}

}  // namespace aslnet::safetensors
