// The index of an image-folder data set in the Kaggle ASL layout, and its train/validation split.
// Training data: a folder of class folders (`A/`, `B/`, ..., `del/`, `nothing/`, `space/`), matched to
// asl_classes() case-insensitively. Test data: class folders too, or flat `<class>_test.jpg` files.
// Labels follow ImageFolder order, so they agree with torchvision and with every checkpoint.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace aslnet {

struct Sample {
  std::string path;     // full path of the image file
  int32_t label = 0;    // index into asl_classes()
  int64_t number = -1;  // the file's number ("A123.jpg" -> 123), -1 when its name has none
  int32_t source = 0;   // which of a run's training sources it came from (data/sources.h)
};

struct DatasetIndex {
  std::string root;                  // the folder indexed
  std::vector<std::string> classes;  // asl_classes(): every model has 29 outputs whatever the folder holds
  std::vector<Sample> samples;       // sorted by label, then by number, then by path
  // Class folders that held no image (or none of the selected origins), with IndexOptions'
  // allow_empty_classes; callers say so in a note.
  std::vector<std::string> empty_class_folders;
  // With IndexOptions' collect_layout_problems: every folder that names no class or repeats one, and
  // every empty class folder, one line each (what would otherwise stop the index at the first).
  std::vector<std::string> layout_problems;
};

// The origin of a file: the part of its name before the first '_' ("massey_12.jpg" -> "massey"), the
// convention of data sets that gather photos from several origins in one class folder; "" when the
// name has no '_'.
std::string file_origin(const std::string& path);

// A data set with the name it is reported by (a source's name, or "val").
struct NamedIndex {
  std::string name;
  DatasetIndex index;
};

struct IndexOptions {
  // Only files whose origin (file_origin) is one of these; empty: every file.
  std::vector<std::string> origins;
  // A class folder without images is noted in empty_class_folders instead of being an error (data
  // sets that hold some classes only, or an origin that lacks some letters).
  bool allow_empty_classes = false;
  // Layout problems (a folder naming no class, two folders of one class, an empty class folder) are
  // listed in layout_problems and the folder skipped, instead of being an error: aslnet check-data
  // reports them all at once.
  bool collect_layout_problems = false;
};

// A folder of class folders. Files with a .jpg/.jpeg extension (any case) are indexed; other files are
// ignored. Errors (aslnet::Error, one line with a hint): the folder is missing or not a folder; a
// subfolder names no ASL class; a class folder is empty; no class folder at all. Two folders that
// differ only in case (`A/` and `a/`) are an error too.
DatasetIndex index_class_folders(const std::string& dir, const IndexOptions& options = {});

// A test folder: class folders (as above), or flat files named `<class>_test.jpg` (case-insensitive).
DatasetIndex index_test_folder(const std::string& dir, const IndexOptions& options = {});

// When every sample of `index` has one label: the message saying so (a classifier trained on it reads every
// photo as that letter; train refuses it, check-data reports it); otherwise "".
std::string one_class_problem(const DatasetIndex& index);

// Every .jpg/.jpeg file under `dir` (recursively, hidden entries skipped), sorted: a folder of photos
// without classes (backgrounds for composition). An Error when the folder is missing or holds none.
std::vector<std::string> list_jpegs(const std::string& dir);

struct SplitOptions {
  double val_fraction = 0.1;     // of each class
  std::string mode = "grouped";  // "grouped" or "random"
  int64_t group_size = 100;      // grouped: files numbered [k*g, (k+1)*g) go to the same side
  uint64_t seed = 0;
};

struct Split {
  DatasetIndex train, val;
};

// Stratified and seeded: each class contributes round(val_fraction * its size) samples to validation
// (at least one when val_fraction > 0 and the class has two or more), chosen at random (mode random)
// or as whole groups of consecutive file numbers (mode grouped: near-duplicate video frames never
// straddle the split). The same index, options and seed give the same split on every machine.
Split split_train_val(const DatasetIndex& index, const SplitOptions& options);

}  // namespace aslnet
