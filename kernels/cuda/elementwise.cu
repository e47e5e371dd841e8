// CUDA element-wise kernels (kernels/elementwise.h) for fp32 and bf16 activations.
//
// Every kernel is a grid-stride loop, so one launch shape serves any size. Where all pointers are
// 16-byte aligned the loop moves 16 bytes per thread and iteration (4 floats or 8 bf16), which is what
// it takes to reach DRAM bandwidth; a scalar loop finishes the tail. bf16 values are widened to fp32 in
// registers and rounded once on the store (round to nearest even), so a bf16 result is the rounded
// fp32 result, never a chain of bf16 roundings.
#include <cuda_bf16.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "engine/core/cuda_check.h"
#include "kernels/cuda/device_values.cuh"
#include "engine/core/dtype.h"
#include "kernels/elementwise.h"

namespace aslnet::kernels::cuda {

namespace {

constexpr int kThreads = 256;


// 16 bytes of D: one vector load or store.
template <class D>
struct alignas(16) Pack {
  static constexpr int N = 16 / sizeof(D);
  D v[N];
};

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

unsigned blocks_for(int64_t work) {
  // Enough blocks to fill any current GPU several times over; the grid-stride loop covers the rest.
  return unsigned(std::clamp<int64_t>((work + kThreads - 1) / kThreads, 1, 8192));
}

// The ops, as functors over fp32 values (device lambdas would need --extended-lambda).
struct Relu {
  // Not fmaxf: x > 0 ? x : 0 maps NaN and -0 to +0, exactly as the CPU kernel does.
  __device__ float operator()(float x) const { return x > 0.0f ? x : 0.0f; }
};
struct ReluBackward {
  __device__ float operator()(float y, float dy) const { return y > 0.0f ? dy : 0.0f; }
};
struct Add {
  __device__ float operator()(float a, float b) const { return a + b; }
};
struct AddRelu {
  __device__ float operator()(float a, float b) const {
    const float s = a + b;
    return s > 0.0f ? s : 0.0f;
  }
};

// y[i] = op(x[i]). `vec` says every pointer is 16-byte aligned.
template <class D, class Op>
__global__ void unary_kernel(int64_t count, const D* x, D* y, Op op, bool vec) {
  constexpr int N = Pack<D>::N;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t tid = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  const int64_t packs = vec ? count / N : 0;
  for (int64_t i = tid; i < packs; i += stride) {
    const Pack<D> a = reinterpret_cast<const Pack<D>*>(x)[i];
    Pack<D> out;
#pragma unroll
    for (int j = 0; j < N; ++j) out.v[j] = from_f<D>(op(to_f(a.v[j])));
    reinterpret_cast<Pack<D>*>(y)[i] = out;
  }
  for (int64_t i = packs * N + tid; i < count; i += stride) y[i] = from_f<D>(op(to_f(x[i])));
}

// y[i] = op(a[i], b[i]). y may alias a or b (add_inplace): each element is read before it is written,
// by the same thread, so no __restrict__ here.
template <class D, class Op>
__global__ void binary_kernel(int64_t count, const D* a, const D* b, D* y, Op op, bool vec) {
  constexpr int N = Pack<D>::N;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t tid = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  const int64_t packs = vec ? count / N : 0;
  for (int64_t i = tid; i < packs; i += stride) {
    const Pack<D> pa = reinterpret_cast<const Pack<D>*>(a)[i];
    const Pack<D> pb = reinterpret_cast<const Pack<D>*>(b)[i];
    Pack<D> out;
#pragma unroll
    for (int j = 0; j < N; ++j) out.v[j] = from_f<D>(op(to_f(pa.v[j]), to_f(pb.v[j])));
    reinterpret_cast<Pack<D>*>(y)[i] = out;
  }
  for (int64_t i = packs * N + tid; i < count; i += stride) y[i] = from_f<D>(op(to_f(a[i]), to_f(b[i])));
}

template <class T, class Op>
void launch_unary(cudaStream_t stream, int64_t count, const T* x, T* y, Op op) {
  if (count == 0) return;
  using D = DevT<T>;
  const bool vec = aligned16(x) && aligned16(y);
  const int64_t work = vec ? (count + Pack<D>::N - 1) / Pack<D>::N : count;
  unary_kernel<D, Op><<<blocks_for(work), kThreads, 0, stream>>>(count, dev(x), dev(y), op, vec);
  CUDA_CHECK_LAST();
}

template <class T, class Op>
void launch_binary(cudaStream_t stream, int64_t count, const T* a, const T* b, T* y, Op op) {
  if (count == 0) return;
  using D = DevT<T>;
  const bool vec = aligned16(a) && aligned16(b) && aligned16(y);
  const int64_t work = vec ? (count + Pack<D>::N - 1) / Pack<D>::N : count;
  binary_kernel<D, Op><<<blocks_for(work), kThreads, 0, stream>>>(count, dev(a), dev(b), dev(y), op, vec);
  CUDA_CHECK_LAST();
}

template <class DF, class DT>
__global__ void cast_kernel(int64_t count, const DF* x, DT* y) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = from_f<DT>(to_f(x[i]));
}

// Channel index by 32-bit division where the element count allows it (64-bit division is a long
// software routine on the GPU; this loop is otherwise bound by memory).
template <class D, class I>
__global__ void normalize_u8_kernel(I count, I channels, const uint8_t* x, const float* mean, const float* std, D* y) {
  for (I i = blockIdx.x * I(blockDim.x) + threadIdx.x; i < count; i += I(gridDim.x) * blockDim.x) {
    const I c = i % channels;
    // The same fp32 operations, in the same order, as the CPU pipeline's lookup table
    // (data/transforms.cpp): exact division by 255, subtract, exact division by std.
    y[i] = from_f<D>((float(x[i]) / 255.0f - mean[c]) / std[c]);
  }
}

}  // namespace

