#include "data/classes.h"

#include <algorithm>
#include <cctype>

namespace aslnet {

const std::vector<std::string>& asl_classes() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (char c = 'A'; c <= 'Z'; ++c) v.emplace_back(1, c);
    v.insert(v.end(), {"del", "nothing", "space"});
    return v;
  }();
  return names;
}

int asl_class_index(const std::string& name) {
  const auto& names = asl_classes();
  const auto same = [&](const std::string& candidate) {
    return candidate.size() == name.size() &&
           std::equal(candidate.begin(), candidate.end(), name.begin(), [](char a, char b) {
             return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
           });
  };
  const auto it = std::find_if(names.begin(), names.end(), same);
  return it == names.end() ? -1 : int(it - names.begin());
}

}  // namespace aslnet
