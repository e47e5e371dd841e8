// Tests of the TurboJPEG codec wrapper: encode/decode round trip, the choice of DCT scale, every way a file
// can be bad (each must be a DecodeError naming the file, since loaders skip exactly those), and real
// Kaggle photos decoded the same as Pillow decodes them (the reference a PyTorch user trains on).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <turbojpeg.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/jpeg.h"
#include "data/transforms.h"
#include "tests/data/image_diff.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

namespace fs = std::filesystem;

// A smooth colourful image (gradients and slow waves): what JPEG compresses well, so a round trip is close.
Image smooth_image(int width, int height) {
  Image image;
  image.width = width;
  image.height = height;
  image.pixels.resize(size_t(width) * height * 3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      uint8_t* p = image.at(x, y);
      p[0] = uint8_t(255.0 * x / std::max(1, width - 1));
      p[1] = uint8_t(255.0 * y / std::max(1, height - 1));
      p[2] = uint8_t(127.5 + 100.0 * std::sin(x * 0.05) * std::cos(y * 0.07));
    }
  return image;
}

double mean_diff(const Image& a, const Image& b) {
  double sum = 0.0;
  for (size_t i = 0; i < a.pixels.size(); ++i) sum += std::abs(int(a.pixels[i]) - int(b.pixels[i]));
  return sum / double(a.pixels.size());
}

