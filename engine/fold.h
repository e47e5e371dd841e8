// The arithmetic that turns a trained network into fewer, plainer operations, for export (models/export/)
// and for inference on the CPU (engine/layers/conv_bn_inference.h): batch norm in evaluation mode folded
// into the convolution before it, and the input normalisation's division by the standard deviation
// folded into the first convolution. Pure functions over float arrays (computed in double), so the
// tests can check each against the layers it replaces.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace aslnet {

// Batch norm's affine parameters and running statistics, one value per channel.
struct BatchNormValues {
  std::span<const float> weight, bias, running_mean, running_var;
  double eps = 1e-5;
};

// A convolution with a bias: weights with the output channel outermost (KRSC or OIHW alike), bias per
// output channel.
struct FoldedConv {
  std::vector<float> weight, bias;
};

// bn(conv(x)) in evaluation mode as one convolution: with s = weight / sqrt(running_var + eps), each
// output channel k's filter is scaled by s[k] and its bias is bias[k] - running_mean[k] s[k].
// `conv_weight` holds out_channels filters of equal size, output channel outermost.
FoldedConv fold_batch_norm(std::span<const float> conv_weight, const BatchNormValues& bn);

// Divides input channel c of KRSC filters (channel innermost) by std[c]: conv((x - mean) / std) is then
// conv'(x - mean). Only the division folds: the mean must stay a subtraction before the convolution,
// because the convolution pads its input with zeros, and a zero of x - mean is what a zero of the
// normalised input was, while a mean folded into the bias would treat the padding as black pixels.
void fold_input_scale(std::span<float> krsc_weight, std::span<const double> std);

}  // namespace aslnet
