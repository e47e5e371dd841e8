#include "engine/ema_weights.h"

#include "engine/core/cuda_check.h"
#include "kernels/elementwise.h"

namespace aslnet {

EmaWeightsScope::EmaWeightsScope(Context& ctx, Model& model, Optimizer& optimizer)
    : ctx_(ctx), model_(model), optimizer_(optimizer) {
  ASLNET_CHECK(optimizer.has_ema()) << "no EMA weights to use: the run was started without --ema";
  ASLNET_CHECK(&optimizer.model() == &model) << "EmaWeightsScope: the optimizer updates another model";
  ASLNET_CHECK(!optimizer.ema_weights_in_model()) << "EmaWeightsScope: the EMA weights are already in the model";
  ASLNET_CHECK(ctx.device() == model.device())
      << "EmaWeightsScope: the context is on " << ctx.device().str() << ", the model on " << model.device().str();
  trained_params_ = model.parameter_arena().clone();
  trained_state_ = model.state_arena().clone();
  put(optimizer.ema_parameters(), optimizer.ema_state());
  optimizer_.ema_in_model_ = true;
}

EmaWeightsScope::~EmaWeightsScope() {
  try {
    put(trained_params_, trained_state_);
    optimizer_.ema_in_model_ = false;
  } catch (const std::exception& e) {
    ASLNET_LOG_ERROR(std::string("could not put the trained weights back after evaluating the EMA: ") + e.what());
  }
}

void EmaWeightsScope::put(const Tensor& params, const Tensor& state) {
  // copy_from waits for the kernels queued before (the last step, or the evaluation) and lands before
  // anything queued after.
  Tensor model_params = model_.parameter_arena(), model_state = model_.state_arena();
  model_params.copy_from(params);
  model_state.copy_from(state);
  if (model_.mixed_precision()) {
    // The bf16 copies the layers compute with: refreshed here rather than marked stale, because a
    // replayed CUDA graph runs no host code and would not refresh them.
    kernels::cuda::cast<float, bf16>(ctx_.stream(), model_params.numel(), model_params.data<float>(),
                                     model_.compute_arena().data<bf16>());
    ctx_.synchronize();
  }
}

}  // namespace aslnet
