// PNG decoding through libpng's full (sequential) API. Not the simplified png_image API, although it would
// be shorter: Debian 12's libpng 1.6.39-2+deb12u1 and later (the CVE-2025-65018 backport) decode Adam7-
// interlaced 16-bit PNGs wrongly through it, about half the samples off by up to 250 (upstream libpng
// issue #853); the row-by-row API reads them right. libpng reports errors by longjmp to a setjmp: every
// libpng call is made from read_rows(), whose frame holds nothing with a destructor, so the jump skips
// none; the pixels live in std::vectors of the caller and libpng's state is freed by a guard, so a
// truncated or corrupt file leaks nothing and becomes a DecodeError naming it.
#include "data/png_decode.h"

#include <png.h>
#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <vector>

namespace aslnet {
namespace {

// Larger images are not photos of hands: the same bound as JPEG decoding (data/jpeg.cpp), so that a
// header claiming 100000x100000 pixels is refused before it allocates tens of gigabytes.
constexpr uint32_t kMaxSide = 16384;

constexpr uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

uint32_t read_be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

std::string label(const std::string& name) { return name.empty() ? std::string("<memory>") : name; }

[[noreturn]] void decode_error(const std::string& name, const std::string& what) {
  throw DecodeError(label(name) + ": " + what);
}

// The bytes libpng reads from, and the first error it reported.
struct MemorySource {
  const uint8_t* data;
  size_t size;
  size_t at = 0;
  char message[128] = {0};
};

void read_from_memory(png_structp png, png_bytep out, size_t length) {
  auto* source = static_cast<MemorySource*>(png_get_io_ptr(png));
  if (length > source->size - source->at) png_error(png, "unexpected end of file");
  std::memcpy(out, source->data + source->at, length);
  source->at += length;
}

// Keeps libpng's message, then jumps back to read_rows()'s setjmp (an error handler must not return).
void on_error(png_structp png, png_const_charp message) {
  auto* source = static_cast<MemorySource*>(png_get_error_ptr(png));
  if (source->message[0] == 0) std::snprintf(source->message, sizeof source->message, "%s", message);
  png_longjmp(png, 1);
}

// Warnings (an ancillary chunk with a bad CRC, dropped; "known incorrect sRGB profile") leave a good
// image: not worth a line on a server's terminal.
void on_warning(png_structp, png_const_charp) {}

// libpng's read and info structures, destroyed on every way out.
struct PngRead {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~PngRead() { png_destroy_read_struct(&png, &info, nullptr); }
};

enum class ReadResult { Ok, TooLarge, Failed };

// Reads the whole image as 8-bit RGB or RGBA (`channels` says which), rows top to bottom into `pixels`.
// Nothing in this frame has a destructor: libpng's longjmp lands in it (see the top of the file).
ReadResult read_rows(PngRead& read, std::vector<uint8_t>& pixels, std::vector<png_bytep>& rows, uint32_t& width,
                     uint32_t& height, int& channels) {
  png_structp png = read.png;
  png_infop info = read.info;
  if (setjmp(png_jmpbuf(png))) return ReadResult::Failed;
  png_read_info(png, info);
  width = png_get_image_width(png, info);
  height = png_get_image_height(png, info);
  if (width > kMaxSide || height > kMaxSide) return ReadResult::TooLarge;

  // Everything to 8-bit RGB(A): palette to RGB, gray below 8 bits to 8, tRNS to an alpha channel
  // (png_set_expand); 16 bits to 8 with rounding; gray to RGB; Adam7 passes merged into whole rows.
  // Colour-management chunks (gAMA, cHRM, iCCP) are not applied: samples are taken as sRGB, as the
  // training JPEGs' are, and as nearly every PNG's are.
  png_set_expand(png);
  if (png_get_bit_depth(png, info) == 16) png_set_scale_16(png);
  if ((png_get_color_type(png, info) & PNG_COLOR_MASK_COLOR) == 0) png_set_gray_to_rgb(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  channels = png_get_channels(png, info);
  if ((channels != 3 && channels != 4) || png_get_bit_depth(png, info) != 8 ||
      png_get_rowbytes(png, info) != size_t(width) * channels)
    png_error(png, "unexpected layout after conversion to 8-bit RGB");

  pixels.resize(size_t(width) * height * channels);
  rows.resize(height);
  for (uint32_t y = 0; y < height; ++y) rows[y] = pixels.data() + size_t(y) * width * channels;
  // Truncated image data ("unexpected end of file"), a bad CRC on IDAT, or a broken zlib stream fails here.
  // The chunks after the image data (text, time, IEND) are not read: the picture is whole without them.
  png_read_image(png, rows.data());
  return ReadResult::Ok;
}

// Straight alpha, 8 bits, over white: c * a + 255 * (1 - a), rounded.
uint8_t over_white(uint8_t c, uint8_t a) { return uint8_t((unsigned(c) * a + 255u * (255u - a) + 127u) / 255u); }

}  // namespace

bool is_png(const uint8_t* data, size_t size) {
  return data != nullptr && size >= sizeof kSignature && std::memcmp(data, kSignature, sizeof kSignature) == 0;
}

bool png_dimensions(const uint8_t* data, size_t size, int& width, int& height) {
  // The IHDR chunk comes first, right after the signature: length (4 bytes, always 13), type "IHDR",
  // width and height (4 bytes each, big-endian), 5 bytes of depth and colour type, then a CRC of type
  // and data. 8 + 4 + 4 + 13 + 4 = 33 bytes in all.
  constexpr size_t kIhdrEnd = 33;
  if (!is_png(data, size) || size < kIhdrEnd) return false;
  const uint8_t* chunk = data + sizeof kSignature;
  if (read_be32(chunk) != 13 || std::memcmp(chunk + 4, "IHDR", 4) != 0) return false;
  // A damaged header would make libpng fail later anyway; checking the CRC here keeps a size limit from
  // being applied to garbage.
  if (crc32(crc32(0, nullptr, 0), chunk + 4, 4 + 13) != read_be32(chunk + 4 + 4 + 13)) return false;
  const uint32_t w = read_be32(chunk + 8), h = read_be32(chunk + 12);
  // The PNG specification allows 1 to 2^31 - 1 pixels a side.
  if (w == 0 || h == 0 || w > 0x7fffffffu || h > 0x7fffffffu) return false;
  width = int(w);
  height = int(h);
  return true;
}

Image decode_png(const uint8_t* data, size_t size, const std::string& name) {
  if (data == nullptr || size == 0) decode_error(name, "empty file, not a PNG image");
  if (!is_png(data, size)) decode_error(name, "not a PNG image (no PNG signature)");

  MemorySource source{data, size};
  PngRead read;
  read.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &source, on_error, on_warning);
  if (read.png != nullptr) read.info = png_create_info_struct(read.png);
  if (read.info == nullptr) throw Error(label(name) + ": cannot create a libpng reader (out of memory)");
  png_set_read_fn(read.png, &source, read_from_memory);

