// Tests of the confusion matrix for terminals (report/confusion_text.h): the 29 ASL classes fit in 100
// columns with full row names; counts while they fit in two digits, else row shares in percent (never 0
// for a non-zero cell, 100 only for a whole row); del, nothing and space get two-letter column heads and
// a legend; rows without images are left out; colliding short heads fall back to class numbers.
#include <gtest/gtest.h>

#include <sstream>

#include "data/classes.h"
#include "engine/core/error.h"
#include "report/confusion_text.h"

namespace aslnet {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A 29-class matrix: every class has `per_class` images, all right except one `del` read as A.
std::vector<int64_t> asl_matrix(int64_t per_class) {
  std::vector<int64_t> m(29 * 29, 0);
  for (size_t c = 0; c < 29; ++c) m[c * 29 + c] = per_class;
  const size_t del = 26;
  m[del * 29 + del] -= 1;
  m[del * 29 + 0] += 1;
  return m;
}

TEST(ConfusionText, AslClassesFitIn100Columns) {
  const std::vector<std::string> classes = asl_classes();
  ASSERT_EQ(classes.size(), 29u);
  for (int64_t per_class : {4, 3000}) {
    const std::vector<std::string> lines = lines_of(confusion_text(classes, asl_matrix(per_class)));
    ASSERT_EQ(lines.size(), 1u + 1u + 29u + 1u);  // heading, heads, rows, legend
    for (const auto& line : lines) EXPECT_LE(line.size(), 100u) << line;
    // Full row names, right-aligned to the longest (nothing).
    EXPECT_EQ(lines[2].substr(0, 7), "      A");
    EXPECT_EQ(lines[2 + 27].substr(0, 7), "nothing");
    EXPECT_EQ(lines[1].substr(lines[1].size() - 9), " de no sp");
    EXPECT_EQ(lines.back(), "columns: de = del, no = nothing, sp = space");
  }
}

TEST(ConfusionText, CountsOrShares) {
  const std::vector<std::string> classes = asl_classes();
  std::vector<std::string> lines = lines_of(confusion_text(classes, asl_matrix(4)));
  EXPECT_NE(lines[0].find("counts"), std::string::npos);
  // The del row: 1 read as A, 3 right; 29 cells of 3 characters after the 7-character name.
  const std::string del = lines[2 + 26];
  EXPECT_EQ(del.substr(0, 7 + 6), "    del  1  .");
  EXPECT_EQ(del.substr(7 + 26 * 3, 3), "  3");
  lines = lines_of(confusion_text(classes, asl_matrix(3000)));
  EXPECT_NE(lines[0].find("% of the row's images"), std::string::npos);
  // 1 of 3000 is 0.03%: shown as 1, not 0; 2999 of 3000 is 99.97%: shown as 99, not 100.
  EXPECT_EQ(lines[2 + 26].substr(0, 7 + 3), "    del  1");
  EXPECT_EQ(lines[2 + 26].substr(7 + 26 * 3, 3), " 99");
  EXPECT_EQ(lines[2].substr(7, 6), "100  .");
}

TEST(ConfusionText, RowsWithoutImagesAreLeftOut) {
  const std::vector<std::string> classes = {"A", "B", "space"};
  const std::vector<int64_t> m = {2, 1, 0, 0, 0, 0, 0, 0, 5};
  const std::vector<std::string> lines = lines_of(confusion_text(classes, m));
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[1], "       A  B sp");
  EXPECT_EQ(lines[2], "    A  2  1  .");
  EXPECT_EQ(lines[3], "space  .  .  5");
  EXPECT_EQ(lines[4], "columns: sp = space");
  EXPECT_THROW(confusion_text(classes, {1, 2}), Error);
}

TEST(ConfusionText, ShortLabelsStayDistinct) {
  EXPECT_EQ(short_labels({"A", "del", "nothing"}, 2), (std::vector<std::string>{"A", "de", "no"}));
  // "delta" and "delete" would both be "de": every long name gets its number.
  EXPECT_EQ(short_labels({"A", "delta", "delete", "xy"}, 2), (std::vector<std::string>{"A", "1", "2", "xy"}));
}

TEST(ConfusionText, ShortRowNamesWhenFullOnesDoNotFit) {
  const std::vector<std::string> classes = {"a-very-long-class-name", "B"};
  const std::vector<std::string> lines = lines_of(confusion_text(classes, {1, 0, 0, 1}, 20));
  EXPECT_EQ(lines[2], "a-  1  .");
  EXPECT_EQ(lines.back(), "columns: a- = a-very-long-class-name");
}

}  // namespace
}  // namespace aslnet
