// compare_weights (aslnet compare): the relative error and the largest difference over the model's f32
// tensors, the optimizer's state left out, and files of different networks refused by name.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "engine/core/error.h"
#include "engine/safetensors.h"
#include "engine/weights_comparison.h"

namespace aslnet {
namespace {

namespace fs = std::filesystem;

struct Tensors {
  std::vector<float> conv = {3.0f, -4.0f}, bias = {0.0f, 0.0f, 0.0f}, momentum = {1.0f, 2.0f};
};

std::string write(const std::string& name, const Tensors& t, const std::string& bias_name = "fc.bias") {
  const std::string path = (fs::temp_directory_path() / ("aslnet-compare-" + name + ".safetensors")).string();
  safetensors::Writer w;
  w.add("conv.weight", "F32", {2}, t.conv.data(), 8);
  w.add(bias_name, "F32", {3}, t.bias.data(), 12);
  w.add("optimizer.momentum.conv.weight", "F32", {2}, t.momentum.data(), 8);
  w.write(path);
  return path;
}

TEST(WeightsComparison, SameBitsGiveZero) {
  const WeightsComparison c = compare_weights(write("a", {}), write("b", {}));
  EXPECT_EQ(c.tensors, 2);  // the optimizer's tensor is not a weight
  EXPECT_EQ(c.values, 5);
  EXPECT_EQ(c.differing_tensors, 0);
  EXPECT_EQ(c.relative_error, 0.0);
  EXPECT_EQ(c.largest_in, "");
}

TEST(WeightsComparison, RelativeErrorIsTheNormOfTheDifferenceOverTheReferencesNorm) {
  Tensors moved;
  moved.bias[1] = 0.5f;           // ||a - b|| = 0.5, ||b|| = 5 (3, -4 and zeros)
  moved.momentum = {9.0f, 9.0f};  // the optimizer's state is not compared
  const WeightsComparison c = compare_weights(write("moved", moved), write("reference", {}));
  EXPECT_NEAR(c.relative_error, 0.1, 1e-12);
  EXPECT_EQ(c.largest_difference, 0.5);
  EXPECT_EQ(c.largest_in, "fc.bias");
  EXPECT_EQ(c.differing_tensors, 1);
}

TEST(WeightsComparison, ANotANumberIsAnInfiniteDifference) {
  Tensors broken;
  broken.conv[0] = NAN;
  const WeightsComparison c = compare_weights(write("nan", broken), write("finite", {}));
  EXPECT_TRUE(std::isinf(c.relative_error));
  EXPECT_EQ(c.largest_in, "conv.weight");
}

TEST(WeightsComparison, DifferentNetworksAreRefusedNamingTheTensor) {
  try {
    compare_weights(write("one", {}), write("other", {}, "head.bias"));
    FAIL() << "two networks compared";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no tensor fc.bias"), std::string::npos) << e.what();
  }
}

TEST(WeightsComparison, AMissingFileIsAnErrorNamingIt) {
  try {
    compare_weights(write("present", {}), "/no/such/checkpoint.safetensors");
    FAIL() << "a missing file compared";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/no/such/checkpoint.safetensors"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace aslnet
