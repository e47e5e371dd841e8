// Tests of PNG decoding (data/png_decode.h): the project's own encoder round-trips exactly, every colour
// type and bit depth that libpng can write (gray 1 to 16 bits, gray+alpha, palette with and without tRNS,
// RGB, RGBA, 16-bit, Adam7-interlaced) decodes to the RGB a viewer shows over white, the dimensions come
// from the header alone, and every truncation or corruption is a DecodeError naming the file.
#include <gtest/gtest.h>
#include <png.h>
#include <zlib.h>

#include <algorithm>
#include <csetjmp>
#include <cstring>
#include <string>
#include <vector>

#include "data/png_decode.h"
#include "report/raster.h"
#include "tests/data/image_diff.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

// One PNG to write with libpng: its pixels as samples (channels per pixel, each 0 .. 2^depth - 1; for
// a palette image, the index), in the layout libpng writes them.
struct PngSpec {
  int width = 0, height = 0;
  int color_type = PNG_COLOR_TYPE_RGB;
  int bit_depth = 8;
  bool interlaced = false;
  std::vector<png_color> palette;
  std::vector<png_byte> trns;  // palette alpha, entry by entry (may be shorter than the palette)
  std::vector<uint16_t> samples;
};

int channels(int color_type) {
  switch (color_type) {
    case PNG_COLOR_TYPE_GRAY:
    case PNG_COLOR_TYPE_PALETTE:
      return 1;
    case PNG_COLOR_TYPE_GRAY_ALPHA:
      return 2;
    case PNG_COLOR_TYPE_RGB:
      return 3;
    default:
      return 4;
  }
}

void append_bytes(png_structp png, png_bytep data, size_t length) {
  auto* out = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + length);
}

// Packs the samples into rows as PNG stores them (sub-byte samples most significant bits first, 16-bit
// samples big-endian), then writes the file with libpng's full API. Empty on a libpng error.
std::vector<uint8_t> write_with_libpng(const PngSpec& spec) {
  const int n = channels(spec.color_type);
  const size_t row_bytes = (size_t(spec.width) * n * spec.bit_depth + 7) / 8;
  std::vector<uint8_t> packed(row_bytes * spec.height, 0);
  for (int y = 0; y < spec.height; ++y)
    for (int i = 0; i < spec.width * n; ++i) {
      const uint16_t s = spec.samples[size_t(y) * spec.width * n + i];
      uint8_t* row = packed.data() + size_t(y) * row_bytes;
      if (spec.bit_depth == 16) {
        row[2 * i] = uint8_t(s >> 8);
        row[2 * i + 1] = uint8_t(s);
      } else if (spec.bit_depth == 8) {
        row[i] = uint8_t(s);
      } else {
        const int per_byte = 8 / spec.bit_depth, slot = i % per_byte;
        row[i / per_byte] |= uint8_t(s << (8 - spec.bit_depth * (slot + 1)));
      }
    }
  std::vector<png_bytep> rows(spec.height);
  for (int y = 0; y < spec.height; ++y) rows[y] = packed.data() + size_t(y) * row_bytes;

  std::vector<uint8_t> out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png != nullptr ? png_create_info_struct(png) : nullptr;
  if (info == nullptr) {
    png_destroy_write_struct(&png, nullptr);
    return {};
  }
  // Everything with a destructor is declared above: libpng's longjmp lands here and skips none.
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    out.clear();
    return out;
  }
  png_set_write_fn(png, &out, append_bytes, nullptr);
  png_set_IHDR(png, info, png_uint_32(spec.width), png_uint_32(spec.height), spec.bit_depth, spec.color_type,
               spec.interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (!spec.palette.empty()) png_set_PLTE(png, info, spec.palette.data(), int(spec.palette.size()));
  if (!spec.trns.empty()) png_set_tRNS(png, info, spec.trns.data(), int(spec.trns.size()), nullptr);
  png_write_info(png, info);
  png_write_image(png, rows.data());  // handles the Adam7 passes itself
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  return out;
}

