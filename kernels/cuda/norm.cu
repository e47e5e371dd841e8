// CUDA batch norm over NHWC rows (kernels/norm.h), for fp32 and bf16 activations.
//
// A channel's statistics are a reduction over rows = N*H*W (up to millions) and the channels are the
// innermost, contiguous axis. So each pass is a 2-D grid: blockIdx.x tiles the channels (threadIdx.x
// runs along them, so a warp reads consecutive addresses, 16 bytes per thread where the channel count
// and alignment allow), blockIdx.y and threadIdx.y split the rows with a grid stride. Each block
// reduces its rows into one partial per channel in `scratch`; a small second kernel combines the
// partials of each channel; a third pass applies the per-channel affine map. There are no float
// atomics: every sum is taken over a fixed tree that depends on the shape only, so results are
// bit-identical from run to run (and across GPUs, since the grid does not depend on the device).
//
// Forward statistics use Welford's update per thread and Chan's pairwise merge across threads and
// blocks: a single read of x, and no cancellation when the mean is large against the spread (the
// one-pass sum/sum-of-squares form loses the variance there). Partials are combined in double.
#include <cuda_bf16.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "engine/core/cuda_check.h"
#include "kernels/cuda/device_values.cuh"
#include "engine/core/dtype.h"
#include "kernels/norm.h"

