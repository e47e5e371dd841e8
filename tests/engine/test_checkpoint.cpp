// Checkpoints and the safetensors container: a trained model (weights, batch-norm statistics and
// counters, momentum) and its metadata survive a save and a load bit for bit; the file is laid out as
// torch expects (OIHW filters, int64 counters); and every way a file can be wrong (truncated, corrupt
// header, offsets past the end, another architecture, other shapes, missing or extra tensors) is a
// one-line Error naming the file, after which the model is exactly as it was. Writes are atomic.
// The moving average of the weights (--ema) travels under optimizer.ema.<name> in torch's layouts and
// comes back bit for bit; files without one restart it from their weights; a checkpoint written inside
// an EmaWeightsScope without the optimizer loads for inference as the averaged model.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <limits>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "data/toy_task.h"
#include "engine/checkpoint.h"
#include "engine/ema_weights.h"
#include "engine/safetensors.h"
#include "engine/train_step.h"
#include "models/inference_model.h"
#include "models/resnet.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

namespace fs = std::filesystem;

// A fresh folder per test, removed afterwards.
class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("aslnet_ckpt_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

// A safetensors file with the given header text (padding and length added here) and data bytes.
std::string safetensors_bytes(std::string header, const std::string& data) {
  header.append((8 - header.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = char(uint8_t(uint64_t(header.size()) >> (8 * i)));
  return out + header + data;
}

// The message of the Error that `fn` throws ("" and a test failure when it throws none).
template <class Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.find('\n'), std::string::npos) << "not one line: " << what;
    return what;
  }
  ADD_FAILURE() << "no aslnet::Error thrown";
  return "";
}

std::unique_ptr<Model> fresh_model(const ModelInfo& config, uint64_t seed, DType dtype = DType::F32) {
  auto model = make_resnet(config, dtype);
  Rng rng(seed);
  init_torchvision(*model, rng);
  return model;
}

// A model after a few SGD steps on the toy task: running statistics, counters and momentum are all
// non-trivial (and with `ema`, the moving average of the weights with that decay).
struct Trained {
  std::unique_ptr<Model> model;
  std::unique_ptr<Optimizer> optimizer;
};
Trained trained_model(const ModelInfo& config, int steps, DType dtype = DType::F32, double ema = 0.0) {
  Context ctx(Device::cpu(), 7);
  Trained t{fresh_model(config, 7, dtype), nullptr};
  t.optimizer =
      std::make_unique<Optimizer>(*t.model, OptimizerConfig{.kind = "sgd", .momentum = 0.9, .weight_decay = 1e-4});
  if (ema > 0.0) t.optimizer->enable_ema(ctx, ema);
  const int64_t batch = 4, size = 16;
  const ToyTask task = make_toy_task(batch * steps, config.num_classes, size, 11, dtype);
  t.model->setup(ctx, batch, size, size);
  CrossEntropyLoss loss;
  for (int s = 0; s < steps; ++s) {
    const ToyTask b = toy_batch(task, s * batch, batch);
    train_step(ctx, *t.model, loss, *t.optimizer, b.images, b.labels, 0.05);
  }
  return t;
}

CheckpointMeta sample_meta() {
  CheckpointMeta meta;
  meta.classes = {"A", "B", "del", "nothing", "space"};
  meta.input_height = 64;
  meta.input_width = 48;
  meta.mean = {0.1 + 0.2, 1.0 / 3.0, 0.485};  // values whose shortest decimal form is long
  meta.std = {0.229, 0.224, 1e-300};
  meta.epoch = 3;
  meta.step = 1234567890123;
  meta.extra = {{"run", "toy \"quoted\" run"}, {"lr", "0.05"}};
  return meta;
}

const ModelInfo kSmall18{"resnet18", "small", 0.25, 29, 3};

// A resnet18 trained one step, with its optimizer, and a valid input normalisation: the file the
// damage tests start from.
void save_trained_with_normalisation(const std::string& file) {
  Trained a = trained_model(kSmall18, 1);
  CheckpointMeta meta;
  meta.mean = {0.5, 0.5, 0.5};
  meta.std = {0.25, 0.25, 0.25};
  save_checkpoint(file, *a.model, meta, a.optimizer.get());
}

