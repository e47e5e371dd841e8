#include "data/tta.h"

#include "data/transforms.h"
#include "engine/core/error.h"

namespace aslnet {

TtaMode parse_tta(const std::string& text, const std::string& flag) {
  if (text == "none") return TtaMode::none;
  if (text == "flip") return TtaMode::flip;
  ASLNET_CHECK(text == "crops") << flag << " " << text << ": expected none, flip or crops";
  return TtaMode::crops;
}

std::string tta_name(TtaMode mode) {
  switch (mode) {
    case TtaMode::none: return "none";
    case TtaMode::flip: return "flip";
    case TtaMode::crops: return "crops";
  }
  return "?";
}

std::string view_name(EvalView view) {
  switch (view) {
    case EvalView::centre: return "centre";
    case EvalView::centre_mirrored: return "centre-mirrored";
    case EvalView::top_left: return "top-left";
    case EvalView::top_right: return "top-right";
    case EvalView::bottom_left: return "bottom-left";
    case EvalView::bottom_right: return "bottom-right";
  }
  return "?";
}

std::vector<EvalView> tta_view_list(TtaMode mode) {
  switch (mode) {
    case TtaMode::none: return {EvalView::centre};
    case TtaMode::flip: return {EvalView::centre, EvalView::centre_mirrored};
    case TtaMode::crops:
      return {EvalView::centre,    EvalView::centre_mirrored, EvalView::top_left,
              EvalView::top_right, EvalView::bottom_left,     EvalView::bottom_right};
  }
  return {};
}

Image eval_view(const Image& decoded, int size, EvalView view) {
  if (view == EvalView::centre || view == EvalView::centre_mirrored) {
    Image out = eval_transform(decoded, size);
    if (view == EvalView::centre_mirrored) flip_horizontal(out);
    return out;
  }
  ASLNET_CHECK(decoded.width > 0 && decoded.height > 0 && size > 0)
      << "eval_view: a " << decoded.width << "x" << decoded.height << " image cannot give a " << size << "-pixel view";
  // The corners of the same resize that eval_transform centre-crops (its sides are at least size / 0.875).
  const ResizedSize r = eval_resize_size(decoded.width, decoded.height, size);
  const Image resized = resize(decoded, r.width, r.height);
  const bool right = view == EvalView::top_right || view == EvalView::bottom_right;
  const bool bottom = view == EvalView::bottom_left || view == EvalView::bottom_right;
  return crop_resize(resized, right ? r.width - size : 0, bottom ? r.height - size : 0, size, size, size, size);
}

std::vector<Image> tta_views(const Image& decoded, int size, TtaMode mode) {
  std::vector<Image> views;
  for (EvalView v : tta_view_list(mode)) views.push_back(eval_view(decoded, size, v));
  return views;
}

std::vector<double> average_probabilities(const std::vector<std::vector<double>>& per_view) {
  ASLNET_CHECK(!per_view.empty()) << "average_probabilities: no view to average";
  std::vector<double> mean(per_view.front().size(), 0.0);
  for (const auto& view : per_view) {
    ASLNET_CHECK(view.size() == mean.size())
        << "average_probabilities: views of " << mean.size() << " and " << view.size() << " values";
    for (size_t i = 0; i < mean.size(); ++i) mean[i] += view[i];
  }
  for (double& m : mean) m /= double(per_view.size());
  return mean;
}

}  // namespace aslnet
