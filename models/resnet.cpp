#include "models/resnet.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>

#include "engine/layers/batchnorm.h"
#include "engine/layers/conv2d.h"
#include "engine/layers/linear.h"
#include "engine/layers/pooling.h"
#include "engine/layers/relu.h"
#include "engine/layers/residual.h"

namespace aslnet {

namespace {

struct Spec {
  bool bottleneck;
  std::vector<int> blocks;
};

Spec spec_for(const std::string& arch) {
  if (arch == "resnet18") return {false, {2, 2, 2, 2}};
  if (arch == "resnet34") return {false, {3, 4, 6, 3}};
  if (arch == "resnet50") return {true, {3, 4, 6, 3}};
  ASLNET_CHECK(false) << "unknown architecture '" << arch << "': expected resnet18, resnet34 or resnet50";
  return {};
}

int64_t scaled(int64_t channels, double width) { return std::max<int64_t>(1, std::llround(channels * width)); }

void conv_bn(Sequential& seq, const std::string& conv, const std::string& bn, int64_t in, int64_t out, int64_t k,
             int64_t stride, bool closes_branch = false) {
  seq.add<Conv2d>(conv, in, out, k, stride, k / 2);
  seq.add<BatchNorm2d>(bn, out).closes_residual_branch = closes_branch;
}

// torchvision's BasicBlock (expansion 1) or Bottleneck (expansion 4), named "layerL.B".
std::unique_ptr<Residual> block(const std::string& name, bool bottleneck, int64_t in, int64_t planes, int64_t stride) {
  auto main = std::make_unique<Sequential>();
  const int64_t out = bottleneck ? planes * 4 : planes;
  if (bottleneck) {
    conv_bn(*main, name + ".conv1", name + ".bn1", in, planes, 1, 1);
    main->add<ReLU>();
    conv_bn(*main, name + ".conv2", name + ".bn2", planes, planes, 3, stride);
    main->add<ReLU>();
    conv_bn(*main, name + ".conv3", name + ".bn3", planes, out, 1, 1, true);
  } else {
    conv_bn(*main, name + ".conv1", name + ".bn1", in, planes, 3, stride);
    main->add<ReLU>();
    conv_bn(*main, name + ".conv2", name + ".bn2", planes, planes, 3, 1, true);
  }
  auto shortcut = std::make_unique<Sequential>();
  if (stride != 1 || in != out) conv_bn(*shortcut, name + ".downsample.0", name + ".downsample.1", in, out, 1, stride);
  return std::make_unique<Residual>(std::move(main), std::move(shortcut));
}

}  // namespace

const std::vector<std::string>& resnet_architectures() {
  static const std::vector<std::string> names{"resnet18", "resnet34", "resnet50"};
  return names;
}

std::unique_ptr<Model> make_resnet(const ModelInfo& c, DType dtype, Device device) {
  const Spec spec = spec_for(c.arch);
  ASLNET_CHECK(c.stem == "imagenet" || c.stem == "small") << "unknown stem '" << c.stem << "': expected imagenet or small";
  ASLNET_CHECK(c.width > 0 && c.num_classes > 0) << "bad width " << c.width << " or class count " << c.num_classes;
  auto net = std::make_unique<Sequential>();
  const int64_t stem_channels = scaled(64, c.width);
  if (c.stem == "imagenet") {
    conv_bn(*net, "conv1", "bn1", c.in_channels, stem_channels, 7, 2);
    net->add<ReLU>();
    net->add<MaxPool2d>(3, 2, 1);
  } else {
    conv_bn(*net, "conv1", "bn1", c.in_channels, stem_channels, 3, 1);
    net->add<ReLU>();
  }
  int64_t in = stem_channels;
  for (int stage = 0; stage < 4; ++stage) {
    const int64_t planes = scaled(64 << stage, c.width);
    for (int b = 0; b < spec.blocks[stage]; ++b) {
      const std::string name = "layer" + std::to_string(stage + 1) + "." + std::to_string(b);
      const int64_t stride = (stage > 0 && b == 0) ? 2 : 1;
      net->append(block(name, spec.bottleneck, in, planes, stride));
      in = spec.bottleneck ? planes * 4 : planes;
    }
  }
  net->add<GlobalAvgPool>();
  net->add<Linear>("fc", in, c.num_classes);
  std::vector<Parameter*> parameters;
  net->collect_parameters(parameters);
  int64_t count = 0;
  for (const Parameter* p : parameters) count += p->shape.numel();
  try {
    return std::make_unique<Model>(std::move(net), c, dtype, device);
  } catch (const OutOfMemory& e) {
    // The width is the usual cause (a typo such as --width 1000): say so, with the size it asked for.
    throw OutOfMemory(fmt::format("a {} of width {} has {} parameters, more than the memory of {} holds ({})",
                                  c.arch, c.width, count, device.str(), e.message()));
  }
}

std::unique_ptr<Model> make_model(const ModelInfo& info, DType dtype, Device device) {
  return make_resnet(info, dtype, device);
}

std::unique_ptr<Model> make_initialised_model(const ModelInfo& info, Rng& rng, DType dtype, Device device) {
  auto model = make_model(info);
  init_torchvision(*model, rng);
  if (device.is_cpu() && dtype == DType::F32) return model;
  auto placed = make_model(info, dtype, device);
  placed->copy_weights_from(*model);
  return placed;
}

namespace {
void zero_init_last_norms(Layer& layer, std::vector<std::string>& names) {
  if (auto* seq = dynamic_cast<Sequential*>(&layer)) {
    for (auto& child : seq->layers()) zero_init_last_norms(*child, names);
  } else if (auto* res = dynamic_cast<Residual*>(&layer)) {
    zero_init_last_norms(res->main(), names);
  } else if (auto* bn = dynamic_cast<BatchNorm2d*>(&layer); bn && bn->closes_residual_branch) {
    std::vector<Parameter*> params;
    bn->collect_parameters(params);
    names.push_back(params[0]->name);
  }
}
}  // namespace

void init_torchvision(Model& model, Rng& rng, bool zero_init_residual) {
  ASLNET_CHECK(model.device().is_cpu()) << "initialise on the CPU, then copy the arena to the device";
  std::vector<std::string> zeroed;
  if (zero_init_residual) zero_init_last_norms(model.net(), zeroed);
  dispatch_real(model.dtype(), [&](auto tag) {
    using T = decltype(tag);
    for (Parameter* p : model.parameters()) {
      T* v = p->value.template data<T>();
      const int64_t n = p->shape.numel();
      switch (p->role) {
        case ParamRole::ConvWeight: {
          // Kaiming normal, mode fan_out: std = sqrt(2 / (out_channels * kernel_h * kernel_w)).
          const double std = std::sqrt(2.0 / double(p->shape[0] * p->shape[1] * p->shape[2]));
          for (int64_t i = 0; i < n; ++i) v[i] = T(rng.normal(0.0, std));
          break;
        }
        case ParamRole::LinearWeight:
        case ParamRole::LinearBias: {
          // nn.Linear's reset_parameters: both bounded by 1/sqrt(fan_in) of the weight.
          const Parameter* w = p->role == ParamRole::LinearWeight
                                   ? p
                                   : model.find_parameter(p->name.substr(0, p->name.size() - 4) + "weight");
          const double bound = 1.0 / std::sqrt(double(w->shape[1]));
          for (int64_t i = 0; i < n; ++i) v[i] = T(rng.uniform(-bound, bound));
          break;
        }
        case ParamRole::NormWeight: {
          const bool zero = std::find(zeroed.begin(), zeroed.end(), p->name) != zeroed.end();
          for (int64_t i = 0; i < n; ++i) v[i] = T(zero ? 0 : 1);
          break;
        }
        case ParamRole::NormBias:
          for (int64_t i = 0; i < n; ++i) v[i] = T(0);
          break;
      }
    }
    for (StateTensor* s : model.state()) {
      const bool is_var = s->name.size() >= 3 && s->name.compare(s->name.size() - 3, 3, "var") == 0;
      T* v = s->value.template data<T>();
      for (int64_t i = 0; i < s->shape.numel(); ++i) v[i] = T(is_var ? 1 : 0);
    }
  });
  for (Counter* c : model.counters()) c->value = 0;
}

}  // namespace aslnet
