// Tests of the command line's image lists (data/image_files.h): natural order (numbers by value, a total
// order even with leading zeros), and folders expanded in place to their photos in that order, other
// files and wrong extensions left out, with one-line errors naming the path.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "data/image_files.h"
#include "engine/core/error.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

namespace fs = std::filesystem;

TEST(NaturalOrder, NumbersByValue) {
  std::vector<std::string> names = {"frame10.jpg", "frame2.jpg", "frame1.jpg", "frame007.jpg", "frame7.jpg",
                                    "frame10a.jpg", "frame.jpg", "Frame3.jpg", "frame02.jpg"};
  std::sort(names.begin(), names.end(), natural_less);
  const std::vector<std::string> want = {"Frame3.jpg", "frame.jpg",  "frame1.jpg",  "frame2.jpg",  "frame02.jpg",
                                         "frame7.jpg", "frame007.jpg", "frame10.jpg", "frame10a.jpg"};
  EXPECT_EQ(names, want);
}

TEST(NaturalOrder, IsAStrictOrder) {
  const std::vector<std::string> names = {"a", "a1", "a01", "a1b", "a2", "a10", "b", "", "10", "9", "09"};
  for (const auto& x : names) {
    EXPECT_FALSE(natural_less(x, x)) << x;
    for (const auto& y : names) {
      if (x == y) continue;
      EXPECT_NE(natural_less(x, y), natural_less(y, x)) << x << " " << y;
    }
  }
}

TEST(ImageArguments, FoldersExpandInPlace) {
  const test::TempDir temp("image_files");
  ASSERT_FALSE(temp.path.empty());
  const fs::path dir = temp.path;
  fs::create_directories(dir / "frames" / "sub");
  for (const char* name : {"f10.jpg", "f2.PNG", "f1.jpeg", "notes.txt", "f3.gif"})
    std::ofstream(dir / "frames" / name) << "x";
  std::ofstream(dir / "single.jpg") << "x";
  const auto out =
      expand_image_arguments({(dir / "single.jpg").string(), (dir / "frames").string(), (dir / "single.jpg").string()},
                             photo_extensions(), "image");
  const std::string f = (dir / "frames").string() + "/";
  const std::vector<std::string> want = {(dir / "single.jpg").string(), f + "f1.jpeg", f + "f2.PNG", f + "f10.jpg",
                                         (dir / "single.jpg").string()};
  EXPECT_EQ(out, want);
}

TEST(ImageArguments, ErrorsNameThePath) {
  const test::TempDir temp("image_files_errors");
  ASSERT_FALSE(temp.path.empty());
  const fs::path dir = temp.path;
  fs::create_directories(dir / "empty");
  std::ofstream(dir / "empty" / "a.txt") << "x";
  try {
    expand_image_arguments({(dir / "missing.jpg").string()}, photo_extensions(), "frame");
    FAIL() << "a missing file was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("frame " + (dir / "missing.jpg").string() + " does not exist"),
              std::string::npos)
        << e.what();
  }
  try {
    expand_image_arguments({(dir / "empty").string()}, {".jpg", ".jpeg"}, "frame");
    FAIL() << "a folder without photos was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("empty holds no .jpg or .jpeg frames"), std::string::npos) << e.what();
  }
  EXPECT_THROW(expand_image_arguments({}, photo_extensions(), "image"), Error);
}

}  // namespace
}  // namespace aslnet