template <class T>
void relu_forward(cudaStream_t stream, int64_t count, const T* x, T* y) {
  launch_unary(stream, count, x, y, Relu{});
}

template <class T>
void relu_backward(cudaStream_t stream, int64_t count, const T* y, const T* dy, T* dx) {
  launch_binary(stream, count, y, dy, dx, ReluBackward{});
}

template <class T>
void add(cudaStream_t stream, int64_t count, const T* a, const T* b, T* y) {
  launch_binary(stream, count, a, b, y, Add{});
}

template <class T>
void add_inplace(cudaStream_t stream, int64_t count, const T* x, T* y) {
  launch_binary(stream, count, static_cast<const T*>(y), x, y, Add{});
}

template <class T>
void add_relu(cudaStream_t stream, int64_t count, const T* a, const T* b, T* y) {
  launch_binary(stream, count, a, b, y, AddRelu{});
}

template <class From, class To>
void cast(cudaStream_t stream, int64_t count, const From* x, To* y) {
  if (count == 0) return;
  if constexpr (std::is_same_v<From, To>) {
    // A plain copy; an in-place "cast" has nothing to do.
    if (static_cast<const void*>(x) != static_cast<const void*>(y))
      CUDA_CHECK(cudaMemcpyAsync(y, x, size_t(count) * sizeof(From), cudaMemcpyDeviceToDevice, stream));
  } else {
    cast_kernel<DevT<From>, DevT<To>><<<blocks_for(count), kThreads, 0, stream>>>(count, dev(x), dev(y));
    CUDA_CHECK_LAST();
  }
}

template <class T>
void normalize_u8(cudaStream_t stream, int64_t pixels, int64_t channels, const uint8_t* x, const float* mean,
                  const float* std, T* y) {
  const int64_t count = pixels * channels;
  if (count == 0) return;
  if (count <= int64_t(UINT32_MAX) - int64_t(kThreads) * 8192) {
    normalize_u8_kernel<DevT<T>, uint32_t>
        <<<blocks_for(count), kThreads, 0, stream>>>(uint32_t(count), uint32_t(channels), x, mean, std, dev(y));
  } else {
    normalize_u8_kernel<DevT<T>, int64_t>
        <<<blocks_for(count), kThreads, 0, stream>>>(count, channels, x, mean, std, dev(y));
  }
  CUDA_CHECK_LAST();
}

#define ASLNET_INSTANTIATE(T)                                                    \
  template void relu_forward<T>(cudaStream_t, int64_t, const T*, T*);            \
  template void relu_backward<T>(cudaStream_t, int64_t, const T*, const T*, T*); \
  template void add<T>(cudaStream_t, int64_t, const T*, const T*, T*);           \
  template void add_inplace<T>(cudaStream_t, int64_t, const T*, T*);             \
  template void add_relu<T>(cudaStream_t, int64_t, const T*, const T*, T*);      \
  template void normalize_u8<T>(cudaStream_t, int64_t, int64_t, const uint8_t*, const float*, const float*, T*);
ASLNET_INSTANTIATE(float)
ASLNET_INSTANTIATE(bf16)
#undef ASLNET_INSTANTIATE

template void cast<float, bf16>(cudaStream_t, int64_t, const float*, bf16*);
template void cast<bf16, float>(cudaStream_t, int64_t, const bf16*, float*);
template void cast<float, float>(cudaStream_t, int64_t, const float*, float*);
template void cast<bf16, bf16>(cudaStream_t, int64_t, const bf16*, bf16*);

}  // namespace aslnet::kernels::cuda
