// Uploads to aslnet serve, from bytes to RGB, in the order that keeps a bad or hostile upload cheap:
// empty, then the format from the first bytes, then the dimensions from the header alone (an image of
// too many pixels is a 413 before a pixel is allocated), then the decode. Every way an upload can be
// unusable becomes a BadInput with its HTTP status and a one-line message naming the upload.
#include "serve/image_input.h"

#include <cstdio>
#include <cstring>

#include "data/png_decode.h"

namespace aslnet::serve {
namespace {

constexpr uint8_t kJpegMagic[3] = {0xFF, 0xD8, 0xFF};

// Megapixels as a person reads them: no decimals for a whole number ("50"), else as few as tell `value`
// apart from `limit` (at least one, at most six), so that 4000x4001 against a limit of 16 reads "16.004",
// not "16 megapixels; the limit is 16".
std::string megapixels(int64_t value, int64_t limit) {
  char text[32], other[32];
  for (int decimals = 0;; ++decimals) {
    std::snprintf(text, sizeof text, "%.*f", decimals, double(value) / 1e6);
    std::snprintf(other, sizeof other, "%.*f", decimals, double(limit) / 1e6);
    if (decimals >= 6 || (std::strcmp(text, other) != 0 && (decimals > 0 || value % 1'000'000 == 0))) break;
  }
  return text;
}

// The limit as written on the command line (--max-megapixels 16, or 1.5): no trailing zeros.
std::string limit_megapixels(int64_t limit) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6f", double(limit) / 1e6);
  std::string s = text;
  s.erase(s.find_last_not_of('0') + 1);
  if (s.back() == '.') s.pop_back();
  return s;
}

}  // namespace

ImageFormat sniff_image_format(const uint8_t* data, size_t size) {
  if (data == nullptr) return ImageFormat::Unknown;
  if (size >= sizeof kJpegMagic && std::memcmp(data, kJpegMagic, sizeof kJpegMagic) == 0) return ImageFormat::Jpeg;
  if (is_png(data, size)) return ImageFormat::Png;
  return ImageFormat::Unknown;
}

Image decode_upload(JpegDecoder& jpeg, const uint8_t* data, size_t size, int64_t max_pixels, int min_side,
                    const std::string& name) {
  if (data == nullptr || size == 0) throw BadInput(400, name + " is empty");
  const ImageFormat format = sniff_image_format(data, size);
  if (format == ImageFormat::Unknown) throw BadInput(400, name + " is not a JPEG or PNG");
  const char* kind = format == ImageFormat::Jpeg ? "JPEG" : "PNG";

  int width = 0, height = 0;
  const bool have_header = format == ImageFormat::Jpeg ? jpeg.dimensions(data, size, width, height)
                                                       : png_dimensions(data, size, width, height);
  if (!have_header) throw BadInput(400, name + ": truncated or corrupt " + kind + " (its header cannot be read)");
  const int64_t pixels = int64_t(width) * height;
  if (max_pixels > 0 && pixels > max_pixels)
    throw BadInput(413, name + " is " + std::to_string(width) + "x" + std::to_string(height) + " = " +
                            megapixels(pixels, max_pixels) + " megapixels; the limit is " +
                            limit_megapixels(max_pixels));

  // The decoders' messages already name the upload and say what is wrong ("image: truncated or corrupt
  // JPEG data: Premature end of JPEG file"). A JPEG cut short draws only a warning from libjpeg, which
  // JpegDecoder::decode turns into an error (TJFLAG_STOPONWARNING): a half-grey picture is not an answer.
  try {
    if (format == ImageFormat::Jpeg) return jpeg.decode(data, size, min_side, min_side, name);
    // PNG has no reduced-scale decoding: it is decoded whole and the resize after it shrinks it.
    return decode_png(data, size, name);
  } catch (const DecodeError& e) {
    throw BadInput(400, e.what());
  }
}

}  // namespace aslnet::serve