// A sample at `depth` bits as 8 bits: exact scaling below 8 bits (1 -> 255, 3 -> 255, 15 -> 255), and
// for 16 bits the nearest 8-bit value (the decoder may round differently by one).
int to_8bit(uint16_t s, int depth) {
  if (depth == 16) return (int(s) * 255 + 32767) / 65535;
  return int(s) * 255 / ((1 << depth) - 1);
}

int over_white(int c, int a) { return (c * a + 255 * (255 - a) + 127) / 255; }

// The picture a viewer shows for `spec` over a white page.
Image expected_rgb(const PngSpec& spec) {
  Image image;
  image.width = spec.width;
  image.height = spec.height;
  image.pixels.resize(size_t(spec.width) * spec.height * 3);
  const int n = channels(spec.color_type), d = spec.bit_depth;
  for (size_t p = 0; p < size_t(spec.width) * spec.height; ++p) {
    const uint16_t* s = spec.samples.data() + p * n;
    int rgb[3], alpha = 255;
    switch (spec.color_type) {
      case PNG_COLOR_TYPE_PALETTE: {
        const png_color c = spec.palette[s[0]];
        rgb[0] = c.red, rgb[1] = c.green, rgb[2] = c.blue;
        if (s[0] < spec.trns.size()) alpha = spec.trns[s[0]];
        break;
      }
      case PNG_COLOR_TYPE_GRAY:
      case PNG_COLOR_TYPE_GRAY_ALPHA:
        rgb[0] = rgb[1] = rgb[2] = to_8bit(s[0], d);
        if (n == 2) alpha = to_8bit(s[1], d);
        break;
      default:
        for (int c = 0; c < 3; ++c) rgb[c] = to_8bit(s[c], d);
        if (n == 4) alpha = to_8bit(s[3], d);
    }
    for (int c = 0; c < 3; ++c) image.pixels[p * 3 + c] = uint8_t(over_white(rgb[c], alpha));
  }
  return image;
}

// Random samples for `spec`; alpha is fully transparent or fully opaque half the time, since those are
// the values whose result is certain (white, and the colour itself).
void fill_random(PngSpec& spec, Rng& rng) {
  const int n = channels(spec.color_type);
  const bool has_alpha = spec.color_type == PNG_COLOR_TYPE_GRAY_ALPHA || spec.color_type == PNG_COLOR_TYPE_RGB_ALPHA;
  const uint32_t levels =
      spec.color_type == PNG_COLOR_TYPE_PALETTE ? uint32_t(spec.palette.size()) : (1u << spec.bit_depth);
  spec.samples.resize(size_t(spec.width) * spec.height * n);
  for (size_t i = 0; i < spec.samples.size(); ++i) {
    const bool is_alpha = has_alpha && i % n == size_t(n - 1);
    const uint64_t pick = rng.below(4);
    spec.samples[i] = uint16_t(is_alpha && pick == 0 ? 0 : is_alpha && pick == 1 ? levels - 1 : rng.below(levels));
  }
}

PngSpec random_spec(int color_type, int bit_depth, bool interlaced, Rng& rng) {
  PngSpec spec;
  spec.width = 1 + int(rng.below(40));  // odd sizes: partial bytes at the end of sub-byte rows, short Adam7 passes
  spec.height = 1 + int(rng.below(30));
  spec.color_type = color_type;
  spec.bit_depth = bit_depth;
  spec.interlaced = interlaced;
  if (color_type == PNG_COLOR_TYPE_PALETTE) {
    spec.palette.resize(size_t(1) << bit_depth);
    for (png_color& c : spec.palette) c = {uint8_t(rng.below(256)), uint8_t(rng.below(256)), uint8_t(rng.below(256))};
  }
  fill_random(spec, rng);
  return spec;
}