TEST_F(CheckpointTest, RoundTripIsBitExact) {
  Trained a = trained_model(kSmall18, 2);
  int64_t nonzero_counters = 0;
  for (const Counter* c : a.model->counters()) nonzero_counters += c->value != 0;
  ASSERT_GT(nonzero_counters, 0);
  const CheckpointMeta meta = sample_meta();
  const std::string file = path("model.safetensors");
  save_checkpoint(file, *a.model, meta, a.optimizer.get());

  auto b = fresh_model(kSmall18, 99);
  Optimizer opt_b(*b, {.kind = "sgd", .momentum = 0.9, .weight_decay = 1e-4});
  ASSERT_FALSE(test::same_bytes(a.model->parameter_arena(), b->parameter_arena()));
  const CheckpointMeta loaded = load_checkpoint(file, *b, &opt_b);

  EXPECT_TRUE(test::same_bytes(a.model->parameter_arena(), b->parameter_arena()));
  EXPECT_TRUE(test::same_bytes(a.model->state_arena(), b->state_arena()));
  ASSERT_EQ(a.model->counters().size(), b->counters().size());
  for (size_t i = 0; i < a.model->counters().size(); ++i)
    EXPECT_EQ(a.model->counters()[i]->value, b->counters()[i]->value) << a.model->counters()[i]->name;
  const auto sa = a.optimizer->state_tensors(), sb = opt_b.state_tensors();
  ASSERT_EQ(sa.size(), 1u);
  ASSERT_EQ(sb.size(), 1u);
  EXPECT_TRUE(test::same_bytes(sa[0].second, sb[0].second));
  EXPECT_EQ(opt_b.step_count(), 2);

  EXPECT_EQ(loaded.model.arch, "resnet18");
  EXPECT_EQ(loaded.model.stem, "small");
  EXPECT_EQ(loaded.model.width, 0.25);
  EXPECT_EQ(loaded.model.num_classes, 29);
  EXPECT_EQ(loaded.model.in_channels, 3);
  EXPECT_EQ(loaded.classes, meta.classes);
  EXPECT_EQ(loaded.input_height, 64);
  EXPECT_EQ(loaded.input_width, 48);
  EXPECT_EQ(loaded.mean, meta.mean);  // exact: doubles round-trip through the text
  EXPECT_EQ(loaded.std, meta.std);
  EXPECT_EQ(loaded.epoch, 3);
  EXPECT_EQ(loaded.step, meta.step);
  EXPECT_EQ(loaded.extra, meta.extra);

  // The header alone says the same, without reading the data.
  const CheckpointMeta header = read_checkpoint_meta(file);
  EXPECT_EQ(header.model.arch, "resnet18");
  EXPECT_EQ(header.mean, meta.mean);
  EXPECT_EQ(header.extra, meta.extra);

  // The loaded model trains on exactly as the original would: one more step on each gives the same
  // weights (the momentum buffer and the step count came across).
  Context ctx(Device::cpu(), 7);
  const ToyTask task = make_toy_task(4, 29, 16, 12);
  CrossEntropyLoss loss;
  a.model->setup(ctx, 4, 16, 16);
  b->setup(ctx, 4, 16, 16);
  train_step(ctx, *a.model, loss, *a.optimizer, task.images, task.labels, 0.05);
  train_step(ctx, *b, loss, opt_b, task.images, task.labels, 0.05);
  EXPECT_TRUE(test::same_bytes(a.model->parameter_arena(), b->parameter_arena()));
}

TEST_F(CheckpointTest, FileUsesTorchLayoutsAndDtypes) {
  auto model = fresh_model(kSmall18, 5);
  model->counters()[0]->value = 42;
  const std::string file = path("layout.safetensors");
  save_checkpoint(file, *model, {});

  const auto st = safetensors::File::read(file);
  // The header length is a multiple of 8, so the data section starts aligned.
  const std::string raw = read_bytes(file);
  uint64_t header_bytes = 0;
  for (int i = 0; i < 8; ++i) header_bytes |= uint64_t(uint8_t(raw[i])) << (8 * i);
  EXPECT_EQ(header_bytes % 8, 0u);
  // Tensors are packed without holes, as the safetensors package requires.
  size_t end = 0;
  for (const auto& t : st.tensors()) {
    EXPECT_EQ(t.begin, end) << t.name;
    end = t.end;
  }
  EXPECT_EQ(8 + header_bytes + end, raw.size());

  // Filters: engine KRSC [out, kh, kw, in], file OIHW [out, in, kh, kw].
  const Parameter* p = model->find_parameter("layer1.0.conv1.weight");
  ASSERT_NE(p, nullptr);
  const int64_t K = p->shape[0], R = p->shape[1], S = p->shape[2], C = p->shape[3];
  const auto* t = st.find("layer1.0.conv1.weight");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->dtype, "F32");
  EXPECT_EQ(t->shape, (std::vector<int64_t>{K, C, R, S}));
  ASSERT_EQ(R, 3);
  ASSERT_GT(C, 2);
  for (const auto& [k, r, s, c] : {std::array<int64_t, 4>{1, 0, 2, 2}, std::array<int64_t, 4>{K - 1, 2, 1, C - 1}}) {
    float in_file;
    std::memcpy(&in_file, t->data + 4 * (((k * C + c) * R + r) * S + s), 4);
    EXPECT_EQ(in_file, p->value.data<float>()[((k * R + r) * S + s) * C + c]) << k << r << s << c;
  }
  // Other parameters keep their layout: fc.weight is [out, in] in both.
  const auto* fc = st.find("fc.weight");
  ASSERT_NE(fc, nullptr);
  EXPECT_EQ(fc->shape, (std::vector<int64_t>{29, model->find_parameter("fc.weight")->shape[1]}));
  // Counters: int64 scalars, as torch stores num_batches_tracked.
  const auto* counter = st.find(model->counters()[0]->name);
  ASSERT_NE(counter, nullptr);
  EXPECT_EQ(counter->dtype, "I64");
  EXPECT_TRUE(counter->shape.empty());
  int64_t v;
  std::memcpy(&v, counter->data, 8);
  EXPECT_EQ(v, 42);
  EXPECT_NE(st.find("bn1.running_mean"), nullptr);
  EXPECT_EQ(st.metadata().at("format"), "aslnet-checkpoint-1");
  EXPECT_EQ(st.metadata().at("width"), "0.25");
  EXPECT_EQ(st.metadata().count("optimizer"), 0u);  // none given
}

TEST_F(CheckpointTest, ResNet50RoundTrip) {
  const ModelInfo config{"resnet50", "small", 0.25, 29, 3};
  auto a = fresh_model(config, 1);
  const std::string file = path("r50.safetensors");
  save_checkpoint(file, *a, sample_meta());
  auto b = fresh_model(config, 2);
  load_checkpoint(file, *b);
  EXPECT_TRUE(test::same_bytes(a->parameter_arena(), b->parameter_arena()));
  EXPECT_TRUE(test::same_bytes(a->state_arena(), b->state_arena()));
}

