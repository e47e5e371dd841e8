// Test-time augmentation (TTA): the views of one decoded photo that a model classifies, and how their
// class probabilities become one answer. The one place that defines them: eval (through the loader's
// eval_view), predict, translate and serve all use these views and this average.
//
// Modes and their views, in this order (every view is size x size):
//   none:  centre                       (eval_transform: shorter side to size / 0.875, centre crop)
//   flip:  centre, centre mirrored      (left-right)
//   crops: centre, centre mirrored, top-left, top-right, bottom-left, bottom-right
//          (the four corner crops of the same evaluation resize: a five-crop plus the centre's mirror)
// The views' softmax probabilities are averaged with equal weights (the arithmetic mean), as
// torchvision's TenCrop recipes do; the predicted class is the mean's argmax.
#pragma once

#include <string>
#include <vector>

#include "data/jpeg.h"

namespace aslnet {

enum class TtaMode { none, flip, crops };

enum class EvalView { centre, centre_mirrored, top_left, top_right, bottom_left, bottom_right };

// "none", "flip" or "crops"; anything else is an Error naming `flag`.
TtaMode parse_tta(const std::string& text, const std::string& flag = "--tta");
std::string tta_name(TtaMode mode);
std::string view_name(EvalView view);  // "centre", "centre-mirrored", "top-left", ...

// The views of a mode, in the order above.
std::vector<EvalView> tta_view_list(TtaMode mode);

// One view of a decoded photo, size x size. centre is exactly eval_transform(decoded, size).
Image eval_view(const Image& decoded, int size, EvalView view);

// Every view of `mode`, in tta_view_list's order.
std::vector<Image> tta_views(const Image& decoded, int size, TtaMode mode);

// The equal-weight mean of the views' probability vectors, element by element (all of one length; at
// least one view). A vector may hold one image's classes or a whole pass's rows, image after image.
std::vector<double> average_probabilities(const std::vector<std::vector<double>>& per_view);

}  // namespace aslnet
