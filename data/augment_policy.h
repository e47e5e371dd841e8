// Named bundles of augmentation options, so that a run says "--augment strong" instead of a dozen
// numbers, and the bundles stay the same from run to run. Each policy is an AugmentOptions value
// (data/transforms.h); a caller may still override single fields after choosing one.
//
//   none    No augmentation at all: train_transform gives exactly eval_transform's output (resize the
//           shorter side to size / 0.875, centre crop), and draws nothing from the Rng.
//   light   AugmentOptions{}'s defaults exactly, the recipe every earlier run used:
//             random resized crop, scale 0.35-1 of the area, aspect ratio 3/4-4/3
//             horizontal flip, probability 0.5
//             brightness, contrast, saturation factors in [0.8, 1.2]
//             rotation uniform in [-10, 10] degrees
//             no shear, perspective, hue, grayscale, blur or erasing
//   strong  Aimed at the gap between the Kaggle frames (few signers, one wall, one light) and real hands:
//             random resized crop, scale 0.25-1 (the hand at more sizes and positions), ratio 3/4-4/3
//             horizontal flip, probability 0.5
//             brightness, contrast, saturation factors in [0.6, 1.4] (other cameras and lights)
//             hue shift in [-0.1, 0.1] turns (skin tones, white balance)
//             rotation in [-15, 15] degrees, shear in [-10, 10] degrees along x and along y
//             perspective distortion 0.2 with probability 0.5 (camera angles)
//             grayscale with probability 0.1 (colour is not the cue)
//             Gaussian blur with probability 0.2, sigma 0.1-2 output pixels (focus, motion, webcams)
//             random erasing with probability 0.25, 2-33% of the area, ratio 0.3-3.3, filled with noise
//             (occlusion; do not rely on one part of the hand)
#pragma once

#include <string>
#include <vector>

#include "data/transforms.h"

namespace aslnet {

// The options of policy `name` (one of augment_policy_names()); an unknown name is an aslnet::Error that
// lists the known ones.
AugmentOptions augment_policy(const std::string& name);

// The known policy names, mildest first: "none", "light", "strong".
std::vector<std::string> augment_policy_names();

}  // namespace aslnet
