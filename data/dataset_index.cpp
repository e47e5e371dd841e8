// Indexes an image folder in the Kaggle ASL layout (class folders, or flat `<class>_test.jpg` files) and
// splits it into train and validation sets. The index never opens an image: it only lists names, so a
// corrupt JPEG is the decoder's business (skipped and counted there), while a wrong folder layout stops
// here, before training starts, with a one-line message that names the path and says what to do.
//
// Where the header leaves room, these choices hold:
// - Class folders are walked recursively (as torchvision's ImageFolder does) and symlinks are followed.
//   Hidden entries (".ipynb_checkpoints/", "._A1.jpg") are skipped: tools create them, users never
//   mean them as classes or images. Plain files beside the class folders (a README) are ignored.
// - Flat test files may carry digits after "_test" ("A_test2.jpg"); anything else that is a .jpg in a
//   flat test folder is an error, since silently dropping a test image would skew the test score.
// - The grouped split keeps groups whole even when that cannot meet the class's target exactly: it
//   takes the reachable validation count closest to the target (ties: the smaller one). A class held
//   in a single group therefore gives nothing to validation. See split_grouped() for the algorithm.
#include "data/dataset_index.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <system_error>

#include "data/classes.h"
#include "engine/core/error.h"
#include "engine/core/rng.h"

