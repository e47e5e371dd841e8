// JPEG decoding and encoding through TurboJPEG 2.x (libjpeg-turbo 2.1 on Debian 12). Decoding uses the
// DCT-domain scaling of libjpeg-turbo: an 8x8 block is inverse-transformed straight to a k x k block
// (k = 1..8), so decoding a 200x200 photo at 1/2 scale costs about a quarter of a full decode and needs no
// resize afterwards to get there. Anything wrong with a file (unreadable, empty, not a JPEG, truncated,
// corrupt, absurdly large) is a DecodeError naming the file, which loaders catch to skip and count it.
#include "data/jpeg.h"

#include <sys/stat.h>
#include <turbojpeg.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>

#include "engine/core/regular_file.h"

namespace aslnet {
namespace {

// Larger images are not photos of hands: refusing them keeps one bad file from allocating gigabytes.
constexpr int kMaxSide = 16384;

std::string label(const std::string& name) { return name.empty() ? std::string("<memory>") : name; }

[[noreturn]] void decode_error(const std::string& name, const std::string& what) {
  throw DecodeError(label(name) + ": " + what);
}

// The first bytes, in hex, for the "not a JPEG" message: PNG, GIF or HTML show themselves at a glance.
std::string leading_bytes(const uint8_t* data, size_t size) {
  char text[16] = {0};
  int used = 0;
  for (size_t i = 0; i < size && i < 4; ++i)
    used += std::snprintf(text + used, sizeof text - size_t(used), i ? " %02x" : "%02x", unsigned(data[i]));
  return text;
}

// Encoders are short-lived in tests and the generator, but a thread that writes thousands of files
// should not create and destroy a compressor per image: one per thread, freed at thread exit.
struct CompressorHandle {
  tjhandle handle = tjInitCompress();
  ~CompressorHandle() {
    if (handle != nullptr) tjDestroy(handle);
  }
};

// A failed header read or a decompression stopped half-way leaves the TurboJPEG handle mid-image, and the
// next file decoded with it fails too (as "0x0 pixels", or "improper call to JPEG library"): after any
// failure, the next file starts from a fresh handle.
struct FreshHandleOnFailure {
  void*& handle;
  bool ok = false;
  ~FreshHandleOnFailure() {
    if (ok) return;
    if (void* fresh = tjInitDecompress(); fresh != nullptr) {
      tjDestroy(handle);
      handle = fresh;
    }
  }
};

}  // namespace

JpegDecoder::JpegDecoder() : handle_(tjInitDecompress()) {
  if (handle_ == nullptr)
    throw Error(std::string("cannot create a TurboJPEG decompressor: ") + tjGetErrorStr2(nullptr));
}

JpegDecoder::~JpegDecoder() {
  if (handle_ != nullptr) tjDestroy(handle_);
}

bool JpegDecoder::dimensions(const uint8_t* data, size_t size, int& width, int& height) {
  if (data == nullptr || size < 2 || data[0] != 0xFF || data[1] != 0xD8) return false;
  if (size > std::numeric_limits<unsigned long>::max()) return false;
  FreshHandleOnFailure guard{handle_};
  int w = 0, h = 0, subsamp = 0, colorspace = 0;
  if (tjDecompressHeader3(handle_, data, (unsigned long)size, &w, &h, &subsamp, &colorspace) != 0) return false;
  guard.ok = true;
  if (w <= 0 || h <= 0) return false;
  width = w;
  height = h;
  return true;
}

Image JpegDecoder::decode(const uint8_t* data, size_t size, int min_width, int min_height, const std::string& name) {
  if (data == nullptr || size == 0) decode_error(name, "empty file, not a JPEG image");
  if (size < 2 || data[0] != 0xFF || data[1] != 0xD8)
    decode_error(name, "not a JPEG image (starts with " + leading_bytes(data, size) + ", expected ff d8)");
  if (size > std::numeric_limits<unsigned long>::max()) decode_error(name, "file too large");

  FreshHandleOnFailure guard{handle_};

  int width = 0, height = 0, subsamp = 0, colorspace = 0;
  if (tjDecompressHeader3(handle_, data, (unsigned long)size, &width, &height, &subsamp, &colorspace) != 0)
    decode_error(name, std::string("bad JPEG header: ") + tjGetErrorStr2(handle_));
  if (width <= 0 || height <= 0 || width > kMaxSide || height > kMaxSide)
    decode_error(name, "unsupported JPEG size " + std::to_string(width) + "x" + std::to_string(height) + " (at most " +
                           std::to_string(kMaxSide) + " pixels a side)");

  // The smallest scale, never above 1 (the decoder does not upscale: the resize after it does that
  // better), whose output covers the request on both axes. No request, or one larger than the image,
  // gives the full size.
  int out_w = width, out_h = height;
  if (min_width > 0 || min_height > 0) {
    int count = 0;
    const tjscalingfactor* factors = tjGetScalingFactors(&count);
    for (int i = 0; factors != nullptr && i < count; ++i) {
      const tjscalingfactor f = factors[i];
      if (f.num > f.denom) continue;
      const int w = TJSCALED(width, f), h = TJSCALED(height, f);
      if (w >= min_width && h >= min_height && int64_t(w) * h < int64_t(out_w) * out_h) {
        out_w = w;
        out_h = h;
      }
    }
  }

  Image image;
  image.width = out_w;
  image.height = out_h;
  image.pixels.resize(size_t(out_w) * out_h * 3);
  // STOPONWARNING: a truncated or corrupt file only draws a libjpeg warning ("premature end of data")
  // and would decode to a half-grey picture; training on that silently is worse than skipping it.
  if (tjDecompress2(handle_, data, (unsigned long)size, image.pixels.data(), out_w, 0, out_h, TJPF_RGB,
                    TJFLAG_STOPONWARNING) != 0) {
    const bool warning = tjGetErrorCode(handle_) == TJERR_WARNING;
    decode_error(name, std::string(warning ? "truncated or corrupt JPEG data: " : "cannot decode JPEG: ") +
                           tjGetErrorStr2(handle_));
  }
  guard.ok = true;
  return image;
}

Image JpegDecoder::decode_file(const std::string& path, int min_width, int min_height) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  return decode(bytes.data(), bytes.size(), min_width, min_height, path);
}

