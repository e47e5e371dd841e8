// The real Kaggle archives in ../shared/data (or $ASLNET_DATA) hold what the project assumes: one folder
// per class, named as asl_classes() names them (in ImageFolder order), with 200 images each in the
// 200x200 sample and 3,000 each in the 32x32 full set, plus 28 flat "<class>_test.jpg" test files.
// Skips when the data is absent; fails then under ASLNET_REQUIRE_DATA=1 (CI sets it).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "data/classes.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

// The member names of a tar archive, through the system's tar.
std::vector<std::string> tar_listing(const std::string& archive) {
  std::vector<std::string> names;
  FILE* pipe = popen(("tar -tf '" + archive + "' 2>/dev/null").c_str(), "r");
  if (pipe == nullptr) return names;
  char line[4096];
  while (std::fgets(line, sizeof line, pipe) != nullptr) {
    std::string name(line);
    while (!name.empty() && (name.back() == '\n' || name.back() == '\r')) name.pop_back();
    names.push_back(name);
  }
  pclose(pipe);
  return names;
}

// Images per class folder under `prefix` ("<prefix><class>/<file>.jpg").
std::map<std::string, int> images_per_folder(const std::vector<std::string>& names, const std::string& prefix) {
  std::map<std::string, int> counts;
  for (const auto& name : names) {
    if (name.rfind(prefix, 0) != 0 || name.size() < 4 || name.compare(name.size() - 4, 4, ".jpg") != 0) continue;
    const std::string rest = name.substr(prefix.size());
    const auto slash = rest.find('/');
    if (slash != std::string::npos) ++counts[rest.substr(0, slash)];
  }
  return counts;
}

void expect_every_class(const std::map<std::string, int>& counts, int per_class) {
  EXPECT_EQ(counts.size(), asl_classes().size());
  std::vector<bool> seen(asl_classes().size(), false);
  for (const auto& [folder, count] : counts) {
    const int label = asl_class_index(folder);
    ASSERT_GE(label, 0) << "folder '" << folder << "' is not an ASL class";
    EXPECT_FALSE(seen[size_t(label)]) << folder;
    seen[size_t(label)] = true;
    EXPECT_EQ(count, per_class) << folder;
  }
}

TEST(RealData, SampleArchiveHasEveryClassAt200Images) {
  const std::string archive = test::data_dir() + "/asl200-sample.tar";
  ASLNET_REQUIRE_DATA_OR_SKIP(archive);
  expect_every_class(images_per_folder(tar_listing(archive), "asl_alphabet_train/"), 200);
}

TEST(RealData, FullArchiveHasEveryClassAt3000ImagesAnd28TestImages) {
  const std::string archive = test::data_dir() + "/asl32-full.tar.gz";
  ASLNET_REQUIRE_DATA_OR_SKIP(archive);
  const auto names = tar_listing(archive);
  expect_every_class(images_per_folder(names, "asl_alphabet_train/asl_alphabet_train/"), 3000);
  int tests = 0;
  for (const auto& name : names) {
    const std::string prefix = "asl_alphabet_test/asl_alphabet_test/", suffix = "_test.jpg";
    if (name.rfind(prefix, 0) != 0 || name.size() < prefix.size() + suffix.size()) continue;
    const std::string cls = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    EXPECT_GE(asl_class_index(cls), 0) << name;
    ++tests;
  }
  EXPECT_EQ(tests, 28);
}

TEST(Classes, ImageFolderOrderAndCaseInsensitiveMatch) {
  const auto& names = asl_classes();
  ASSERT_EQ(names.size(), 29u);
  EXPECT_EQ(names.front(), "A");
  EXPECT_EQ(names[25], "Z");
  EXPECT_EQ(names[26], "del");
  EXPECT_EQ(names[28], "space");
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));  // what ImageFolder's sorted() gives
  EXPECT_EQ(asl_class_index("SPACE"), 28);
  EXPECT_EQ(asl_class_index("Del"), 26);
  EXPECT_EQ(asl_class_index("b"), 1);
  EXPECT_EQ(asl_class_index("delete"), -1);
  EXPECT_EQ(asl_class_index(""), -1);
}

}  // namespace
}  // namespace aslnet
