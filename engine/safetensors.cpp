// safetensors reader and writer (see safetensors.h). The reader parses the JSON header with
// nlohmann_json and then checks every entry against the real size of the file before any byte of data
// is touched, so a truncated or hand-edited file is an Error with the file and tensor in it, never a
// read past the end of a buffer. The writer packs tensors without holes (the Python package rejects
// gaps) and makes the write atomic with a temporary file, fsync and rename.
#include "engine/safetensors.h"

#include <zlib.h>

#include <fcntl.h>
#include <signal.h>
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
#include "engine/core/regular_file.h"

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

// Runs a JSON step (parsing, or dumping names that may not be UTF-8) and returns why it failed, ""
// when it did not. The caller reports the failure outside the catch, in a message that names the file.
template <class Step>
std::string json_failure(Step&& step) {
  try {
    step();
  } catch (const json::exception& e) {
    return json_reason(e);
  }
  return "";
}

// The header length that opens every file: 8 bytes, little-endian.
void encode_length(uint64_t value, uint8_t bytes[8]) {
  for (int i = 0; i < 8; ++i) bytes[i] = uint8_t(value >> (8 * i));
}

uint64_t decode_length(const uint8_t bytes[8]) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value |= uint64_t(bytes[i]) << (8 * i);
  return value;
}

// ---- Writing ----