TEST_F(CheckpointTest, DoubleModelsRoundTripAndF64FilesLoadIntoF32Models) {
  auto a = fresh_model(kSmall18, 3, DType::F64);
  const std::string file = path("f64.safetensors");
  save_checkpoint(file, *a, {});
  EXPECT_EQ(safetensors::File::read_header(file).find("fc.weight")->dtype, "F64");
  auto b = fresh_model(kSmall18, 4, DType::F64);
  load_checkpoint(file, *b);
  EXPECT_TRUE(test::same_bytes(a->parameter_arena(), b->parameter_arena()));

  auto c = fresh_model(kSmall18, 4, DType::F32);
  load_checkpoint(file, *c);
  const Parameter* pa = a->find_parameter("layer2.0.conv1.weight");
  const Parameter* pc = c->find_parameter("layer2.0.conv1.weight");
  for (int64_t i = 0; i < pa->value.numel(); ++i)
    ASSERT_EQ(pc->value.data<float>()[i], float(pa->value.data<double>()[i])) << i;
}

TEST_F(CheckpointTest, TruncatedFilesAreErrorsNamingThePath) {
  auto model = fresh_model(kSmall18, 1);
  const std::string good = path("good.safetensors");
  save_checkpoint(good, *model, sample_meta());
  const std::string raw = read_bytes(good);
  uint64_t header_bytes = 0;
  for (int i = 0; i < 8; ++i) header_bytes |= uint64_t(uint8_t(raw[i])) << (8 * i);

  auto target = fresh_model(kSmall18, 2);
  const Tensor before = target->parameter_arena().clone();
  const std::string cut = path("cut.safetensors");
  for (size_t length : {size_t(0), size_t(5), size_t(8), size_t(8 + header_bytes / 2), size_t(8 + header_bytes),
                        size_t(8 + header_bytes + 100), raw.size() / 2, raw.size() - 1}) {
    write_bytes(cut, raw.substr(0, length));
    const std::string message = error_of([&] { load_checkpoint(cut, *target); });
    EXPECT_NE(message.find(cut), std::string::npos) << "cut at " << length << ": " << message;
    const std::string header_message = error_of([&] { read_checkpoint_meta(cut); });
    EXPECT_NE(header_message.find(cut), std::string::npos) << "cut at " << length << ": " << header_message;
  }
  EXPECT_TRUE(test::same_bytes(before, target->parameter_arena()));
}

TEST_F(CheckpointTest, CorruptHeadersAreClearErrors) {
  auto model = fresh_model(kSmall18, 1);
  const std::string file = path("bad.safetensors");
  struct Case {
    std::string bytes, expect;  // `expect`: a piece of the message
  };
  const std::string f32x2(8, '\0');
  const std::vector<Case> cases = {
      {std::string("\x10\0\0\0\0\0\0\0", 8) + "\x01\xff garbage bytes", "corrupt header"},
      {safetensors_bytes("{\"a\": {\"dtype\": ", ""), "corrupt header"},
      {safetensors_bytes("[1, 2]", ""), "instead of an object"},
      {std::string("\xff\xff\xff\xff\xff\xff\xff\x7f", 8) + "{}", "header length"},
      {safetensors_bytes(R"({"w": {"shape": [2], "data_offsets": [0, 8]}})", f32x2), "'w' has no dtype"},
      {safetensors_bytes(R"({"w": {"dtype": "F32", "data_offsets": [0, 8]}})", f32x2), "'w' has no shape"},
      {safetensors_bytes(R"({"w": {"dtype": "F32", "shape": [2]}})", f32x2), "'w' has no data_offsets"},
      {safetensors_bytes(R"({"w": {"dtype": "F16", "shape": [4], "data_offsets": [0, 8]}})", f32x2),
       "unsupported dtype 'F16'"},
      {safetensors_bytes(R"({"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})", f32x2), "shape entry"},
      {safetensors_bytes(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4000]}})", f32x2),
       "outside the 8 bytes of data"},
      {safetensors_bytes(R"({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", f32x2), "hold 8 bytes"},
      {safetensors_bytes(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}})", f32x2), "outside"},
      {safetensors_bytes(R"({"__metadata__": {"format": 1}})", ""), "not a string"},
      {safetensors_bytes(R"({"__metadata__": {"a": "b"}})", ""), "not an aslnet checkpoint"},
      {safetensors_bytes(R"({"__metadata__": {"format": "aslnet-checkpoint-9"}})", ""), "aslnet-checkpoint-9"},
  };
  for (const Case& c : cases) {
    write_bytes(file, c.bytes);
    const std::string message = error_of([&] { load_checkpoint(file, *model); });
    EXPECT_NE(message.find(file), std::string::npos) << message;
    EXPECT_NE(message.find(c.expect), std::string::npos) << "expected '" << c.expect << "' in: " << message;
  }
  EXPECT_NE(error_of([&] { load_checkpoint(path("missing.safetensors"), *model); }).find("missing.safetensors"),
            std::string::npos);
}

