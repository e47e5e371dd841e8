// Data sources: the folders a run trains or validates on, each named so that its figures are reported
// apart. A source is a folder of class folders (any subset of the 29 classes), optionally narrowed to
// the files of some origins: data sets that gather photos from several origins in one class folder name
// each file `<origin>_<n>.jpg` (the real-world dev set: rfasl_3.jpg, massey_12.jpg, ...), and a model
// must never be trained on an origin that a reported figure evaluates.
//
// Written on the command line as `DIR`, `DIR@ORIGIN[+ORIGIN...]` or `NAME=DIR[@...]`:
//   ../data/asl_alphabet_train                 -> "asl_alphabet_train", every file
//   ../data/asl_realworld_dev@massey           -> "massey", files massey_*.jpg only
//   real=../data/asl_realworld_dev@rfasl+rfaslaug -> "real", files rfasl_* and rfaslaug_*
#pragma once

#include <string>
#include <vector>

#include "data/dataset_index.h"

namespace aslnet {

struct SourceSpec {
  std::string name;                  // how figures are reported
  std::string dir;                   // the folder of class folders
  std::vector<std::string> origins;  // file-name origins to keep; empty: every file
};

// Parses the command-line form above; errors name `flag` and the text.
SourceSpec parse_source(const std::string& text, const std::string& flag = "source");

// Indexes a source's class folders (or, with test_layout, flat <class>_test.jpg files too). Class folders
// without a selected image are allowed and listed in empty_class_folders.
DatasetIndex index_source(const SourceSpec& source, bool test_layout = false);

// The indexes of several sources as one, source after source (each one's samples in its own order),
// every sample's `source` set to its part's position. The root names the first part.
DatasetIndex merge_sources(const std::vector<DatasetIndex>& parts);

// Two sources may not share a name (their figures would be indistinguishable): an error naming `flag`.
void check_unique_names(const std::vector<SourceSpec>& sources, const std::string& flag);

}  // namespace aslnet