void write_bytes(const fs::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

// Expects a DecodeError whose message names `name`.
void expect_decode_error(JpegDecoder& decoder, const std::vector<uint8_t>& bytes, const std::string& name) {
  try {
    decoder.decode(bytes.data(), bytes.size(), 0, 0, name);
    ADD_FAILURE() << name << ": decoded without error";
  } catch (const DecodeError& e) {
    EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
  }
}

TEST(Jpeg, RoundTripOfSmoothImageIsClose) {
  const Image image = smooth_image(200, 160);
  const std::vector<uint8_t> bytes = encode_jpeg(image, 95);
  ASSERT_GT(bytes.size(), 100u);
  EXPECT_EQ(bytes[0], 0xFF);
  EXPECT_EQ(bytes[1], 0xD8);
  JpegDecoder decoder;
  const Image decoded = decoder.decode(bytes.data(), bytes.size());
  ASSERT_EQ(decoded.width, 200);
  ASSERT_EQ(decoded.height, 160);
  EXPECT_LT(mean_diff(image, decoded), 1.5);
  EXPECT_LE(test::max_diff(image, decoded), 16);  // 4:2:0 chroma at the sharpest colour edges
}

TEST(Jpeg, WriteAndDecodeFile) {
  test::TempDir dir("aslnet_jpeg");
  ASSERT_FALSE(dir.path.empty());
  const Image image = smooth_image(64, 48);
  const std::string path = (dir.path / "x.jpg").string();
  write_jpeg(path, image, 90);
  JpegDecoder decoder;
  const Image decoded = decoder.decode_file(path);
  EXPECT_EQ(decoded.width, 64);
  EXPECT_EQ(decoded.height, 48);
  EXPECT_LT(mean_diff(image, decoded), 2.0);
  EXPECT_EQ(read_file_bytes(path), encode_jpeg(image, 90));
  EXPECT_THROW(write_jpeg((dir.path / "missing" / "x.jpg").string(), image), Error);
}

// The smallest libjpeg-turbo scale (<= 1) covering the request, found independently of the decoder.
std::pair<int, int> expected_scaled(int width, int height, int min_w, int min_h) {
  int count = 0;
  const tjscalingfactor* factors = tjGetScalingFactors(&count);
  std::pair<int, int> best{width, height};
  for (int i = 0; i < count; ++i) {
    const tjscalingfactor f = factors[i];
    if (f.num * 1.0 / f.denom > 1.0) continue;
    const int w = TJSCALED(width, f), h = TJSCALED(height, f);
    if (w >= min_w && h >= min_h && w * h < best.first * best.second) best = {w, h};
  }
  return best;
}

TEST(Jpeg, ScaledDecodePicksSmallestCoveringFactor) {
  JpegDecoder decoder;
  const std::vector<uint8_t> square = encode_jpeg(smooth_image(200, 200), 90);
  struct Case {
    int min_w, min_h, want_w, want_h;
  };
  // 200 at 1/8..8/8: 25, 50, 75, 100, 125, 150, 175, 200.
  for (const Case c : {Case{64, 64, 75, 75}, Case{73, 73, 75, 75}, Case{84, 84, 100, 100}, Case{50, 50, 50, 50},
                       Case{1, 1, 25, 25}, Case{0, 0, 200, 200}, Case{300, 300, 200, 200}, Case{0, 120, 125, 125}}) {
    const Image image = decoder.decode(square.data(), square.size(), c.min_w, c.min_h);
    EXPECT_EQ(image.width, c.want_w) << "min " << c.min_w << "x" << c.min_h;
    EXPECT_EQ(image.height, c.want_h) << "min " << c.min_w << "x" << c.min_h;
    if (c.min_w > 0 || c.min_h > 0) {
      EXPECT_EQ(std::make_pair(image.width, image.height), expected_scaled(200, 200, c.min_w, c.min_h));
    }
  }
  // Non-square: both axes must cover their minimum.
  const std::vector<uint8_t> wide = encode_jpeg(smooth_image(320, 240), 90);
  for (const auto& [mw, mh] : std::vector<std::pair<int, int>>{{64, 64}, {100, 64}, {64, 100}, {33, 1}}) {
    const Image image = decoder.decode(wide.data(), wide.size(), mw, mh);
    EXPECT_EQ(std::make_pair(image.width, image.height), expected_scaled(320, 240, mw, mh)) << mw << "x" << mh;
    EXPECT_GE(image.width, mw);
    EXPECT_GE(image.height, mh);
  }
  // A scaled decode looks like the full decode shrunk.
  const Image full = decoder.decode(square.data(), square.size());
  const Image half = decoder.decode(square.data(), square.size(), 100, 100);
  ASSERT_EQ(half.width, 100);
  EXPECT_LT(mean_diff(half, resize(full, 100, 100)), 2.0);
}

TEST(Jpeg, BadInputIsDecodeErrorNamingTheFile) {
  JpegDecoder decoder;
  expect_decode_error(decoder, {}, "empty.jpg");
  Rng rng(7);
  std::vector<uint8_t> noise(5000);
  for (auto& b : noise) b = uint8_t(rng.below(256));
  expect_decode_error(decoder, noise, "noise.jpg");
  noise[0] = 0xFF;
  noise[1] = 0xD8;  // a JPEG signature followed by garbage
  expect_decode_error(decoder, noise, "signed_noise.jpg");
  const std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
  expect_decode_error(decoder, png, "image.png");
  const std::string page = "<html>not found</html>";
  const std::vector<uint8_t> html(page.begin(), page.end());
  expect_decode_error(decoder, html, "page.jpg");

  // Truncated anywhere: in the markers, in the header, in the scan, just before the end-of-image marker.
  const std::vector<uint8_t> good = encode_jpeg(smooth_image(96, 80), 90);
  for (const size_t keep :
       {size_t(1), size_t(2), size_t(20), size_t(200), good.size() / 2, good.size() - 100, good.size() - 3}) {
    expect_decode_error(decoder, std::vector<uint8_t>(good.begin(), good.begin() + std::ptrdiff_t(keep)),
                        "cut_at_" + std::to_string(keep) + ".jpg");
  }
  // The decoder is still usable after all those errors.
  EXPECT_EQ(decoder.decode(good.data(), good.size()).width, 96);
}

// A FIFO would block the open until a writer came, /dev/zero would never end: both are refused at once.
TEST(Jpeg, FifosAndDevicesAreRefusedBeforeOpening) {
  test::TempDir dir("aslnet_jpeg_fifo");
  ASSERT_FALSE(dir.path.empty());
  const std::string fifo = (dir.path / "photo.jpg").string();
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  for (const std::string& path : {fifo, std::string("/dev/zero")}) {
    try {
      read_file_bytes(path);
      ADD_FAILURE() << "read " << path;
    } catch (const DecodeError& e) {
      EXPECT_NE(std::string(e.what()).find(path + ": is a "), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos) << e.what();
    }
  }
}

TEST(Jpeg, UnreadableFilesAreDecodeErrorsNamingThePath) {
  test::TempDir dir("aslnet_jpeg");
  ASSERT_FALSE(dir.path.empty());
  JpegDecoder decoder;
  const std::string missing = (dir.path / "missing.jpg").string();
  try {
    read_file_bytes(missing);
    ADD_FAILURE() << "read a missing file";
  } catch (const DecodeError& e) {
    EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
  }
  EXPECT_THROW(decoder.decode_file(dir.path.string()), DecodeError);  // a folder
  const std::string text = (dir.path / "notes.jpg").string();
  write_bytes(text, {'h', 'e', 'l', 'l', 'o'});
  try {
    decoder.decode_file(text);
    ADD_FAILURE() << "decoded a text file";
  } catch (const DecodeError& e) {
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
  const std::string empty = (dir.path / "empty.jpg").string();
  write_bytes(empty, {});
  EXPECT_TRUE(read_file_bytes(empty).empty());
  EXPECT_THROW(decoder.decode_file(empty), DecodeError);
}

bool python_has_pil() { return std::system("/usr/bin/python3 -c 'import PIL.Image' >/dev/null 2>&1") == 0; }

// Real photos: libjpeg-turbo here and Pillow's libjpeg agree to within one level at full scale (they may
// round the IDCT or the chroma upsampling differently), and a 1/2-scale decode resembles the full one.
TEST(Jpeg, RealPhotosDecodeLikePillow) {
  const std::string archive = test::data_dir() + "/asl200-sample.tar";
  ASLNET_REQUIRE_DATA_OR_SKIP(archive);
  if (!python_has_pil()) ASLNET_SKIP_OR_FAIL("ASLNET_REQUIRE_TORCH", "/usr/bin/python3 cannot import PIL");
  test::TempDir dir("aslnet_jpeg");
  ASSERT_FALSE(dir.path.empty());
  const std::vector<std::string> members = {"asl_alphabet_train/A/A1008.jpg",
                                            "asl_alphabet_train/M/M1002.jpg",
                                            "asl_alphabet_train/nothing/nothing1001.jpg",
                                            "asl_alphabet_train/space/space1016.jpg",
                                            "asl_alphabet_train/Z/Z101.jpg",
                                            "asl_alphabet_train/del/del101.jpg"};
  std::string list;
  for (const auto& m : members) list += " '" + m + "'";
  // Member names differ between archive versions: extract the listed ones that exist, then use what came out.
  const std::string extract = "tar -xf '" + archive + "' -C '" + dir.path.string() + "'" + list + " 2>/dev/null";
  (void)std::system(extract.c_str());
  std::vector<fs::path> files;
  for (const auto& m : members)
    if (fs::exists(dir.path / m)) files.push_back(dir.path / m);
  if (files.size() < 3) {
    // Fall back to the first few images the archive lists.
    const std::string first = "tar -tf '" + archive + "' | grep '\\.jpg$' | head -5 | xargs tar -xf '" + archive +
                              "' -C '" + dir.path.string() + "'";
    ASSERT_EQ(std::system(first.c_str()), 0);
    files.clear();
    for (const auto& entry : fs::recursive_directory_iterator(dir.path))
      if (entry.path().extension() == ".jpg") files.push_back(entry.path());
  }
  ASSERT_GE(files.size(), 3u);

  JpegDecoder decoder;
  for (const auto& file : files) {
    const fs::path raw = file.string() + ".rgb";
    const std::string cmd =
        "/usr/bin/python3 -c 'import sys, PIL.Image as I; im = I.open(sys.argv[1]).convert(\"RGB\"); "
        "open(sys.argv[2], \"wb\").write(im.tobytes()); print(im.size[0], im.size[1])' '" +
        file.string() + "' '" + raw.string() + "' > '" + raw.string() + ".size'";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    int pw = 0, ph = 0;
    std::ifstream(raw.string() + ".size") >> pw >> ph;
    Image pil;
    pil.width = pw;
    pil.height = ph;
    pil.pixels = read_file_bytes(raw.string());

    const Image ours = decoder.decode_file(file.string());
    ASSERT_EQ(ours.width, pw) << file;
    ASSERT_EQ(ours.height, ph) << file;
    const int diff = test::max_diff(ours, pil);
    EXPECT_LE(diff, 1) << file << ": max difference from Pillow";
    std::printf("[ info ] %s: %dx%d, max |ours - Pillow| = %d, mean %.4f\n", file.filename().c_str(), pw, ph, diff,
                mean_diff(ours, pil));

    const Image half = decoder.decode_file(file.string(), pw / 2, ph / 2);
    EXPECT_EQ(half.width, (pw + 1) / 2);
    EXPECT_LT(mean_diff(resize(half, pw, ph), pil), 6.0) << file;
  }
}

}  // namespace
}  // namespace aslnet