  std::vector<uint8_t> pixels;
  std::vector<png_bytep> rows;
  uint32_t width = 0, height = 0;
  int channels = 0;
  switch (read_rows(read, pixels, rows, width, height, channels)) {
    case ReadResult::Ok:
      break;
    case ReadResult::TooLarge:
      decode_error(name, "unsupported PNG size " + std::to_string(width) + "x" + std::to_string(height) + " (at most " +
                             std::to_string(kMaxSide) + " pixels a side)");
    case ReadResult::Failed:
      decode_error(name, std::string("truncated or corrupt PNG: ") + source.message);
  }

  Image image;
  image.width = int(width);
  image.height = int(height);
  if (channels == 3) {
    image.pixels = std::move(pixels);
    return image;
  }
  // Alpha is composited over white, not dropped: under fully transparent pixels a file may hold
  // anything (black, or the colours of whatever was cut away), which the person uploading it never saw;
  // a cut-out hand on a page is seen over white. The blend is on the sRGB-encoded values, as a browser
  // shows the image.
  const size_t count = size_t(width) * height;
  image.pixels.resize(count * 3);
  for (size_t i = 0; i < count; ++i) {
    const uint8_t* in = pixels.data() + i * 4;
    uint8_t* out = image.pixels.data() + i * 3;
    for (int c = 0; c < 3; ++c) out[c] = over_white(in[c], in[3]);
  }
  return image;
}

}  // namespace aslnet
