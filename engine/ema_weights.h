// EmaWeightsScope: for as long as it lives, the model holds the optimizer's moving average of its
// weights (--ema) instead of the trained weights, so that evaluate() measures the averaged model and
// save_checkpoint() without optimizer state writes it as a plain inference checkpoint. On exit the
// trained weights come back bit for bit.
//
// The arenas' contents are exchanged, not their addresses: every layer holds views into the arenas,
// and a captured CUDA graph has their addresses baked in. The trained weights wait in a copy the scope
// owns (one arena of memory for the scope's lifetime), and the optimizer's average stays where it is,
// so a scope leaves the optimizer exactly as it found it. In mixed precision the bf16 weight copies
// are recomputed on entry and on exit (the same rounding as the optimizer's, so the copies after the
// scope equal those before). Batch norm's num_batches_tracked counters are shared, not averaged.
//
// Inside the scope the optimizer refuses to step, and save_checkpoint refuses optimizer state (the
// file would record the average as the trained weights).
#pragma once

#include "engine/model.h"
#include "engine/optimizer.h"

namespace aslnet {

class EmaWeightsScope {
 public:
  // An Error when the optimizer keeps no average (--ema is off), belongs to another model, or a scope
  // is already open on it.
  EmaWeightsScope(Context& ctx, Model& model, Optimizer& optimizer);
  ~EmaWeightsScope();
  EmaWeightsScope(const EmaWeightsScope&) = delete;
  EmaWeightsScope& operator=(const EmaWeightsScope&) = delete;

 private:
  void put(const Tensor& params, const Tensor& state);

  Context& ctx_;
  Model& model_;
  Optimizer& optimizer_;
  Tensor trained_params_, trained_state_;  // the model's own arenas, kept for the exit
};

}  // namespace aslnet
