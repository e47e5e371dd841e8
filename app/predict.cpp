// aslnet predict CHECKPOINT IMAGE...: the top-k letters for each image, with probabilities.
#include "app/predict.h"

#include <fmt/core.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <numeric>

#include "app/commands.h"
#include "models/inference_model.h"
#include "data/jpeg.h"
#include "engine/evaluate.h"

namespace aslnet::app {


void run_predict(const PredictOptions& o) {
  Context ctx;
  const int64_t batch = int64_t(o.images.size());
  InferenceModel m = load_for_inference(ctx, o.checkpoint, batch);
  const int64_t side = m.image_size;
  Tensor input = Tensor::zeros(Shape{batch, side, side, 3}, DType::F32);
  JpegDecoder decoder;
  std::vector<std::string> errors(o.images.size());
  for (size_t i = 0; i < o.images.size(); ++i) {
    try {
      const Image decoded = decoder.decode_file(o.images[i], int(min_decode_side(int(side), false)),
                                                int(min_decode_side(int(side), false)));
      normalize_into(eval_transform(decoded, int(side)), m.norm, DType::F32,
                     input.data<float>() + int64_t(i) * side * side * 3);
    } catch (const DecodeError& e) {
      errors[i] = e.what();
    }
  }
  const auto probs = softmax_rows(m.model->forward(ctx, input, /*training=*/false), batch);
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
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [&](size_t a, size_t b) { return probs[i][a] > probs[i][b]; });
    nlohmann::json top = nlohmann::json::array();
    std::string line = o.images[i] + ":";
    for (int j = 0; j < k; ++j) {
      const size_t c = order[size_t(j)];
      top.push_back({{"class", m.classes[c]}, {"probability", probs[i][c]}});
      line += fmt::format("  {} {:.1f}%", m.classes[c], 100.0 * probs[i][c]);
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
  cmd->add_option("--top-k", o->top_k, "letters to show per image")->check(CLI::Range(1, 29));
  cmd->add_flag("--json", o->json, "print the results as JSON");
  cmd->callback([o] { run_predict(*o); });
}

}  // namespace aslnet::app
