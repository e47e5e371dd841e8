// Tests of uploads to aslnet serve (serve/image_input.h): the format comes from the first bytes, JPEG and
// PNG decode, and every unusable upload is a BadInput with the status docs/serve.md promises: 400 for
// empty, not a JPEG or PNG, truncated or corrupt; 413 for too many pixels, decided from the header alone
// (the too-large images here are headers that lie about their size, so decoding them would fail: a 413
// proves nothing was decoded). Also JpegDecoder::dimensions, which that check relies on.
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "data/jpeg.h"
#include "data/png_decode.h"
#include "report/raster.h"
#include "serve/image_input.h"
#include "tests/data/image_diff.h"
#include "tests/test_util.h"

namespace aslnet::serve {
namespace {

using Bytes = std::vector<uint8_t>;

// A smooth picture with some noise: compresses like a photo, so a JPEG of it has a long scan to cut.
Image photo_like(int width, int height, Rng& rng) {
  Image image;
  image.width = width;
  image.height = height;
  image.pixels.resize(size_t(width) * height * 3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c)
        image.at(x, y)[c] = uint8_t(
            std::clamp(int(120 + 80 * std::sin(0.05 * x + c) * std::cos(0.07 * y)) + int(rng.below(21)) - 10, 0, 255));
  return image;
}

// The offset of the marker ff `code` among the segments before the scan (each: ff, code, a 2-byte
// length that counts itself, its data); the test fails when there is none.
size_t find_marker(const Bytes& jpeg, uint8_t code) {
  for (size_t at = 2; at + 3 < jpeg.size() && jpeg[at] == 0xFF;) {
    if (jpeg[at + 1] == code) return at;
    if (jpeg[at + 1] == 0xDA) break;  // the scan follows its header: no more segments to walk
    at += 2 + (size_t(jpeg[at + 2]) << 8 | jpeg[at + 3]);
  }
  ADD_FAILURE() << "no marker ff " << std::hex << int(code);
  return 0;
}

// `jpeg` whose frame header (SOF0, as TurboJPEG writes it) says `width` x `height`; its scan is still
// the small image's, so it cannot be decoded at the size claimed.
Bytes with_sof_size(Bytes jpeg, int width, int height) {
  const size_t sof = find_marker(jpeg, 0xC0);  // ff c0, length (2), precision (1), height (2), width (2)
  jpeg[sof + 5] = uint8_t(height >> 8);
  jpeg[sof + 6] = uint8_t(height);
  jpeg[sof + 7] = uint8_t(width >> 8);
  jpeg[sof + 8] = uint8_t(width);
  return jpeg;
}

// Everything up to the end of the SOS header, before the first byte of entropy-coded data: all that a
// header read needs, and not one pixel.
Bytes jpeg_header_only(const Bytes& jpeg) {
  const size_t sos = find_marker(jpeg, 0xDA);
  const size_t length = size_t(jpeg[sos + 2]) << 8 | jpeg[sos + 3];
  return Bytes(jpeg.begin(), jpeg.begin() + long(sos + 2 + length));
}

// The signature and an IHDR chunk saying `width` x `height` (8-bit RGB), with a matching CRC, and nothing
// after it: 33 bytes.
Bytes png_header_only(uint32_t width, uint32_t height) {
  Bytes png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
  for (const uint32_t v : {width, height})
    for (int i = 0; i < 4; ++i) png.push_back(uint8_t(v >> (24 - 8 * i)));
  for (const uint8_t v : {8, 2, 0, 0, 0}) png.push_back(v);  // depth 8, RGB, deflate, adaptive, not interlaced
  const uint32_t crc = uint32_t(crc32(crc32(0, nullptr, 0), png.data() + 12, 4 + 13));
  for (int i = 0; i < 4; ++i) png.push_back(uint8_t(crc >> (24 - 8 * i)));
  return png;
}

Bytes cut(const Bytes& bytes, size_t size) { return Bytes(bytes.begin(), bytes.begin() + long(size)); }

// The BadInput that decode_upload throws for `bytes`; status 0 (and a test failure) when it decodes.
BadInput upload_error(JpegDecoder& jpeg, const Bytes& bytes, int64_t max_pixels = 16'000'000, int min_side = 0,
                      const std::string& name = "image") {
  try {
    decode_upload(jpeg, bytes.data(), bytes.size(), max_pixels, min_side, name);
  } catch (const BadInput& e) {
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    return e;
  }
  ADD_FAILURE() << name << " (" << bytes.size() << " bytes) decoded without error";
  return BadInput(0, "");
}

// A 400 whose message starts with `name`.
void expect_400(JpegDecoder& jpeg, const Bytes& bytes, const std::string& name, int min_side = 0) {
  const BadInput e = upload_error(jpeg, bytes, 16'000'000, min_side, name);
  EXPECT_EQ(e.status(), 400) << e.what();
  EXPECT_EQ(std::string(e.what()).rfind(name, 0), 0u) << e.what();
}

TEST(ImageInput, FormatComesFromTheFirstBytes) {
  const Bytes jpeg = encode_jpeg(Image{8, 8, Bytes(8 * 8 * 3, 90)});
  const Bytes png = encode_png(Image{8, 8, Bytes(8 * 8 * 3, 90)});
  EXPECT_EQ(sniff_image_format(jpeg.data(), jpeg.size()), ImageFormat::Jpeg);
  EXPECT_EQ(sniff_image_format(png.data(), png.size()), ImageFormat::Png);
  EXPECT_EQ(sniff_image_format(jpeg.data(), 3), ImageFormat::Jpeg);
  EXPECT_EQ(sniff_image_format(jpeg.data(), 2), ImageFormat::Unknown);  // ff d8 alone could be anything
  EXPECT_EQ(sniff_image_format(png.data(), 7), ImageFormat::Unknown);
  const Bytes gif = {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0};
  EXPECT_EQ(sniff_image_format(gif.data(), gif.size()), ImageFormat::Unknown);
  EXPECT_EQ(sniff_image_format(nullptr, 0), ImageFormat::Unknown);
}

TEST(ImageInput, JpegDecodesAtFullOrReducedScale) {
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  const Image image = photo_like(400, 320, rng);
  const Bytes bytes = encode_jpeg(image, 95);
  JpegDecoder jpeg;
  const Image full = decode_upload(jpeg, bytes.data(), bytes.size(), 16'000'000, 0, "image");
  ASSERT_EQ(full.width, 400);
  ASSERT_EQ(full.height, 320);
  EXPECT_LE(test::max_diff(image, full), 40);  // the noise is what JPEG loses first
  // Headed for 64x64: the smallest DCT scale that still covers 64 on both sides is 2/8 (100x80).
  const Image reduced = decode_upload(jpeg, bytes.data(), bytes.size(), 16'000'000, 64, "image");
  EXPECT_EQ(reduced.width, 100);
  EXPECT_EQ(reduced.height, 80);
}

TEST(ImageInput, PngDecodesExactly) {
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  const Image picture = test::random_rgb(1 + int(rng.below(200)), 1 + int(rng.below(200)), rng);
  const Bytes bytes = encode_png(picture);
  JpegDecoder jpeg;
  // min_side does not apply to PNG: it comes back whole.
  const Image decoded = decode_upload(jpeg, bytes.data(), bytes.size(), 16'000'000, 16, "image");
  ASSERT_EQ(decoded.width, picture.width);
  ASSERT_EQ(decoded.height, picture.height);
  EXPECT_TRUE(decoded.pixels == picture.pixels);
}

TEST(ImageInput, EmptyIs400) {
  JpegDecoder jpeg;
  const BadInput e = upload_error(jpeg, {}, 16'000'000, 0, "frame 2");
  EXPECT_EQ(e.status(), 400);
  EXPECT_STREQ(e.what(), "frame 2 is empty");
  try {
    decode_upload(jpeg, nullptr, 0, 16'000'000, 0, "image");
    ADD_FAILURE() << "a null upload decoded";
  } catch (const BadInput& e) {
    EXPECT_EQ(e.status(), 400);
  }
}

TEST(ImageInput, RandomBytesAre400) {
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  JpegDecoder jpeg;
  for (int trial = 0; trial < 20; ++trial) {
    Bytes noise(1 + rng.below(2000));
    for (uint8_t& v : noise) v = uint8_t(rng.below(256));
    if (sniff_image_format(noise.data(), noise.size()) != ImageFormat::Unknown) noise[0] = 0;
    const BadInput e = upload_error(jpeg, noise, 16'000'000, 0, "image");
    EXPECT_EQ(e.status(), 400);
    EXPECT_STREQ(e.what(), "image is not a JPEG or PNG");
  }
  // Noise behind a JPEG's or a PNG's first bytes gets as far as the header read.
  for (int trial = 0; trial < 20; ++trial) {
    Bytes noise = trial % 2 == 0 ? Bytes{0xFF, 0xD8, 0xFF} : Bytes{0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    for (size_t i = 0, n = rng.below(2000); i < n; ++i) noise.push_back(uint8_t(rng.below(256)));
    expect_400(jpeg, noise, "noise " + std::to_string(trial));
  }
}

TEST(ImageInput, TruncatedJpegIs400AtAnyScale) {
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  const Image image = photo_like(160, 120, rng);
  const Bytes bytes = encode_jpeg(image, 90);
  JpegDecoder jpeg;
  // libjpeg only warns about a file that ends early (and would fill the rest with grey); the decoder
  // stops on that warning, at full and at reduced DCT scale alike.
  for (const int min_side : {0, 32}) {
    SCOPED_TRACE("min_side " + std::to_string(min_side));
    expect_400(jpeg, cut(bytes, bytes.size() / 2), "half.jpg", min_side);
    // Anywhere from the SOI to the last byte: within the header, within the scan, and the EOI marker
    // alone missing (still a warning, still refused).
    expect_400(jpeg, cut(bytes, bytes.size() - 2), "no-eoi.jpg", min_side);
    for (int trial = 0; trial < 10; ++trial) {
      const size_t at = 3 + size_t(rng.below(bytes.size() - 3));
      expect_400(jpeg, cut(bytes, at), "cut at " + std::to_string(at) + " of " + std::to_string(bytes.size()),
                 min_side);
    }
  }
  // The decoder recovers: the whole file still decodes with it.
  const Image decoded = decode_upload(jpeg, bytes.data(), bytes.size(), 16'000'000, 0, "image");
  EXPECT_EQ(decoded.width, 160);
}

TEST(ImageInput, CorruptJpegIs400) {
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  const Bytes bytes = encode_jpeg(photo_like(96, 96, rng), 90);
  // A run of noise in the scan. Noise often decodes as valid Huffman codes, so, for the test not to rest
  // on chance, an EOI marker (ff d9) is planted in it: a marker inside the scan is "corrupt JPEG data:
  // premature end of data segment", a warning that the decoder stops on.
  Bytes corrupt = bytes;
  const size_t sos = find_marker(bytes, 0xDA);
  const size_t scan = sos + 2 + (size_t(bytes[sos + 2]) << 8 | bytes[sos + 3]) + 20;
  for (size_t i = scan; i < scan + 40; ++i) corrupt[i] = uint8_t(rng.below(256));
  corrupt[scan + 20] = 0xFF;
  corrupt[scan + 21] = 0xD9;
  JpegDecoder jpeg;
  expect_400(jpeg, corrupt, "corrupt.jpg");
}

TEST(ImageInput, TruncatedOrCorruptPngIs400) {
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  const Bytes bytes = encode_png(test::random_rgb(64, 64, rng));
  JpegDecoder jpeg;
  expect_400(jpeg, cut(bytes, bytes.size() / 2), "half.png");
  expect_400(jpeg, cut(bytes, 20), "header cut.png");  // inside the IHDR: no dimensions to read
  Bytes corrupt = bytes;
  corrupt[bytes.size() / 2] ^= 0x55;  // the IDAT chunk's CRC no longer matches
  expect_400(jpeg, corrupt, "corrupt.png");
}

TEST(ImageInput, TooManyPixelsIs413FromTheHeaderAlone) {
  JpegDecoder jpeg;
  // 8000 x 6250 = 50 megapixels, claimed by a 16x16 JPEG's header and by a PNG that is nothing but a
  // header. Decoding either would fail (400); a 413 shows that the size was judged first.
  const Bytes small = encode_jpeg(Image{16, 16, Bytes(16 * 16 * 3, 128)});
  const Bytes big_jpeg = with_sof_size(small, 8000, 6250);
  const Bytes big_png = png_header_only(8000, 6250);
  const auto start = std::chrono::steady_clock::now();
  for (const Bytes* bytes : {&big_jpeg, &big_png}) {
    const BadInput e = upload_error(jpeg, *bytes, 16'000'000, 0, "image");
    EXPECT_EQ(e.status(), 413);
    EXPECT_STREQ(e.what(), "image is 8000x6250 = 50 megapixels; the limit is 16");
    // Only the header was needed: the JPEG cut before its scan says the same.
    const BadInput header = upload_error(jpeg, bytes == &big_jpeg ? jpeg_header_only(big_jpeg) : big_png);
    EXPECT_EQ(header.status(), 413) << header.what();
  }
  // No 150-megabyte allocation or decode in there: four header reads take well under a second.
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 1.0);

  // The size is told apart from the limit when it is only just over, and fractions are kept.
  EXPECT_STREQ(upload_error(jpeg, png_header_only(4000, 4001)).what(),
               "image is 4000x4001 = 16.004 megapixels; the limit is 16");
  EXPECT_STREQ(upload_error(jpeg, with_sof_size(small, 4032, 3024), 1'500'000).what(),
               "image is 4032x3024 = 12.2 megapixels; the limit is 1.5");
}

TEST(ImageInput, PixelLimitIsInclusive) {
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  const int width = 20 + int(rng.below(100)), height = 20 + int(rng.below(100));
  const Bytes jpeg_bytes = encode_jpeg(photo_like(width, height, rng));
  const Bytes png_bytes = encode_png(test::random_rgb(width, height, rng));
  const int64_t pixels = int64_t(width) * height;
  JpegDecoder jpeg;
  for (const Bytes* bytes : {&jpeg_bytes, &png_bytes}) {
    const Image at_limit = decode_upload(jpeg, bytes->data(), bytes->size(), pixels, 0, "image");
    EXPECT_EQ(at_limit.width, width);
    EXPECT_EQ(upload_error(jpeg, *bytes, pixels - 1).status(), 413);
  }
}

TEST(JpegDimensions, ComeFromTheHeaderWithoutDecoding) {
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  const int width = 1 + int(rng.below(300)), height = 1 + int(rng.below(300));
  const Bytes bytes = encode_jpeg(photo_like(width, height, rng));
  JpegDecoder jpeg;
  int w = 0, h = 0;
  ASSERT_TRUE(jpeg.dimensions(bytes.data(), bytes.size(), w, h));
  EXPECT_EQ(w, width);
  EXPECT_EQ(h, height);
  // The header up to the SOS is enough, and it cannot be decoded.
  const Bytes header = jpeg_header_only(bytes);
  w = h = 0;
  ASSERT_TRUE(jpeg.dimensions(header.data(), header.size(), w, h));
  EXPECT_EQ(w, width);
  EXPECT_EQ(h, height);
  EXPECT_THROW(jpeg.decode(header.data(), header.size()), DecodeError);
  // Cut before the frame header, not a JPEG, nothing: no dimensions, and w, h untouched.
  w = h = -1;
  EXPECT_FALSE(jpeg.dimensions(bytes.data(), find_marker(bytes, 0xC0), w, h));
  const Bytes png = encode_png(Image{4, 4, Bytes(4 * 4 * 3, 1)});
  EXPECT_FALSE(jpeg.dimensions(png.data(), png.size(), w, h));
  EXPECT_FALSE(jpeg.dimensions(nullptr, 0, w, h));
  EXPECT_EQ(w, -1);
  EXPECT_EQ(h, -1);
  // A failed header read leaves the decoder usable.
  const Image decoded = jpeg.decode(bytes.data(), bytes.size());
  EXPECT_EQ(decoded.width, width);
  ASSERT_TRUE(jpeg.dimensions(bytes.data(), bytes.size(), w, h));
  EXPECT_EQ(w, width);
}

}  // namespace
}  // namespace aslnet::serve