namespace aslnet::kernels::cuda {

namespace {

constexpr int kBlock = 256;                // threads per block of the row kernels (threadIdx.x * threadIdx.y)
constexpr int kMaxTileChannels = 256;      // channels per block at most: 32 threads * 8
constexpr int64_t kStatBlocks = 1024;      // blocks of a statistics pass: about 8 resident per SM on an H100
constexpr int64_t kApplyBlocks = 2048;     // blocks of an apply pass
constexpr int kFinalX = 32, kFinalY = 16;  // the finalising kernels: 32 channels x 16 partial lanes


// The launch shape of a row pass: V channels per thread, TX threads along the channels (a power of
// two, at most 32, no wider than the channels need), TY = 256 / TX along the rows, gx channel tiles.
struct Tile {
  int vec = 1, tx = 1, ty = kBlock;
  int64_t gx = 1;
};

Tile tile_for(int64_t c, int vec) {
  Tile t;
  t.vec = vec;
  const int64_t cv = c / vec;
  while (t.tx < cv && t.tx < 32) t.tx *= 2;
  t.ty = kBlock / t.tx;
  t.gx = (cv + t.tx - 1) / t.tx;
  return t;
}

// Row blocks of the statistics passes. A function of the shape alone (not of the dtype, the alignment
// or the device), so that batchnorm_scratch_floats can size the partials and results never depend on
// the GPU. At least 16 rows per block-row (ty >= 8, two rows each), about kStatBlocks blocks in all.
int64_t stat_row_blocks(const NormShape& s) {
  const int64_t min_tiles = (s.c + kMaxTileChannels - 1) / kMaxTileChannels;
  const int64_t by_grid = (kStatBlocks + min_tiles - 1) / min_tiles;
  const int64_t by_rows = (s.rows + 15) / 16;
  return std::max<int64_t>(1, std::min(by_grid, by_rows));
}

int64_t apply_row_blocks(const NormShape& s, const Tile& t) {
  const int64_t by_rows = (s.rows + t.ty - 1) / t.ty;
  const int64_t by_grid = std::max<int64_t>(1, kApplyBlocks / t.gx);
  return std::clamp<int64_t>(std::min(by_rows, by_grid), 1, 65535);
}

// Scratch layout (floats), with P = stat_row_blocks(shape):
//   [0, P*c)             partial A per (row block, channel): Welford mean, or sum of dy
//   [P*c, 2*P*c)         partial B: Welford M2, or sum of dy * (x - mean)
//   [2*P*c, 2*P*c + P)   rows per row block (forward)
//   then 3*c             per-channel coefficients of the apply pass (scale, shift | a, k, b)
struct Scratch {
  float *part_a, *part_b, *part_n, *coef;
};
Scratch carve(float* scratch, const NormShape& s) {
  const int64_t p = stat_row_blocks(s);
  return {scratch, scratch + p * s.c, scratch + 2 * p * s.c, scratch + 2 * p * s.c + p};
}

// Calls fn(integral_constant<int, V>) with the widest vector of D that divides c and that every
// pointer is aligned for.
template <class D, class Fn>
void with_vec(int64_t c, std::initializer_list<const void*> ptrs, Fn&& fn) {
  auto fits = [&](int v) {
    if (c % v != 0) return false;
    for (const void* p : ptrs)
      if (reinterpret_cast<uintptr_t>(p) % (uintptr_t(v) * sizeof(D)) != 0) return false;
    return true;
  };
  constexpr int widest = int(16 / sizeof(D));
  if constexpr (widest >= 8) {
    if (fits(8)) return fn(std::integral_constant<int, 8>{});
  }
  if (fits(4)) return fn(std::integral_constant<int, 4>{});
  if (fits(2)) return fn(std::integral_constant<int, 2>{});
  return fn(std::integral_constant<int, 1>{});
}

// Rows handled by row-thread `r0` of a grid stride `step`.
__device__ __forceinline__ int64_t rows_of(int64_t rows, int64_t r0, int64_t step) {
  return r0 < rows ? (rows - 1 - r0) / step + 1 : 0;
}

// Chan et al.'s merge of (nb, mb, m2b) into (n, mean, m2), for one channel; n is updated by the caller.
template <class F>
__device__ __forceinline__ void chan_merge(F n, F nb, F& mean, F& m2, F mb, F m2b) {
  const F nt = n + nb;
  if (nb == F(0) || nt == F(0)) return;
  const F d = mb - mean, f = nb / nt;
  mean += d * f;
  m2 += m2b + d * d * n * f;
}

// ---- forward, training: statistics ----

template <class D, int V>
__global__ void __launch_bounds__(kBlock)
    bn_stats_kernel(int64_t rows, int64_t c, const D* __restrict__ x, float* __restrict__ part_mean,
                    float* __restrict__ part_m2, float* __restrict__ part_n) {
  __shared__ float sh_mean[kBlock * V], sh_m2[kBlock * V], sh_n[kBlock];
  const int tx = threadIdx.x, ty = threadIdx.y, TX = blockDim.x, TY = blockDim.y;
  const int64_t vch = blockIdx.x * int64_t(TX) + tx;
  const bool active = vch < c / V;
  const int64_t ch0 = vch * V;
  const int64_t r0 = blockIdx.y * int64_t(TY) + ty, step = int64_t(gridDim.y) * TY;

  float mean[V], m2[V];
#pragma unroll
  for (int j = 0; j < V; ++j) mean[j] = m2[j] = 0.0f;
  float n = 0.0f;
  if (active) {
    // Four rows' loads in flight before the (dependent) Welford updates.
    for (int64_t r = r0; r < rows; r += 4 * step) {
      float v[4][V];
#pragma unroll
      for (int u = 0; u < 4; ++u)
        if (r + u * step < rows) load_vec<D, V>(x + (r + u * step) * c + ch0, v[u]);
#pragma unroll
      for (int u = 0; u < 4; ++u) {
        if (r + u * step < rows) {
          n += 1.0f;
          // The approximate reciprocal (2 ulp) is plenty here, and an IEEE division per row is not free.
          const float inv = __fdividef(1.0f, n);
#pragma unroll
          for (int j = 0; j < V; ++j) {
            const float d = v[u][j] - mean[j];
            mean[j] += d * inv;
            m2[j] += d * (v[u][j] - mean[j]);
          }
        }
      }
    }
  }
  // Tree over the row-threads of the block. Each thread owns its slot; in a step, thread ty < s reads
  // slot ty + s (never written in that step) and rewrites its own.
  n = float(rows_of(rows, r0, step));
  const int slot = ty * TX + tx;
#pragma unroll
  for (int j = 0; j < V; ++j) {
    sh_mean[slot * V + j] = mean[j];
    sh_m2[slot * V + j] = m2[j];
  }
  sh_n[slot] = n;
  __syncthreads();
  for (int s = TY / 2; s > 0; s >>= 1) {
    if (ty < s) {
      const int other = (ty + s) * TX + tx;
      const float nb = sh_n[other];
#pragma unroll
      for (int j = 0; j < V; ++j) {
        chan_merge(n, nb, mean[j], m2[j], sh_mean[other * V + j], sh_m2[other * V + j]);
        sh_mean[slot * V + j] = mean[j];
        sh_m2[slot * V + j] = m2[j];
      }
      n += nb;
      sh_n[slot] = n;
    }
    __syncthreads();
  }
  if (ty == 0 && active) {
#pragma unroll
    for (int j = 0; j < V; ++j) {
      part_mean[blockIdx.y * c + ch0 + j] = mean[j];
      part_m2[blockIdx.y * c + ch0 + j] = m2[j];
    }
  }
  if (ty == 0 && tx == 0 && blockIdx.x == 0) part_n[blockIdx.y] = n;
}

// One channel per threadIdx.x; threadIdx.y lanes merge every 16th partial, then a tree over the lanes.
__global__ void __launch_bounds__(kFinalX* kFinalY)
    bn_forward_finalize_kernel(int64_t c, int64_t parts, const float* __restrict__ part_mean,
                               const float* __restrict__ part_m2, const float* __restrict__ part_n,
                               const float* __restrict__ gamma, const float* __restrict__ beta,
                               float* __restrict__ save_mean, float* __restrict__ save_invstd,
                               float* __restrict__ running_mean, float* __restrict__ running_var, double momentum,
                               double eps, float* __restrict__ scale, float* __restrict__ shift) {
  __shared__ double sh[3][kFinalY][kFinalX];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t ch = blockIdx.x * int64_t(kFinalX) + tx;
  double n = 0.0, mean = 0.0, m2 = 0.0;
  if (ch < c) {
    for (int64_t p = ty; p < parts; p += kFinalY) {
      const double nb = part_n[p];
      chan_merge(n, nb, mean, m2, double(part_mean[p * c + ch]), double(part_m2[p * c + ch]));
      n += nb;
    }
  }
  sh[0][ty][tx] = n;
  sh[1][ty][tx] = mean;
  sh[2][ty][tx] = m2;
  __syncthreads();
  for (int s = kFinalY / 2; s > 0; s >>= 1) {
    if (ty < s) {
      const double nb = sh[0][ty + s][tx];
      chan_merge(n, nb, mean, m2, sh[1][ty + s][tx], sh[2][ty + s][tx]);
      n += nb;
      sh[0][ty][tx] = n;
      sh[1][ty][tx] = mean;
      sh[2][ty][tx] = m2;
    }
    __syncthreads();
  }
  if (ty != 0 || ch >= c) return;
  // As the CPU kernel: biased variance to normalise, unbiased in the running average.
  const double biased = m2 / n;
  const double invstd = 1.0 / sqrt(biased + eps);
  const double g = gamma[ch];
  save_mean[ch] = float(mean);
  save_invstd[ch] = float(invstd);
  scale[ch] = float(g * invstd);
  shift[ch] = float(double(beta[ch]) - mean * g * invstd);
  const double unbiased = n > 1.0 ? m2 / (n - 1.0) : biased;
  running_mean[ch] = float((1.0 - momentum) * double(running_mean[ch]) + momentum * mean);
  running_var[ch] = float((1.0 - momentum) * double(running_var[ch]) + momentum * unbiased);
}

// ---- forward: y = x * scale + shift ----

// Where scale and shift come from: the training pass's finalising kernel, or (evaluation) computed
// from the running statistics in double, as the CPU kernel does.
struct Affine {
  const float* scale = nullptr;
  const float* shift = nullptr;
  const float* gamma = nullptr;
  const float* beta = nullptr;
  const float* mean = nullptr;
  const float* var = nullptr;
  double eps = 0.0;
};

template <class D, int V>
__global__ void __launch_bounds__(kBlock)
    bn_apply_kernel(int64_t rows, int64_t c, const D* __restrict__ x, D* __restrict__ y, Affine a) {
  const int64_t vch = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (vch >= c / V) return;
  const int64_t ch0 = vch * V;
  float sc[V], sf[V];
#pragma unroll
  for (int j = 0; j < V; ++j) {
    const int64_t ch = ch0 + j;
    if (a.var != nullptr) {
      const double invstd = 1.0 / sqrt(double(a.var[ch]) + a.eps);
      sc[j] = float(double(a.gamma[ch]) * invstd);
      sf[j] = float(double(a.beta[ch]) - double(a.mean[ch]) * double(a.gamma[ch]) * invstd);
    } else {
      sc[j] = a.scale[ch];
      sf[j] = a.shift[ch];
    }
  }
  const int64_t step = int64_t(gridDim.y) * blockDim.y;
  for (int64_t r = blockIdx.y * int64_t(blockDim.y) + threadIdx.y; r < rows; r += 4 * step) {
    float v[4][V];
#pragma unroll
    for (int u = 0; u < 4; ++u)
      if (r + u * step < rows) load_vec<D, V>(x + (r + u * step) * c + ch0, v[u]);
#pragma unroll
    for (int u = 0; u < 4; ++u) {
      if (r + u * step < rows) {
#pragma unroll
        for (int j = 0; j < V; ++j) v[u][j] = v[u][j] * sc[j] + sf[j];
        store_vec<D, V>(y + (r + u * step) * c + ch0, v[u]);
      }
    }
  }
}

// ---- backward ----

template <class D, int V>
__global__ void __launch_bounds__(kBlock)
    bn_backward_reduce_kernel(int64_t rows, int64_t c, const D* __restrict__ x, const D* __restrict__ dy,
                              const float* __restrict__ save_mean, float* __restrict__ part_dy,
                              float* __restrict__ part_dyx) {
  __shared__ float sh_a[kBlock * V], sh_b[kBlock * V];
  const int tx = threadIdx.x, ty = threadIdx.y, TX = blockDim.x, TY = blockDim.y;
  const int64_t vch = blockIdx.x * int64_t(TX) + tx;
  const bool active = vch < c / V;
  const int64_t ch0 = vch * V;
  const int64_t step = int64_t(gridDim.y) * TY;
  float m[V], s1[V], s2[V];
#pragma unroll
  for (int j = 0; j < V; ++j) {
    m[j] = active ? save_mean[ch0 + j] : 0.0f;
    s1[j] = s2[j] = 0.0f;
  }
  if (active) {
    for (int64_t r = blockIdx.y * int64_t(TY) + ty; r < rows; r += 4 * step) {
      float xv[4][V], gv[4][V];
#pragma unroll
      for (int u = 0; u < 4; ++u) {
        if (r + u * step < rows) {
          load_vec<D, V>(x + (r + u * step) * c + ch0, xv[u]);
          load_vec<D, V>(dy + (r + u * step) * c + ch0, gv[u]);
        }
      }
#pragma unroll
      for (int u = 0; u < 4; ++u) {
        if (r + u * step < rows) {
#pragma unroll
          for (int j = 0; j < V; ++j) {
            s1[j] += gv[u][j];
            s2[j] += gv[u][j] * (xv[u][j] - m[j]);
          }
        }
      }
    }
  }
  const int slot = ty * TX + tx;
#pragma unroll
  for (int j = 0; j < V; ++j) {
    sh_a[slot * V + j] = s1[j];
    sh_b[slot * V + j] = s2[j];
  }
  __syncthreads();
  for (int s = TY / 2; s > 0; s >>= 1) {
    if (ty < s) {
      const int other = (ty + s) * TX + tx;
#pragma unroll
      for (int j = 0; j < V; ++j) {
        s1[j] += sh_a[other * V + j];
        s2[j] += sh_b[other * V + j];
        sh_a[slot * V + j] = s1[j];
        sh_b[slot * V + j] = s2[j];
      }
    }
    __syncthreads();
  }
  if (ty == 0 && active) {
#pragma unroll
    for (int j = 0; j < V; ++j) {
      part_dy[blockIdx.y * c + ch0 + j] = s1[j];
      part_dyx[blockIdx.y * c + ch0 + j] = s2[j];
    }
  }
}

// dgamma = sum(dy * (x - mean)) * invstd, dbeta = sum(dy); and the coefficients of
// dx = a * dy - k * x + b, with a = gamma * invstd, k = a * dgamma * invstd / rows,
// b = -a * dbeta / rows + k * mean (the CPU kernel's algebra). With fixed statistics (no
// batch_statistics) the mean and invstd do not depend on x: k = b = 0.
__global__ void __launch_bounds__(kFinalX* kFinalY)
    bn_backward_finalize_kernel(int64_t rows, int64_t c, int64_t parts, const float* __restrict__ part_dy,
                                const float* __restrict__ part_dyx, const float* __restrict__ gamma,
                                const float* __restrict__ save_mean, const float* __restrict__ save_invstd,
                                float* __restrict__ dgamma, float* __restrict__ dbeta, bool accumulate,
                                bool batch_statistics, float* __restrict__ coef_a, float* __restrict__ coef_k,
                                float* __restrict__ coef_b) {
  __shared__ double sh[2][kFinalY][kFinalX];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t ch = blockIdx.x * int64_t(kFinalX) + tx;
  double s1 = 0.0, s2 = 0.0;
  if (ch < c) {
    for (int64_t p = ty; p < parts; p += kFinalY) {
      s1 += double(part_dy[p * c + ch]);
      s2 += double(part_dyx[p * c + ch]);
    }
  }
  sh[0][ty][tx] = s1;
  sh[1][ty][tx] = s2;
  __syncthreads();
  for (int s = kFinalY / 2; s > 0; s >>= 1) {
    if (ty < s) {
      s1 += sh[0][ty + s][tx];
      s2 += sh[1][ty + s][tx];
      sh[0][ty][tx] = s1;
      sh[1][ty][tx] = s2;
    }
    __syncthreads();
  }
  if (ty != 0 || ch >= c) return;
  const double invstd = save_invstd[ch];
  const double dg = s2 * invstd;
  dgamma[ch] = float((accumulate ? double(dgamma[ch]) : 0.0) + dg);
  dbeta[ch] = float((accumulate ? double(dbeta[ch]) : 0.0) + s1);
  const double gi = double(gamma[ch]) * invstd;
  const float k = batch_statistics ? float(gi * dg * invstd / double(rows)) : 0.0f;
  coef_a[ch] = float(gi);
  coef_k[ch] = k;
  coef_b[ch] = batch_statistics ? float(-gi * s1 / double(rows) + double(k) * double(save_mean[ch])) : 0.0f;
}

// The evaluation forward's statistics in backward's form; invstd in double, as bn_apply_kernel
// computes it from the running variance.
__global__ void bn_frozen_statistics_kernel(int64_t c, const float* __restrict__ running_mean,
                                            const float* __restrict__ running_var, double eps,
                                            float* __restrict__ save_mean, float* __restrict__ save_invstd) {
  const int64_t ch = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (ch >= c) return;
  save_mean[ch] = running_mean[ch];
  save_invstd[ch] = float(1.0 / sqrt(double(running_var[ch]) + eps));
}

template <class D, int V>
__global__ void __launch_bounds__(kBlock)
    bn_backward_apply_kernel(int64_t rows, int64_t c, const D* __restrict__ x, const D* __restrict__ dy,
                             const float* __restrict__ coef_a, const float* __restrict__ coef_k,
                             const float* __restrict__ coef_b, D* __restrict__ dx) {
  const int64_t vch = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (vch >= c / V) return;
  const int64_t ch0 = vch * V;
  float a[V], k[V], b[V];
#pragma unroll
  for (int j = 0; j < V; ++j) {
    a[j] = coef_a[ch0 + j];
    k[j] = coef_k[ch0 + j];
    b[j] = coef_b[ch0 + j];
  }
  const int64_t step = int64_t(gridDim.y) * blockDim.y;
  for (int64_t r = blockIdx.y * int64_t(blockDim.y) + threadIdx.y; r < rows; r += 4 * step) {
    float xv[4][V], gv[4][V];
#pragma unroll
    for (int u = 0; u < 4; ++u) {
      if (r + u * step < rows) {
        load_vec<D, V>(x + (r + u * step) * c + ch0, xv[u]);
        load_vec<D, V>(dy + (r + u * step) * c + ch0, gv[u]);
      }
    }
#pragma unroll
    for (int u = 0; u < 4; ++u) {
      if (r + u * step < rows) {
#pragma unroll
        for (int j = 0; j < V; ++j) xv[u][j] = a[j] * gv[u][j] - k[j] * xv[u][j] + b[j];
        store_vec<D, V>(dx + (r + u * step) * c + ch0, xv[u]);
      }
    }
  }
}

template <class D, int V>
void launch_apply(cudaStream_t stream, const NormShape& s, const D* x, D* y, const Affine& a) {
  const Tile t = tile_for(s.c, V);
  const dim3 grid(unsigned(t.gx), unsigned(apply_row_blocks(s, t))), block(t.tx, t.ty);
  bn_apply_kernel<D, V><<<grid, block, 0, stream>>>(s.rows, s.c, x, y, a);
  CUDA_CHECK_LAST();
}

unsigned final_blocks(int64_t c) { return unsigned((c + kFinalX - 1) / kFinalX); }

}  // namespace

int64_t batchnorm_scratch_floats(const NormShape& shape) {
  return stat_row_blocks(shape) * (2 * shape.c + 1) + 3 * shape.c;
}

template <class T>
void batchnorm_forward_train(cudaStream_t stream, const NormShape& shape, const T* x, const float* gamma,
                             const float* beta, T* y, float* save_mean, float* save_invstd, float* running_mean,
                             float* running_var, double momentum, double eps, float* scratch) {
  if (shape.rows == 0 || shape.c == 0) return;
  using D = DevT<T>;
  const Scratch sc = carve(scratch, shape);
  const int64_t parts = stat_row_blocks(shape);
  float* scale = sc.coef;
  float* shift = sc.coef + shape.c;
  with_vec<D>(shape.c, {x, y}, [&](auto vec) {
    constexpr int V = decltype(vec)::value;
    const Tile t = tile_for(shape.c, V);
    bn_stats_kernel<D, V><<<dim3(unsigned(t.gx), unsigned(parts)), dim3(t.tx, t.ty), 0, stream>>>(
        shape.rows, shape.c, dev(x), sc.part_a, sc.part_b, sc.part_n);
    CUDA_CHECK_LAST();
    bn_forward_finalize_kernel<<<final_blocks(shape.c), dim3(kFinalX, kFinalY), 0, stream>>>(
        shape.c, parts, sc.part_a, sc.part_b, sc.part_n, gamma, beta, save_mean, save_invstd, running_mean, running_var,
        momentum, eps, scale, shift);
    CUDA_CHECK_LAST();
    Affine a;
    a.scale = scale;
    a.shift = shift;
    launch_apply<D, V>(stream, shape, dev(x), dev(y), a);
  });
}

template <class T>
void batchnorm_forward_eval(cudaStream_t stream, const NormShape& shape, const T* x, const float* gamma,
                            const float* beta, const float* running_mean, const float* running_var, double eps, T* y) {
  if (shape.rows == 0 || shape.c == 0) return;
  using D = DevT<T>;
  Affine a;
  a.gamma = gamma;
  a.beta = beta;
  a.mean = running_mean;
  a.var = running_var;
  a.eps = eps;
  with_vec<D>(shape.c, {x, y}, [&](auto vec) {
    constexpr int V = decltype(vec)::value;
    launch_apply<D, V>(stream, shape, dev(x), dev(y), a);
  });
}

template <class T>
void batchnorm_backward(cudaStream_t stream, const NormShape& shape, const T* x, const T* dy, const float* gamma,
                        const float* save_mean, const float* save_invstd, T* dx, float* dgamma, float* dbeta,
                        bool accumulate, bool batch_statistics, float* scratch) {
  if (shape.rows == 0 || shape.c == 0) return;
  using D = DevT<T>;
  const Scratch sc = carve(scratch, shape);
  const int64_t parts = stat_row_blocks(shape);
  float* coef_a = sc.coef;
  float* coef_k = sc.coef + shape.c;
  float* coef_b = sc.coef + 2 * shape.c;
  with_vec<D>(shape.c, {x, dy, dx}, [&](auto vec) {
    constexpr int V = decltype(vec)::value;
    const Tile t = tile_for(shape.c, V);
    bn_backward_reduce_kernel<D, V><<<dim3(unsigned(t.gx), unsigned(parts)), dim3(t.tx, t.ty), 0, stream>>>(
        shape.rows, shape.c, dev(x), dev(dy), save_mean, sc.part_a, sc.part_b);
    CUDA_CHECK_LAST();
    bn_backward_finalize_kernel<<<final_blocks(shape.c), dim3(kFinalX, kFinalY), 0, stream>>>(
        shape.rows, shape.c, parts, sc.part_a, sc.part_b, gamma, save_mean, save_invstd, dgamma, dbeta, accumulate,
        batch_statistics, coef_a, coef_k, coef_b);
    CUDA_CHECK_LAST();
    const dim3 grid(unsigned(t.gx), unsigned(apply_row_blocks(shape, t)));
    bn_backward_apply_kernel<D, V>
        <<<grid, dim3(t.tx, t.ty), 0, stream>>>(shape.rows, shape.c, dev(x), dev(dy), coef_a, coef_k, coef_b, dev(dx));
    CUDA_CHECK_LAST();
  });
}

void batchnorm_frozen_statistics(cudaStream_t stream, int64_t c, const float* running_mean, const float* running_var,
                                 double eps, float* save_mean, float* save_invstd) {
  if (c == 0) return;
  constexpr int kThreads = 256;
  bn_frozen_statistics_kernel<<<unsigned((c + kThreads - 1) / kThreads), kThreads, 0, stream>>>(
      c, running_mean, running_var, eps, save_mean, save_invstd);
  CUDA_CHECK_LAST();
}

#define ASLNET_INSTANTIATE(T)                                                                                         \
  template void batchnorm_forward_train<T>(cudaStream_t, const NormShape&, const T*, const float*, const float*, T*,  \
                                           float*, float*, float*, float*, double, double, float*);                   \
  template void batchnorm_forward_eval<T>(cudaStream_t, const NormShape&, const T*, const float*, const float*,       \
                                          const float*, const float*, double, T*);                                    \
  template void batchnorm_backward<T>(cudaStream_t, const NormShape&, const T*, const T*, const float*, const float*, \
                                      const float*, T*, float*, float*, bool, bool, float*);
ASLNET_INSTANTIATE(float)
ASLNET_INSTANTIATE(bf16)
#undef ASLNET_INSTANTIATE

}  // namespace aslnet::kernels::cuda
