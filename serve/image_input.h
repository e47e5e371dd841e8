// Images uploaded to aslnet serve: a JPEG or a PNG in memory, recognised by its first bytes (not by
// what the client says it is). Its dimensions are read from the header first, so an image of too many
// pixels is refused before anything is decoded; then it is decoded to RGB.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "data/jpeg.h"

namespace aslnet::serve {

// Why an upload cannot be used, with the HTTP status to answer: 400 (empty, not a JPEG or PNG,
// truncated or corrupt) or 413 (too many pixels). The message is one line.
class BadInput : public Error {
 public:
  BadInput(int status, const std::string& message) : Error(message), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

enum class ImageFormat { Jpeg, Png, Unknown };
ImageFormat sniff_image_format(const uint8_t* data, size_t size);

// Decodes a JPEG or PNG upload to RGB. `min_side`: a JPEG may be decoded at a reduced DCT scale as
// long as both sides stay at least this large (0: full size). `name` appears in messages ("image",
// "frame 3").
Image decode_upload(JpegDecoder& jpeg, const uint8_t* data, size_t size, int64_t max_pixels, int min_side,
                    const std::string& name);

}  // namespace aslnet::serve
