// CUDA synchronised batch norm (kernels/norm_sync.h), for fp32 and bf16 activations (NHWC: channels
// are the innermost, contiguous axis).
//
// Two per-channel sums over rows = N*H*W, in two kernels: a row pass, where threadIdx.x runs along the
// channels (a warp reads 32 consecutive values) and threadIdx.y and blockIdx.y split the rows with a
// grid stride, each block writing one partial per channel to `scratch`; then one thread per channel
// adds its column of partials in double. No float atomics: the tree depends on the shape alone, so
// the sums are the same bits every run. The element-wise passes (normalise, dx) recompute their
// per-channel coefficients from a few floats per element rather than launching a kernel for them.
// These kernels favour being plainly right over the fused kernels' vector loads (kernels/cuda/norm.cu):
// sync-bn's cost is dominated by its two all-reduces per layer.
#include <cuda_bf16.h>

#include <algorithm>
#include <cstdint>

#include "engine/core/cuda_check.h"
#include "engine/core/dtype.h"
#include "kernels/cuda/device_values.cuh"
#include "kernels/norm_sync.h"

namespace aslnet::kernels::cuda {

namespace {

constexpr int kTx = 32, kTy = 8;          // the row pass's block: 32 channels x 8 row lanes
constexpr int64_t kRowsPerBlock = 64;     // at least this many rows per row block
// Partials per channel at most. 128 keeps the scratch within the fused kernels' for every channel count
// up to 2048 (ResNet's widest), so the layer's workspace, and with it a run without --sync-bn, is as before.
constexpr int64_t kMaxRowBlocks = 128;
constexpr int kThreads = 256;             // the per-channel and element-wise kernels
constexpr int64_t kMaxElementBlocks = 4096;

// Row blocks of the row pass: a function of the shape alone, so the scratch is sized from it.
int64_t row_blocks(const NormShape& s) {
  return std::clamp<int64_t>((s.rows + kRowsPerBlock - 1) / kRowsPerBlock, 1, kMaxRowBlocks);
}

// Per channel, over this block's rows: a = sum(u), b = sum(u * w), where (stats) u = w = x - shift, or
// (gradients) u = dy, w = x - mean. Partials go to part_a[blockIdx.y * c + ch] and part_b likewise.
template <class D, bool kGrad>
__global__ void __launch_bounds__(kTx* kTy)
    sync_row_sums_kernel(int64_t rows, int64_t c, const D* __restrict__ x, const D* __restrict__ dy,
                         const float* __restrict__ center, float* __restrict__ part_a, float* __restrict__ part_b) {
  __shared__ float sh_a[kTy][kTx], sh_b[kTy][kTx];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t ch = blockIdx.x * int64_t(kTx) + tx;
  float a = 0.0f, b = 0.0f;
  if (ch < c) {
    const float k = center[ch];
    const int64_t step = int64_t(gridDim.y) * kTy;
    for (int64_t r = blockIdx.y * int64_t(kTy) + ty; r < rows; r += step) {
      const float d = to_f(x[r * c + ch]) - k;
      if constexpr (kGrad) {
        const float g = to_f(dy[r * c + ch]);
        a += g;
        b += g * d;
      } else {
        a += d;
        b += d * d;
      }
    }
  }
  sh_a[ty][tx] = a;
  sh_b[ty][tx] = b;
  __syncthreads();
  for (int s = kTy / 2; s > 0; s >>= 1) {
    if (ty < s) {
      sh_a[ty][tx] = a = a + sh_a[ty + s][tx];
      sh_b[ty][tx] = b = b + sh_b[ty + s][tx];
    }
    __syncthreads();
  }
  if (ty == 0 && ch < c) {
    part_a[blockIdx.y * c + ch] = a;
    part_b[blockIdx.y * c + ch] = b;
  }
}

// Adds each channel's partials in double: out = [a sums (c) | b sums (c)]. Forward (rows >= 0): out[2c]
// = rows. Backward (dgamma non-null): dgamma (+)= b * invstd, dbeta (+)= a.
__global__ void sync_combine_kernel(int64_t c, int64_t parts, const float* __restrict__ part_a,
                                    const float* __restrict__ part_b, float* __restrict__ out, int64_t rows,
                                    const float* __restrict__ save_invstd, float* __restrict__ dgamma,
                                    float* __restrict__ dbeta, bool accumulate) {
  const int64_t ch = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (ch == 0 && rows >= 0) out[2 * c] = float(rows);
  if (ch >= c) return;
  double a = 0.0, b = 0.0;
  for (int64_t p = 0; p < parts; ++p) {
    a += double(part_a[p * c + ch]);
    b += double(part_b[p * c + ch]);
  }
  out[ch] = float(a);
  out[c + ch] = float(b);
  if (dgamma != nullptr) {
    dgamma[ch] = float((accumulate ? double(dgamma[ch]) : 0.0) + b * double(save_invstd[ch]));
    dbeta[ch] = float((accumulate ? double(dbeta[ch]) : 0.0) + a);
  }
}

// The CPU twin's batchnorm_sync_statistics, one thread per channel, in double.
__global__ void sync_statistics_kernel(int64_t c, const float* __restrict__ stats, int replicas, double momentum,
                                       double eps, float* __restrict__ save_mean, float* __restrict__ save_invstd,
                                       float* __restrict__ running_mean, float* __restrict__ running_var) {
  const int64_t ch = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (ch >= c) return;
  const double n = stats[2 * c];
  const double total = rint(n * double(replicas));
  const double shift = running_mean[ch];  // what local_stats centred on: read before the update
  const double d = double(stats[ch]) / n;
  const double mean = shift + d;
  const double biased = fmax(0.0, double(stats[c + ch]) / n - d * d);
  save_mean[ch] = float(mean);
  save_invstd[ch] = float(1.0 / sqrt(biased + eps));
  const double unbiased = total > 1.0 ? biased * total / (total - 1.0) : biased;
  running_mean[ch] = float((1.0 - momentum) * shift + momentum * mean);
  running_var[ch] = float((1.0 - momentum) * double(running_var[ch]) + momentum * unbiased);
}

template <class D>
__global__ void sync_normalize_kernel(int64_t rows, int64_t c, const D* __restrict__ x, const float* __restrict__ gamma,
                                      const float* __restrict__ beta, const float* __restrict__ save_mean,
                                      const float* __restrict__ save_invstd, D* __restrict__ y) {
  const int64_t total = rows * c, step = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += step) {
    const int64_t ch = i % c;
    const float scale = gamma[ch] * save_invstd[ch];
    const float shift = beta[ch] - save_mean[ch] * scale;
    y[i] = from_f<D>(to_f(x[i]) * scale + shift);
  }
}

template <class D>
__global__ void sync_backward_dx_kernel(int64_t rows, int64_t c, const D* __restrict__ x, const D* __restrict__ dy,
                                        const float* __restrict__ gamma, const float* __restrict__ save_mean,
                                        const float* __restrict__ save_invstd, const float* __restrict__ sums,
                                        const float* __restrict__ stats, D* __restrict__ dx) {
  const int64_t total = rows * c, step = int64_t(gridDim.x) * blockDim.x;
  const float n = stats[2 * c];
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += step) {
    const int64_t ch = i % c;
    const float invstd = save_invstd[ch];
    const float mean_dy = sums[ch] / n, mean_dy_xmu = sums[c + ch] / n;
    const float xmu = to_f(x[i]) - save_mean[ch];
    dx[i] = from_f<D>(gamma[ch] * invstd * (to_f(dy[i]) - mean_dy - xmu * invstd * invstd * mean_dy_xmu));
  }
}

