// The confusion matrix as a PNG picture: one cell per (true class, predicted class), shaded by the
// share of the true class's images that went to that prediction (row-normalised, so rare classes show
// as clearly as common ones), the diagonal in blue and the errors in red, class names as they are spelled
// (del, nothing, space) along both axes under the axis titles "true class" and "predicted class", and a
// title line. Drawn with report/raster.h (no image library): the picture is a few kilobytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "report/raster.h"

namespace aslnet {

// Draws the picture of `confusion` (classes.size() squared counts, row = true class).
Image render_confusion(const std::vector<std::string>& classes, const std::vector<int64_t>& confusion,
                          const std::string& title);

// render_confusion + encode_png, written to `path` (an Error naming the file when it cannot be written).
void write_confusion_png(const std::string& path, const std::vector<std::string>& classes,
                         const std::vector<int64_t>& confusion, const std::string& title);

}  // namespace aslnet