TEST_F(CheckpointTest, AnotherArchitectureIsAnErrorNamingBoth) {
  auto r50 = fresh_model({"resnet50", "small", 0.25, 29, 3}, 1);
  const std::string file = path("r50.safetensors");
  save_checkpoint(file, *r50, {});
  auto r18 = fresh_model(kSmall18, 2);
  const Tensor before = r18->parameter_arena().clone();
  const std::string message = error_of([&] { load_checkpoint(file, *r18); });
  EXPECT_NE(message.find("resnet50"), std::string::npos) << message;
  EXPECT_NE(message.find("resnet18"), std::string::npos) << message;
  EXPECT_NE(message.find(file), std::string::npos) << message;
  EXPECT_TRUE(test::same_bytes(before, r18->parameter_arena()));

  // Same architecture, other width or class count: the metadata already says so.
  const std::string r18_file = path("r18.safetensors");
  save_checkpoint(r18_file, *r18, {});
  auto wide = fresh_model({"resnet18", "small", 0.5, 29, 3}, 3);
  const std::string width = error_of([&] { load_checkpoint(r18_file, *wide); });
  EXPECT_NE(width.find("width 0.25"), std::string::npos) << width;
  EXPECT_NE(width.find("width 0.5"), std::string::npos) << width;
  auto ten = fresh_model({"resnet18", "small", 0.25, 10, 3}, 3);
  const std::string classes = error_of([&] { load_checkpoint(r18_file, *ten); });
  EXPECT_NE(classes.find("29 classes"), std::string::npos) << classes;
  EXPECT_NE(classes.find("10 classes"), std::string::npos) << classes;
}

// Rewrites a checkpoint through the safetensors API: `edit` may change the metadata and the tensors.
void rewrite(const std::string& from, const std::string& to,
             const std::function<void(std::map<std::string, std::string>&, safetensors::Writer&,
                                      const safetensors::File&)>& edit,
             const std::set<std::string>& drop = {}) {
  const auto file = safetensors::File::read(from);
  safetensors::Writer writer;
  std::map<std::string, std::string> metadata = file.metadata();
  for (const auto& t : file.tensors())
    if (!drop.count(t.name)) writer.add(t.name, t.dtype, t.shape, t.data, t.bytes());
  edit(metadata, writer, file);
  // The tensors as edited, with checksums to match (when the file had some), so that the checks after
  // the checksum's are the ones a test meets.
  if (metadata.count("tensor_crc32")) {
    nlohmann::json checksums = nlohmann::json::object();
    for (const auto& [name, crc] : writer.crc32s()) {
      char hex[9];
      std::snprintf(hex, sizeof hex, "%08x", crc);
      checksums[name] = hex;
    }
    metadata["tensor_crc32"] = checksums.dump();
  }
  for (const auto& [k, v] : metadata) writer.set_metadata(k, v);
  writer.write(to);
}

// Metadata values the engine cannot build, or that would ask for absurd memory (a damaged or hostile
// header: a width of 1000, a billion classes, a 10^9-pixel input), are refused naming the file and the
// key, before any model is built from them.
TEST_F(CheckpointTest, MetadataOutOfRangeIsRefusedNamingTheKey) {
  const std::string file = path("good.safetensors");
  save_trained_with_normalisation(file);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"width", "1000"},          {"width", "nan"},           {"width", "-1"},
      {"num_classes", "0"},       {"num_classes", "1000000000"}, {"in_channels", "100000"},
      {"input_height", "1000000000"}, {"input_width", "-3"},  {"mean", "[0.5, 0.5, 0.5, 0.5]"},
      {"std", "[0.25, 0.25]"},    {"epoch", "-1"},            {"classes", "[\"A\", \"B\", 3]"},
      {"optimizer_steps", "x"},
  };
  for (const auto& [key, value] : cases) {
    const std::string bad = path("bad_" + key + ".safetensors");
    rewrite(file, bad, [&](std::map<std::string, std::string>& md, auto&, const auto&) { md[key] = value; });
    const std::string message = error_of([&] { (void)read_checkpoint_meta(bad); });
    EXPECT_NE(message.find(bad), std::string::npos) << key << "=" << value << ": " << message;
    EXPECT_NE(message.find("'" + key + "'"), std::string::npos) << key << "=" << value << ": " << message;
  }
}

TEST_F(CheckpointTest, ShapeMismatchNamesTheTensorAndBothShapesAndLeavesTheModelAlone) {
  auto narrow = fresh_model(kSmall18, 1);
  const std::string file = path("narrow.safetensors");
  save_checkpoint(file, *narrow, {});
  // Claim width 0.5 in the metadata, so only the tensors themselves can tell.
  const std::string lying = path("lying.safetensors");
  rewrite(file, lying, [](auto& md, auto&, const auto&) { md["width"] = "0.5"; });

  auto wide = fresh_model({"resnet18", "small", 0.5, 29, 3}, 2);
  const Tensor before = wide->parameter_arena().clone();
  const Tensor state_before = wide->state_arena().clone();
  const std::string message = error_of([&] { load_checkpoint(lying, *wide); });
  // conv1 comes first: 3x3 filters from 3 channels, 16 of them in the file, 32 expected.
  const int64_t n16 = narrow->find_parameter("conv1.weight")->shape[0];
  const int64_t n32 = wide->find_parameter("conv1.weight")->shape[0];
  EXPECT_NE(message.find(lying), std::string::npos) << message;
  EXPECT_NE(message.find("tensor conv1.weight has shape [" + std::to_string(n16) + ", 3, 3, 3], expected [" +
                         std::to_string(n32) + ", 3, 3, 3]"),
            std::string::npos)
      << message;
  EXPECT_TRUE(test::same_bytes(before, wide->parameter_arena()));
  EXPECT_TRUE(test::same_bytes(state_before, wide->state_arena()));
}

