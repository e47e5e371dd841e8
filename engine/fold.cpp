#include "engine/fold.h"

#include <cmath>

#include "engine/core/error.h"

namespace aslnet {

FoldedConv fold_batch_norm(std::span<const float> conv_weight, const BatchNormValues& bn) {
  const size_t channels = bn.weight.size();
  ASLNET_CHECK(channels > 0 && bn.bias.size() == channels && bn.running_mean.size() == channels &&
               bn.running_var.size() == channels)
      << "batch norm folding: per-channel values of different lengths";
  ASLNET_CHECK(conv_weight.size() % channels == 0)
      << "batch norm folding: " << conv_weight.size() << " filter values for " << channels << " output channels";
  const size_t per_filter = conv_weight.size() / channels;
  FoldedConv out;
  out.weight.resize(conv_weight.size());
  out.bias.resize(channels);
  for (size_t k = 0; k < channels; ++k) {
    const double scale = double(bn.weight[k]) / std::sqrt(double(bn.running_var[k]) + bn.eps);
    for (size_t i = 0; i < per_filter; ++i)
      out.weight[k * per_filter + i] = float(double(conv_weight[k * per_filter + i]) * scale);
    out.bias[k] = float(double(bn.bias[k]) - double(bn.running_mean[k]) * scale);
  }
  return out;
}

void fold_input_scale(std::span<float> krsc_weight, std::span<const double> std) {
  const size_t channels = std.size();
  ASLNET_CHECK(channels > 0 && krsc_weight.size() % channels == 0)
      << "input scale folding: " << krsc_weight.size() << " filter values for " << channels << " input channels";
  for (double s : std) ASLNET_CHECK(s > 0) << "input scale folding: standard deviation " << s << " is not positive";
  for (size_t i = 0; i < krsc_weight.size(); ++i) krsc_weight[i] = float(double(krsc_weight[i]) / std[i % channels]);
}

}  // namespace aslnet