namespace aslnet {

namespace fs = std::filesystem;

namespace {

constexpr const char* kClassList = "A..Z, del, nothing, space";
constexpr const char* kDataHint =
    "pass the folder that holds the class folders A/, B/, ..., such as asl_alphabet_train/ of Kaggle's \"ASL "
    "Alphabet\" (README: The data), or make one with aslnet synth --out DIR";

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool is_hidden(const fs::path& p) { return p.filename().string().rfind('.', 0) == 0; }

bool is_jpeg(const fs::path& p) {
  const std::string ext = lower(p.extension().string());
  return ext == ".jpg" || ext == ".jpeg";
}

// The trailing digits of the file's stem ("A123.jpg" -> 123), -1 when there are none or they overflow.
int64_t file_number(const fs::path& p) {
  const std::string stem = p.stem().string();
  size_t begin = stem.size();
  while (begin > 0 && std::isdigit(static_cast<unsigned char>(stem[begin - 1]))) --begin;
  if (begin == stem.size() || stem.size() - begin > 18) return -1;  // 18 digits always fit an int64
  return std::stoll(stem.substr(begin));
}

bool sample_less(const Sample& a, const Sample& b) {
  if (a.label != b.label) return a.label < b.label;
  if (a.number != b.number) return a.number < b.number;
  return a.path < b.path;
}

// Subfolders of `dir` that are not hidden, in name order (directory listings come in no set order).
std::vector<fs::path> subfolders(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_directory() && !is_hidden(entry.path())) out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Users often pass the folder one level above the class folders (Kaggle's archive nests
// asl_alphabet_train/asl_alphabet_train/); if `dir` looks like the right folder, say so.
bool holds_class_folders(const fs::path& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_directory(ec) && asl_class_index(entry.path().filename().string()) >= 0) return true;
  }
  return false;
}

void check_folder(const fs::path& dir, const char* what) {
  ASLNET_CHECK(fs::exists(dir)) << what << " " << dir.string() << " does not exist (hint: " << kDataHint << ")";
  ASLNET_CHECK(fs::is_directory(dir)) << what << " " << dir.string() << " is a file, not a folder (hint: " << kDataHint
                                      << ")";
}

// Calls fn(path) for every .jpg/.jpeg under `dir`, recursively, following symlinks, skipping hidden
// entries (and everything inside hidden folders), in no set order.
template <class Fn>
void for_each_jpeg(const fs::path& dir, Fn fn) {
  const auto walk_options = fs::directory_options::follow_directory_symlink;
  for (auto walk = fs::recursive_directory_iterator(dir, walk_options); walk != fs::recursive_directory_iterator();
       ++walk) {
    if (is_hidden(walk->path())) {
      if (walk->is_directory()) walk.disable_recursion_pending();
      continue;
    }
    if (walk->is_regular_file() && is_jpeg(walk->path())) fn(walk->path());
  }
}

bool origin_selected(const fs::path& p, const IndexOptions& options) {
  if (options.origins.empty()) return true;
  const std::string origin = file_origin(p.string());
  return std::find(options.origins.begin(), options.origins.end(), origin) != options.origins.end();
}

DatasetIndex index_class_folders_unchecked(const fs::path& dir, const IndexOptions& options) {
  DatasetIndex index;
  index.root = dir.string();
  index.classes = asl_classes();
  std::map<int, fs::path> seen;  // label -> the folder that gave it, to catch "A/" beside "a/"
  // A folder's layout problem ("" for none): an error, or with collect_layout_problems a line of
  // layout_problems, and true (skip the folder).
  const auto skipped_for = [&](const std::string& problem) {
    if (problem.empty()) return false;
    ASLNET_CHECK(options.collect_layout_problems) << problem;
    index.layout_problems.push_back(problem);
    return true;
  };
  for (const fs::path& folder : subfolders(dir)) {
    const std::string name = folder.filename().string();
    const int label = asl_class_index(name);
    // A problem of this folder: an error, or a line of layout_problems and the folder skipped.
    std::string problem;
    if (label < 0) {
      problem = "folder " + folder.string() + " names no ASL class (expected " + kClassList + "; hint: " +
                (holds_class_folders(folder) ? "did you mean to pass " + folder.string() + "?"
                                             : std::string("rename or remove it")) +
                ")";
    } else if (const auto [it, fresh] = seen.emplace(label, folder); !fresh) {
      problem = "folders " + it->second.string() + " and " + folder.string() + " both name class " +
                asl_classes()[size_t(label)] + " (hint: merge them into one folder)";
    }
    if (skipped_for(problem)) continue;
    size_t count = 0;
    for_each_jpeg(folder, [&](const fs::path& file) {
      if (!origin_selected(file, options)) return;
      index.samples.push_back({file.string(), label, file_number(file)});
      ++count;
    });
    if (count == 0 && options.allow_empty_classes) {
      index.empty_class_folders.push_back(folder.string());
      continue;
    }
    if (count == 0)
      skipped_for("class folder " + folder.string() + " holds no .jpg images" +
                  (options.origins.empty() ? "" : " of the selected origins") + " (hint: remove it or fill it)");
  }
  std::sort(index.samples.begin(), index.samples.end(), sample_less);
  if (!index.layout_problems.empty()) return index;  // collected: the caller reports them
  ASLNET_CHECK(!seen.empty()) << "data folder " << dir.string() << " holds no class folders (hint: " << kDataHint
                              << ")";
  ASLNET_CHECK(!index.samples.empty()) << "data folder " << dir.string() << " holds no .jpg images"
                                       << (options.origins.empty() ? "" : " of the selected origins");
  return index;
}

// Filesystem errors (permissions, a folder vanishing mid-walk) become one-line aslnet errors too.
template <class Fn>
DatasetIndex with_fs_errors(Fn fn) {
  try {
    return fn();
  } catch (const fs::filesystem_error& e) {
    ASLNET_CHECK(false) << "cannot read " << e.path1().string() << ": " << e.code().message();
    throw;  // unreachable: the check throws
  }
}

}  // namespace

std::string one_class_problem(const DatasetIndex& index) {
  if (index.samples.empty()) return "";
  const int label = index.samples.front().label;
  for (const Sample& sample : index.samples)
    if (sample.label != label) return "";
  return "images of one class only (" + index.classes[size_t(label)] + "): a classifier needs at least two";
}

std::string file_origin(const std::string& path) {
  const std::string name = fs::path(path).filename().string();
  const size_t cut = name.find('_');
  return cut == std::string::npos ? std::string() : name.substr(0, cut);
}

DatasetIndex index_class_folders(const std::string& dir, const IndexOptions& options) {
  return with_fs_errors([&] {
    check_folder(dir, "data folder");
    return index_class_folders_unchecked(dir, options);
  });
}