TEST_F(CheckpointTest, MissingExtraAndMistypedTensorsAreErrorsAndLeaveTheModelAlone) {
  Trained a = trained_model(kSmall18, 1);
  const std::string file = path("full.safetensors");
  save_checkpoint(file, *a.model, {}, a.optimizer.get());
  auto target = fresh_model(kSmall18, 2);
  Optimizer opt(*target, {.kind = "sgd", .momentum = 0.9});
  const Tensor before = target->parameter_arena().clone();
  const Tensor state_before = target->state_arena().clone();
  const Tensor momentum_before = opt.state_tensors()[0].second.clone();
  const std::string name = target->state().back()->name;  // the last tensor checked: everything else passed
  const auto expect_error = [&](const std::string& f, const std::string& piece, Optimizer* o = nullptr) {
    const std::string message = error_of([&] { load_checkpoint(f, *target, o); });
    EXPECT_NE(message.find(f), std::string::npos) << message;
    EXPECT_NE(message.find(piece), std::string::npos) << "expected '" << piece << "' in: " << message;
    EXPECT_TRUE(test::same_bytes(before, target->parameter_arena()));
    EXPECT_TRUE(test::same_bytes(state_before, target->state_arena()));
    EXPECT_TRUE(test::same_bytes(momentum_before, opt.state_tensors()[0].second));
    for (const Counter* c : target->counters()) EXPECT_EQ(c->value, 0) << c->name;
    EXPECT_EQ(opt.step_count(), 0);
  };

  const std::string missing = path("missing.safetensors");
  rewrite(file, missing, [](auto&, auto&, const auto&) {}, {name});
  expect_error(missing, "has no tensor " + name);

  const std::string extra = path("extra.safetensors");
  rewrite(file, extra,
          [](auto&, auto& w, const auto&) { w.add_owned("head.weight", "F32", {2}, std::vector<uint8_t>(8)); });
  expect_error(extra, "head.weight");

  const std::string counter = path("counter.safetensors");
  const std::string counter_name = target->counters().back()->name;
  rewrite(file, counter,
          [&](auto&, auto& w, const auto&) { w.add_owned(counter_name, "I32", {}, std::vector<uint8_t>(4)); },
          {counter_name});
  expect_error(counter, counter_name);

  // Optimizer state of another kind, or of another size, is refused before anything is copied.
  Optimizer adamw(*target, {.kind = "adamw"});
  expect_error(file, "sgd", &adamw);
  const std::string short_momentum = path("short.safetensors");
  rewrite(file, short_momentum,
          [](auto&, auto& w, const auto&) {
            w.add_owned("optimizer.momentum_buffer", "F32", {2}, std::vector<uint8_t>(8));
          },
          {"optimizer.momentum_buffer"});
  expect_error(short_momentum, "optimizer.momentum_buffer has shape [2]", &opt);

  // Without an optimizer, its state in the file is ignored.
  load_checkpoint(file, *target);
  EXPECT_TRUE(test::same_bytes(a.model->parameter_arena(), target->parameter_arena()));
  EXPECT_EQ(opt.step_count(), 0);
}

// Values no model should compute with are refused on load, naming the tensor, before anything is
// copied: a NaN weight (which made every prediction NaN and passed --min-confidence), a NaN in the
// optimizer's state on --resume, an infinite statistic, and a zero std in the metadata (flat inputs).
TEST_F(CheckpointTest, NonFiniteValuesAndAZeroStdAreRefusedNamingTheTensor) {
  const std::string file = path("good.safetensors");
  save_trained_with_normalisation(file);
  auto target = fresh_model(kSmall18, 2);
  Optimizer opt(*target, {.kind = "sgd", .momentum = 0.9});
  const Tensor before = target->parameter_arena().clone();
  // `name` replaced by f32 values, the one at `at` made `bad`.
  const auto poisoned = [&](const std::string& out, const std::string& name, float bad) {
    rewrite(file, out, [&](auto&, auto& w, const safetensors::File& f) {
      const safetensors::TensorInfo& t = *f.find(name);
      ASSERT_EQ(t.dtype, "F32");
      std::vector<uint8_t> bytes(t.data, t.data + t.bytes());
      std::memcpy(bytes.data() + 4 * (bytes.size() / 8), &bad, 4);
      w.add_owned(name, "F32", t.shape, std::move(bytes));
    }, {name});
  };
  const std::string nan_bias = path("nan_bias.safetensors");
  poisoned(nan_bias, "fc.bias", std::nanf(""));
  std::string message = error_of([&] { load_checkpoint(nan_bias, *target, &opt); });
  EXPECT_NE(message.find("tensor fc.bias holds nan"), std::string::npos) << message;
  EXPECT_NE(message.find(nan_bias), std::string::npos) << message;
  const std::string inf_var = path("inf_var.safetensors");
  const std::string var_name = target->state().back()->name;
  poisoned(inf_var, var_name, std::numeric_limits<float>::infinity());
  message = error_of([&] { load_weights(inf_var, *target, /*reset_head=*/false); });
  EXPECT_NE(message.find("tensor " + var_name + " holds inf"), std::string::npos) << message;
  const std::string nan_momentum = path("nan_momentum.safetensors");
  poisoned(nan_momentum, "optimizer.momentum_buffer", std::nanf(""));
  message = error_of([&] { load_checkpoint(nan_momentum, *target, &opt); });
  EXPECT_NE(message.find("tensor optimizer.momentum_buffer holds nan"), std::string::npos) << message;
  load_checkpoint(nan_momentum, *target);  // without the optimizer its state is not read
  const std::string zero_std = path("zero_std.safetensors");
  rewrite(file, zero_std, [](auto& md, auto&, const auto&) { md["std"] = "[0.25,0,0.25]"; });
  message = error_of([&] { read_checkpoint_meta(zero_std); });
  EXPECT_NE(message.find("metadata 'std' holds 0"), std::string::npos) << message;
  auto untouched = fresh_model(kSmall18, 2);
  Optimizer untouched_opt(*untouched, {.kind = "sgd", .momentum = 0.9});
  EXPECT_ANY_THROW(load_checkpoint(nan_bias, *untouched, &untouched_opt));
  EXPECT_TRUE(test::same_bytes(untouched->parameter_arena(), fresh_model(kSmall18, 2)->parameter_arena()));
  EXPECT_EQ(untouched_opt.step_count(), 0);
}

