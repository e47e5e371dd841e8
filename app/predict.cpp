// aslnet predict --checkpoint C IMAGE...: the top-k letters of each image, with probabilities (averaged
// over the views of --tta, data/tta.h). Images are JPEG or PNG files, or folders of them (in name order,
// numbers by value, as translate reads frames); they run through the model --batch at a time on the
// device --device picks. An image that cannot be read is named and skipped; the exit status then says so.
#include "app/predict.h"

#include <fmt/core.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "app/checkpoint_argument.h"
#include "app/classify_files.h"
#include "app/cli_checks.h"
#include "app/commands.h"
#include "app/device_options.h"
#include "app/tta_option.h"
#include "data/image_files.h"
#include "engine/class_metrics.h"
#include "models/inference_model.h"

namespace aslnet::app {

void run_predict(const PredictOptions& o) {
  const TtaMode tta = parse_tta(o.tta);
  ASLNET_CHECK(o.batch > 0) << "--batch must be positive, got " << o.batch;
  const std::vector<std::string> images = expand_image_arguments(o.images, photo_extensions(), "image");
  if (o.threads > 0) Context::set_cpu_threads(o.threads);
  Context ctx(inference_device(o.device));
  const int64_t batch = std::min<int64_t>(o.batch, int64_t(images.size()));
  InferenceModel m =
      load_for_inference(ctx, o.checkpoint, batch * int64_t(tta_view_list(tta).size()), BatchNormFold::Fold);
  const std::vector<FileResult> results = classify_files(ctx, m, images, batch, tta);

  const int k = std::clamp(o.top_k, 1, int(m.classes.size()));
  nlohmann::json all = nlohmann::json::array();
  std::string unreadable;
  for (size_t i = 0; i < images.size(); ++i) {
    const FileResult& r = results[i];
    if (!r.error.empty()) {
      unreadable += (unreadable.empty() ? "" : ", ") + images[i];
      if (o.json)
        all.push_back({{"image", images[i]}, {"error", r.error}});
      else
        fmt::print("{}: cannot read: {}\n", images[i], r.error);
      continue;
    }
    nlohmann::json top = nlohmann::json::array();
    std::string line = images[i] + ":";
    // The order eval ranks its top-5 in (ties to the lower class index), so the two commands agree.
    for (int32_t c : top_k_classes(r.probabilities.data(), int64_t(m.classes.size()), k)) {
      top.push_back({{"class", m.classes[size_t(c)]}, {"probability", r.probabilities[size_t(c)]}});
      line += fmt::format("  {} {:.1f}%", m.classes[size_t(c)], 100.0 * r.probabilities[size_t(c)]);
    }
    if (o.json)
      all.push_back({{"image", images[i]}, {"top", top}});
    else
      fmt::print("{}\n", line);
  }
  if (o.json) fmt::print("{}\n", all.dump(2));
  // Without --json, unreadable images make the exit status non-zero, with one line naming them (the JSON
  // holds each one's error beside the others' answers).
  ASLNET_CHECK(unreadable.empty() || o.json) << "cannot read " << unreadable << " (the reasons are listed above)";
}

void register_predict(CLI::App& app) {
  auto o = std::make_shared<PredictOptions>();
  auto* cmd = app.add_subcommand("predict", "The most likely letters of each image (JPEG or PNG files, or folders)");
  cmd->footer(
      "Forms: aslnet predict --checkpoint C IMAGE... or aslnet predict C IMAGE... (the checkpoint first).\n"
      "An image that cannot be read is named and skipped; without --json the exit status is then 1.");
  add_checkpoint_option(*cmd, o->checkpoint);
  cmd->add_option("images", o->images,
                  "IMAGE...: JPEG or PNG files, or folders of them (their .jpg, .jpeg and .png files in name order, "
                  "numbers by value); without --checkpoint, the first argument is the checkpoint")
      ->required();
  cmd->add_option("--top-k", o->top_k, "letters to show per image")->check(in_range(1, 29));
  add_tta_option(*cmd, o->tta);
  cmd->add_option("--device", o->device, "auto (the first GPU when there is one), cpu or cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  cmd->add_option("--batch", o->batch, "images per forward pass")->check(positive());
  cmd->add_option("--threads", o->threads, "CPU threads (0: all cores)")->check(non_negative());
  add_cpu_kernels_option(*cmd);
  cmd->add_flag("--json", o->json, "print the results as JSON");
  cmd->callback([o] {
    PredictOptions given = *o;
    take_positional_checkpoint("predict", given.checkpoint, given.images, "IMAGE");
    run_predict(given);
  });
}

}  // namespace aslnet::app
