// Fused optimizer updates over a flat fp32 parameter arena: one launch updates every parameter (torch's
// update rules, in torch's order of operations), and in mixed precision writes the bf16 compute copy of
// each weight as it goes. Weight decay differs per parameter (batch-norm and bias parameters may be
// exempt), so the arena is described as spans with their own decay; a thread finds its span by a
// binary search over the (few hundred) span ends.
//
// Hyper-parameters that change between steps (learning rate, Adam's bias corrections, the EMA's
// warming-up decay) are read from device memory, not passed by value: a captured CUDA graph replays
// with the values of the moment.
//
// An exponential moving average of the weights (--ema) rides in the same pass: with `ema` non-null,
// each element's average moves toward its freshly updated value, ema += (1 - d) (p - ema), which is
// ema = d ema + (1 - d) p written so that an average equal to its value stays exactly equal (frozen
// batch-norm statistics, alignment padding). ema_update does the same for the batch-norm statistics.
#pragma once

#include <cstdint>

#include "engine/core/dtype.h"
#include "engine/core/gpu_types.h"

namespace aslnet::kernels::cuda {

// Span i covers arena elements [i ? ends[i - 1] : 0, ends[i]) and decays with weight_decay[i].
// Both arrays live on the device, `count` entries each; ends[count - 1] is the arena's length.
struct DecaySpans {
  const int64_t* ends = nullptr;
  const float* weight_decay = nullptr;
  int count = 0;
};

// Step-varying values, on the device.
struct StepHyper {
  float lr;
  float bias_correction1;  // AdamW: 1 - beta1^t
  float bias_correction2;  // AdamW: 1 - beta2^t
  // EMA: 1 - d_t, the weight of the new value (computed in double before rounding: 1 - 0.9999f in
  // float would be off by 1e-4 relative). Unused without an EMA.
  float ema_one_minus_decay;
  int32_t step;  // the update's number, from 1: flag_non_finite records the first one it refuses
};

// Non-finite gradients: flag_non_finite, queued before the update, writes hyper->step into
// *first_bad_step when `values` holds an infinity or a NaN and the flag is still 0 (it then stays set);
// the updates below, given the flag, change nothing while it is set. So a step whose loss overflowed
// leaves the weights, moments and averages as the last good step left them, without the host waiting
// for the loss (engine/train_step.h), and a captured graph replays the same guard.
void flag_non_finite(cudaStream_t stream, int64_t count, const float* values, const StepHyper* hyper,
                     int32_t* first_bad_step);

// torch.optim.SGD (dampening 0): g = grad + wd * p; buf = mu * buf + g (buf = g at the first step is
// torch's rule; zero-initialised buffers give the same); g = nesterov ? g + mu * buf : buf; p -= lr * g.
// momentum_buf is null when mu == 0. param_bf16 (null in fp32 training) receives bf16(p); ema (null
// without --ema) the moving average of p.
void sgd_step(cudaStream_t stream, int64_t count, float* param, const float* grad, float* momentum_buf,
              bf16* param_bf16, float* ema, DecaySpans spans, const StepHyper* hyper, float momentum, bool nesterov,
              const int32_t* skip_if_set = nullptr);

// torch.optim.AdamW: p *= 1 - lr * wd; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
// p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps). The betas come in double so that 1 - beta is
// computed before rounding to float, as torch does.
void adamw_step(cudaStream_t stream, int64_t count, float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
                bf16* param_bf16, float* ema, DecaySpans spans, const StepHyper* hyper, double beta1, double beta2,
                double eps, const int32_t* skip_if_set = nullptr);

// ZeRO stage 1 (--zero 1): each replica flags only its shard's gradients, so the replicas agree before
// updating. non_finite_vote writes 1 into *vote when *first_bad_step is set (0 otherwise); the votes
// are averaged over the replicas (in stream order), and non_finite_agree then sets *first_bad_step to
// hyper->step when any replica voted and the flag is still 0. Every replica refuses the same updates.
void non_finite_vote(cudaStream_t stream, const int32_t* first_bad_step, float* vote);
void non_finite_agree(cudaStream_t stream, const float* votes, const StepHyper* hyper, int32_t* first_bad_step);
// ema += hyper->ema_one_minus_decay * (value - ema) over `count` elements: the batch-norm statistics'
// average, after the step's forward has updated them.
void ema_update(cudaStream_t stream, int64_t count, float* ema, const float* value, const StepHyper* hyper,
                const int32_t* skip_if_set = nullptr);

}  // namespace aslnet::kernels::cuda
