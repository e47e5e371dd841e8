#include "tests/test_util.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace aslnet::test {

bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' && std::string(v) != "0";
}

std::string data_dir() {
  if (const char* v = std::getenv("ASLNET_DATA"); v != nullptr && *v != '\0') return v;
  return (std::filesystem::path(ASLNET_SOURCE_DIR) / ".." / "shared" / "data").lexically_normal().string();
}

namespace {
template <class Fn>
void for_pairs(const Tensor& a, const Tensor& b, Fn fn) {
  ASLNET_CHECK(a.numel() == b.numel()) << "comparing " << a.shape().str() << " with " << b.shape().str();
  const Tensor ca = a.device().is_cpu() ? a : a.to(Device::cpu());
  const Tensor cb = b.device().is_cpu() ? b : b.to(Device::cpu());
  auto value = [](const Tensor& t, int64_t i) -> double {
    switch (t.dtype()) {
      case DType::F32: return t.data<float>()[i];
      case DType::F64: return t.data<double>()[i];
      case DType::BF16: return from_bf16(t.data<bf16>()[i]);
      case DType::I32: return t.data<int32_t>()[i];
      case DType::U8: return t.data<uint8_t>()[i];
    }
    return 0.0;
  };
  for (int64_t i = 0; i < a.numel(); ++i) fn(value(ca, i), value(cb, i));
}
}  // namespace

double relative_error(const Tensor& actual, const Tensor& reference) {
  double diff = 0.0, norm = 0.0;
  for_pairs(actual, reference, [&](double x, double y) {
    diff += (x - y) * (x - y);
    norm += y * y;
  });
  return norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  double most = 0.0;
  for_pairs(a, b, [&](double x, double y) { most = std::max(most, std::abs(x - y)); });
  return most;
}

void fill_normal(Tensor& t, Rng& rng, double std) {
  dispatch_real(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = T(rng.normal(0.0, std));
  });
}

}  // namespace aslnet::test