// `bytes` with the IHDR chunk saying `width` x `height`, its CRC made to match: a header that lies.
std::vector<uint8_t> with_ihdr_size(std::vector<uint8_t> bytes, uint32_t width, uint32_t height) {
  for (int i = 0; i < 4; ++i) {
    bytes[16 + i] = uint8_t(width >> (24 - 8 * i));
    bytes[20 + i] = uint8_t(height >> (24 - 8 * i));
  }
  const uint32_t crc = uint32_t(crc32(crc32(0, nullptr, 0), bytes.data() + 12, 4 + 13));
  for (int i = 0; i < 4; ++i) bytes[29 + i] = uint8_t(crc >> (24 - 8 * i));
  return bytes;
}

void expect_decode_error(const std::vector<uint8_t>& bytes, const std::string& name, const std::string& why) {
  try {
    decode_png(bytes.data(), bytes.size(), name);
    ADD_FAILURE() << why << ": decoded without error";
  } catch (const DecodeError& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind(name + ": ", 0), 0u) << why << ": " << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << why << ": " << message;
  }
}

TEST(PngDecode, RoundTripOfEncodePngIsExact) {
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  for (int trial = 0; trial < 5; ++trial) {
    const Image picture = test::random_rgb(1 + int(rng.below(300)), 1 + int(rng.below(200)), rng);
    const std::vector<uint8_t> bytes = encode_png(picture);
    int width = 0, height = 0;
    ASSERT_TRUE(png_dimensions(bytes.data(), bytes.size(), width, height));
    EXPECT_EQ(width, picture.width);
    EXPECT_EQ(height, picture.height);
    const Image decoded = decode_png(bytes.data(), bytes.size(), "picture.png");
    ASSERT_EQ(decoded.width, picture.width);
    ASSERT_EQ(decoded.height, picture.height);
    EXPECT_TRUE(decoded.pixels == picture.pixels);
  }
}

TEST(PngDecode, EveryColourTypeAndDepthDecodesToWhatAViewerShowsOverWhite) {
  struct Case {
    const char* what;
    int color_type, bit_depth;
    bool transparent_palette = false;
  };
  const Case cases[] = {
      {"gray 1-bit", PNG_COLOR_TYPE_GRAY, 1},
      {"gray 2-bit", PNG_COLOR_TYPE_GRAY, 2},
      {"gray 4-bit", PNG_COLOR_TYPE_GRAY, 4},
      {"gray 8-bit", PNG_COLOR_TYPE_GRAY, 8},
      {"gray 16-bit", PNG_COLOR_TYPE_GRAY, 16},
      {"gray+alpha 8-bit", PNG_COLOR_TYPE_GRAY_ALPHA, 8},
      {"gray+alpha 16-bit", PNG_COLOR_TYPE_GRAY_ALPHA, 16},
      {"palette 1-bit", PNG_COLOR_TYPE_PALETTE, 1},
      {"palette 4-bit", PNG_COLOR_TYPE_PALETTE, 4},
      {"palette 8-bit", PNG_COLOR_TYPE_PALETTE, 8},
      {"palette 8-bit with tRNS", PNG_COLOR_TYPE_PALETTE, 8, true},
      {"palette 2-bit with tRNS", PNG_COLOR_TYPE_PALETTE, 2, true},
      {"RGB 8-bit", PNG_COLOR_TYPE_RGB, 8},
      {"RGB 16-bit", PNG_COLOR_TYPE_RGB, 16},
      {"RGBA 8-bit", PNG_COLOR_TYPE_RGB_ALPHA, 8},
      {"RGBA 16-bit", PNG_COLOR_TYPE_RGB_ALPHA, 16},
  };
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  for (const Case& c : cases)
    for (const bool interlaced : {false, true}) {
      SCOPED_TRACE(std::string(c.what) + (interlaced ? ", interlaced" : ""));
      PngSpec spec = random_spec(c.color_type, c.bit_depth, interlaced, rng);
      if (c.transparent_palette) {
        // Entry 0 transparent, entry 1 half, the rest opaque (tRNS shorter than the palette).
        spec.trns = {0, 128};
        spec.samples[0] = 0;  // at least one transparent pixel
      }
      const std::vector<uint8_t> bytes = write_with_libpng(spec);
      ASSERT_FALSE(bytes.empty());
      int width = 0, height = 0;
      ASSERT_TRUE(png_dimensions(bytes.data(), bytes.size(), width, height));
      EXPECT_EQ(width, spec.width);
      EXPECT_EQ(height, spec.height);
      const Image decoded = decode_png(bytes.data(), bytes.size(), "upload.png");
      // 16 bits to 8 may round either way; with alpha too, the blend of two rounded values may differ
      // by one more.
      const bool has_alpha = c.color_type == PNG_COLOR_TYPE_GRAY_ALPHA || c.color_type == PNG_COLOR_TYPE_RGB_ALPHA;
      const int tolerance = c.bit_depth == 16 ? (has_alpha ? 2 : 1) : 0;
      EXPECT_LE(test::max_diff(decoded, expected_rgb(spec)), tolerance);
    }
}

