// Softmax cross-entropy with label smoothing, its gradient and the top-1 hits, in one launch of one
// block. A classifier's logits are small (a batch of a few hundred rows of 29 classes), so one block is
// plenty, and it makes the result deterministic without atomics: warp w owns rows w, w + warps, ... and
// sums their losses in that order; the warps' partial sums are then added by one thread in warp order.
// Within a row the 32 lanes stride over the classes and combine with xor shuffles (every lane ends with
// the same bits, since each pairwise sum has the same two operands).
//
// Per row, as kernels/cpu/loss.cpp does (torch's definition, the target is (1 - eps) on the label plus
// eps / classes everywhere, and sums to 1):
//   loss = logsumexp(x) - sum_j target_j x_j  (computed relative to the row's largest logit),   dlogits_j = (softmax_j - target_j) * scale / batch,
//   hit  = (first index of the largest logit == label).
// The CPU computes in double, this kernel in fp32.
//
// The soft-target launch (mixup, cutmix) is the same kernel with another target rule: t'_j = (1 - eps) t_j +
// eps / classes, from the row of `targets`. That rule is evaluated in double and rounded once, so a one-hot
// row yields exactly the hard rule's float(on) and float(off), and the same bits come out. A soft row's
// mass may miss 1 by fp32's rounding (lambda + (1 - lambda)); as on the CPU, the loss and gradient are
// those of the definition, sum_j t'_j (logsumexp - x_j), whatever the mass: with deficit = 1 - sum_j t'_j,
//   loss = log(sum_j exp(x_j - peak)) (1 - deficit) - sum_j t'_j (x_j - peak),  dlogits_j = softmax_j (1 - deficit) - t'_j,
// and a one-hot row's deficit is exactly 0.
#include <cuda_bf16.h>

#include <climits>
#include <cmath>

#include "engine/core/cuda_check.h"
#include "engine/core/dtype.h"
#include "kernels/cuda/device_values.cuh"
#include "kernels/loss.h"

