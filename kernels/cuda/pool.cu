// CUDA pooling over NHWC activations (kernels/pool.h), for fp32 and bf16.
//
// Max pooling: one thread per output element (V consecutive channels where they divide and the
// pointers are aligned), scanning its window in the CPU kernel's order with the CPU kernel's
// comparison, so the argmax (flat index within the image, (ih * w + iw) * c + ch) is the same, ties
// and NaNs included. The backward pass is a gather, not a scatter: windows overlap, so a scatter would
// need atomics (and their order would vary). Each input element visits the few outputs whose windows
// hold it, in increasing output order (the order in which the CPU kernel adds), and sums the dy of
// those whose argmax it is; dx is written once, so it needs no zeroing.
//
// Global average pooling: a block per (channel tile, image), threads along the channels and a fixed
// tree over the spatial positions.
#include <cuda_bf16.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <type_traits>
#include <utility>

#include "engine/core/cuda_check.h"
#include "kernels/cuda/device_values.cuh"
#include "engine/core/dtype.h"
#include "kernels/pool.h"

namespace aslnet::kernels::cuda {

namespace {

constexpr int kThreads = 256;


// Calls fn(integral_constant<int, V>) with the widest V <= kMax (a power of two) that divides c and for
// which every (pointer, element size) pair is aligned to V elements.
template <int kMax, class Fn>
void with_vec(int64_t c, std::initializer_list<std::pair<const void*, size_t>> ptrs, Fn&& fn) {
  auto fits = [&](int v) {
    if (c % v != 0) return false;
    for (const auto& [p, size] : ptrs)
      if (reinterpret_cast<uintptr_t>(p) % (uintptr_t(v) * size) != 0) return false;
    return true;
  };
  if constexpr (kMax >= 8) {
    if (fits(8)) return fn(std::integral_constant<int, 8>{});
  }
  if constexpr (kMax >= 4) {
    if (fits(4)) return fn(std::integral_constant<int, 4>{});
  }
  if (fits(2)) return fn(std::integral_constant<int, 2>{});
  return fn(std::integral_constant<int, 1>{});
}

unsigned blocks_for(int64_t work) { return unsigned(std::clamp<int64_t>((work + kThreads - 1) / kThreads, 1, 8192)); }

// The flat loops index with 32-bit integers where the element count allows (64-bit division, needed to
// split a flat index into n, h, w, c, is a long software routine on the GPU), else with int64.
constexpr int64_t kMax32 = int64_t(UINT32_MAX) - int64_t(kThreads) * 8192;

struct PoolDims {
  int h, w, oh_n, ow_n, window, stride, pad;
  int64_t c;
};

template <class D, int V, class I>
__global__ void __launch_bounds__(kThreads) maxpool_forward_kernel(I total, PoolDims s, const D* __restrict__ x,
                                                                   D* __restrict__ y, int32_t* __restrict__ argmax) {
  const I cv = I(s.c / V);
  for (I o = blockIdx.x * I(blockDim.x) + threadIdx.x; o < total; o += I(gridDim.x) * blockDim.x) {
    I t = o;
    const I v = t % cv;
    t /= cv;
    const int ow = int(t % I(s.ow_n));
    t /= I(s.ow_n);
    const int oh = int(t % I(s.oh_n));
    const I n = t / I(s.oh_n);
    const D* image = x + int64_t(n) * s.h * s.w * s.c;
    float best[V];
    int32_t arg[V];
#pragma unroll
    for (int j = 0; j < V; ++j) {
      best[j] = -INFINITY;
      arg[j] = -1;
    }
    for (int r = 0; r < s.window; ++r) {
      const int ih = oh * s.stride - s.pad + r;
      if (ih < 0 || ih >= s.h) continue;
      for (int q = 0; q < s.window; ++q) {
        const int iw = ow * s.stride - s.pad + q;
        if (iw < 0 || iw >= s.w) continue;
        const int64_t base = (int64_t(ih) * s.w + iw) * s.c + int64_t(v) * V;
        float val[V];
        load_vec<D, V>(image + base, val);
#pragma unroll
        for (int j = 0; j < V; ++j) {
          // The CPU kernel's test, verbatim: strictly greater (first maximum in window order wins), and
          // a NaN is kept only when it is the first element seen.
          if (val[j] > best[j] || arg[j] < 0) {
            best[j] = val[j];
            arg[j] = int32_t(base + j);
          }
        }
      }
    }
    const int64_t out = int64_t(o) * V;
    store_vec<D, V>(y + out, best);
    Vec<int32_t, V> a;
#pragma unroll
    for (int j = 0; j < V; ++j) a.v[j] = arg[j];
    *reinterpret_cast<Vec<int32_t, V>*>(argmax + out) = a;
  }
}

template <class D, int V, class I>
__global__ void __launch_bounds__(kThreads)
    maxpool_backward_kernel(I total, PoolDims s, const D* __restrict__ dy, const int32_t* __restrict__ argmax,
                            D* __restrict__ dx) {
  const I cv = I(s.c / V);
  for (I i = blockIdx.x * I(blockDim.x) + threadIdx.x; i < total; i += I(gridDim.x) * blockDim.x) {
    I t = i;
    const I v = t % cv;
    t /= cv;
    const int iw = int(t % I(s.w));
    t /= I(s.w);
    const int ih = int(t % I(s.h));
    const I n = t / I(s.h);
    // Outputs whose window covers (ih, iw): oh * stride - pad <= ih <= oh * stride - pad + window - 1.
    const int lo_h = ih + s.pad - s.window + 1, lo_w = iw + s.pad - s.window + 1;
    const int oh0 = lo_h <= 0 ? 0 : (lo_h + s.stride - 1) / s.stride;
    const int ow0 = lo_w <= 0 ? 0 : (lo_w + s.stride - 1) / s.stride;
    const int oh1 = min((ih + s.pad) / s.stride, s.oh_n - 1);
    const int ow1 = min((iw + s.pad) / s.stride, s.ow_n - 1);
    const int32_t target = int32_t((int64_t(ih) * s.w + iw) * s.c + int64_t(v) * V);
    float acc[V];
#pragma unroll
    for (int j = 0; j < V; ++j) acc[j] = 0.0f;
    for (int oh = oh0; oh <= oh1; ++oh) {
      for (int ow = ow0; ow <= ow1; ++ow) {
        const int64_t o = ((int64_t(n) * s.oh_n + oh) * s.ow_n + ow) * s.c + int64_t(v) * V;
        const Vec<int32_t, V> a = *reinterpret_cast<const Vec<int32_t, V>*>(argmax + o);
        bool any = false;
#pragma unroll
        for (int j = 0; j < V; ++j) any |= a.v[j] == target + j;
        if (!any) continue;
        float g[V];
        load_vec<D, V>(dy + o, g);
#pragma unroll
        for (int j = 0; j < V; ++j)
          if (a.v[j] == target + j) acc[j] += g[j];
      }
    }
    store_vec<D, V>(dx + int64_t(i) * V, acc);
  }
}

// Block: TX channel vectors x TY spatial lanes; grid: channel tiles x images (grid-stride).
template <class D, int V>
__global__ void __launch_bounds__(kThreads)
    avgpool_forward_kernel(int64_t n, int64_t hw, int64_t c, const D* __restrict__ x, D* __restrict__ y) {
  __shared__ float sh[kThreads * V];
  const int tx = threadIdx.x, ty = threadIdx.y, TX = blockDim.x, TY = blockDim.y;
  const int64_t vch = blockIdx.x * int64_t(TX) + tx;
  const bool active = vch < c / V;
  const int64_t ch0 = vch * V;
  const int slot = ty * TX + tx;
  for (int64_t img = blockIdx.y; img < n; img += gridDim.y) {
    float acc[V];
#pragma unroll
    for (int j = 0; j < V; ++j) acc[j] = 0.0f;
    if (active) {
      for (int64_t p = ty; p < hw; p += TY) {
        float v[V];
        load_vec<D, V>(x + (img * hw + p) * c + ch0, v);
#pragma unroll
        for (int j = 0; j < V; ++j) acc[j] += v[j];
      }
    }
#pragma unroll
    for (int j = 0; j < V; ++j) sh[slot * V + j] = acc[j];
    __syncthreads();
    for (int s = TY / 2; s > 0; s >>= 1) {
      if (ty < s) {
#pragma unroll
        for (int j = 0; j < V; ++j) {
          acc[j] += sh[((ty + s) * TX + tx) * V + j];
          sh[slot * V + j] = acc[j];
        }
      }
      __syncthreads();
    }
    if (ty == 0 && active) {
#pragma unroll
      for (int j = 0; j < V; ++j) acc[j] /= float(hw);
      store_vec<D, V>(y + img * c + ch0, acc);
    }
  }
}

template <class D, int V>
__global__ void __launch_bounds__(kThreads)
    avgpool_backward_kernel(int64_t n, int64_t hw, int64_t c, const D* __restrict__ dy, D* __restrict__ dx) {
  const int64_t vch = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (vch >= c / V) return;
  const int64_t ch0 = vch * V;
  for (int64_t img = blockIdx.y; img < n; img += gridDim.y) {
    float g[V];
    load_vec<D, V>(dy + img * c + ch0, g);
#pragma unroll
    for (int j = 0; j < V; ++j) g[j] /= float(hw);  // a division, as the CPU kernel: same bits in fp32
    for (int64_t p = threadIdx.y; p < hw; p += blockDim.y) store_vec<D, V>(dx + (img * hw + p) * c + ch0, g);
  }
}

PoolDims dims_of(const PoolShape& s) {
  return {int(s.h), int(s.w), int(s.out_h()), int(s.out_w()), int(s.window), int(s.stride), int(s.pad), s.c};
}

// Threads along the channels (a power of two up to 32, as the channel vectors need), the rest along
// the spatial positions.
dim3 channel_block(int64_t cv) {
  int tx = 1;
  while (tx < cv && tx < 32) tx *= 2;
  return dim3(unsigned(tx), unsigned(kThreads / tx));
}

}  // namespace

template <class T>
void maxpool_forward(cudaStream_t stream, const PoolShape& shape, const T* x, T* y, int32_t* argmax) {
  const int64_t count = shape.n * shape.out_h() * shape.out_w() * shape.c;
  if (count <= 0) return;
  ASLNET_CHECK(shape.h * shape.w * shape.c <= INT32_MAX)
      << "maxpool: an image of " << shape.h * shape.w * shape.c << " elements does not fit the int32 argmax";
  using D = DevT<T>;
  const PoolDims d = dims_of(shape);
  with_vec<4>(shape.c, {{x, sizeof(D)}, {y, sizeof(D)}, {argmax, sizeof(int32_t)}}, [&](auto vec) {
    constexpr int V = decltype(vec)::value;
    const int64_t total = count / V;
    if (total <= kMax32)
      maxpool_forward_kernel<D, V, uint32_t>
          <<<blocks_for(total), kThreads, 0, stream>>>(uint32_t(total), d, dev(x), dev(y), argmax);
    else
      maxpool_forward_kernel<D, V, int64_t>
          <<<blocks_for(total), kThreads, 0, stream>>>(total, d, dev(x), dev(y), argmax);
    CUDA_CHECK_LAST();
  });
}

template <class T>
void maxpool_backward(cudaStream_t stream, const PoolShape& shape, const T* dy, const int32_t* argmax, T* dx) {
  const int64_t count = shape.n * shape.h * shape.w * shape.c;
  if (count <= 0) return;
  using D = DevT<T>;
  const PoolDims d = dims_of(shape);
  with_vec<4>(shape.c, {{dy, sizeof(D)}, {dx, sizeof(D)}, {argmax, sizeof(int32_t)}}, [&](auto vec) {
    constexpr int V = decltype(vec)::value;
    const int64_t total = count / V;
    if (total <= kMax32)
      maxpool_backward_kernel<D, V, uint32_t>
          <<<blocks_for(total), kThreads, 0, stream>>>(uint32_t(total), d, dev(dy), argmax, dev(dx));
    else
      maxpool_backward_kernel<D, V, int64_t>
          <<<blocks_for(total), kThreads, 0, stream>>>(total, d, dev(dy), argmax, dev(dx));
    CUDA_CHECK_LAST();
  });
}

template <class T>
void global_avgpool_forward(cudaStream_t stream, int64_t n, int64_t hw, int64_t c, const T* x, T* y) {
  if (n == 0 || c == 0) return;
  using D = DevT<T>;
  with_vec<int(16 / sizeof(D))>(c, {{x, sizeof(D)}, {y, sizeof(D)}}, [&](auto vec) {
    constexpr int V = decltype(vec)::value;
    const dim3 block = channel_block(c / V);
    const dim3 grid(unsigned((c / V + block.x - 1) / block.x), unsigned(std::min<int64_t>(n, 65535)));
    avgpool_forward_kernel<D, V><<<grid, block, 0, stream>>>(n, hw, c, dev(x), dev(y));
    CUDA_CHECK_LAST();
  });
}

template <class T>
void global_avgpool_backward(cudaStream_t stream, int64_t n, int64_t hw, int64_t c, const T* dy, T* dx) {
  if (n == 0 || hw == 0 || c == 0) return;
  using D = DevT<T>;
  with_vec<int(16 / sizeof(D))>(c, {{dy, sizeof(D)}, {dx, sizeof(D)}}, [&](auto vec) {
    constexpr int V = decltype(vec)::value;
    const dim3 block = channel_block(c / V);
    const dim3 grid(unsigned((c / V + block.x - 1) / block.x), unsigned(std::min<int64_t>(n, 65535)));
    avgpool_backward_kernel<D, V><<<grid, block, 0, stream>>>(n, hw, c, dev(dy), dev(dx));
    CUDA_CHECK_LAST();
  });
}

#define ASLNET_INSTANTIATE(T)                                                                      \
  template void maxpool_forward<T>(cudaStream_t, const PoolShape&, const T*, T*, int32_t*);        \
  template void maxpool_backward<T>(cudaStream_t, const PoolShape&, const T*, const int32_t*, T*); \
  template void global_avgpool_forward<T>(cudaStream_t, int64_t, int64_t, int64_t, const T*, T*);  \
  template void global_avgpool_backward<T>(cudaStream_t, int64_t, int64_t, int64_t, const T*, T*);
ASLNET_INSTANTIATE(float)
ASLNET_INSTANTIATE(bf16)
#undef ASLNET_INSTANTIATE

}  // namespace aslnet::kernels::cuda
