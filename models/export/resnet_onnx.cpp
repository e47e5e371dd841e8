#include "models/export/resnet_onnx.h"

#include <fmt/core.h>

#include <nlohmann/json.hpp>
#include <set>

#include "engine/checkpoint.h"
#include "engine/fold.h"
#include "engine/layers/batchnorm.h"
#include "engine/layers/conv2d.h"
#include "engine/layers/linear.h"
#include "engine/layers/pooling.h"
#include "engine/layers/relu.h"
#include "engine/layers/residual.h"

namespace aslnet::onnx {

namespace {

std::span<const float> values(const Tensor& t) { return {t.data<float>(), size_t(t.numel())}; }

// "layer1.0.conv1.weight" -> "layer1.0.conv1": a layer's name, from its first parameter's.
std::string layer_name(Layer& layer) {
  std::vector<Parameter*> params;
  layer.collect_parameters(params);
  ASLNET_CHECK(!params.empty()) << "export: a " << layer.kind() << " layer without parameters has no name";
  const std::string& name = params.front()->name;
  return name.substr(0, name.rfind('.'));
}

// Emits the nodes of one network into an onnx::Model, value by value: each emit returns the name of the
// value that holds the layer's output.
class GraphBuilder {
 public:
  GraphBuilder(Model& out, std::vector<double> input_std) : out_(out), input_std_(std::move(input_std)) {}

  std::string sequence(Sequential& seq, std::string x) {
    const auto& layers = seq.layers();
    for (size_t i = 0; i < layers.size(); ++i) {
      Layer& layer = *layers[i];
      if (auto* conv = dynamic_cast<Conv2d*>(&layer)) {
        // A convolution followed by batch norm becomes one convolution with a bias.
        auto* bn = i + 1 < layers.size() ? dynamic_cast<BatchNorm2d*>(layers[i + 1].get()) : nullptr;
        x = convolution(*conv, bn, x);
        if (bn != nullptr) ++i;
      } else if (dynamic_cast<ReLU*>(&layer) != nullptr) {
        x = node("Relu", x + ".relu", {x});
      } else if (auto* pool = dynamic_cast<MaxPool2d*>(&layer)) {
        const kernels::PoolShape& p = pool->pool_shape();
        x = node("MaxPool", "maxpool", {x},
                 {Attribute::integers("kernel_shape", {p.window, p.window}),
                  Attribute::integers("strides", {p.stride, p.stride}),
                  Attribute::integers("pads", {p.pad, p.pad, p.pad, p.pad})});
      } else if (auto* block = dynamic_cast<Residual*>(&layer)) {
        x = residual(*block, x);
      } else if (dynamic_cast<GlobalAvgPool*>(&layer) != nullptr) {
        x = node("GlobalAveragePool", "avgpool", {x});
        x = node("Flatten", "flatten", {x}, {Attribute::integer("axis", 1)});
      } else if (auto* linear = dynamic_cast<Linear*>(&layer)) {
        x = fully_connected(*linear, x);
      } else {
        ASLNET_CHECK(false) << "export: no ONNX form for a " << layer.kind() << " layer here";
      }
    }
    return x;
  }

  // Renames the value `from` (the last node's output) to `to`: the graph's output names.
  void rename_output(const std::string& from, const std::string& to) {
    ASLNET_CHECK(!out_.nodes.empty() && out_.nodes.back().outputs.front() == from)
        << "export: the graph does not end in " << from;
    out_.nodes.back().outputs.front() = to;
  }

  std::string node(const std::string& op, const std::string& name, std::vector<std::string> inputs,
                   std::vector<Attribute> attributes = {}) {
    ASLNET_CHECK(names_.insert(name).second) << "export: two nodes named " << name;
    out_.nodes.push_back({op, name, std::move(inputs), {name}, std::move(attributes)});
    return name;
  }

  std::string constant(const std::string& name, std::vector<int64_t> dims, std::vector<float> v) {
    out_.initializers.push_back({name, std::move(dims), std::move(v)});
    return name;
  }

 private:
  std::string convolution(Conv2d& conv, BatchNorm2d* bn, const std::string& x) {
    std::vector<Parameter*> params;
    conv.collect_parameters(params);
    const Parameter& w = *params.front();
    const kernels::ConvShape& s = conv.conv_shape();
    std::vector<float> krsc(values(w.value).begin(), values(w.value).end());
    // The first convolution takes the input normalisation's division by std (engine/fold.h says why only that).
    if (!input_std_.empty()) {
      ASLNET_CHECK(int64_t(input_std_.size()) == s.c)
          << "export: " << input_std_.size() << " normalisation channels for a " << s.c << "-channel input";
      fold_input_scale(krsc, input_std_);
      input_std_.clear();
    }
    FoldedConv folded{std::move(krsc), {}};
    if (bn != nullptr) folded = fold_batch_norm(folded.weight, bn->fold_values());
    const std::string name = layer_name(conv);
    std::vector<std::string> inputs{
        x, constant(name + ".weight", {s.k, s.c, s.r, s.s}, filter_to_oihw(w.shape, folded.weight.data()))};
    if (!folded.bias.empty()) inputs.push_back(constant(name + ".bias", {s.k}, std::move(folded.bias)));
    return node("Conv", name, std::move(inputs),
                {Attribute::integers("kernel_shape", {s.r, s.s}), Attribute::integers("strides", {s.stride, s.stride}),
                 Attribute::integers("pads", {s.pad, s.pad, s.pad, s.pad})});
  }

