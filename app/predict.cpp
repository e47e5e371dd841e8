// aslnet predict CHECKPOINT IMAGE...: the top-k letters for each image, with probabilities (averaged over
// the views of --tta, data/tta.h).
#include "app/predict.h"

#include <fmt/core.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <numeric>

#include "app/cli_checks.h"
#include "app/commands.h"
#include "app/tta_option.h"
#include "data/jpeg.h"
#include "engine/evaluate.h"
#include "models/inference_model.h"

namespace aslnet::app {

void run_predict(const PredictOptions& o) {
  const TtaMode tta = parse_tta(o.tta);
  Context ctx;
  // Every view of every image in one run when they are few; 64 rows at a time otherwise.
  const int64_t views = int64_t(tta_view_list(tta).size());
  InferenceModel m = load_for_inference(ctx, o.checkpoint, std::min<int64_t>(int64_t(o.images.size()) * views, 64));
  const int decode_side = min_decode_side(m.image_size, /*train=*/false);
  JpegDecoder decoder;
  std::vector<std::string> errors(o.images.size());
  std::vector<Image> photos;
  std::vector<size_t> photo_of(o.images.size(), 0);  // the image's place among the readable photos
  for (size_t i = 0; i < o.images.size(); ++i) {
    try {
      photos.push_back(decoder.decode_file(o.images[i], decode_side, decode_side));
      photo_of[i] = photos.size() - 1;
    } catch (const DecodeError& e) {
      errors[i] = e.what();
    }
  }
  const std::vector<std::vector<double>> probs = classify_photos(ctx, m, photos, tta);
  const int k = std::clamp(o.top_k, 1, int(m.classes.size()));
  nlohmann::json all = nlohmann::json::array();
  for (size_t i = 0; i < o.images.size(); ++i) {
    if (!errors[i].empty()) {
      if (o.json)
        all.push_back({{"image", o.images[i]}, {"error", errors[i]}});
      else
        fmt::print("{}: cannot read: {}\n", o.images[i], errors[i]);
      continue;
    }
    std::vector<size_t> order(m.classes.size());
    std::iota(order.begin(), order.end(), 0);
    const std::vector<double>& p = probs[photo_of[i]];
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](size_t a, size_t b) { return p[a] > p[b]; });
    nlohmann::json top = nlohmann::json::array();
    std::string line = o.images[i] + ":";
    for (int j = 0; j < k; ++j) {
      const size_t c = order[size_t(j)];
      top.push_back({{"class", m.classes[c]}, {"probability", p[c]}});
      line += fmt::format("  {} {:.1f}%", m.classes[c], 100.0 * p[c]);
    }
    if (o.json)
      all.push_back({{"image", o.images[i]}, {"top", top}});
    else
      fmt::print("{}\n", line);
  }
  if (o.json) fmt::print("{}\n", all.dump(2));
  // Without --json, unreadable images make the exit status non-zero, with one line naming them.
  std::string unreadable;
  for (size_t i = 0; i < errors.size(); ++i)
    if (!errors[i].empty()) unreadable += (unreadable.empty() ? "" : ", ") + o.images[i];
  ASLNET_CHECK(unreadable.empty() || o.json) << "cannot read " << unreadable << " (the reasons are listed above)";
}

void register_predict(CLI::App& app) {
  auto o = std::make_shared<PredictOptions>();
  auto* cmd = app.add_subcommand("predict", "The most likely letters for each image");
  cmd->add_option("checkpoint", o->checkpoint, "a checkpoint written by aslnet train")->required();
  cmd->add_option("images", o->images, "JPEG files")->required();
  cmd->add_option("--top-k", o->top_k, "letters to show per image")->check(in_range(1, 29));
  add_tta_option(*cmd, o->tta);
  cmd->add_flag("--json", o->json, "print the results as JSON");
  cmd->callback([o] { run_predict(*o); });
}

}  // namespace aslnet::app
