// Image transforms between the decoder and the batch: training augmentation (random resized crop,
// horizontal flip, brightness / contrast / saturation jitter, small rotation, each switchable),
// evaluation's resize + centre crop, and normalisation into NHWC f32, bf16 or u8. Every random choice
// comes from the Rng passed in, which the loader seeds per sample (seed, epoch, index), so a batch is
// the same whatever thread made it.
#pragma once

#include <array>
#include <cstdint>

#include "data/jpeg.h"
#include "engine/core/dtype.h"
#include "engine/core/rng.h"

namespace aslnet {

struct AugmentOptions {
  bool random_resized_crop = true;
  double crop_scale_min = 0.35, crop_scale_max = 1.0;      // fraction of the image area
  double crop_ratio_min = 3.0 / 4.0, crop_ratio_max = 4.0 / 3.0;
  bool flip = true;                                         // horizontal, probability 0.5
  double brightness = 0.2, contrast = 0.2, saturation = 0.2;  // factors drawn from [1 - x, 1 + x]; 0 = off
  double rotation_degrees = 10.0;                           // uniform in [-x, x]; 0 = off
};

struct Normalization {
  std::array<float, 3> mean{0.485f, 0.456f, 0.406f};  // ImageNet's, on [0, 1] pixel values
  std::array<float, 3> std{0.229f, 0.224f, 0.225f};
};

// Bilinear resize (antialiased when shrinking: area averaging, as PIL's resize does) to exactly w x h.
Image resize(const Image& src, int width, int height);

// The training pipeline: crop (random resized, or the whole image) -> rotate -> resize to size x size
// -> flip -> colour jitter.
Image train_transform(const Image& src, int size, const AugmentOptions& options, Rng& rng);

// Evaluation: resize the shorter side to size / 0.875 (as torchvision's ImageNet recipe), centre crop.
Image eval_transform(const Image& src, int size);

// Writes size x size x 3 values at dst: (pixel / 255 - mean) / std as f32 or bf16, or the raw
// pixels as u8 (normalised later, on the GPU).
void normalize_into(const Image& image, const Normalization& norm, DType dtype, void* dst);

// The smallest decode size worth asking the decoder for when the output is size x size: the
// evaluation resize's target, or the crop's worst case in training.
int min_decode_side(int size, bool train);

}  // namespace aslnet
