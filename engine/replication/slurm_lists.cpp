#include "engine/replication/slurm_lists.h"

#include <cctype>
#include <cstdint>

#include "engine/core/error.h"

namespace aslnet {

namespace {

// More hosts than any cluster has: a list that expands past this is a mistake, not a machine room.
constexpr size_t kMaxHosts = 1 << 20;

// Splits at the commas outside brackets: `node[01-04,07],gpu3` is `node[01-04,07]` and `gpu3`.
std::vector<std::string> split_top_level(const std::string& list, const char* variable) {
  std::vector<std::string> items;
  std::string item;
  int depth = 0;
  for (const char c : list) {
    if (c == '[') ++depth;
    if (c == ']') --depth;
    ASLNET_CHECK(depth == 0 || depth == 1) << variable << " '" << list << "' has unbalanced brackets";
    if (c == ',' && depth == 0) {
      items.push_back(item);
      item.clear();
    } else {
      item += c;
    }
  }
  ASLNET_CHECK(depth == 0) << variable << " '" << list << "' has unbalanced brackets";
  items.push_back(item);
  for (const std::string& i : items) ASLNET_CHECK(!i.empty()) << variable << " '" << list << "' has an empty entry";
  return items;
}

bool all_digits(const std::string& s) {
  if (s.empty()) return false;
  for (const char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

// The names one bracket's contents stand for: `01-04,07` is 01, 02, 03, 04, 07 (the width of a
// range's first number is kept, as Slurm does).
std::vector<std::string> expand_ranges(const std::string& ranges, const std::string& list, const char* variable) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= ranges.size()) {
    size_t comma = ranges.find(',', start);
    if (comma == std::string::npos) comma = ranges.size();
    const std::string range = ranges.substr(start, comma - start);
    const size_t dash = range.find('-');
    const std::string lo = range.substr(0, dash);
    const std::string hi = dash == std::string::npos ? lo : range.substr(dash + 1);
    ASLNET_CHECK(all_digits(lo) && all_digits(hi) && lo.size() <= 9 && hi.size() <= 9)
        << variable << " '" << list << "': '" << range << "' is not a number or a range of numbers";
    const int64_t first = std::stoll(lo), last = std::stoll(hi);
    ASLNET_CHECK(first <= last) << variable << " '" << list << "': the range '" << range << "' runs backwards";
    ASLNET_CHECK(out.size() + size_t(last - first) < kMaxHosts) << variable << " '" << list << "' is too long";
    for (int64_t v = first; v <= last; ++v) {
      std::string digits = std::to_string(v);
      if (digits.size() < lo.size()) digits.insert(0, lo.size() - digits.size(), '0');
      out.push_back(digits);
    }
    start = comma + 1;
  }
  return out;
}

// One entry of the list (no top-level comma): every bracket group multiplies the names.
std::vector<std::string> expand_entry(const std::string& entry, const std::string& list, const char* variable) {
  std::vector<std::string> names{""};
  size_t i = 0;
  while (i < entry.size()) {
    const size_t open = entry.find('[', i);
    const std::string text = entry.substr(i, open == std::string::npos ? std::string::npos : open - i);
    ASLNET_CHECK(text.find(']') == std::string::npos) << variable << " '" << list << "' has unbalanced brackets";
    for (std::string& n : names) n += text;
    if (open == std::string::npos) break;
    const size_t close = entry.find(']', open);
    const std::vector<std::string> parts = expand_ranges(entry.substr(open + 1, close - open - 1), list, variable);
    ASLNET_CHECK(names.size() * parts.size() < kMaxHosts) << variable << " '" << list << "' is too long";
    std::vector<std::string> product;
    for (const std::string& n : names)
      for (const std::string& p : parts) product.push_back(n + p);
    names = std::move(product);
    i = close + 1;
  }
  return names;
}

}  // namespace

std::vector<std::string> expand_slurm_hostlist(const std::string& list, const char* variable) {
  ASLNET_CHECK(!list.empty()) << variable << " is empty";
  std::vector<std::string> hosts;
  for (const std::string& entry : split_top_level(list, variable)) {
    const std::vector<std::string> names = expand_entry(entry, list, variable);
    ASLNET_CHECK(hosts.size() + names.size() < kMaxHosts) << variable << " '" << list << "' is too long";
    hosts.insert(hosts.end(), names.begin(), names.end());
  }
  return hosts;
}

std::string first_slurm_host(const std::string& list, const char* variable) {
  ASLNET_CHECK(!list.empty()) << variable << " is empty";
  // The first entry, each bracket group cut to its first range: its first host, whatever follows.
  std::string entry = split_top_level(list, variable)[0];
  for (size_t open = entry.find('['); open != std::string::npos; open = entry.find('[', open + 1)) {
    const size_t close = entry.find(']', open);
    const size_t cut = entry.find_first_of(",]", open);
    std::string first = entry.substr(open + 1, cut - open - 1);
    first = first.substr(0, first.find('-'));
    entry = entry.substr(0, open) + "[" + first + "]" + entry.substr(close + 1);
  }
  return expand_entry(entry, list, variable).at(0);
}

std::vector<int> expand_slurm_tasks_per_node(const std::string& list, const char* variable) {
  ASLNET_CHECK(!list.empty()) << variable << " is empty";
  std::vector<int> counts;
  for (const std::string& entry : split_top_level(list, variable)) {
    // `2` or `2(x3)`.
    const size_t paren = entry.find("(x");
    const std::string count = entry.substr(0, paren);
    std::string repeat = "1";
    if (paren != std::string::npos) {
      ASLNET_CHECK(entry.back() == ')') << variable << " '" << list << "': '" << entry << "' is not N or N(xM)";
      repeat = entry.substr(paren + 2, entry.size() - paren - 3);
    }
    ASLNET_CHECK(all_digits(count) && all_digits(repeat) && count.size() <= 6 && repeat.size() <= 6)
        << variable << " '" << list << "': '" << entry << "' is not N or N(xM)";
    ASLNET_CHECK(counts.size() + size_t(std::stoi(repeat)) < kMaxHosts) << variable << " '" << list << "' is too long";
    counts.insert(counts.end(), size_t(std::stoi(repeat)), std::stoi(count));
  }
  return counts;
}

}  // namespace aslnet
