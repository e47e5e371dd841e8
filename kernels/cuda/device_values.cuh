// Element access shared by the CUDA kernels: the device type behind an engine type (aslnet::bf16 is a
// bit pattern with __nv_bfloat16's layout), widening to fp32 registers and rounding back on the store
// (round to nearest even, as aslnet::to_bf16), and V-wide vector loads and stores of consecutive
// elements. Included by .cu files only.
#pragma once

#include <cuda_bf16.h>

#include "engine/core/dtype.h"

namespace aslnet::kernels::cuda {

template <class T>
struct Dev {
  using type = T;
};
template <>
struct Dev<bf16> {
  using type = __nv_bfloat16;
};
template <class T>
using DevT = typename Dev<T>::type;

template <class T>
const DevT<T>* dev(const T* p) {
  return reinterpret_cast<const DevT<T>*>(p);
}
template <class T>
DevT<T>* dev(T* p) {
  return reinterpret_cast<DevT<T>*>(p);
}

__device__ __forceinline__ float to_f(float v) { return v; }
__device__ __forceinline__ float to_f(__nv_bfloat16 v) { return __bfloat162float(v); }
template <class D>
__device__ __forceinline__ D from_f(float v);
template <>
__device__ __forceinline__ float from_f<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_f<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

// V consecutive elements: one vector load or store (the address must be aligned to the vector).
template <class D, int V>
struct alignas(sizeof(D) * V) Vec {
  D v[V];
};
template <class D, int V>
__device__ __forceinline__ void load_vec(const D* p, float (&out)[V]) {
  const Vec<D, V> t = *reinterpret_cast<const Vec<D, V>*>(p);
#pragma unroll
  for (int j = 0; j < V; ++j) out[j] = to_f(t.v[j]);
}
template <class D, int V>
__device__ __forceinline__ void store_vec(D* p, const float (&in)[V]) {
  Vec<D, V> t;
#pragma unroll
  for (int j = 0; j < V; ++j) t.v[j] = from_f<D>(in[j]);
  *reinterpret_cast<Vec<D, V>*>(p) = t;
}

}  // namespace aslnet::kernels::cuda
