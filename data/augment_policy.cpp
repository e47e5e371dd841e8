// The named augmentation policies; the values and the reasons for them are documented in the header.
#include "data/augment_policy.h"

#include <sstream>

namespace aslnet {
namespace {

AugmentOptions none_policy() {
  AugmentOptions o;
  o.random_resized_crop = false;
  o.flip = false;
  o.brightness = o.contrast = o.saturation = 0.0;
  o.rotation_degrees = 0.0;
  return o;  // every later augmentation is already off by default
}

AugmentOptions strong_policy() {
  AugmentOptions o;
  o.crop_scale_min = 0.25;
  o.crop_scale_max = 1.0;
  o.crop_ratio_min = 3.0 / 4.0;
  o.crop_ratio_max = 4.0 / 3.0;
  o.flip = true;
  o.brightness = o.contrast = o.saturation = 0.4;
  o.hue = 0.1;
  o.rotation_degrees = 15.0;
  o.shear_degrees = 10.0;
  o.perspective = 0.2;
  o.perspective_probability = 0.5;
  o.grayscale_probability = 0.1;
  o.blur_probability = 0.2;
  o.blur_sigma_min = 0.1;
  o.blur_sigma_max = 2.0;
  o.erase_probability = 0.25;
  o.erase_scale_min = 0.02;
  o.erase_scale_max = 0.33;
  o.erase_ratio_min = 0.3;
  o.erase_ratio_max = 3.3;
  return o;
}

}  // namespace

std::vector<std::string> augment_policy_names() { return {"none", "light", "strong"}; }

AugmentOptions augment_policy(const std::string& name) {
  if (name == "none") return none_policy();
  if (name == "light") return AugmentOptions{};
  if (name == "strong") return strong_policy();
  std::ostringstream known;
  for (const std::string& n : augment_policy_names()) known << (known.tellp() > 0 ? ", " : "") << n;
  ASLNET_CHECK(false) << "unknown augmentation policy '" << name << "': expected one of " << known.str();
  return {};
}

}  // namespace aslnet