// safetensors has no checksum: aslnet records every tensor's CRC-32, so a flipped byte is an error
// naming the tensor (the model left alone); a file without checksums still loads, with a note.
TEST_F(CheckpointTest, AFlippedByteIsFoundByTheChecksumsAndOldFilesLoadWithANote) {
  Trained a = trained_model(kSmall18, 1);
  const std::string file = path("sums.safetensors");
  save_checkpoint(file, *a.model, {});
  const auto parsed = safetensors::File::read(file);
  const safetensors::TensorInfo& bias = *parsed.find("fc.bias");
  const std::string flipped = path("flipped.safetensors");
  std::filesystem::copy_file(file, flipped);
  // The byte's offset in the file: the 8-byte length, the header, the tensor's offset in the data.
  std::FILE* f = std::fopen(flipped.c_str(), "r+b");
  ASSERT_NE(f, nullptr);
  uint64_t header = 0;
  ASSERT_EQ(std::fread(&header, 8, 1, f), 1u);
  const long offset = long(8 + header + bias.begin) + 1;
  ASSERT_EQ(std::fseek(f, offset, SEEK_SET), 0);
  const int c = std::fgetc(f);
  ASSERT_EQ(std::fseek(f, offset, SEEK_SET), 0);
  std::fputc(c ^ 0x10, f);
  std::fclose(f);
  auto target = fresh_model(kSmall18, 2);
  const Tensor before = target->parameter_arena().clone();
  const std::string message = error_of([&] { load_checkpoint(flipped, *target); });
  EXPECT_NE(message.find("tensor fc.bias does not match its checksum"), std::string::npos) << message;
  EXPECT_TRUE(test::same_bytes(before, target->parameter_arena()));

  const std::string old = path("old.safetensors");
  rewrite(file, old, [](auto& md, auto&, const auto&) { md.erase("tensor_crc32"); });
  const CheckpointMeta meta = load_checkpoint(old, *target);
  ASSERT_EQ(meta.load_notes.size(), 1u);
  EXPECT_NE(meta.load_notes[0].find("carries no checksums"), std::string::npos) << meta.load_notes[0];
  EXPECT_TRUE(test::same_bytes(a.model->parameter_arena(), target->parameter_arena()));
}

// A FIFO would block the open until a writer came, a device would never end: refused before opening.
TEST_F(CheckpointTest, FifosAndDevicesAreRefusedBeforeOpening) {
  const std::string fifo = path("fifo.safetensors");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  for (const std::string& f : {fifo, std::string("/dev/zero")}) {
    const std::string message = error_of([&] { read_checkpoint_meta(f); });
    EXPECT_NE(message.find(f + ": it is a "), std::string::npos) << message;
  }
}

