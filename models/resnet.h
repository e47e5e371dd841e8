// ResNet-18/34/50 with torchvision's topology and parameter names (v1.5: the stride sits on the 3x3
// convolution of a Bottleneck), in NHWC. Two stems: "imagenet" (7x7 stride-2 convolution and a 3x3
// stride-2 max pool) and "small" (3x3 stride-1 convolution, no max pool) for small images; the stem is
// always the user's choice, never inferred from the image size. `width` scales every channel count,
// so tests can run a real ResNet topology at a fraction of the cost.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/model.h"

namespace aslnet {

const std::vector<std::string>& resnet_architectures();
// The network `info` describes (info.arch one of resnet_architectures()).
std::unique_ptr<Model> make_resnet(const ModelInfo& info, DType dtype = DType::F32,
                                   Device device = Device::cpu());
std::unique_ptr<Model> make_model(const ModelInfo& info, DType dtype = DType::F32, Device device = Device::cpu());

// torchvision's initialisation: Kaiming-normal (fan_out, ReLU gain) convolutions, batch norm weight 1
// and bias 0, torch's default uniform(+-1/sqrt(fan_in)) for the classifier; with zero_init_residual,
// the last batch norm of every residual block starts at weight 0. Running statistics are reset to
// mean 0, variance 1, and the batch counters to 0.
void init_torchvision(Model& model, Rng& rng, bool zero_init_residual = false);

// A model with torchvision's initialisation drawn on the CPU in f32 (one random stream, so a seed gives
// the same starting weights on every device and in every precision), then copied to `device` in `dtype`
// when that is anything else.
std::unique_ptr<Model> make_initialised_model(const ModelInfo& info, Rng& rng, DType dtype = DType::F32,
                                              Device device = Device::cpu());

}  // namespace aslnet