DatasetIndex index_test_folder(const std::string& dir, const IndexOptions& options) {
  return with_fs_errors([&] {
    check_folder(dir, "test folder");
    if (!subfolders(dir).empty()) return index_class_folders_unchecked(dir, options);
    DatasetIndex index;
    index.root = dir;
    index.classes = asl_classes();
    for (const auto& entry : fs::directory_iterator(dir)) {
      const fs::path& p = entry.path();
      if (!entry.is_regular_file() || is_hidden(p) || !is_jpeg(p) || !origin_selected(p, options)) continue;
      // "<class>_test" with optional digits after it; the class part is matched case-insensitively.
      std::string stem = p.stem().string();
      const int64_t number = file_number(p);
      while (!stem.empty() && std::isdigit(static_cast<unsigned char>(stem.back()))) stem.pop_back();
      const size_t cut = stem.size() >= 5 ? stem.size() - 5 : std::string::npos;
      const int label =
          cut != std::string::npos && lower(stem.substr(cut)) == "_test" ? asl_class_index(stem.substr(0, cut)) : -1;
      ASLNET_CHECK(label >= 0) << "test image " << p.string() << " names no ASL class (expected <class>_test.jpg with "
                               << kClassList << ")";
      index.samples.push_back({p.string(), label, number});
    }
    ASLNET_CHECK(!index.samples.empty()) << "test folder " << dir
                                         << " holds no class folders and no <class>_test.jpg images (hint: pass "
                                            "the folder that holds A_test.jpg, ... or A/, B/, ...)";
    std::sort(index.samples.begin(), index.samples.end(), sample_less);
    return index;
  });
}

std::vector<std::string> list_jpegs(const std::string& dir) {
  std::vector<std::string> files;
  with_fs_errors([&] {
    check_folder(dir, "image folder");
    for_each_jpeg(dir, [&](const fs::path& file) { files.push_back(file.string()); });
    return DatasetIndex{};
  });
  ASLNET_CHECK(!files.empty()) << "image folder " << dir << " holds no .jpg images";
  std::sort(files.begin(), files.end());
  return files;
}

namespace {

// Seeds for the split: one stream per class, so adding or removing a class leaves the others' splits
// unchanged; the tag keeps them apart from other users of the same seed (weights, data order).
constexpr uint64_t kSplitTag = 0x73706c6974000000ull;  // "split"

// 0..n-1 in a seeded random order: Fisher-Yates with the engine's portable generator (std::shuffle's
// results differ between standard libraries).
std::vector<size_t> shuffled_order(size_t n, Rng& rng) {
  std::vector<size_t> order;
  for (size_t i = 0; i < n; ++i) order.push_back(i);
  for (size_t i = n; i > 1; --i) std::swap(order[i - 1], order[size_t(rng.below(i))]);
  return order;
}

// Grouped selection for one class: which of `sizes` (groups, already in seeded random order) go to
// validation so that their total is `target`, or the closest total that whole groups can make,
// never more than `cap` (the class size minus one, so training keeps a sample).
//
// First-fit in the random order (take each group that still fits) costs nothing and often lands on
// the target (for about 60% of the classes of Kaggle's 200-image sample in groups of 100). When it falls short (the
// groups left are all too big for the gap), the same walk is repeated with lookahead: a group is taken only if the
// remainder can still be made exactly from the groups after it, which a subset-sum table over suffixes answers. Where
// first-fit succeeds both walks choose the same groups, so the table changes results only where first-fit would have
// missed.
std::vector<bool> split_grouped(const std::vector<int64_t>& sizes, int64_t target, int64_t cap) {
  const size_t n = sizes.size();
  std::vector<bool> take(n, false);
  int64_t sum = 0;
  for (size_t i = 0; i < n; ++i) {
    if (sum + sizes[i] <= target) take[i] = true, sum += sizes[i];
  }
  if (sum == target) return take;

  // reach[i][s]: some subset of groups i..n-1 sums to s, for s in [0, limit]. A total above
  // target + the largest group is never closer than one below it, so limit stops there.
  const int64_t largest = *std::max_element(sizes.begin(), sizes.end());
  const int64_t limit = std::min(cap, target + largest);
  // The table costs n * limit bits; past 32 MiB (only for enormous classes of small groups) keep
  // first-fit's slightly short answer instead.
  if (double(n + 1) * double(limit + 1) > double(1ull << 28)) return take;
  std::vector<std::vector<bool>> reach(n + 1, std::vector<bool>(size_t(limit + 1), false));
  reach[n][0] = true;
  for (size_t i = n; i-- > 0;) {
    for (int64_t s = 0; s <= limit; ++s) {
      reach[i][size_t(s)] = reach[i + 1][size_t(s)] || (s >= sizes[i] && reach[i + 1][size_t(s - sizes[i])]);
    }
  }
  // The reachable total closest to target (ties: the smaller), at least one when the target is.
  int64_t best = -1;
  for (int64_t s = target > 0 ? 1 : 0; s <= limit; ++s) {
    if (reach[0][size_t(s)] && (best < 0 || std::llabs(s - target) < std::llabs(best - target))) best = s;
  }
  std::fill(take.begin(), take.end(), false);
  if (best <= 0) return take;  // every group is bigger than the class minus one: all stay in training
  int64_t remaining = best;
  for (size_t i = 0; i < n; ++i) {
    if (sizes[i] <= remaining && reach[i + 1][size_t(remaining - sizes[i])]) take[i] = true, remaining -= sizes[i];
  }
  return take;
}

}  // namespace