unsigned channel_blocks(int64_t c) { return unsigned((c + kThreads - 1) / kThreads); }
unsigned element_blocks(int64_t n) { return unsigned(std::clamp<int64_t>((n + kThreads - 1) / kThreads, 1, kMaxElementBlocks)); }

// The row pass then the combine: out = [a | b (| rows)].
template <class D, bool kGrad>
void row_sums(cudaStream_t stream, const NormShape& s, const D* x, const D* dy, const float* center, float* out,
              float* scratch, const float* save_invstd, float* dgamma, float* dbeta, bool accumulate) {
  const int64_t parts = row_blocks(s);
  float* part_a = scratch;
  float* part_b = scratch + parts * s.c;
  const dim3 grid(unsigned((s.c + kTx - 1) / kTx), unsigned(parts));
  sync_row_sums_kernel<D, kGrad><<<grid, dim3(kTx, kTy), 0, stream>>>(s.rows, s.c, x, dy, center, part_a, part_b);
  CUDA_CHECK_LAST();
  sync_combine_kernel<<<channel_blocks(s.c), kThreads, 0, stream>>>(s.c, parts, part_a, part_b, out,
                                                                     kGrad ? -1 : s.rows, save_invstd, dgamma, dbeta,
                                                                     accumulate);
  CUDA_CHECK_LAST();
}

}  // namespace

