// A trained network as an ONNX graph (models/export/onnx_model.h) that computes what aslnet's evaluation
// forward computes: batch norm folded into the convolutions (running statistics), the input
// normalisation folded in front, so the graph takes RGB pixels in [0, 1] (NCHW float32, any batch) and
// returns the logits, and with `softmax` the class probabilities too. The layers are walked as the
// engine runs them (Sequential, Residual, Conv2d + BatchNorm2d, ReLU, MaxPool2d, GlobalAvgPool, Linear),
// so the graph follows the model's own topology rather than a second description of a ResNet.
#pragma once

#include <string>

#include "models/export/onnx_model.h"
#include "models/inference_model.h"

namespace aslnet::onnx {

struct ExportOptions {
  bool softmax = false;          // add the "probabilities" output beside "logits"
  std::string producer_version;  // aslnet's version, recorded in the model
};

// The names of the graph's input and outputs.
inline constexpr const char* kInputName = "input";
inline constexpr const char* kLogitsName = "logits";
inline constexpr const char* kProbabilitiesName = "probabilities";

// `m` as loaded by load_for_inference with BatchNormFold::Keep (on the CPU, f32; the model need not be set
// up). Its metadata (classes, input size, mean and std, the network) is recorded in the model's
// metadata_props.
Model resnet_to_onnx(InferenceModel& m, const ExportOptions& options);

}  // namespace aslnet::onnx