TEST(PngDecode, SixteenBitWithoutGammaIsTakenAsSrgbNotLinear) {
  // Mid-grey 0x8080 is 128 in 8 bits; read as linear light it would come out near 188.
  PngSpec spec;
  spec.width = 3;
  spec.height = 2;
  spec.color_type = PNG_COLOR_TYPE_GRAY;
  spec.bit_depth = 16;
  spec.samples.assign(6, 0x8080);
  const std::vector<uint8_t> bytes = write_with_libpng(spec);
  ASSERT_FALSE(bytes.empty());
  const Image decoded = decode_png(bytes.data(), bytes.size());
  for (const uint8_t v : decoded.pixels) EXPECT_NEAR(int(v), 128, 1);
}

TEST(PngDecode, AlphaIsCompositedOverWhite) {
  // Black at alpha 0, 128 and 255: white, the middle grey, black; whatever colour lies under a fully
  // transparent pixel does not show.
  PngSpec spec;
  spec.width = 4;
  spec.height = 1;
  spec.color_type = PNG_COLOR_TYPE_RGB_ALPHA;
  spec.samples = {0, 0, 0, 0, 0, 0, 0, 128, 0, 0, 0, 255, 200, 10, 30, 0};
  const std::vector<uint8_t> bytes = write_with_libpng(spec);
  ASSERT_FALSE(bytes.empty());
  const Image decoded = decode_png(bytes.data(), bytes.size());
  const std::vector<uint8_t> expected = {255, 255, 255, 127, 127, 127, 0, 0, 0, 255, 255, 255};
  EXPECT_EQ(decoded.pixels, expected);
}

TEST(PngDecode, DimensionsComeFromTheHeaderAlone) {
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  const std::vector<uint8_t> bytes = encode_png(test::random_rgb(37, 23, rng));
  // The signature and the IHDR chunk, 33 bytes, are enough; one byte less is not.
  int width = 0, height = 0;
  ASSERT_TRUE(png_dimensions(bytes.data(), 33, width, height));
  EXPECT_EQ(width, 37);
  EXPECT_EQ(height, 23);
  width = height = -1;
  EXPECT_FALSE(png_dimensions(bytes.data(), 32, width, height));
  EXPECT_EQ(width, -1);  // untouched on failure
  EXPECT_FALSE(png_dimensions(bytes.data(), 0, width, height));
  EXPECT_FALSE(png_dimensions(nullptr, 0, width, height));

  // A damaged header: a flipped bit in the width (the CRC no longer matches), or a chunk other than
  // IHDR first.
  std::vector<uint8_t> damaged = bytes;
  damaged[18] ^= 0x01;
  EXPECT_FALSE(png_dimensions(damaged.data(), damaged.size(), width, height));
  damaged = bytes;
  damaged[12] = 'J';
  EXPECT_FALSE(png_dimensions(damaged.data(), damaged.size(), width, height));

  // A zero side, or one over the PNG limit of 2^31 - 1, with a CRC that matches.
  const std::vector<uint8_t> zero = with_ihdr_size(bytes, 0, 23);
  EXPECT_FALSE(png_dimensions(zero.data(), zero.size(), width, height));
  const std::vector<uint8_t> huge = with_ihdr_size(bytes, 37, 0x80000000u);
  EXPECT_FALSE(png_dimensions(huge.data(), huge.size(), width, height));
  const std::vector<uint8_t> large = with_ihdr_size(bytes, 8000, 6250);
  ASSERT_TRUE(png_dimensions(large.data(), 33, width, height));
  EXPECT_EQ(width, 8000);
  EXPECT_EQ(height, 6250);

  const std::vector<uint8_t> jpeg = encode_jpeg(Image{8, 8, std::vector<uint8_t>(8 * 8 * 3, 100)});
  EXPECT_FALSE(png_dimensions(jpeg.data(), jpeg.size(), width, height));
}