TEST_F(CheckpointTest, EmaTravelsUnderOptimizerEmaKeysAndRoundTrips) {
  Trained a = trained_model(kSmall18, 3, DType::F32, /*ema=*/0.5);
  ASSERT_FALSE(test::same_bytes(a.model->parameter_arena(), a.optimizer->ema_parameters()));
  const std::string file = path("ema.safetensors");
  save_checkpoint(file, *a.model, sample_meta(), a.optimizer.get());

  // The same names, shapes and layouts as the model's tensors (OIHW filters), after the prefix; the
  // counters are the model's own and have no average.
  const auto st = safetensors::File::read(file);
  for (const Parameter* p : a.model->parameters()) {
    const auto* weights = st.find(p->name);
    const auto* average = st.find("optimizer.ema." + p->name);
    ASSERT_NE(average, nullptr) << p->name;
    EXPECT_EQ(average->shape, weights->shape) << p->name;
    EXPECT_EQ(average->dtype, "F32");
  }
  for (const StateTensor* s : a.model->state()) EXPECT_NE(st.find("optimizer.ema." + s->name), nullptr) << s->name;
  for (const Counter* c : a.model->counters()) EXPECT_EQ(st.find("optimizer.ema." + c->name), nullptr) << c->name;
  EXPECT_EQ(st.metadata().at("ema_decay"), "0.5");
  // The filters' average is permuted like the filters: element (k, c, r, s) of the file's OIHW.
  const Parameter* conv = a.model->find_parameter("layer1.0.conv1.weight");
  const auto* conv_average = st.find("optimizer.ema.layer1.0.conv1.weight");
  const int64_t K = conv->shape[0], R = conv->shape[1], S = conv->shape[2], C = conv->shape[3];
  const int64_t conv_at = conv->value.data<float>() - a.model->parameter_arena().data<float>();
  const int64_t k = K - 1, r = 2, s = 1, c = C - 1;
  float in_file;
  std::memcpy(&in_file, conv_average->data + 4 * (((k * C + c) * R + r) * S + s), 4);
  EXPECT_EQ(in_file, a.optimizer->ema_parameters().data<float>()[conv_at + ((k * R + r) * S + s) * C + c]);

  // Back bit for bit into an optimizer that keeps an average.
  Context ctx;
  auto b = fresh_model(kSmall18, 99);
  Optimizer opt_b(*b, {.kind = "sgd", .momentum = 0.9, .weight_decay = 1e-4});
  opt_b.enable_ema(ctx, 0.5);
  const CheckpointMeta loaded = load_checkpoint(file, *b, &opt_b);
  EXPECT_TRUE(loaded.load_notes.empty());
  EXPECT_TRUE(test::same_bytes(a.model->parameter_arena(), b->parameter_arena()));
  EXPECT_TRUE(test::same_bytes(a.optimizer->ema_parameters(), opt_b.ema_parameters()));
  EXPECT_TRUE(test::same_bytes(a.optimizer->ema_state(), opt_b.ema_state()));

  // An optimizer without an average loads the rest and says what it skipped; without an optimizer the
  // average is ignored like the rest of the optimizer state.
  auto c_model = fresh_model(kSmall18, 98);
  Optimizer opt_c(*c_model, {.kind = "sgd", .momentum = 0.9, .weight_decay = 1e-4});
  const CheckpointMeta without = load_checkpoint(file, *c_model, &opt_c);
  ASSERT_EQ(without.load_notes.size(), 1u);
  EXPECT_NE(without.load_notes[0].find("EMA"), std::string::npos) << without.load_notes[0];
  EXPECT_EQ(opt_c.step_count(), 3);
  EXPECT_FALSE(opt_c.has_ema());
  EXPECT_TRUE(load_checkpoint(file, *c_model).load_notes.empty());
  EXPECT_TRUE(test::same_bytes(a.model->parameter_arena(), c_model->parameter_arena()));

  // A missing or an unknown average tensor is an error that leaves model and average alone.
  auto d = fresh_model(kSmall18, 97);
  Optimizer opt_d(*d, {.kind = "sgd", .momentum = 0.9, .weight_decay = 1e-4});
  opt_d.enable_ema(ctx, 0.5);
  const Tensor before = d->parameter_arena().clone(), ema_before = opt_d.ema_parameters().clone();
  const std::string missing = path("missing_ema.safetensors");
  rewrite(file, missing, [](auto&, auto&, const auto&) {}, {"optimizer.ema.fc.bias"});
  const std::string message = error_of([&] { load_checkpoint(missing, *d, &opt_d); });
  EXPECT_NE(message.find("has no tensor optimizer.ema.fc.bias"), std::string::npos) << message;
  const std::string extra = path("extra_ema.safetensors");
  rewrite(file, extra, [](auto&, auto& w, const auto&) {
    w.add_owned("optimizer.ema.head.weight", "F32", {2}, std::vector<uint8_t>(8));
  });
  const std::string extra_message = error_of([&] { load_checkpoint(extra, *d, &opt_d); });
  EXPECT_NE(extra_message.find("optimizer.ema.head.weight"), std::string::npos) << extra_message;
  EXPECT_TRUE(test::same_bytes(before, d->parameter_arena()));
  EXPECT_TRUE(test::same_bytes(ema_before, opt_d.ema_parameters()));
}

TEST_F(CheckpointTest, CheckpointsWithoutEmaRestartTheAverageFromTheirWeights) {
  Trained a = trained_model(kSmall18, 2);  // no --ema: an older checkpoint
  const std::string training = path("old.safetensors"), inference = path("weights.safetensors");
  save_checkpoint(training, *a.model, {}, a.optimizer.get());
  save_checkpoint(inference, *a.model, {});
  for (const std::string& file : {training, inference}) {
    SCOPED_TRACE(file);
    Context ctx;
    auto b = fresh_model(kSmall18, 99);
    Optimizer opt(*b, {.kind = "sgd", .momentum = 0.9, .weight_decay = 1e-4});
    opt.enable_ema(ctx, 0.9);
    const CheckpointMeta loaded = load_checkpoint(file, *b, &opt);
    ASSERT_EQ(loaded.load_notes.size(), 1u);
    EXPECT_NE(loaded.load_notes[0].find("restarts from its weights"), std::string::npos) << loaded.load_notes[0];
    EXPECT_NE(loaded.load_notes[0].find(file), std::string::npos) << loaded.load_notes[0];
    EXPECT_TRUE(test::same_bytes(opt.ema_parameters(), a.model->parameter_arena()));
    EXPECT_TRUE(test::same_bytes(opt.ema_state(), a.model->state_arena()));
  }
}

TEST_F(CheckpointTest, CheckpointInsideTheEmaScopeLoadsForInferenceAsTheAverage) {
  Trained a = trained_model(kSmall18, 3, DType::F32, /*ema=*/0.5);  // 29 classes: the ASL alphabet's names
  CheckpointMeta meta;
  meta.input_height = meta.input_width = 16;
  meta.mean = {0.5, 0.5, 0.5};
  meta.std = {0.25, 0.25, 0.25};
  const std::string file = path("ema_inference.safetensors");
  Context ctx;
  {
    EmaWeightsScope scope(ctx, *a.model, *a.optimizer);
    save_checkpoint(file, *a.model, meta);
  }
  const auto st = safetensors::File::read(file);
  for (const auto& t : st.tensors()) EXPECT_FALSE(t.name.starts_with("optimizer.")) << t.name;
  const InferenceModel m = load_for_inference(ctx, file, 0, BatchNormFold::Fold);
  EXPECT_TRUE(test::same_bytes(m.model->parameter_arena(), a.optimizer->ema_parameters()));
  EXPECT_TRUE(test::same_bytes(m.model->state_arena(), a.optimizer->ema_state()));
  for (size_t i = 0; i < a.model->counters().size(); ++i)
    EXPECT_EQ(m.model->counters()[i]->value, a.model->counters()[i]->value);
  // ...while the model itself went back to its trained weights.
  EXPECT_FALSE(test::same_bytes(a.model->parameter_arena(), a.optimizer->ema_parameters()));
}