  // relu(main(x) + shortcut(x)), the shortcut the identity when it is empty.
  std::string residual(Residual& block, const std::string& x) {
    const std::string main = sequence(block.main(), x);
    const std::string shortcut = block.shortcut().empty() ? x : sequence(block.shortcut(), x);
    // "layer1.0.conv1" -> "layer1.0": the block's name.
    const std::string first = layer_name(block.main());
    const std::string name = first.substr(0, first.rfind('.'));
    return node("Relu", name + ".relu", {node("Add", name + ".add", {main, shortcut})});
  }

  std::string fully_connected(Linear& linear, const std::string& x) {
    std::vector<Parameter*> params;
    linear.collect_parameters(params);
    const std::string name = layer_name(linear);
    const Tensor& w = params[0]->value;
    const Tensor& b = params[1]->value;
    // Gemm with transB: y = x W^T + b, W as torch stores it ([out, in], the engine's layout too).
    return node("Gemm", name,
                {x,
                 constant(name + ".weight", {linear.out_features(), linear.in_features()},
                          {values(w).begin(), values(w).end()}),
                 constant(name + ".bias", {linear.out_features()}, {values(b).begin(), values(b).end()})},
                {Attribute::integer("transB", 1)});
  }

  Model& out_;
  std::vector<double> input_std_;  // to fold into the first convolution (then empty)
  std::set<std::string> names_;
};

std::string json_array(const std::vector<double>& v) { return nlohmann::json(v).dump(); }

}  // namespace

Model resnet_to_onnx(InferenceModel& m, const ExportOptions& options) {
  aslnet::Model& model = *m.model;
  ASLNET_CHECK(model.device().is_cpu() && model.dtype() == DType::F32 && model.compute_dtype() == DType::F32)
      << "export: load the model on the CPU in f32";
  const CheckpointMeta& meta = m.meta;
  const int64_t side = m.image_size, channels = meta.model.in_channels;
  ASLNET_CHECK(int64_t(meta.mean.size()) == channels && int64_t(meta.std.size()) == channels)
      << "export: the checkpoint's normalisation has " << meta.mean.size() << " channels for a " << channels
      << "-channel input";
  const auto& layers = model.net().layers();
  ASLNET_CHECK(!layers.empty() && dynamic_cast<Conv2d*>(layers.front().get()) != nullptr)
      << "export: the network does not start with a convolution, which the input normalisation folds into";

  Model out;
  out.producer_name = "aslnet";
  out.producer_version = options.producer_version;
  out.graph_name = meta.model.arch;
  const std::string input_doc = fmt::format(
      "RGB pixels in [0, 1] (8-bit value / 255), NCHW float32, {}x{}, unnormalised: resize the shorter side "
      "to round({} / 0.875) and crop the centre, as aslnet eval does",
      side, side, side);
  out.doc = fmt::format("{} for {} classes; input: {}; output: logits{}", describe(meta.model), m.classes.size(),
                        input_doc, options.softmax ? " and softmax probabilities" : "");
  out.inputs.push_back({kInputName, {{0, "batch"}, {channels, ""}, {side, ""}, {side, ""}}, input_doc});

  GraphBuilder graph(out, meta.std);
  // The mean is subtracted here, in front of the first convolution; its division by std is in that
  // convolution's weights (engine/fold.h: why not the mean too).
  std::vector<float> mean(meta.mean.begin(), meta.mean.end());
  const std::string centred =
      graph.node("Sub", "normalize", {kInputName, graph.constant("input_mean", {1, channels, 1, 1}, mean)});
  const std::string logits = graph.sequence(model.net(), centred);
  graph.rename_output(logits, kLogitsName);
  const std::vector<Dimension> rows{{0, "batch"}, {meta.model.num_classes, ""}};
  out.outputs.push_back({kLogitsName, rows, "class scores before softmax, in the order of metadata 'classes'"});
  if (options.softmax) {
    graph.node("Softmax", kProbabilitiesName, {kLogitsName}, {Attribute::integer("axis", 1)});
    out.outputs.push_back({kProbabilitiesName, rows, "softmax of the logits"});
  }

  out.metadata = {
      {"classes", nlohmann::json(m.classes).dump()},
      {"input", input_doc},
      {"input_size", std::to_string(side)},
      {"normalization", "folded: the graph subtracts mean and its first convolution divides by std"},
      {"mean", json_array(meta.mean)},
      {"std", json_array(meta.std)},
      {"arch", meta.model.arch},
      {"stem", meta.model.stem},
      {"width", format_double(meta.model.width)},
      {"batch_norm", "folded into the convolutions (running statistics)"},
      {"epoch", std::to_string(meta.epoch)},
      {"step", std::to_string(meta.step)},
  };
  return out;
}

}  // namespace aslnet::onnx
