// Checkpoints as safetensors files (8-byte little-endian header length, a JSON header, raw data),
// with torchvision's parameter names and layouts: convolution weights are converted from the engine's
// KRSC to torch's OIHW here and nowhere else, so a PyTorch user can load the file, and torchvision
// weights can be loaded to fine-tune. Optimizer state travels under "optimizer.<name>" keys (flat, in
// the parameter arena's layout); metadata (architecture, classes, input size, normalisation, epoch,
// step) in the header's "__metadata__". Writes are atomic: a temporary file, fsync, rename.
//
// An optimizer's moving average of the weights (--ema) travels as a second copy of the model's
// tensors, with the same names, layouts and shapes under "optimizer.ema." ("optimizer.ema.fc.weight",
// "optimizer.ema.bn1.running_mean"), so a PyTorch user can load it as a state dict after stripping the
// prefix, and loaders that drop "optimizer.*" see the trained model. Inside an EmaWeightsScope
// (engine/ema_weights.h), a checkpoint written without the optimizer is a plain inference checkpoint of
// the averaged model.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/checkpoint_meta.h"
#include "engine/model.h"
#include "engine/optimizer.h"

namespace aslnet {

// Writes model parameters, batch-norm state, optimizer state (when given) and metadata.
void save_checkpoint(const std::string& path, const Model& model, const CheckpointMeta& meta,
                     const Optimizer* optimizer = nullptr);

// Reads only the header: what to build before loading.
CheckpointMeta read_checkpoint_meta(const std::string& path);

// Loads into a model of the same architecture (and the optimizer's state when given and present).
// A truncated, corrupt or mismatched file throws aslnet::Error naming the file, the tensor and the
// shapes; the model is left untouched unless every tensor checks out.
// With an optimizer that keeps a moving average, the file's average is restored; a file without one
// (an older or inference checkpoint) restarts the average from the loaded weights, with a load note.
// A file's average that the optimizer does not keep (--ema off) is skipped, with a load note.
CheckpointMeta load_checkpoint(const std::string& path, Model& model, Optimizer* optimizer = nullptr);

// Fine-tuning: the weights and batch-norm statistics of a checkpoint of the same architecture, stem and
// width, without optimizer state. With `reset_head`, the classifier (fc.*) is not loaded (and may have
// another number of classes): it keeps the model's own initialisation.
CheckpointMeta load_weights(const std::string& path, Model& model, bool reset_head);

// A convolution filter of the engine's KRSC shape `krsc` as torch's OIHW (the layout PyTorch and ONNX
// take): the checkpoint's own conversion, for exporters (models/export/).
std::vector<float> filter_to_oihw(const Shape& krsc, const float* values);

}  // namespace aslnet
