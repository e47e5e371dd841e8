// How pixels become network inputs: (pixel / 255 - mean) / std per channel. One type for every place
// that needs it: the loader normalising on the CPU, the stager normalising raw u8 batches on the GPU,
// evaluation, and the checkpoint's metadata for inference.
#pragma once

#include <array>

namespace aslnet {

struct Normalization {
  std::array<float, 3> mean{0.485f, 0.456f, 0.406f};  // ImageNet's, on [0, 1] pixel values
  std::array<float, 3> std{0.229f, 0.224f, 0.225f};
  bool operator==(const Normalization&) const = default;
};

}  // namespace aslnet