TEST(PngDecode, MoreThan16384PixelsASideIsRefusedBeforeDecoding) {
  // The header says 20000 x 10; the image data is for 8 x 8 and is never read.
  const std::vector<uint8_t> bytes = encode_png(Image{8, 8, std::vector<uint8_t>(8 * 8 * 3, 7)});
  const std::vector<uint8_t> wide = with_ihdr_size(bytes, 20000, 10);
  try {
    decode_png(wide.data(), wide.size(), "wide.png");
    ADD_FAILURE() << "decoded a 20000-pixel-wide PNG";
  } catch (const DecodeError& e) {
    EXPECT_NE(std::string(e.what()).find("20000x10"), std::string::npos) << e.what();
  }
}

TEST(PngDecode, TruncatedAnywhereInTheImageDataIsADecodeError) {
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  // Noise does not compress, so the IDAT chunk is most of the file and a cut lands in it.
  const std::vector<uint8_t> bytes = encode_png(test::random_rgb(64, 48, rng));
  expect_decode_error(std::vector<uint8_t>(bytes.begin(), bytes.begin() + bytes.size() / 2), "half.png", "cut at half");
  // Anywhere before the end of the IDAT data: its CRC (4 bytes) and IEND (12 bytes) follow it.
  const size_t idat_end = bytes.size() - 12 - 4;
  for (int trial = 0; trial < 20; ++trial) {
    const size_t cut = size_t(rng.below(idat_end));
    expect_decode_error(std::vector<uint8_t>(bytes.begin(), bytes.begin() + cut), "cut.png",
                        "cut at " + std::to_string(cut) + " of " + std::to_string(bytes.size()));
  }
}

TEST(PngDecode, CorruptDataIsADecodeError) {
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  const std::vector<uint8_t> bytes = encode_png(test::random_rgb(50, 40, rng));
  // A changed byte in the image data: the chunk's CRC no longer matches.
  for (int trial = 0; trial < 10; ++trial) {
    std::vector<uint8_t> corrupt = bytes;
    const size_t at = 41 + size_t(rng.below(bytes.size() - 41 - 16));  // inside the IDAT data
    corrupt[at] ^= uint8_t(1 + rng.below(255));
    expect_decode_error(corrupt, "corrupt.png", "byte " + std::to_string(at) + " changed");
  }
  // The signature, then noise.
  std::vector<uint8_t> noise(bytes.begin(), bytes.begin() + 8);
  for (int i = 0; i < 500; ++i) noise.push_back(uint8_t(rng.below(256)));
  expect_decode_error(noise, "noise.png", "signature then noise");
  // Not a PNG at all, and nothing.
  expect_decode_error({'G', 'I', 'F', '8', '9', 'a', 0, 0, 0, 0}, "anim.gif", "a GIF");
  expect_decode_error({}, "empty.png", "empty");
}

}  // namespace
}  // namespace aslnet
