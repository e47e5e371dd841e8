#include "app/train_recipe.h"

#include <fmt/core.h>

#include <functional>
#include <string>
#include <vector>

#include "app/cli_checks.h"
#include "data/augment_policy.h"

namespace aslnet::app {

namespace {

bool given(const CLI::App& cmd, const std::string& flag) { return cmd.get_option(flag)->count() > 0; }

// Each single-augmentation flag and the fields of AugmentOptions it sets (--jitter sets three equal ones).
struct AugmentFlag {
  const char* name;
  std::vector<double AugmentOptions::*> fields;
};
const std::vector<AugmentFlag>& augment_flags() {
  using A = AugmentOptions;
  static const std::vector<AugmentFlag> flags = {
      {"--crop-scale", {&A::crop_scale_min, &A::crop_scale_max}},
      {"--crop-ratio", {&A::crop_ratio_min, &A::crop_ratio_max}},
      {"--rotation", {&A::rotation_degrees}},
      {"--shear", {&A::shear_degrees}},
      {"--perspective", {&A::perspective}},
      {"--perspective-prob", {&A::perspective_probability}},
      {"--jitter", {&A::brightness, &A::contrast, &A::saturation}},
      {"--hue", {&A::hue}},
      {"--grayscale", {&A::grayscale_probability}},
      {"--blur", {&A::blur_probability}},
      {"--blur-sigma", {&A::blur_sigma_min, &A::blur_sigma_max}},
      {"--erase", {&A::erase_probability}},
  };
  return flags;
}

// A MIN,MAX pair into two fields.
CLI::Option* add_range(CLI::App& cmd, const std::string& flag, double& lo, double& hi, const std::string& help,
                       double floor, double ceiling) {
  return cmd
      .add_option_function<std::vector<double>>(
          flag,
          [&lo, &hi, flag, floor, ceiling](const std::vector<double>& v) {
            if (v.size() != 2 || !(v[0] <= v[1]) || v[0] < floor || v[1] > ceiling)
              throw CLI::ValidationError(
                  flag, fmt::format("expected MIN,MAX with {:g} <= MIN <= MAX <= {:g}", floor, ceiling));
            lo = v[0], hi = v[1];
          },
          help)
      ->delimiter(',')
      ->expected(2);
}

}  // namespace

const char* preset_help() {
  return "realworld: the recipe for reading real hands from the Kaggle frames: --augment strong --ema 0.998 "
         "--label-smoothing 0.1 (see README: Reading real hands)";
}

RecipeFlags::RecipeFlags(CLI::App& cmd, TrainOptions& o) : cmd_(cmd), parsed_(std::make_shared<AugmentOptions>()) {
  AugmentOptions& a = *parsed_;
  std::string policies;
  for (const std::string& name : augment_policy_names()) policies += (policies.empty() ? "" : ", ") + name;
  cmd.add_option("--augment", o.augment_policy,
                 "augmentation policy (" + policies +
                     "; light is torchvision-style crop, flip, rotation and jitter; "
                     "strong adds shear, perspective, hue, grayscale, blur and erasing, see README); the flags "
                     "below change single augmentations on top of it")
      ->check(CLI::IsMember(augment_policy_names()));
  add_range(cmd, "--crop-scale", a.crop_scale_min, a.crop_scale_max,
            "random resized crop: MIN,MAX fraction of the image area (light: 0.35,1; strong: 0.25,1)", 0.01, 1.0);
  add_range(cmd, "--crop-ratio", a.crop_ratio_min, a.crop_ratio_max,
            "random resized crop: MIN,MAX aspect ratio (light: 0.75,1.333)", 0.1, 10.0);
  cmd.add_option("--rotation", a.rotation_degrees, "random rotation in degrees (light: 10; strong: 15; 0: off)")
      ->check(in_range(0.0, 45.0));
  cmd.add_option("--shear", a.shear_degrees, "random shear along x and y in degrees (strong: 10; 0: off)")
      ->check(in_range(0.0, 44.0));
  cmd.add_option("--perspective", a.perspective, "random perspective distortion scale (strong: 0.2; 0: off)")
      ->check(in_range(0.0, 1.0));
  cmd.add_option("--perspective-prob", a.perspective_probability, "chance of the perspective distortion (default 0.5)")
      ->check(in_range(0.0, 1.0));
  cmd.add_option_function<double>(
         "--jitter", [&a](double x) { a.brightness = a.contrast = a.saturation = x; },
         "brightness/contrast/saturation jitter (light: 0.2; strong: 0.4; 0: off)")
      ->check(in_range(0.0, 1.0));
  cmd.add_option("--hue", a.hue, "hue jitter in turns (strong: 0.1; 0: off)")->check(in_range(0.0, 0.5));
  cmd.add_option("--grayscale", a.grayscale_probability, "chance of turning an image grey (strong: 0.1; 0: off)")
      ->check(in_range(0.0, 1.0));
  cmd.add_option("--blur", a.blur_probability, "chance of a Gaussian blur (strong: 0.2; 0: off)")
      ->check(in_range(0.0, 1.0));
  add_range(cmd, "--blur-sigma", a.blur_sigma_min, a.blur_sigma_max,
            "Gaussian blur: MIN,MAX sigma in pixels (default 0.1,2)", 0.01, 20.0);
  cmd.add_option("--erase", a.erase_probability, "chance of random erasing, a noise-filled box (strong: 0.25; 0: off)")
      ->check(in_range(0.0, 1.0));

  cmd.add_option("--mixup", o.mix.mixup_alpha, "mixup of whole batches: Beta(alpha, alpha) (0: off)")
      ->check(non_negative());
  cmd.add_option("--cutmix", o.mix.cutmix_alpha, "cutmix of whole batches: Beta(alpha, alpha) (0: off)")
      ->check(non_negative());
  cmd.add_option("--mixup-prob", o.mix.probability, "chance that a batch is mixed (default 1)")
      ->check(in_range(0.0, 1.0));
  cmd.add_option("--mixup-switch-prob", o.mix.switch_probability,
                 "with both --mixup and --cutmix: chance of cutmix for a mixed batch (default 0.5)")
      ->check(in_range(0.0, 1.0));
  cmd.add_option("--ema", o.ema,
                 "keep a moving average of the weights with this decay (e.g. 0.998), validated and written beside "
                 "the raw weights (OUT/best-ema.safetensors, last-ema.safetensors); 0: off")
      ->check(in_range(0.0, 0.999999));

  cmd.add_option("--compose", o.compose_sources,
                 "training sources (by name) whose hands stand on a uniform dark background: the hand is cut out "
                 "and pasted onto a background (--backgrounds, or generated clutter)")
      ->delimiter(',');
  cmd.add_option("--backgrounds", o.backgrounds,
                 "folders of background photos for --compose (searched recursively for .jpg); none: generated "
                 "clutter only")
      ->delimiter(',');
  cmd.add_option("--compose-prob", o.compose_probability, "chance that a composable image is composited (default 1)")
      ->check(in_range(0.0, 1.0));
  cmd.add_option("--clutter-prob", o.clutter_probability,
                 "with --backgrounds: chance of generated clutter instead of a background photo (default 0.3)")
      ->check(in_range(0.0, 1.0));
  add_range(cmd, "--compose-scale", o.compose.scale_min, o.compose.scale_max,
            "the pasted hand's longer side as a MIN,MAX fraction of the image side (default 0.45,0.95)", 0.05, 1.0);
  cmd.add_option("--preset", o.preset, preset_help())->check(CLI::IsMember({"realworld"}));
}

void RecipeFlags::resolve(TrainOptions& o) const {
  auto unless_given = [&](const std::string& flag, auto& field, auto value) {
    if (!given(cmd_, flag)) field = value;
  };
  if (o.preset == "realworld") {
    // Mixup and cutmix stay off: in the short CPU runs of bench/transfer they slowed learning more than
    // they helped transfer (rows 2a and 2m of bench/results/2026-12-02-transfer-cpu-2core.md).
    unless_given("--augment", o.augment_policy, std::string("strong"));
    unless_given("--ema", o.ema, 0.998);
    unless_given("--label-smoothing", o.label_smoothing, 0.1);
  }
  // The policy, then each augmentation flag that was given.
  const AugmentOptions& a = *parsed_;
  AugmentOptions out = augment_policy(o.augment_policy);
  for (const AugmentFlag& flag : augment_flags()) {
    if (!given(cmd_, flag.name)) continue;
    for (double AugmentOptions::*field : flag.fields) out.*field = a.*field;
  }
  o.augment = out;
}

void RecipeFlags::record(nlohmann::json& options, const TrainOptions& o) const {
  for (const AugmentFlag& flag : augment_flags()) {
    const std::string key = std::string(flag.name).substr(2);
    // --jitter's three fields are equal in every policy and after the flag: one value stands for them.
    const size_t shown = flag.fields.size() == 3 ? 1 : flag.fields.size();
    nlohmann::json value = nlohmann::json::array();
    for (size_t i = 0; i < shown; ++i) value.push_back(o.augment.*flag.fields[i]);
    options[key] = shown == 1 ? value[0] : value;
  }
}

}  // namespace aslnet::app
