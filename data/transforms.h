// Image transforms between the decoder and the batch: training augmentation (random resized crop, a
// geometric warp of rotation / shear / perspective, horizontal flip, brightness / contrast / saturation /
// hue jitter, random grayscale, Gaussian blur, random erasing, each switchable), evaluation's resize +
// centre crop, and normalisation into NHWC f32, bf16 or u8. Every random choice comes from the Rng passed
// in, which the loader seeds per sample (seed, epoch, index), so a batch is the same whatever thread made
// it. Named bundles of these options live in data/augment_policy.h.
#pragma once

#include <array>
#include <cstdint>

#include "data/jpeg.h"
#include "engine/core/dtype.h"
#include "engine/core/normalization.h"
#include "engine/core/rng.h"

namespace aslnet {

// Every augmentation draws from the Rng only when it is on, so switching one off leaves every other draw
// (and so every other augmentation of the sample) unchanged. The defaults are the "light" policy; the ones
// added after rotation are off by default.
struct AugmentOptions {
  bool random_resized_crop = true;
  double crop_scale_min = 0.35, crop_scale_max = 1.0;      // fraction of the image area
  double crop_ratio_min = 3.0 / 4.0, crop_ratio_max = 4.0 / 3.0;
  bool flip = true;                                         // horizontal, probability 0.5
  double brightness = 0.2, contrast = 0.2, saturation = 0.2;  // factors drawn from [1 - x, 1 + x]; 0 = off
  double rotation_degrees = 10.0;                           // uniform in [-x, x]; 0 = off
  // Shear angles along x and along y, each uniform in [-x, x] degrees (area-preserving: the y shear is
  // applied after the x shear); in [0, 45); 0 = off.
  double shear_degrees = 0.0;
  // torchvision RandomPerspective's distortion_scale in [0, 1]: each corner of the crop moves inward by up
  // to scale * half the crop's width / height (drawn continuously, not in whole pixels); 0 = off. Applied
  // with probability perspective_probability.
  double perspective = 0.0;
  double perspective_probability = 0.5;
  // ColorJitter's hue: the hue (in turns, HSV as torchvision computes it) shifts by a value uniform in
  // [-x, x], x in [0, 0.5], after brightness / contrast / saturation; 0 = off.
  double hue = 0.0;
  // RandomGrayscale: with this probability every channel becomes the ITU-R 601 luma; 0 = off.
  double grayscale_probability = 0.0;
  // Gaussian blur with this probability, sigma uniform in [blur_sigma_min, blur_sigma_max] output pixels
  // (separable, radius ceil(3 sigma) clipped to the image, edges replicate); 0 = off.
  double blur_probability = 0.0;
  double blur_sigma_min = 0.1, blur_sigma_max = 2.0;
  // RandomErasing with this probability: a box of erase_scale_min..max of the area and height / width
  // ratio log-uniform in erase_ratio_min..max (torchvision's 10 tries, else nothing) is filled with
  // uniform random noise per pixel and channel (timm's "pixel" mode: no constant colour to learn); 0 = off.
  double erase_probability = 0.0;
  double erase_scale_min = 0.02, erase_scale_max = 0.33;
  double erase_ratio_min = 0.3, erase_ratio_max = 3.3;

  friend bool operator==(const AugmentOptions&, const AugmentOptions&) = default;
};

// Throws aslnet::Error naming the first field out of range (e.g. "augment: hue must be in [0, 0.5], got 0.7").
// train_transform calls it; the command line may call it early to fail before loading anything.
void check_augment_options(const AugmentOptions& options);

// Bilinear resize (antialiased when shrinking: area averaging, as PIL's resize does) to exactly w x h.
Image resize(const Image& src, int width, int height);
// The box (x, y, box_width, box_height) of src resized to width x height: the same as cropping then
// resizing, without the copy.
Image crop_resize(const Image& src, int x, int y, int box_width, int box_height, int width, int height);

// The training pipeline: crop (random resized, or the whole image) -> warp (rotation, shear, perspective in
// one bilinear pass) -> resize to size x size -> flip -> colour jitter (+ hue) -> grayscale -> blur -> erase.
Image train_transform(const Image& src, int size, const AugmentOptions& options, Rng& rng);

// The pipeline's pixel steps, public so that tests can check each against its definition and other
// generators (data/compose.h) can reuse them.
// Shifts every pixel's hue by `shift` turns (in [-0.5, 0.5]) in HSV, as torchvision's adjust_hue on a float
// tensor (greys stay grey), rounding back to 8 bits.
void adjust_hue(Image& image, double shift);

// Mirrors the image left to right in place.
void flip_horizontal(Image& image);
// Every channel becomes the ITU-R 601-2 luma (Pillow's convert("L") fixed point: RandomGrayscale on PIL).
void to_grayscale(Image& image);
// Separable Gaussian blur of standard deviation sigma > 0 pixels, radius ceil(3 sigma) clipped to the
// image's side minus one, weights normalised after clipping, edge pixels repeating.
void gaussian_blur(Image& image, double sigma);

// Evaluation: resize the shorter side to size / 0.875 (as torchvision's ImageNet recipe), centre crop.
Image eval_transform(const Image& src, int size);

// The size of evaluation's resize of a width x height image (before its centre crop to size x size):
// torchvision's Resize(int) to the shorter side round(size / 0.875), the longer one truncated. The
// test-time augmentation views (data/tta.h) crop other places of the same resize.
struct ResizedSize {
  int width = 0, height = 0;
};
ResizedSize eval_resize_size(int width, int height, int size);

// Writes size x size x 3 values at dst: (pixel / 255 - mean) / std as f32 or bf16, or the raw
// pixels as u8 (normalised later, on the GPU).
void normalize_into(const Image& image, const Normalization& norm, DType dtype, void* dst);

// The smallest decode size worth asking the decoder for when the output is size x size: the
// evaluation resize's target, or the crop's worst case in training.
int min_decode_side(int size, bool train);
// The same for a training run whose crops go down to crop_scale_min of the area (in (0, 1]): a user
// lowering the crop scale needs a larger decode for the small crops to keep their detail.
int min_decode_side(int size, bool train, double crop_scale_min);

}  // namespace aslnet