namespace aslnet::kernels::cuda {

namespace {

constexpr int kThreads = 1024;
constexpr int kWarp = 32;
constexpr unsigned kFull = 0xffffffffu;

__device__ inline float warp_sum(float v) {
  for (int m = kWarp / 2; m > 0; m /= 2) v += __shfl_xor_sync(kFull, v, m);
  return v;
}

// Today's targets: (1 - eps) + eps / classes on the label, eps / classes elsewhere; they sum to 1.
struct HardTarget {
  float on, off;
  __device__ float operator()(int64_t /*row*/, int label, int j) const { return j == label ? on : off; }
  __device__ float deficit(int64_t /*row*/, int /*lane*/) const { return 0.0f; }
};

// Mixed targets: row `row` of the f32 [batch, classes] distributions, smoothed (in double, see above).
struct SoftTarget {
  const float* targets;
  int classes;
  double keep, off;  // 1 - eps, eps / classes
  __device__ float operator()(int64_t row, int /*label*/, int j) const {
    return float(keep * double(targets[row * classes + j]) + off);
  }
  // 1 - sum_j t'_j = keep * (1 - sum_j t_j), the sum over the warp (called by all its lanes): exactly 0
  // for a one-hot row, whose fp32 sum is exactly 1 in any order.
  __device__ float deficit(int64_t row, int lane) const {
    float mass = 0.0f;
    for (int j = lane; j < classes; j += kWarp) mass += targets[row * classes + j];
    return float(keep * (1.0 - double(warp_sum(mass))));
  }
};

template <class D, class Target>
__global__ void __launch_bounds__(kThreads)
    softmax_cross_entropy_kernel(int64_t batch, int classes, const D* logits, const int32_t* labels, Target target,
                                 float grad_scale, D* dlogits, float* loss_sum, int32_t* correct, bool accumulate) {
  __shared__ float warp_loss[kThreads / kWarp];
  __shared__ int warp_hits[kThreads / kWarp];
  const int lane = int(threadIdx.x) % kWarp, warp = int(threadIdx.x) / kWarp, warps = int(blockDim.x) / kWarp;
  float loss = 0.0f;
  int hits = 0;
  for (int64_t i = warp; i < batch; i += warps) {
    const D* row = logits + i * classes;
    const int label = labels[i];
    // The largest logit and its first index (std::max_element's rule: a later equal value does not win).
    // An empty lane holds (-inf, INT_MAX), which any real element beats or ties at a smaller index.
    float peak = -INFINITY;
    int arg = INT_MAX;
    for (int j = lane; j < classes; j += kWarp) {
      const float v = to_f(row[j]);
      if (v > peak || (v == peak && j < arg)) {
        peak = v;
        arg = j;
      }
    }
    for (int m = kWarp / 2; m > 0; m /= 2) {
      const float other = __shfl_xor_sync(kFull, peak, m);
      const int other_arg = __shfl_xor_sync(kFull, arg, m);
      if (other > peak || (other == peak && other_arg < arg)) {
        peak = other;
        arg = other_arg;
      }
    }
    // Everything relative to the peak: the CPU's logsumexp(x) - sum_j t_j x_j, with the targets summing to
    // 1, is log(sum_j exp(x_j - peak)) - sum_j t_j (x_j - peak), and the second form keeps fp32's digits
    // when the logits are large (a 1000-sized logit would otherwise cost 1e-4 of absolute error).
    float sum = 0.0f, target_dot = 0.0f;
    for (int j = lane; j < classes; j += kWarp) {
      const float shifted = to_f(row[j]) - peak;
      sum += expf(shifted);
      target_dot += target(i, label, j) * shifted;
    }
    sum = warp_sum(sum);
    target_dot = warp_sum(target_dot);
    const float log_sum = logf(sum);  // relative to the peak
    const float deficit = target.deficit(i, lane);
    loss += log_sum - target_dot - deficit * log_sum;
    hits += arg == label;
    if (dlogits != nullptr) {
      D* drow = dlogits + i * classes;
      for (int j = lane; j < classes; j += kWarp)
        drow[j] = from_f<D>((expf(to_f(row[j]) - peak - log_sum) * (1.0f - deficit) - target(i, label, j)) *
                            grad_scale);
    }
  }
  if (lane == 0) {
    warp_loss[warp] = loss;
    warp_hits[warp] = hits;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    float total = 0.0f;
    int total_hits = 0;
    for (int w = 0; w < warps; ++w) {
      total += warp_loss[w];
      total_hits += warp_hits[w];
    }
    *loss_sum = accumulate ? *loss_sum + total : total;
    *correct = accumulate ? *correct + total_hits : total_hits;
  }
}

}  // namespace

namespace {

void check_sizes(int64_t batch, int64_t classes) {
  ASLNET_CHECK(classes > 0 && classes <= INT_MAX) << "softmax_cross_entropy: " << classes << " classes";
  ASLNET_CHECK(batch >= 0) << "softmax_cross_entropy: batch " << batch;
}

// Launched even for an empty batch: the results are still written (zero, or left as they were).
template <class T, class Target>
void launch(cudaStream_t stream, int64_t batch, int64_t classes, const T* logits, const int32_t* labels,
            Target target, T* dlogits, double scale, float* loss_sum, int32_t* correct, bool accumulate) {
  using D = DevT<T>;
  // The gradient's factor in double, as the CPU has it, then rounded once.
  const double grad_scale = batch > 0 ? scale / double(batch) : 0.0;
  softmax_cross_entropy_kernel<D, Target><<<1, kThreads, 0, stream>>>(
      batch, int(classes), reinterpret_cast<const D*>(logits), labels, target, float(grad_scale),
      reinterpret_cast<D*>(dlogits), loss_sum, correct, accumulate);
  CUDA_CHECK_LAST();
}

}  // namespace

template <class T>
void softmax_cross_entropy(cudaStream_t stream, int64_t batch, int64_t classes, const T* logits,
                           const int32_t* labels, double label_smoothing, T* dlogits, double scale, float* loss_sum,
                           int32_t* correct, bool accumulate) {
  check_sizes(batch, classes);
  // The target's two values in double, as the CPU has them, then rounded once.
  const double off = label_smoothing / double(classes);
  const double on = 1.0 - label_smoothing + off;
  launch(stream, batch, classes, logits, labels, HardTarget{float(on), float(off)}, dlogits, scale, loss_sum, correct,
         accumulate);
}

template <class T>
void softmax_cross_entropy_soft(cudaStream_t stream, int64_t batch, int64_t classes, const T* logits,
                                const float* targets, const int32_t* labels, double label_smoothing, T* dlogits,
                                double scale, float* loss_sum, int32_t* correct, bool accumulate) {
  check_sizes(batch, classes);
  const SoftTarget target{targets, int(classes), 1.0 - label_smoothing, label_smoothing / double(classes)};
  launch(stream, batch, classes, logits, labels, target, dlogits, scale, loss_sum, correct, accumulate);
}

template void softmax_cross_entropy<float>(cudaStream_t, int64_t, int64_t, const float*, const int32_t*, double,
                                           float*, double, float*, int32_t*, bool);
template void softmax_cross_entropy<bf16>(cudaStream_t, int64_t, int64_t, const bf16*, const int32_t*, double,
                                          bf16*, double, float*, int32_t*, bool);

template void softmax_cross_entropy_soft<float>(cudaStream_t, int64_t, int64_t, const float*, const float*,
                                                const int32_t*, double, float*, double, float*, int32_t*, bool);
template void softmax_cross_entropy_soft<bf16>(cudaStream_t, int64_t, int64_t, const bf16*, const float*,
                                               const int32_t*, double, bf16*, double, float*, int32_t*, bool);

}  // namespace aslnet::kernels::cuda
