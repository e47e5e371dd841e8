// The confusion matrix as text for a terminal, within a width (aslnet eval --matrix: 100 columns for the
// 29 ASL classes). Each cell is three characters: the count when every count fits in two digits, else
// the share of the row's images in percent (100 only when the whole row went to that cell; any other
// non-zero share at least 1), "." for none. Column heads are at most two characters: longer class names
// are cut to their first two (del: de) and a legend line says what they stand for; rows carry the full
// names when they fit, and rows of classes without images are left out.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace aslnet {

// The lines of the block (heading, column heads, one row per class with images, the legend if any),
// each ending in a newline. `confusion`: classes.size() squared counts, row = true class.
std::string confusion_text(const std::vector<std::string>& classes, const std::vector<int64_t>& confusion,
                           int max_columns = 100);

// The column heads: each class name if it has at most `width` characters, else its first `width`; when
// two heads would then be equal, every long name gets its class number instead.
std::vector<std::string> short_labels(const std::vector<std::string>& classes, size_t width);

}  // namespace aslnet