// The header as JSON text, padded with spaces so the data section starts on an 8-byte boundary.
std::string serialise_header(const json& header, const std::string& path) {
  std::string text;
  const std::string reason = json_failure([&] { text = header.dump(); });
  const bool serialised = reason.empty();
  ASLNET_CHECK(serialised) << "cannot write " << path << ": " << reason;
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

// The temporary file a write goes to, "<path>.tmp.<pid>". Until commit() has renamed it over the
// target, leaving the write (by an Error) closes and removes it, so a failed write leaves no litter.
constexpr const char* kTempInfix = ".tmp.";  // between the target's name and the writer's pid
struct TempFile {
  std::string path;
  std::FILE* fp = nullptr;
  bool committed = false;

  explicit TempFile(const std::string& target) : path(target + kTempInfix + std::to_string(::getpid())) {}
  ~TempFile() {
    if (fp != nullptr) std::fclose(fp);
    if (!committed) std::remove(path.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  // A member, not the constructor, so that a failure still runs the destructor's clean-up.
  void create(const std::string& target) {
    fp = std::fopen(path.c_str(), "wb");
    const int err = errno;
    ASLNET_CHECK(fp != nullptr) << "cannot write " << target << ": cannot create " << path << ": " << errno_text(err)
                                << (err == ENOENT ? " (does the folder exist?)" : "");
  }

  // Makes the written bytes the target's: flush, fsync, close, rename.
  void commit(const std::string& target) {
    // Data must be on disk before the rename makes it visible under the real name; otherwise a crash
    // could leave a complete-looking but empty file.
    const bool ok = std::fflush(fp) == 0 && ::fsync(::fileno(fp)) == 0;
    int err = errno;
    ASLNET_CHECK(ok) << "cannot write " << target << ": flushing " << path << " failed: " << errno_text(err);
    const int closed = std::fclose(fp);
    err = errno;
    fp = nullptr;
    ASLNET_CHECK(closed == 0) << "cannot write " << target << ": closing " << path << " failed: " << errno_text(err);
    const int renamed = std::rename(path.c_str(), target.c_str());
    err = errno;
    ASLNET_CHECK(renamed == 0) << "cannot write " << target << ": renaming " << path << " failed: " << errno_text(err);
    committed = true;
  }
};

// The rename itself lives in the folder's entry, which needs its own fsync to survive a crash.
// Some file systems cannot fsync a folder (EINVAL): the file is complete either way.
void sync_folder_of(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  int err = errno;
  ASLNET_CHECK(fd >= 0) << "wrote " << path << " but cannot open its folder to sync it: " << errno_text(err);
  const int synced = ::fsync(fd);
  err = errno;
  ::close(fd);
  ASLNET_CHECK(synced == 0 || err == EINVAL)
      << "wrote " << path << " but syncing its folder failed: " << errno_text(err);
}

// ---- Reading ----

// The size of the open file, which must be a regular one (not a folder or a pipe).
uint64_t regular_file_size(std::FILE* fp, const std::string& path) {
  struct stat st {};
  ASLNET_CHECK(::fstat(::fileno(fp), &st) == 0 && S_ISREG(st.st_mode))
      << "cannot read safetensors file " << path << ": not a regular file";
  return uint64_t(st.st_size);
}

// Reads the 8-byte header length into `length` and returns it, checked against the file's size.
uint64_t read_header_length(std::FILE* fp, const std::string& path, uint64_t size, uint8_t length[8]) {
  ASLNET_CHECK(size >= 8) << "safetensors file " << path << " is truncated: " << size
                          << " bytes, shorter than the 8-byte header length";
  ASLNET_CHECK(read_exact(fp, length, 8)) << "cannot read safetensors file " << path;
  const uint64_t header_bytes = decode_length(length);
  ASLNET_CHECK(header_bytes <= size - 8) << "safetensors file " << path
                                         << " is truncated or corrupt: its header length is " << header_bytes
                                         << " bytes, but only " << size - 8 << " bytes follow";
  return header_bytes;
}

// Reads bytes the file's size promised: a short read means the file shrank since it was measured.
void read_promised(std::FILE* fp, void* dst, size_t bytes, const std::string& path) {
  ASLNET_CHECK(read_exact(fp, dst, bytes)) << "cannot read safetensors file " << path << ": it shrank while being read";
}

// The header's JSON, which must be an object.
json parse_header_json(const std::string& text, const std::string& path) {
  json header;
  const std::string reason = json_failure([&] { header = json::parse(text); });
  const bool parsed = reason.empty();
  ASLNET_CHECK(parsed) << "safetensors file " << path << " has a corrupt header (" << text.size()
                       << " bytes of JSON): " << reason;
  ASLNET_CHECK(header.is_object()) << "safetensors file " << path << " has a corrupt header: a JSON "
                                   << header.type_name() << " instead of an object";
  return header;
}

// "__metadata__": an object of strings.
void read_metadata(const json& entry, const std::string& path, std::map<std::string, std::string>& metadata) {
  ASLNET_CHECK(entry.is_object()) << "safetensors file " << path << ": __metadata__ is not a JSON object";
  for (const auto& [key, value] : entry.items()) {
    ASLNET_CHECK(value.is_string()) << "safetensors file " << path << ": metadata '" << key << "' is not a string";
    metadata[key] = value.get<std::string>();
  }
}

// A tensor's dtype, one this reader supports. `where` names the file and the tensor.
std::string parse_dtype(const json& entry, const std::string& where) {
  const auto dtype = entry.find("dtype");
  ASLNET_CHECK(dtype != entry.end() && dtype->is_string()) << where << " has no dtype";
  std::string name = dtype->get<std::string>();
  const size_t elem = dtype_size(name);
  ASLNET_CHECK(elem != 0) << where << " has unsupported dtype '" << name
                          << "' (supported: F64, F32, BF16, I64, I32, U8)";
  return name;
}

// A tensor's shape: sizes that fit an int64_t.
std::vector<int64_t> parse_shape(const json& entry, const std::string& where) {
  const auto shape = entry.find("shape");
  ASLNET_CHECK(shape != entry.end() && shape->is_array()) << where << " has no shape";
  std::vector<int64_t> dims;
  for (const auto& d : *shape) {
    ASLNET_CHECK(d.is_number_unsigned() && d.get<uint64_t>() <= uint64_t(INT64_MAX))
        << where << " has a shape entry " << d.dump() << " that is not a size";
    dims.push_back(int64_t(d.get<uint64_t>()));
  }
  return dims;
}

// A tensor's data_offsets [begin, end], inside the `data_bytes` bytes of data.
std::pair<uint64_t, uint64_t> parse_offsets(const json& entry, const std::string& where, uint64_t data_bytes) {
  const auto offsets = entry.find("data_offsets");
  ASLNET_CHECK(offsets != entry.end() && offsets->is_array() && offsets->size() == 2 &&
               (*offsets)[0].is_number_unsigned() && (*offsets)[1].is_number_unsigned())
      << where << " has no data_offsets [begin, end]";
  const uint64_t begin = (*offsets)[0].get<uint64_t>(), end = (*offsets)[1].get<uint64_t>();
  ASLNET_CHECK(begin <= end && end <= data_bytes)
      << where << " has data_offsets [" << begin << ", " << end << "] outside the " << data_bytes
      << " bytes of data (is the file truncated?)";
  return {begin, end};
}

// One tensor's header entry, checked against itself and against the `data_bytes` bytes of data that
// follow the header; `data` is the start of those bytes (null in a header-only read).
TensorInfo parse_tensor(const std::string& name, const json& entry, const std::string& path, uint64_t data_bytes,
                        const uint8_t* data) {
  const std::string where = "safetensors file " + path + ": tensor '" + name + "'";
  ASLNET_CHECK(entry.is_object()) << where << " is not a JSON object";
  TensorInfo t;
  t.name = name;
  t.dtype = parse_dtype(entry, where);
  const size_t elem = dtype_size(t.dtype);
  t.shape = parse_shape(entry, where);
  ASLNET_CHECK(checked_numel(t.shape, t.numel) && uint64_t(t.numel) <= UINT64_MAX / elem)
      << where << " has an impossible shape " << shape_str(t.shape);
  const auto [begin, end] = parse_offsets(entry, where, data_bytes);
  ASLNET_CHECK(end - begin == uint64_t(t.numel) * elem)
      << where << " is " << t.dtype << shape_str(t.shape) << " (" << uint64_t(t.numel) * elem
      << " bytes) but its data_offsets [" << begin << ", " << end << "] hold " << end - begin << " bytes";
  t.begin = size_t(begin);
  t.end = size_t(end);
  if (data != nullptr) t.data = data + begin;
  return t;
}

}  // namespace

void Writer::add(std::string name, std::string dtype, std::vector<int64_t> shape, const void* data, size_t bytes) {
  ASLNET_CHECK(data != nullptr || bytes == 0) << "safetensors tensor '" << name << "' has no data";
  entries_.push_back(
      {std::move(name), std::move(dtype), std::move(shape), static_cast<const uint8_t*>(data), bytes, {}});
}

void Writer::add_owned(std::string name, std::string dtype, std::vector<int64_t> shape, std::vector<uint8_t> bytes) {
  auto owned = std::make_shared<const std::vector<uint8_t>>(std::move(bytes));
  entries_.push_back({std::move(name), std::move(dtype), std::move(shape), owned->data(), owned->size(), owned});
}

void Writer::set_metadata(const std::string& key, std::string value) { metadata_[key] = std::move(value); }

namespace {

// Removes "<path>.tmp.<pid>" files of processes that no longer run: what a kill -9 (or a power cut)
// during an earlier write left behind. A running process's file is left alone: it may be writing now.
void remove_stale_temp_files(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const std::string prefix = target.filename().string() + kTempInfix;
  std::error_code ec;
  const fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.starts_with(prefix)) continue;
    const std::string digits = name.substr(prefix.size());
    if (digits.empty() || digits.size() > 9 || !std::all_of(digits.begin(), digits.end(), ::isdigit)) continue;
    const pid_t pid = pid_t(std::stol(digits));
    if (pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH) continue;
    std::error_code ignored;
    fs::remove(it->path(), ignored);  // best effort: a file that cannot be removed harms nothing
  }
}

}  // namespace

