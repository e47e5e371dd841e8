// An ONNX model as plain C++ values: what the exporter builds (models/export/resnet_onnx.h) and the
// writer serialises (models/export/onnx_writer.h). Keeping the graph free of protobuf types lets the
// builder and its tests say what the graph is without the wire format, and confines protobuf to the
// writer.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace aslnet::onnx {

// The operator set and IR version written: opset 17, which onnx 1.12 (Debian 12's) and every later
// release and runtime read (every operator used here has kept its definition since opset 14 at the
// latest), and IR version 8, the one that opset came with.
constexpr int64_t kOpset = 17;
constexpr int64_t kIrVersion = 8;

// A node attribute: one integer, a list of integers or one float (all the ResNet operators take).
struct Attribute {
  enum class Kind { Int, Ints, Float };
  std::string name;
  Kind kind = Kind::Int;
  int64_t i = 0;
  std::vector<int64_t> ints;
  float f = 0;

  static Attribute integer(std::string name, int64_t v) { return {std::move(name), Kind::Int, v, {}, 0}; }
  static Attribute integers(std::string name, std::vector<int64_t> v) {
    return {std::move(name), Kind::Ints, 0, std::move(v), 0};
  }
  static Attribute real(std::string name, float v) { return {std::move(name), Kind::Float, 0, {}, v}; }
};

struct Node {
  std::string op;    // "Conv", "Relu", ...
  std::string name;  // unique within the graph
  std::vector<std::string> inputs, outputs;
  std::vector<Attribute> attributes;
};

// A float32 constant (weights), row-major.
struct Initializer {
  std::string name;
  std::vector<int64_t> dims;
  std::vector<float> values;
};

// A float32 graph input or output. A dimension is a size, or, when its symbol is set, a size the caller
// picks (the batch).
struct Dimension {
  int64_t size = 0;
  std::string symbol;
};
struct Value {
  std::string name;
  std::vector<Dimension> dims;
  std::string doc;
};

struct Model {
  std::string producer_name, producer_version;
  std::string graph_name, doc;
  std::vector<Node> nodes;  // in an order where every input is computed before it is used
  std::vector<Initializer> initializers;
  std::vector<Value> inputs, outputs;
  std::vector<std::pair<std::string, std::string>> metadata;  // the model's metadata_props
};

}  // namespace aslnet::onnx
