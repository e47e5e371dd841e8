#include "tests/test_util.h"

#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>

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
// Element i of a CPU tensor of any type, as a double.
double element(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DType::F32:
      return t.data<float>()[i];
    case DType::F64:
      return t.data<double>()[i];
    case DType::BF16:
      return from_bf16(t.data<bf16>()[i]);
    case DType::I32:
      return t.data<int32_t>()[i];
    case DType::U8:
      return t.data<uint8_t>()[i];
  }
  return 0.0;
}

Tensor on_host(const Tensor& t) { return t.device().is_cpu() ? t : t.to(Device::cpu()); }

template <class Fn>
void for_pairs(const Tensor& a, const Tensor& b, Fn fn) {
  ASLNET_CHECK(a.numel() == b.numel()) << "comparing " << a.shape().str() << " with " << b.shape().str();
  const Tensor ca = on_host(a), cb = on_host(b);
  for (int64_t i = 0; i < a.numel(); ++i) fn(element(ca, i), element(cb, i));
}
}  // namespace

TempDir::TempDir(const std::string& prefix) {
  std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "_XXXXXX")).string();
  if (mkdtemp(pattern.data()) != nullptr) path = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path.empty()) std::filesystem::remove_all(path, ec);
}

double relative_error(const Tensor& actual, const Tensor& reference) {
  double diff = 0.0, norm = 0.0;
  for_pairs(actual, reference, [&](double x, double y) {
    diff += (x - y) * (x - y);
    norm += y * y;
  });
  return norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  const Tensor ha = a.to(Device::cpu()), hb = b.to(Device::cpu());
  return ha.bytes() == hb.bytes() && std::memcmp(ha.raw(), hb.raw(), ha.bytes()) == 0;
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

double max_relative_error(const Tensor& actual, const Tensor& reference) {
  double most_diff = 0.0, most_ref = 0.0;
  for_pairs(actual, reference, [&](double x, double y) {
    // A NaN difference must fail the comparison, and std::max would drop it.
    const double d = std::abs(x - y);
    most_diff = (d > most_diff || std::isnan(d)) ? d : most_diff;
    most_ref = std::max(most_ref, std::abs(y));
  });
  return most_ref > 0 ? most_diff / most_ref : most_diff;
}

Tensor poisoned(const Shape& shape, DType dtype, Device device) {
  Tensor host = Tensor::empty(shape, dtype);
  switch (dtype) {
    case DType::F32:
      std::fill_n(host.data<float>(), host.numel(), std::nanf(""));
      break;
    case DType::F64:
      std::fill_n(host.data<double>(), host.numel(), std::nan(""));
      break;
    case DType::BF16:
      std::fill_n(host.data<bf16>(), host.numel(), bf16{0x7fc0});
      break;
    default:
      std::memset(host.raw(), 0x7f, host.bytes());
      break;
  }
  return device.is_cpu() ? host : host.to(device);
}

Tensor random_f32(const Shape& shape, Rng& rng, double std, bool bf16_exact) {
  Tensor t = Tensor::empty(shape, DType::F32);
  fill_normal(t, rng, std);
  if (bf16_exact) {
    float* p = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = from_bf16(aslnet::to_bf16(p[i]));
  }
  return t;
}

Tensor to_bf16(const Tensor& f32) {
  const Tensor src = on_host(f32);
  Tensor out = Tensor::empty(src.shape(), DType::BF16);
  for (int64_t i = 0; i < src.numel(); ++i) out.data<bf16>()[i] = aslnet::to_bf16(src.data<float>()[i]);
  return out;
}

Tensor to_f32(const Tensor& any_float) {
  const Tensor src = on_host(any_float);
  ASLNET_CHECK(src.dtype() == DType::F32 || src.dtype() == DType::F64 || src.dtype() == DType::BF16)
      << "to_f32: expected a floating-point tensor, got " << dtype_name(src.dtype());
  Tensor out = Tensor::empty(src.shape(), DType::F32);
  for (int64_t i = 0; i < src.numel(); ++i) out.data<float>()[i] = float(element(src, i));
  return out;
}

uint64_t fresh_seed() { return std::random_device{}(); }

Image random_rgb(int width, int height, Rng& rng) {
  Image image;
  image.width = width;
  image.height = height;
  image.pixels.resize(size_t(width) * height * 3);
  for (uint8_t& v : image.pixels) v = uint8_t(rng.below(256));
  return image;
}

}  // namespace aslnet::test