Split split_train_val(const DatasetIndex& index, const SplitOptions& options) {
  ASLNET_CHECK(options.val_fraction >= 0.0 && options.val_fraction < 1.0)
      << "--val-fraction must be in [0, 1), got " << options.val_fraction;
  ASLNET_CHECK(options.group_size >= 1) << "--group-size must be at least 1, got " << options.group_size;
  ASLNET_CHECK(options.mode == "grouped" || options.mode == "random")
      << "--split must be grouped or random, got '" << options.mode << "'";

  std::vector<Sample> samples = index.samples;  // sorted, so each class is one run ordered by number
  std::stable_sort(samples.begin(), samples.end(), sample_less);
  Split split;
  for (DatasetIndex* side : {&split.train, &split.val}) {
    side->root = index.root;
    side->classes = index.classes;
  }

  for (size_t begin = 0; begin < samples.size();) {
    size_t end = begin;
    while (end < samples.size() && samples[end].label == samples[begin].label) ++end;
    const int64_t count = int64_t(end - begin);
    const int32_t label = samples[begin].label;
    // round(f * n), at least one when f > 0 and the class has two, and never the whole class.
    int64_t target = 0;
    if (options.val_fraction > 0.0 && count >= 2) {
      target = std::clamp<int64_t>(std::llround(options.val_fraction * double(count)), 1, count - 1);
    }
    Rng rng(options.seed ^ kSplitTag, uint64_t(label));
    std::vector<bool> to_val(size_t(count), false);
    if (options.mode == "random") {
      const std::vector<size_t> order = shuffled_order(size_t(count), rng);
      for (int64_t i = 0; i < target; ++i) to_val[order[size_t(i)]] = true;
    } else if (target > 0) {
      // Groups: files numbered [k*g, (k+1)*g) together; a file without a number is a group of its own.
      std::vector<std::vector<size_t>> groups;
      int64_t last_key = -1;
      for (size_t i = 0; i < size_t(count); ++i) {
        const int64_t number = samples[begin + i].number;
        const int64_t key = number < 0 ? -1 : number / options.group_size;
        if (key < 0 || key != last_key || groups.empty()) groups.emplace_back();
        groups.back().push_back(i);
        last_key = key;
      }
      const std::vector<size_t> order = shuffled_order(groups.size(), rng);
      std::vector<int64_t> sizes;
      for (size_t g : order) sizes.push_back(int64_t(groups[g].size()));
      const std::vector<bool> take = split_grouped(sizes, target, count - 1);
      for (size_t k = 0; k < order.size(); ++k) {
        if (take[k]) {
          for (size_t i : groups[order[k]]) to_val[i] = true;
        }
      }
    }
    for (size_t i = 0; i < size_t(count); ++i)
      (to_val[i] ? split.val : split.train).samples.push_back(samples[begin + i]);
    begin = end;
  }
  return split;
}

}  // namespace aslnet
