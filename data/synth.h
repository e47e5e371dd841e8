// The synthetic data generator: JPEG images in the Kaggle ASL layout (one folder per class of
// asl_classes(), files "<class><n>.jpg") of drawn hands, so that the whole pipeline runs and is tested
// on machines without the real data. Each class is a hand configuration (which fingers are extended,
// curled or hooked, their spread, the thumb's position, the wrist's angle; "nothing" is background
// only), and every image draws it with a random pose, scale, skin tone, background (lighter or darker
// than the skin, textured, sometimes cluttered), lighting and noise. The class lives in the shape, not
// in colour statistics: a small ResNet learns it, a linear classifier on raw pixels does not
// (tests/data/test_synth.cpp shows both).
#pragma once

#include <cstdint>
#include <string>

#include "data/jpeg.h"
#include "engine/core/rng.h"

namespace aslnet {

struct SynthOptions {
  int per_class = 0;  // images per class
  int size = 0;       // side of the square images, pixels
  uint64_t seed = 0;
  int quality = 90;   // JPEG quality
};

// One size x size image of class `label` (asl_classes() order), drawn with the randomness of `rng`.
Image render_synthetic_hand(int label, int size, Rng& rng);

// The random stream of image `index` (0-based) of class `label`: the same (seed, label, index) gives the
// same image whatever the order or thread that draws it.
Rng synthetic_image_rng(uint64_t seed, int label, int index);

// Writes options.per_class images per class under out_dir/<class>/<class><n>.jpg, n = 1..per_class.
// Creates out_dir when missing; refuses (an Error naming --out) a folder whose class folders already
// hold files, so that two data sets are never mixed.
void write_synthetic_dataset(const std::string& out_dir, const SynthOptions& options);

}  // namespace aslnet
