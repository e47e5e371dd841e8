// The ONNX writer (models/export/onnx_writer.h) and the graph of a ResNet (models/export/resnet_onnx.h):
// the bytes parse back into the same model through the generated classes; the top-level fields sit at
// ONNX's field numbers (what a real ONNX reader looks for, which a round trip through our own subset
// cannot show); a ResNet's graph has batch norm folded away, every value computed before it is used,
// and the input and outputs the README promises; a write into a missing folder names the file.
#include <gtest/gtest.h>

#include <cstring>
#include <set>

#include "models/export/onnx_subset.pb.h"
#include "models/export/onnx_writer.h"
#include "models/export/resnet_onnx.h"
#include "models/resnet.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

onnx::Model small_model() {
  onnx::Model m;
  m.producer_name = "aslnet";
  m.producer_version = "0.0-test";
  m.graph_name = "g";
  m.doc = "a test graph";
  m.inputs.push_back({"x", {{0, "batch"}, {2, ""}}, "the input"});
  m.outputs.push_back({"y", {{0, "batch"}, {2, ""}}, ""});
  m.initializers.push_back({"w", {2, 2}, {1.5f, -2.0f, 0.25f, 3.0f}});
  m.nodes.push_back({"Gemm",
                     "fc",
                     {"x", "w"},
                     {"y"},
                     {onnx::Attribute::integer("transB", 1), onnx::Attribute::integers("perm", {3, -1, 7}),
                      onnx::Attribute::real("alpha", 0.5f)}});
  m.metadata = {{"classes", "[\"A\",\"B\"]"}, {"input_size", "64"}};
  return m;
}

TEST(OnnxWriter, BytesParseBackIntoTheSameModel) {
  const std::string bytes = onnx::serialize(small_model());
  onnx::ModelProto proto;
  ASSERT_TRUE(proto.ParseFromString(bytes));
  EXPECT_EQ(proto.ir_version(), onnx::kIrVersion);
  ASSERT_EQ(proto.opset_import_size(), 1);
  EXPECT_EQ(proto.opset_import(0).domain(), "");
  EXPECT_EQ(proto.opset_import(0).version(), onnx::kOpset);
  EXPECT_EQ(proto.producer_name(), "aslnet");
  EXPECT_EQ(proto.producer_version(), "0.0-test");
  ASSERT_EQ(proto.metadata_props_size(), 2);
  EXPECT_EQ(proto.metadata_props(0).key(), "classes");
  EXPECT_EQ(proto.metadata_props(1).value(), "64");

  const onnx::GraphProto& g = proto.graph();
  EXPECT_EQ(g.name(), "g");
  EXPECT_EQ(g.doc_string(), "a test graph");
  ASSERT_EQ(g.node_size(), 1);
  const onnx::NodeProto& n = g.node(0);
  EXPECT_EQ(n.op_type(), "Gemm");
  EXPECT_EQ(n.name(), "fc");
  ASSERT_EQ(n.input_size(), 2);
  EXPECT_EQ(n.input(1), "w");
  EXPECT_EQ(n.output(0), "y");
  ASSERT_EQ(n.attribute_size(), 3);
  EXPECT_EQ(n.attribute(0).type(), onnx::AttributeProto::INT);
  EXPECT_EQ(n.attribute(0).i(), 1);
  EXPECT_EQ(n.attribute(1).type(), onnx::AttributeProto::INTS);
  EXPECT_EQ(std::vector<int64_t>(n.attribute(1).ints().begin(), n.attribute(1).ints().end()),
            (std::vector<int64_t>{3, -1, 7}));
  EXPECT_EQ(n.attribute(2).type(), onnx::AttributeProto::FLOAT);
  EXPECT_EQ(n.attribute(2).f(), 0.5f);

  ASSERT_EQ(g.initializer_size(), 1);
  const onnx::TensorProto& w = g.initializer(0);
  EXPECT_EQ(w.data_type(), onnx::TensorProto::FLOAT);
  EXPECT_EQ(std::vector<int64_t>(w.dims().begin(), w.dims().end()), (std::vector<int64_t>{2, 2}));
  ASSERT_EQ(w.raw_data().size(), 16u);
  float values[4];
  std::memcpy(values, w.raw_data().data(), 16);
  EXPECT_EQ(values[0], 1.5f);
  EXPECT_EQ(values[3], 3.0f);

  ASSERT_EQ(g.input_size(), 1);
  const onnx::TypeProto::Tensor& type = g.input(0).type().tensor_type();
  EXPECT_EQ(type.elem_type(), onnx::TensorProto::FLOAT);
  ASSERT_EQ(type.shape().dim_size(), 2);
  EXPECT_EQ(type.shape().dim(0).dim_param(), "batch");
  EXPECT_EQ(type.shape().dim(1).dim_value(), 2);
  EXPECT_EQ(g.input(0).doc_string(), "the input");
  EXPECT_EQ(g.output(0).name(), "y");
}

// The field numbers of a protobuf message's top-level fields, in order, read from the wire format
// itself (varint tags; length-delimited and varint values skipped).
std::vector<int> top_level_fields(const std::string& bytes) {
  std::vector<int> fields;
  size_t at = 0;
  const auto varint = [&] {
    uint64_t v = 0;
    for (int shift = 0; at < bytes.size(); shift += 7) {
      const auto b = uint8_t(bytes[at++]);
      v |= uint64_t(b & 0x7f) << shift;
      if ((b & 0x80) == 0) break;
    }
    return v;
  };
  while (at < bytes.size()) {
    const uint64_t tag = varint();
    fields.push_back(int(tag >> 3));
    if ((tag & 7) == 0) {
      varint();
    } else {
      EXPECT_EQ(tag & 7, 2u) << "unexpected wire type";
      at += varint();
    }
  }
  return fields;
}

