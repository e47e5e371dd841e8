// JPEG decoding and encoding on libjpeg-turbo's TurboJPEG API (2.x: tjDecompress2 and friends).
// Decoding picks the smallest DCT scaling factor (1/8, 2/8, ... 8/8) whose output still covers the size
// the caller will resize to, so a 200x200 photo headed for 64x64 is decoded at 100x100 for a quarter of
// the work. A decoder or encoder owns its TurboJPEG handle: one per thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/image.h"
#include "engine/core/error.h"

namespace aslnet {

// A file that cannot be read or is not a (complete, valid) JPEG. Loaders catch it, skip the file and
// count it; nothing else does.
class DecodeError : public Error {
 public:
  using Error::Error;
};

class JpegDecoder {
 public:
  JpegDecoder();
  ~JpegDecoder();
  JpegDecoder(const JpegDecoder&) = delete;
  JpegDecoder& operator=(const JpegDecoder&) = delete;

  // Decodes to RGB at the smallest scale whose width >= min_width and height >= min_height (full
  // size when min_* is 0 or larger than the image). `name` is used in error messages only.
  Image decode(const uint8_t* data, size_t size, int min_width = 0, int min_height = 0,
               const std::string& name = "");
  Image decode_file(const std::string& path, int min_width = 0, int min_height = 0);
  // The width and height from the header alone (up to the first frame's SOF marker), without decoding:
  // so that an image of too many pixels can be refused before its pixels are allocated. False when
  // `data` is not a JPEG or its header cannot be read (truncated before the SOF, corrupt markers).
  bool dimensions(const uint8_t* data, size_t size, int& width, int& height);

 private:
  void* handle_;
};

// Encodes RGB to a JPEG (quality 1..100, 4:2:0 chroma subsampling, as cameras write them).
std::vector<uint8_t> encode_jpeg(const Image& image, int quality = 90);
void write_jpeg(const std::string& path, const Image& image, int quality = 90);

// The whole file; throws DecodeError naming the path when it cannot be read.
std::vector<uint8_t> read_file_bytes(const std::string& path);

}  // namespace aslnet
