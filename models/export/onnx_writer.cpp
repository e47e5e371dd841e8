#include "models/export/onnx_writer.h"

#include <bit>
#include <filesystem>
#include <fstream>

#include "engine/core/error.h"
#include "models/export/onnx_subset.pb.h"

namespace aslnet::onnx {

namespace {

void fill_attribute(const Attribute& a, AttributeProto& out) {
  out.set_name(a.name);
  switch (a.kind) {
    case Attribute::Kind::Int:
      out.set_type(AttributeProto::INT);
      out.set_i(a.i);
      break;
    case Attribute::Kind::Ints:
      out.set_type(AttributeProto::INTS);
      for (int64_t v : a.ints) out.add_ints(v);
      break;
    case Attribute::Kind::Float:
      out.set_type(AttributeProto::FLOAT);
      out.set_f(a.f);
      break;
  }
}

void fill_value(const Value& v, ValueInfoProto& out) {
  out.set_name(v.name);
  if (!v.doc.empty()) out.set_doc_string(v.doc);
  TypeProto::Tensor* tensor = out.mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(TensorProto::FLOAT);
  TensorShapeProto* shape = tensor->mutable_shape();
  for (const Dimension& d : v.dims) {
    TensorShapeProto::Dimension* dim = shape->add_dim();
    if (d.symbol.empty()) {
      dim->set_dim_value(d.size);
    } else {
      dim->set_dim_param(d.symbol);
    }
  }
}

void fill_initializer(const Initializer& t, TensorProto& out) {
  int64_t count = 1;
  for (int64_t d : t.dims) count *= d;
  ASLNET_CHECK(count == int64_t(t.values.size()))
      << "ONNX initializer " << t.name << " has " << t.values.size() << " values for " << count << " elements";
  out.set_name(t.name);
  out.set_data_type(TensorProto::FLOAT);
  for (int64_t d : t.dims) out.add_dims(d);
  // raw_data holds little-endian float32, which is the host's layout on every machine aslnet builds for.
  static_assert(std::endian::native == std::endian::little, "ONNX raw_data is little-endian");
  out.set_raw_data(std::string(reinterpret_cast<const char*>(t.values.data()), t.values.size() * sizeof(float)));
}

}  // namespace

std::string serialize(const Model& model) {
  ModelProto proto;
  proto.set_ir_version(kIrVersion);
  proto.set_producer_name(model.producer_name);
  proto.set_producer_version(model.producer_version);
  OperatorSetIdProto* opset = proto.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOpset);
  for (const auto& [key, value] : model.metadata) {
    StringStringEntryProto* entry = proto.add_metadata_props();
    entry->set_key(key);
    entry->set_value(value);
  }
  GraphProto* graph = proto.mutable_graph();
  graph->set_name(model.graph_name);
  if (!model.doc.empty()) graph->set_doc_string(model.doc);
  for (const Node& n : model.nodes) {
    NodeProto* node = graph->add_node();
    node->set_op_type(n.op);
    node->set_name(n.name);
    for (const std::string& in : n.inputs) node->add_input(in);
    for (const std::string& out : n.outputs) node->add_output(out);
    for (const Attribute& a : n.attributes) fill_attribute(a, *node->add_attribute());
  }
  for (const Initializer& t : model.initializers) fill_initializer(t, *graph->add_initializer());
  for (const Value& v : model.inputs) fill_value(v, *graph->add_input());
  for (const Value& v : model.outputs) fill_value(v, *graph->add_output());
  std::string bytes;
  // Protobuf cannot write a message of 2 GiB or more. ONNX keeps such weights in external files, which
  // this exporter does not write: only very wide networks (a resnet50 beyond width 4.5) get here.
  ASLNET_CHECK(proto.SerializeToString(&bytes))
      << "cannot serialise the ONNX model (" << proto.ByteSizeLong() << " bytes; protobuf's limit is 2 GiB)";
  return bytes;
}

size_t write_file(const Model& model, const std::string& path) {
  const std::string bytes = serialize(model);
  const std::string temporary = path + ".partial";
  {
    std::ofstream file(temporary, std::ios::binary | std::ios::trunc);
    ASLNET_CHECK(file.good()) << "cannot write " << path << ": check that its folder exists and is writable";
    file.write(bytes.data(), std::streamsize(bytes.size()));
    file.flush();
    if (!file.good()) {
      std::error_code ignored;
      std::filesystem::remove(temporary, ignored);
      ASLNET_CHECK(false) << "cannot write " << path << ": the disk may be full";
    }
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    std::error_code ignored;
    std::filesystem::remove(temporary, ignored);
    ASLNET_CHECK(false) << "cannot write " << path << ": " << error.message();
  }
  return bytes.size();
}

}  // namespace aslnet::onnx
