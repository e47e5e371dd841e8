// Element types of tensors. f32 is the training type; bf16 the compute type of mixed precision on the
// GPU; u8 holds raw image batches; i32 labels and pooling indices; f64 exists so that every CPU kernel
// and layer can be gradient-checked by finite differences in double precision.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "engine/core/error.h"

namespace aslnet {

enum class DType : uint8_t { F32, F64, BF16, U8, I32 };

size_t dtype_size(DType t);
const char* dtype_name(DType t);  // "f32", "f64", ...

// bfloat16 as its bit pattern. Conversion rounds to nearest even, as CUDA's __float2bfloat16 does.
struct bf16 {
  uint16_t bits = 0;
};

inline bf16 to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu) != 0) return bf16{uint16_t((u >> 16) | 0x40)};  // NaN stays NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return bf16{uint16_t(u >> 16)};
}

inline float from_bf16(bf16 b) {
  uint32_t u = uint32_t(b.bits) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

template <class T>
constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::F32; }
template <> constexpr DType dtype_of<double>() { return DType::F64; }
template <> constexpr DType dtype_of<bf16>() { return DType::BF16; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::U8; }
template <> constexpr DType dtype_of<int32_t>() { return DType::I32; }

// Calls fn(T{}) with T the C++ type of a floating-point tensor type that the CPU kernels compute in.
template <class Fn>
decltype(auto) dispatch_real(DType t, Fn&& fn) {
  switch (t) {
    case DType::F32: return fn(float{});
    case DType::F64: return fn(double{});
    default: break;
  }
  ASLNET_CHECK(false) << "expected an f32 or f64 tensor, got " << dtype_name(t);
  return fn(float{});
}

// Calls fn(T{}) with T the C++ type of a floating-point tensor type that the CUDA kernels compute in:
// float, or bf16 (mixed precision's activations and weight copies).
template <class Fn>
decltype(auto) dispatch_gpu(DType t, Fn&& fn) {
  switch (t) {
    case DType::F32: return fn(float{});
    case DType::BF16: return fn(bf16{});
    default: break;
  }
  ASLNET_CHECK(false) << "the CUDA kernels take f32 or bf16 tensors, got " << dtype_name(t);
  return fn(float{});
}

}  // namespace aslnet