TEST(OnnxWriter, TopLevelFieldsSitAtOnnxFieldNumbers) {
  // onnx.proto's ModelProto: ir_version 1, producer_name 2, producer_version 3, graph 7, opset_import 8,
  // metadata_props 14 (doc_string 6 is not written at the top level).
  const std::vector<int> fields = top_level_fields(onnx::serialize(small_model()));
  EXPECT_EQ(std::set<int>(fields.begin(), fields.end()), (std::set<int>{1, 2, 3, 7, 8, 14}));
  // GraphProto: node 1, name 2, initializer 5, doc_string 10, input 11, output 12.
  onnx::ModelProto proto;
  ASSERT_TRUE(proto.ParseFromString(onnx::serialize(small_model())));
  const std::vector<int> graph = top_level_fields(proto.graph().SerializeAsString());
  EXPECT_EQ(std::set<int>(graph.begin(), graph.end()), (std::set<int>{1, 2, 5, 10, 11, 12}));
}

TEST(OnnxWriter, AWriteIntoAMissingFolderNamesTheFile) {
  test::TempDir dir;
  ASSERT_FALSE(dir.path.empty());
  const std::string path = (dir.path / "missing" / "model.onnx").string();
  try {
    onnx::write_file(small_model(), path);
    FAIL() << "wrote into a missing folder";
  } catch (const Error& e) {
    EXPECT_NE(e.message().find(path), std::string::npos) << e.message();
  }
  const std::string good = (dir.path / "model.onnx").string();
  const size_t written = onnx::write_file(small_model(), good);
  EXPECT_EQ(written, std::filesystem::file_size(good));
  EXPECT_FALSE(std::filesystem::exists(good + ".partial"));
}

// A tiny ResNet of either stem, as load_for_inference returns one.
InferenceModel tiny_resnet(const std::string& stem, const std::string& arch = "resnet18") {
  InferenceModel m;
  m.meta.model = {arch, stem, 0.125, 29, 3};
  m.meta.mean = {0.5, 0.5, 0.5};
  m.meta.std = {0.25, 0.25, 0.25};
  m.meta.input_height = m.meta.input_width = 32;
  m.image_size = 32;
  for (int c = 0; c < 29; ++c) m.classes.push_back("class" + std::to_string(c));
  m.meta.classes = m.classes;
  Rng rng(3);
  m.model = make_initialised_model(m.meta.model, rng);
  return m;
}

TEST(ResnetOnnx, GraphHasFoldedBatchNormAndThePromisedInterface) {
  for (const auto& [arch, stem] : std::vector<std::pair<std::string, std::string>>{
           {"resnet18", "small"}, {"resnet18", "imagenet"}, {"resnet50", "imagenet"}}) {
    SCOPED_TRACE(arch + " " + stem);
    InferenceModel m = tiny_resnet(stem, arch);
    const onnx::Model g = onnx::resnet_to_onnx(m, {/*softmax=*/true, "test"});
    std::map<std::string, int> ops;
    for (const onnx::Node& n : g.nodes) ++ops[n.op];
    // resnet18: the stem, 8 blocks of 2 convolutions and 3 downsampling ones; resnet50: the stem, 16
    // blocks of 3 and 4 downsampling ones. One join (an Add and a ReLU) per block.
    const bool r50 = arch == "resnet50";
    EXPECT_EQ(ops["Conv"], r50 ? 53 : 20);
    EXPECT_EQ(ops["Add"], r50 ? 16 : 8);
    EXPECT_EQ(ops["Relu"], r50 ? 49 : 17);
    EXPECT_EQ(ops["MaxPool"], stem == "imagenet" ? 1 : 0);
    EXPECT_EQ(ops["Sub"], 1);
    EXPECT_EQ(ops["Softmax"], 1);
    EXPECT_EQ(ops.count("BatchNormalization"), 0u);
    // Every value a node reads is an input, an initializer or an earlier node's output; names are unique.
    std::set<std::string> known{onnx::kInputName};
    for (const onnx::Initializer& t : g.initializers) EXPECT_TRUE(known.insert(t.name).second) << t.name;
    for (const onnx::Node& n : g.nodes) {
      for (const std::string& in : n.inputs) EXPECT_TRUE(known.count(in)) << n.name << " reads " << in;
      for (const std::string& out : n.outputs) EXPECT_TRUE(known.insert(out).second) << out;
    }
    ASSERT_EQ(g.inputs.size(), 1u);
    EXPECT_EQ(g.inputs[0].dims[0].symbol, "batch");
    EXPECT_EQ(g.inputs[0].dims[2].size, 32);
    ASSERT_EQ(g.outputs.size(), 2u);
    EXPECT_EQ(g.outputs[0].name, onnx::kLogitsName);
    EXPECT_EQ(g.outputs[1].name, onnx::kProbabilitiesName);
    EXPECT_TRUE(known.count(onnx::kLogitsName) && known.count(onnx::kProbabilitiesName));
    std::map<std::string, std::string> meta(g.metadata.begin(), g.metadata.end());
    EXPECT_EQ(meta["input_size"], "32");
    EXPECT_NE(meta["classes"].find("class28"), std::string::npos);
  }
}

TEST(ResnetOnnx, WithoutSoftmaxTheLogitsAreTheOnlyOutput) {
  InferenceModel m = tiny_resnet("small");
  const onnx::Model g = onnx::resnet_to_onnx(m, {});
  ASSERT_EQ(g.outputs.size(), 1u);
  EXPECT_EQ(g.outputs[0].name, onnx::kLogitsName);
  EXPECT_EQ(g.nodes.back().op, "Gemm");
}

}  // namespace
}  // namespace aslnet