TEST_F(CheckpointTest, ExtraMetadataCannotOverwriteStandardKeys) {
  auto model = fresh_model(kSmall18, 1);
  CheckpointMeta meta;
  meta.extra["arch"] = "resnet50";
  const std::string file = path("x.safetensors");
  EXPECT_NE(error_of([&] { save_checkpoint(file, *model, meta); }).find("'arch'"), std::string::npos);
  EXPECT_FALSE(fs::exists(file));
}

TEST_F(CheckpointTest, WritesAreAtomic) {
  auto model = fresh_model(kSmall18, 1);
  const std::string file = path("ckpt.safetensors");
  save_checkpoint(file, *model, {});
  CheckpointMeta meta;
  meta.epoch = 2;
  save_checkpoint(file, *model, meta);  // over the existing file
  EXPECT_EQ(read_checkpoint_meta(file).epoch, 2);
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir_)) names.push_back(entry.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{"ckpt.safetensors"});

  const std::string nowhere = path("no/such/folder/ckpt.safetensors");
  const std::string message = error_of([&] { save_checkpoint(nowhere, *model, {}); });
  EXPECT_NE(message.find(nowhere), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(path("no")));
}

// A kill -9 during a write leaves "<file>.tmp.<pid>" behind; the next write of the same file removes it
// when that process is gone, and leaves a running process's file (a write in progress) and other
// files' temporaries alone.
TEST_F(CheckpointTest, AWriteRemovesTheTemporariesOfDeadWriters) {
  const pid_t child = ::fork();
  if (child == 0) std::_Exit(0);
  ASSERT_GT(child, 0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);  // reaped: its pid now names no process
  const std::string dead = path("ckpt.safetensors.tmp." + std::to_string(child));
  const std::string running = path("ckpt.safetensors.tmp." + std::to_string(::getppid()));
  const std::string other = path("other.safetensors.tmp." + std::to_string(child));
  for (const std::string& f : {dead, running, other}) write_bytes(f, "half a checkpoint");
  auto model = fresh_model(kSmall18, 1);
  save_checkpoint(path("ckpt.safetensors"), *model, {});
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_TRUE(fs::exists(running));
  EXPECT_TRUE(fs::exists(other));
}

TEST_F(CheckpointTest, SafetensorsWriterAndReaderRoundTripEveryDtype) {
  const std::vector<int64_t> i64 = {-1, 1LL << 40};
  const std::vector<int32_t> i32 = {7, -7, 70000};
  const std::vector<uint8_t> u8 = {1, 2, 3, 4, 5, 6};
  const std::vector<uint16_t> bf = {0x3f80};
  const std::vector<double> f64 = {0.1};
  safetensors::Writer w;
  w.add("u8", "U8", {2, 3}, u8.data(), u8.size());
  w.add("bf16", "BF16", {1}, bf.data(), 2);
  w.add("i32", "I32", {3}, i32.data(), 12);
  w.add("i64", "I64", {2}, i64.data(), 16);
  w.add("f64", "F64", {}, f64.data(), 8);
  w.add("empty", "F32", {0, 5}, nullptr, 0);
  w.set_metadata("note", "caf\xc3\xa9");
  const std::string file = path("all.safetensors");
  w.write(file);

  const auto f = safetensors::File::read(file);
  EXPECT_EQ(f.metadata().at("note"), "caf\xc3\xa9");
  ASSERT_EQ(f.tensors().size(), 6u);
  for (const auto& t : f.tensors()) {
    // Packed largest elements first, each aligned to its element size in the file.
    EXPECT_EQ(t.begin % safetensors::dtype_size(t.dtype), 0u) << t.name;
  }
  EXPECT_EQ(f.find("u8")->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(std::memcmp(f.find("u8")->data, u8.data(), 6), 0);
  EXPECT_EQ(std::memcmp(f.find("i64")->data, i64.data(), 16), 0);
  EXPECT_EQ(std::memcmp(f.find("i32")->data, i32.data(), 12), 0);
  EXPECT_EQ(std::memcmp(f.find("bf16")->data, bf.data(), 2), 0);
  EXPECT_TRUE(f.find("f64")->shape.empty());
  EXPECT_EQ(f.find("empty")->bytes(), 0u);
  EXPECT_EQ(f.find("nope"), nullptr);

  // The writer refuses inconsistent entries, naming the path and the tensor.
  safetensors::Writer bad;
  bad.add("w", "F32", {3}, f64.data(), 8);
  const std::string message = error_of([&] { bad.write(file); });
  EXPECT_NE(message.find(file), std::string::npos) << message;
  EXPECT_NE(message.find("'w'"), std::string::npos) << message;
  EXPECT_TRUE(safetensors::File::read(file).find("u8") != nullptr);  // the old file is intact
}

}  // namespace
}  // namespace aslnet