void Writer::write(const std::string& path) const {
  remove_stale_temp_files(path);
  const std::vector<size_t> order = packing_order();
  const std::string header = header_text(path, order);
  TempFile tmp(path);
  tmp.create(path);
  const bool ok = write_contents(tmp.fp, header, order);
  const int err = errno;
  ASLNET_CHECK(ok) << "cannot write " << path << ": writing " << tmp.path << " failed: " << errno_text(err);
  tmp.commit(path);
  sync_folder_of(path);
}

// Larger elements first (stable, so otherwise in the order added): with the data section starting on
// an 8-byte boundary and no holes, every tensor then starts aligned to its element size, which is how
// the reference implementation lays files out.
std::vector<size_t> Writer::packing_order() const {
  std::vector<size_t> order(entries_.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return dtype_size(entries_[a].dtype) > dtype_size(entries_[b].dtype); });
  return order;
}

// The metadata and every tensor's entry, offsets packed in `order`; refuses entries the reader would.
std::string Writer::header_text(const std::string& path, const std::vector<size_t>& order) const {
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
  return serialise_header(header, path);
}

// The header length, the header and the tensors' bytes in `order`; false (errno set) when a write fails.
bool Writer::write_contents(std::FILE* fp, const std::string& header, const std::vector<size_t>& order) const {
  uint8_t length[8];
  encode_length(header.size(), length);
  bool ok = std::fwrite(length, 1, 8, fp) == 8 && std::fwrite(header.data(), 1, header.size(), fp) == header.size();
  for (size_t i : order) {
    const Entry& e = entries_[i];
    if (ok && e.bytes > 0) ok = std::fwrite(e.data, 1, e.bytes, fp) == e.bytes;
  }
  return ok;
}

