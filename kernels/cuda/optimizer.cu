// Fused SGD and AdamW over the flat fp32 parameter arena: one grid-stride launch updates every element
// (and writes its bf16 compute copy in mixed precision, and moves its EMA with --ema, while the new
// value is still in a register). The update rules and their order of operations
// are engine/optimizer.cpp's (torch's); SGD computes in fp32 as the CPU does, AdamW in fp32 where the CPU
// uses double (they agree to about 1e-7 relative per step).
//
// Weight decay is per span (see kernels/optimizer.h). A thread keeps the span of its last element and
// searches the span ends only when an element falls outside it, so the binary search is paid once per
// span boundary a thread crosses, not once per element.
//
// Vectorised when it is safe: if every array is 16-byte aligned (the bf16 copy 8-byte aligned), elements
// move four at a time as float4 (and four bf16 as one 8-byte store); the count need not be a multiple of
// four (the tail goes element by element) and the spans need not be aligned (each of the four elements
// looks up its own decay). Otherwise the whole arena goes element by element.
#include <cuda_bf16.h>

#include <algorithm>
#include <cstdint>

#include "engine/core/cuda_check.h"
#include "kernels/optimizer.h"

namespace aslnet::kernels::cuda {

namespace {

constexpr int kThreads = 256;

unsigned blocks_for(int64_t count) {
  return unsigned(std::clamp<int64_t>((count + kThreads - 1) / kThreads, 1, 65535));
}

// The span that holds element i, remembered between calls.
class SpanCursor {
 public:
  __device__ explicit SpanCursor(const DecaySpans& spans) : spans_(spans) {}

  __device__ float decay(int64_t i) {
    if (i < begin_ || i >= end_) find(i);
    return decay_;
  }

