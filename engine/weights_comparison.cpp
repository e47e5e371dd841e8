#include "engine/weights_comparison.h"

#include <cmath>
#include <cstring>

#include "engine/core/error.h"
#include "engine/safetensors.h"

namespace aslnet {

namespace {

// The model's weights: f32 tensors outside the optimizer's namespace (which also holds the EMA copy).
bool is_weight(const safetensors::TensorInfo& t) { return t.dtype == "F32" && !t.name.starts_with("optimizer."); }

}  // namespace

WeightsComparison compare_weights(const std::string& path_a, const std::string& path_b) {
  const safetensors::File a = safetensors::File::read(path_a), b = safetensors::File::read(path_b);
  WeightsComparison out;
  double difference_squares = 0.0, reference_squares = 0.0;
  for (const safetensors::TensorInfo& ta : a.tensors()) {
    if (!is_weight(ta)) continue;
    const safetensors::TensorInfo* tb = b.find(ta.name);
    ASLNET_CHECK(tb != nullptr) << path_b << " has no tensor " << ta.name << " (" << path_a
                                << " has): not the same network";
    ASLNET_CHECK(tb->dtype == ta.dtype && tb->shape == ta.shape)
        << ta.name << " is " << ta.dtype << " " << safetensors::shape_str(ta.shape) << " in " << path_a << " but "
        << tb->dtype << " " << safetensors::shape_str(tb->shape) << " in " << path_b;
    ++out.tensors;
    out.values += ta.numel;
    if (std::memcmp(ta.data, tb->data, ta.bytes()) != 0) ++out.differing_tensors;
    for (int64_t i = 0; i < ta.numel; ++i) {
      float x, y;  // the data is not aligned: copy each value out
      std::memcpy(&x, ta.data + 4 * i, 4);
      std::memcpy(&y, tb->data + 4 * i, 4);
      const double d = std::abs(double(x) - double(y));
      difference_squares += d * d;
      reference_squares += double(y) * double(y);
      if (d > out.largest_difference || std::isnan(d)) {
        out.largest_difference = std::isnan(d) ? INFINITY : d;
        out.largest_in = ta.name;
      }
    }
  }
  for (const safetensors::TensorInfo& tb : b.tensors())
    ASLNET_CHECK(!is_weight(tb) || a.find(tb.name) != nullptr)
        << path_a << " has no tensor " << tb.name << " (" << path_b << " has): not the same network";
  ASLNET_CHECK(out.tensors > 0) << path_a << " holds no f32 weights to compare";
  out.relative_error = reference_squares > 0.0 ? std::sqrt(difference_squares / reference_squares)
                                               : (difference_squares > 0.0 ? INFINITY : 0.0);
  if (std::isnan(out.relative_error)) out.relative_error = INFINITY;
  return out;
}

}  // namespace aslnet