std::vector<uint8_t> encode_jpeg(const Image& image, int quality) {
  ASLNET_CHECK(image.width > 0 && image.height > 0 && image.width <= kMaxSide && image.height <= kMaxSide)
      << "cannot encode a " << image.width << "x" << image.height << " image as JPEG";
  ASLNET_CHECK(image.pixels.size() == size_t(image.width) * image.height * 3)
      << "image of " << image.width << "x" << image.height << " has " << image.pixels.size()
      << " bytes, expected width * height * 3";
  ASLNET_CHECK(quality >= 1 && quality <= 100) << "JPEG quality must be 1..100, got " << quality;
  thread_local CompressorHandle compressor;
  ASLNET_CHECK(compressor.handle != nullptr) << "cannot create a TurboJPEG compressor: " << tjGetErrorStr2(nullptr);

  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  const int rc = tjCompress2(compressor.handle, image.pixels.data(), image.width, 0, image.height, TJPF_RGB, &buffer,
                             &size, TJSAMP_420, quality, 0);
  std::unique_ptr<unsigned char, void (*)(unsigned char*)> owned(buffer, [](unsigned char* p) { tjFree(p); });
  ASLNET_CHECK(rc == 0) << "JPEG encoding failed: " << tjGetErrorStr2(compressor.handle);
  return std::vector<uint8_t>(buffer, buffer + size);
}

void write_jpeg(const std::string& path, const Image& image, int quality) {
  const std::vector<uint8_t> bytes = encode_jpeg(image, quality);
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) throw Error(path + ": cannot open for writing (" + std::strerror(errno) + ")");
  const bool written = std::fwrite(bytes.data(), 1, bytes.size(), file) == bytes.size();
  const int saved_errno = errno;
  const bool closed = std::fclose(file) == 0;
  if (!written || !closed)
    throw Error(path + ": cannot write JPEG (" + std::strerror(written ? errno : saved_errno) + ")");
}

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  // Checked before opening: a FIFO would block the open, a device such as /dev/zero never ends.
  if (const std::string why = why_unsafe_to_open(path); !why.empty())
    throw DecodeError(path + ": " + why);
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) throw DecodeError(path + ": cannot open (" + std::strerror(errno) + ")");
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> owned(file, std::fclose);
  struct stat info {};
  if (fstat(fileno(file), &info) != 0) throw DecodeError(path + ": cannot stat (" + std::strerror(errno) + ")");
  // Read straight into the vector at the size the file says it has, then on until EOF, so that a file
  // growing under us is still read whole.
  std::vector<uint8_t> bytes(size_t(info.st_size));
  size_t filled = std::fread(bytes.data(), 1, bytes.size(), file);
  if (filled == bytes.size()) {
    for (int c; (c = std::fgetc(file)) != EOF;) bytes.push_back(uint8_t(c));
    filled = bytes.size();
  }
  if (std::ferror(file)) throw DecodeError(path + ": cannot read (" + std::strerror(errno) + ")");
  bytes.resize(filled);
  return bytes;
}

}  // namespace aslnet
