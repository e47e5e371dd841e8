// Serialises an onnx::Model (models/export/onnx_model.h) as an ONNX file, through the classes protoc
// generates from models/export/onnx_subset.proto. The one place that knows the wire format.
#pragma once

#include <string>

#include "models/export/onnx_model.h"

namespace aslnet::onnx {

// The model's bytes: an ONNX ModelProto (IR version kIrVersion, the default operator set at kOpset).
std::string serialize(const Model& model);

// Writes serialize(model) to `path` through a temporary file renamed over it, so a failed export never
// leaves a torn model where a good one was. Returns the bytes written; an Error names the path.
size_t write_file(const Model& model, const std::string& path);

}  // namespace aslnet::onnx