File File::read(const std::string& path) { return parse(path, true); }
File File::read_header(const std::string& path) { return parse(path, false); }

const TensorInfo* File::find(const std::string& name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

uint32_t crc32(const uint8_t* data, size_t bytes) {
  return uint32_t(::crc32_z(::crc32_z(0, nullptr, 0), data, bytes));
}

std::map<std::string, uint32_t> Writer::crc32s() const {
  std::map<std::string, uint32_t> out;
  for (const Entry& e : entries_) out[e.name] = crc32(e.data, e.bytes);
  return out;
}

File File::parse(const std::string& path, bool with_data) {
  File file;
  file.path_ = path;
  // Before opening: a FIFO would block the open, a device such as /dev/zero never ends.
  const std::string why = why_unsafe_to_open(path);
  ASLNET_CHECK(why.empty()) << "cannot read safetensors file " << path << ": it " << why;
  FileCloser closer{std::fopen(path.c_str(), "rb")};
  const int err = errno;
  ASLNET_CHECK(closer.fp != nullptr) << "cannot open safetensors file " << path << ": " << errno_text(err);
  const uint64_t size = regular_file_size(closer.fp, path);
  uint8_t length[8];
  const uint64_t header_bytes = read_header_length(closer.fp, path, size, length);
  const uint64_t data_bytes = size - 8 - header_bytes;

  // With the data, the whole file is kept (the tensors point into it) and the header copied out of it.
  std::string text(header_bytes, '\0');
  if (with_data) {
    file.bytes_.resize(size);
    std::memcpy(file.bytes_.data(), length, 8);
    read_promised(closer.fp, file.bytes_.data() + 8, size - 8, path);
    std::memcpy(text.data(), file.bytes_.data() + 8, header_bytes);
  } else {
    read_promised(closer.fp, text.data(), header_bytes, path);
  }

  const json header = parse_header_json(text, path);
  const uint8_t* data = with_data ? file.bytes_.data() + 8 + header_bytes : nullptr;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      read_metadata(entry, path, file.metadata_);
    } else {
      file.tensors_.push_back(parse_tensor(name, entry, path, data_bytes, data));
    }
  }

  std::sort(file.tensors_.begin(), file.tensors_.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.name < b.name;
  });
  for (size_t i = 0; i < file.tensors_.size(); ++i) file.index_[file.tensors_[i].name] = i;
  return file;
}

}  // namespace aslnet::safetensors