 private:
  __device__ void find(int64_t i) {
    // The first span whose end is past i; an index beyond the last end gets the last span.
    int lo = 0, hi = spans_.count - 1;
    while (lo < hi) {
      const int mid = (lo + hi) / 2;
      if (__ldg(spans_.ends + mid) > i) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    begin_ = lo > 0 ? __ldg(spans_.ends + lo - 1) : 0;
    end_ = __ldg(spans_.ends + lo);
    decay_ = __ldg(spans_.weight_decay + lo);
  }

  DecaySpans spans_;
  int64_t begin_ = 0, end_ = 0;  // empty: the first call searches
  float decay_ = 0.0f;
};

// torch.optim.SGD, dampening 0, in engine/optimizer.cpp's order. `m` is the momentum buffer (unused
// without momentum), `v` unused.
struct SgdRule {
  float lr, momentum;
  bool nesterov, has_buffer;
  __device__ void operator()(float& p, float grad, float& m, float& /*v*/, float wd) const {
    const float g = grad + wd * p;
    if (!has_buffer) {
      p -= lr * g;
      return;
    }
    m = momentum * m + g;
    p -= lr * (nesterov ? g + momentum * m : m);
  }
};

// torch.optim.AdamW: decoupled decay first, then the moments, then the bias-corrected step.
// (1 - beta) comes from the host, computed in double before rounding: 1.0f - 0.999f is off by 1.3e-5
// relative (0.999 is not a float), which torch avoids the same way (its 1 - beta2 is a Python double).
struct AdamWRule {
  float lr, beta1, one_minus_beta1, beta2, one_minus_beta2, eps, step_size, root_bc2;
  __device__ void operator()(float& p, float g, float& m, float& v, float wd) const {
    m = beta1 * m + one_minus_beta1 * g;
    v = beta2 * v + one_minus_beta2 * g * g;
    p = p * (1.0f - lr * wd) - step_size * m / (sqrtf(v) / root_bc2 + eps);
  }
};

struct SgdArgs {
  float momentum;
  bool nesterov;
  __device__ SgdRule rule(const StepHyper& h, bool has_buffer) const { return {h.lr, momentum, nesterov, has_buffer}; }
};

struct AdamWArgs {
  float beta1, one_minus_beta1, beta2, one_minus_beta2, eps;
  __device__ AdamWRule rule(const StepHyper& h, bool /*has_buffer*/) const {
    return {h.lr,
            beta1,
            one_minus_beta1,
            beta2,
            one_minus_beta2,
            eps,
            h.lr / h.bias_correction1,
            sqrtf(h.bias_correction2)};
  }
};

// The EMA's move toward the new value p (see kernels/optimizer.h for why this form).
__device__ __forceinline__ float ema_toward(float ema, float p, float one_minus_decay) {
  return ema + one_minus_decay * (p - ema);
}

// m and v may be null (SGD without momentum; SGD has no v): the rule then sees zeros that go nowhere.
// ema is null without --ema.
template <class Args>
__global__ void step_kernel(int64_t count, float* __restrict__ param, const float* __restrict__ grad,
                            float* __restrict__ m, float* __restrict__ v, __nv_bfloat16* __restrict__ param_bf16,
                            float* __restrict__ ema, DecaySpans spans, const StepHyper* hyper, Args args,
                            bool vectorised, const int32_t* skip_if_set) {
  if (skip_if_set != nullptr && *skip_if_set != 0) return;
  const auto rule = args.rule(*hyper, m != nullptr);
  const float ema_rate = ema != nullptr ? hyper->ema_one_minus_decay : 0.0f;
  SpanCursor cursor(spans);
  const int64_t first = blockIdx.x * int64_t(blockDim.x) + threadIdx.x, stride = int64_t(gridDim.x) * blockDim.x;

  const int64_t vectors = vectorised ? count / 4 : 0;
  for (int64_t k = first; k < vectors; k += stride) {
    const float4 p4 = reinterpret_cast<const float4*>(param)[k];
    const float4 g4 = reinterpret_cast<const float4*>(grad)[k];
    const float4 zero = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    const float4 m4 = m != nullptr ? reinterpret_cast<const float4*>(m)[k] : zero;
    const float4 v4 = v != nullptr ? reinterpret_cast<const float4*>(v)[k] : zero;
    float p[4] = {p4.x, p4.y, p4.z, p4.w}, g[4] = {g4.x, g4.y, g4.z, g4.w};
    float mm[4] = {m4.x, m4.y, m4.z, m4.w}, vv[4] = {v4.x, v4.y, v4.z, v4.w};
#pragma unroll
    for (int c = 0; c < 4; ++c) rule(p[c], g[c], mm[c], vv[c], cursor.decay(4 * k + c));
    reinterpret_cast<float4*>(param)[k] = make_float4(p[0], p[1], p[2], p[3]);
    if (m != nullptr) reinterpret_cast<float4*>(m)[k] = make_float4(mm[0], mm[1], mm[2], mm[3]);
    if (v != nullptr) reinterpret_cast<float4*>(v)[k] = make_float4(vv[0], vv[1], vv[2], vv[3]);
    if (ema != nullptr) {
      const float4 e = reinterpret_cast<const float4*>(ema)[k];
      reinterpret_cast<float4*>(ema)[k] = make_float4(ema_toward(e.x, p[0], ema_rate), ema_toward(e.y, p[1], ema_rate),
                                                      ema_toward(e.z, p[2], ema_rate), ema_toward(e.w, p[3], ema_rate));
    }
    if (param_bf16 != nullptr) {
      // Round each value to nearest even (as __float2bfloat16_rn and aslnet::to_bf16 do), store all four.
      __nv_bfloat162 lo = __floats2bfloat162_rn(p[0], p[1]), hi = __floats2bfloat162_rn(p[2], p[3]);
      uint2 packed;
      packed.x = *reinterpret_cast<const uint32_t*>(&lo);
      packed.y = *reinterpret_cast<const uint32_t*>(&hi);
      reinterpret_cast<uint2*>(param_bf16)[k] = packed;
    }
  }

  for (int64_t i = 4 * vectors + first; i < count; i += stride) {
    float p = param[i], mm = m != nullptr ? m[i] : 0.0f, vv = v != nullptr ? v[i] : 0.0f;
    rule(p, grad[i], mm, vv, cursor.decay(i));
    param[i] = p;
    if (m != nullptr) m[i] = mm;
    if (v != nullptr) v[i] = vv;
    if (ema != nullptr) ema[i] = ema_toward(ema[i], p, ema_rate);
    if (param_bf16 != nullptr) param_bf16[i] = __float2bfloat16_rn(p);
  }
}

__global__ void ema_kernel(int64_t count, float* __restrict__ ema, const float* __restrict__ value,
                           const StepHyper* hyper, const int32_t* skip_if_set) {
  if (skip_if_set != nullptr && *skip_if_set != 0) return;
  const float rate = hyper->ema_one_minus_decay;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += stride)
    ema[i] = ema_toward(ema[i], value[i], rate);
}

// Every thread scans its share (four at a time where aligned) and stops at its first non-finite value;
// the first step to find one claims the flag. Nothing to do once it is set: the run is stopping.
__global__ void flag_non_finite_kernel(int64_t count, const float* __restrict__ values, const StepHyper* hyper,
                                       int32_t* first_bad_step, bool vectorised) {
  if (*first_bad_step != 0) return;
  const int64_t first = blockIdx.x * int64_t(blockDim.x) + threadIdx.x, stride = int64_t(gridDim.x) * blockDim.x;
  bool bad = false;
  const int64_t vectors = vectorised ? count / 4 : 0;
  for (int64_t k = first; k < vectors && !bad; k += stride) {
    const float4 x = reinterpret_cast<const float4*>(values)[k];
    bad = !(isfinite(x.x) && isfinite(x.y) && isfinite(x.z) && isfinite(x.w));
  }
  for (int64_t i = 4 * vectors + first; i < count && !bad; i += stride) bad = !isfinite(values[i]);
  if (bad) atomicCAS(first_bad_step, 0, hyper->step);
}

bool aligned(const void* p, uintptr_t bytes) { return p == nullptr || reinterpret_cast<uintptr_t>(p) % bytes == 0; }

template <class Args>
void launch(cudaStream_t stream, int64_t count, float* param, const float* grad, float* m, float* v, bf16* param_bf16,
            float* ema, const DecaySpans& spans, const StepHyper* hyper, const Args& args, const int32_t* skip_if_set) {
  if (count == 0) return;
  ASLNET_CHECK(spans.count > 0 && spans.ends != nullptr && spans.weight_decay != nullptr)
      << "optimizer step: no decay spans for " << count << " parameters";
  ASLNET_CHECK(hyper != nullptr) << "optimizer step: no hyper-parameters";
  const bool vectorised = aligned(param, 16) && aligned(grad, 16) && aligned(m, 16) && aligned(v, 16) &&
                          aligned(ema, 16) && aligned(param_bf16, 8);
  const int64_t work = vectorised ? (count + 3) / 4 : count;
  step_kernel<Args><<<blocks_for(work), kThreads, 0, stream>>>(count, param, grad, m, v,
                                                               reinterpret_cast<__nv_bfloat16*>(param_bf16), ema, spans,
                                                               hyper, args, vectorised, skip_if_set);
  CUDA_CHECK_LAST();
}

}  // namespace

void flag_non_finite(cudaStream_t stream, int64_t count, const float* values, const StepHyper* hyper,
                     int32_t* first_bad_step) {
  if (count == 0) return;
  ASLNET_CHECK(values != nullptr && hyper != nullptr && first_bad_step != nullptr) << "flag_non_finite: null buffer";
  const bool vectorised = aligned(values, 16);
  flag_non_finite_kernel<<<blocks_for(vectorised ? (count + 3) / 4 : count), kThreads, 0, stream>>>(
      count, values, hyper, first_bad_step, vectorised);
  CUDA_CHECK_LAST();
}

void sgd_step(cudaStream_t stream, int64_t count, float* param, const float* grad, float* momentum_buf,
              bf16* param_bf16, float* ema, DecaySpans spans, const StepHyper* hyper, float momentum, bool nesterov,
              const int32_t* skip_if_set) {
  ASLNET_CHECK(momentum == 0.0f || momentum_buf != nullptr)
      << "sgd_step: momentum " << momentum << " needs a momentum buffer";
  launch(stream, count, param, grad, momentum == 0.0f ? nullptr : momentum_buf, nullptr, param_bf16, ema, spans, hyper,
         SgdArgs{momentum, nesterov}, skip_if_set);
}

void adamw_step(cudaStream_t stream, int64_t count, float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
                bf16* param_bf16, float* ema, DecaySpans spans, const StepHyper* hyper, double beta1, double beta2,
                double eps, const int32_t* skip_if_set) {
  ASLNET_CHECK(exp_avg != nullptr && exp_avg_sq != nullptr) << "adamw_step: needs both moment buffers";
  launch(stream, count, param, grad, exp_avg, exp_avg_sq, param_bf16, ema, spans, hyper,
         AdamWArgs{float(beta1), float(1.0 - beta1), float(beta2), float(1.0 - beta2), float(eps)}, skip_if_set);
}

void ema_update(cudaStream_t stream, int64_t count, float* ema, const float* value, const StepHyper* hyper,
                const int32_t* skip_if_set) {
  if (count == 0) return;
  ASLNET_CHECK(ema != nullptr && value != nullptr && hyper != nullptr) << "ema_update: null buffer";
  ema_kernel<<<blocks_for(count), kThreads, 0, stream>>>(count, ema, value, hyper, skip_if_set);
  CUDA_CHECK_LAST();
}

__global__ void non_finite_vote_kernel(const int32_t* first_bad_step, float* vote) {
  *vote = *first_bad_step != 0 ? 1.0f : 0.0f;
}

__global__ void non_finite_agree_kernel(const float* votes, const StepHyper* hyper, int32_t* first_bad_step) {
  if (*votes > 0.0f && *first_bad_step == 0) *first_bad_step = hyper->step;
}

void non_finite_vote(cudaStream_t stream, const int32_t* first_bad_step, float* vote) {
  non_finite_vote_kernel<<<1, 1, 0, stream>>>(first_bad_step, vote);
  CUDA_CHECK_LAST();
}

void non_finite_agree(cudaStream_t stream, const float* votes, const StepHyper* hyper, int32_t* first_bad_step) {
  non_finite_agree_kernel<<<1, 1, 0, stream>>>(votes, hyper, first_bad_step);
  CUDA_CHECK_LAST();
}

}  // namespace aslnet::kernels::cuda
