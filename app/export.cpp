// aslnet export CHECKPOINT --format onnx|safetensors OUT: a trained model for other programs.
//   onnx:        the network as an ONNX graph (models/export/resnet_onnx.h): batch norm and the input
//                normalisation folded, input "input" (RGB in [0, 1], NCHW, any batch), output "logits"
//                and with --softmax "probabilities"; classes and input size in its metadata.
//   safetensors: the checkpoint without its optimizer state (and the EMA copy a training checkpoint keeps
//                beside it): what eval, predict, serve and torchvision need, at a fraction of the size.
// Both load the checkpoint as predict does (load_for_inference, with batch norm kept as its own layers:
// the ONNX writer folds it itself), so a file that exports is one that runs.
#include <fmt/core.h>

#include <filesystem>
#include <memory>

#include "app/commands.h"
#include "app/versions.h"
#include "engine/checkpoint.h"
#include "engine/safetensors.h"
#include "models/export/onnx_writer.h"
#include "models/export/resnet_onnx.h"
#include "models/inference_model.h"

namespace aslnet::app {

namespace {

namespace fs = std::filesystem;

struct ExportOptions {
  std::string checkpoint, out, format;
  bool softmax = false;
};

std::string megabytes(uintmax_t bytes) { return fmt::format("{:.2f} MB", double(bytes) / 1e6); }

// --format, or OUT's extension when it is not given.
std::string resolve_format(const ExportOptions& o) {
  if (!o.format.empty()) return o.format;
  const std::string extension = fs::path(o.out).extension().string();
  if (extension == ".onnx") return "onnx";
  if (extension == ".safetensors") return "safetensors";
  ASLNET_CHECK(false) << "--format: give onnx or safetensors (OUT " << o.out << " has neither extension)";
  return "";
}

void export_onnx(const ExportOptions& o, InferenceModel& m) {
  const onnx::Model model = onnx::resnet_to_onnx(m, {o.softmax, aslnet_version()});
  const size_t bytes = onnx::write_file(model, o.out);
  fmt::print("wrote {}: ONNX opset {}, {} ({} nodes, {})\n", o.out, onnx::kOpset, describe(m.meta.model),
             model.nodes.size(), megabytes(bytes));
  fmt::print("  input  '{}': float32 [batch, {}, {}, {}], RGB pixels in [0, 1] (normalisation folded in)\n",
             onnx::kInputName, m.meta.model.in_channels, m.image_size, m.image_size);
  fmt::print("  output '{}': float32 [batch, {}]{}\n", onnx::kLogitsName, m.classes.size(),
             o.softmax ? fmt::format(", '{}': its softmax", onnx::kProbabilitiesName) : "");
}

void export_safetensors(const ExportOptions& o, InferenceModel& m) {
  // What the weights-only file leaves out, counted from the checkpoint's header.
  int optimizer_tensors = 0, ema_tensors = 0;
  const safetensors::File header = safetensors::File::read_header(o.checkpoint);
  for (const safetensors::TensorInfo& t : header.tensors()) {
    optimizer_tensors += t.name.starts_with("optimizer.") ? 1 : 0;
    ema_tensors += t.name.starts_with("optimizer.ema.") ? 1 : 0;
  }
  // The metadata read with the model (network, classes, input, normalisation, progress, extra keys)
  // travels as it is; written without an optimizer, the file holds only the model's tensors.
  save_checkpoint(o.out, *m.model, m.meta);
  const uintmax_t before = fs::file_size(o.checkpoint), after = fs::file_size(o.out);
  fmt::print("wrote {}: weights only, {} (checkpoint {}: {}); left out {} optimizer tensors{}\n", o.out,
             megabytes(after), o.checkpoint, megabytes(before), optimizer_tensors,
             ema_tensors > 0 ? fmt::format(", {} of them the EMA copy", ema_tensors) : "");
}

void run_export(const ExportOptions& o) {
  const std::string format = resolve_format(o);
  ASLNET_CHECK(!o.softmax || format == "onnx") << "--softmax: only --format onnx has probabilities to add";
  ASLNET_CHECK(fs::exists(o.checkpoint)) << "checkpoint " << o.checkpoint << " does not exist";
  ASLNET_CHECK(!fs::is_directory(o.out)) << "OUT " << o.out << " is a folder: name the file to write";
  std::error_code same_error;
  // Writing over the checkpoint would throw away the optimizer state it was read for.
  ASLNET_CHECK(!fs::equivalent(o.checkpoint, o.out, same_error))
      << "OUT " << o.out << " is the checkpoint itself: write the export to another file";
  Context ctx(Device::cpu());
  InferenceModel m = load_for_inference(ctx, o.checkpoint, /*batch=*/0, BatchNormFold::Keep);
  if (format == "onnx") {
    export_onnx(o, m);
  } else {
    export_safetensors(o, m);
  }
}

}  // namespace

void register_export(CLI::App& app) {
  auto o = std::make_shared<ExportOptions>();
  auto* cmd = app.add_subcommand("export", "Write a checkpoint as an ONNX model or as a weights-only safetensors file");
  cmd->footer(
      "onnx: batch norm and the input normalisation are folded in: the model takes RGB pixels in [0, 1]\n"
      "(NCHW float32, any batch, the checkpoint's input size, resized and centre-cropped as aslnet eval does)\n"
      "and returns 'logits' (and 'probabilities' with --softmax); class names are in its metadata.\n"
      "safetensors: the checkpoint without optimizer state or EMA copy, for eval, predict, serve and torchvision.");
  cmd->add_option("checkpoint", o->checkpoint, "CHECKPOINT: a checkpoint written by aslnet train")->required();
  cmd->add_option("out", o->out, "OUT: the file to write")->required();
  cmd->add_option("--format", o->format, "onnx or safetensors (default: from OUT's extension)")
      ->check(CLI::IsMember({"onnx", "safetensors"}));
  cmd->add_flag("--softmax", o->softmax, "onnx: also output the class probabilities ('probabilities')");
  cmd->callback([o] { run_export(*o); });
}

}  // namespace aslnet::app