int64_t batchnorm_sync_scratch_floats(const NormShape& shape) { return 2 * row_blocks(shape) * shape.c; }

template <class T>
void batchnorm_sync_local_stats(cudaStream_t stream, const NormShape& shape, const T* x, const float* shift,
                                float* stats, float* scratch) {
  if (shape.c == 0) return;
  row_sums<DevT<T>, false>(stream, shape, dev(x), nullptr, shift, stats, scratch, nullptr, nullptr, nullptr, false);
}

void batchnorm_sync_statistics(cudaStream_t stream, int64_t c, const float* stats, int replicas, double momentum,
                               double eps, float* save_mean, float* save_invstd, float* running_mean,
                               float* running_var) {
  if (c == 0) return;
  sync_statistics_kernel<<<channel_blocks(c), kThreads, 0, stream>>>(c, stats, replicas, momentum, eps, save_mean,
                                                                      save_invstd, running_mean, running_var);
  CUDA_CHECK_LAST();
}

template <class T>
void batchnorm_sync_normalize(cudaStream_t stream, const NormShape& shape, const T* x, const float* gamma,
                              const float* beta, const float* save_mean, const float* save_invstd, T* y) {
  if (shape.rows == 0 || shape.c == 0) return;
  sync_normalize_kernel<<<element_blocks(shape.rows * shape.c), kThreads, 0, stream>>>(
      shape.rows, shape.c, dev(x), gamma, beta, save_mean, save_invstd, dev(y));
  CUDA_CHECK_LAST();
}

template <class T>
void batchnorm_sync_local_grad_sums(cudaStream_t stream, const NormShape& shape, const T* x, const T* dy,
                                    const float* save_mean, const float* save_invstd, float* sums, float* dgamma,
                                    float* dbeta, bool accumulate, float* scratch) {
  if (shape.c == 0) return;
  row_sums<DevT<T>, true>(stream, shape, dev(x), dev(dy), save_mean, sums, scratch, save_invstd, dgamma, dbeta,
                          accumulate);
}

template <class T>
void batchnorm_sync_backward_dx(cudaStream_t stream, const NormShape& shape, const T* x, const T* dy,
                                const float* gamma, const float* save_mean, const float* save_invstd,
                                const float* sums, const float* stats, T* dx) {
  if (shape.rows == 0 || shape.c == 0) return;
  sync_backward_dx_kernel<<<element_blocks(shape.rows * shape.c), kThreads, 0, stream>>>(
      shape.rows, shape.c, dev(x), dev(dy), gamma, save_mean, save_invstd, sums, stats, dev(dx));
  CUDA_CHECK_LAST();
}

#define ASLNET_INSTANTIATE(T)                                                                                    \
  template void batchnorm_sync_local_stats<T>(cudaStream_t, const NormShape&, const T*, const float*, float*,   \
                                              float*);                                                           \
  template void batchnorm_sync_normalize<T>(cudaStream_t, const NormShape&, const T*, const float*, const float*, \
                                            const float*, const float*, T*);                                     \
  template void batchnorm_sync_local_grad_sums<T>(cudaStream_t, const NormShape&, const T*, const T*,            \
                                                  const float*, const float*, float*, float*, float*, bool,      \
                                                  float*);                                                       \
  template void batchnorm_sync_backward_dx<T>(cudaStream_t, const NormShape&, const T*, const T*, const float*,  \
                                              const float*, const float*, const float*, const float*, T*);
ASLNET_INSTANTIATE(float)
ASLNET_INSTANTIATE(bf16)
#undef ASLNET_INSTANTIATE

}  // namespace aslnet::kernels::cuda
