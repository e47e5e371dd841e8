#include "data/image_files.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "engine/core/error.h"

namespace aslnet {

namespace fs = std::filesystem;

namespace {

bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

// ".jpg, .jpeg or .png"
std::string either(const std::vector<std::string>& extensions) {
  std::string out;
  for (size_t i = 0; i < extensions.size(); ++i)
    out += (i == 0 ? "" : i + 1 == extensions.size() ? " or " : ", ") + extensions[i];
  return out;
}

}  // namespace

const std::vector<std::string>& photo_extensions() {
  static const std::vector<std::string> extensions = {".jpg", ".jpeg", ".png"};
  return extensions;
}

bool natural_less(const std::string& a, const std::string& b) {
  // Lexicographic over tokens (a run of digits, or one other character), digit runs ordered by value,
  // then by length: a total order, so sorting is deterministic even for "7" against "007".
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (is_digit(a[i]) && is_digit(b[j])) {
      size_t ie = i, je = j;
      while (ie < a.size() && is_digit(a[ie])) ++ie;
      while (je < b.size() && is_digit(b[je])) ++je;
      size_t ia = i, jb = j;  // past the leading zeros
      while (ia + 1 < ie && a[ia] == '0') ++ia;
      while (jb + 1 < je && b[jb] == '0') ++jb;
      if (ie - ia != je - jb) return ie - ia < je - jb;  // fewer significant digits: smaller
      if (const int c = a.compare(ia, ie - ia, b, jb, je - jb); c != 0) return c < 0;
      if (ie - i != je - j) return ie - i < je - j;  // equal values: fewer leading zeros first
      i = ie, j = je;
    } else {
      if (a[i] != b[j]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
      ++i, ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

std::vector<std::string> expand_image_arguments(const std::vector<std::string>& given,
                                                const std::vector<std::string>& extensions, const std::string& what) {
  std::vector<std::string> out;
  for (const std::string& g : given) {
    std::error_code error;
    ASLNET_CHECK(fs::exists(g, error)) << what << " " << g << " does not exist";
    if (!fs::is_directory(g, error)) {
      out.push_back(g);
      continue;
    }
    std::vector<std::string> inside;
    for (const auto& entry : fs::directory_iterator(g)) {
      const std::string ext = lower(entry.path().extension().string());
      if (entry.is_regular_file() && std::find(extensions.begin(), extensions.end(), ext) != extensions.end())
        inside.push_back(entry.path().string());
    }
    ASLNET_CHECK(!inside.empty()) << "folder " << g << " holds no " << either(extensions) << " " << what << "s";
    std::sort(inside.begin(), inside.end(), natural_less);
    out.insert(out.end(), inside.begin(), inside.end());
  }
  ASLNET_CHECK(!out.empty()) << "no " << what << "s given: pass image files or a folder of them";
  return out;
}

}  // namespace aslnet
