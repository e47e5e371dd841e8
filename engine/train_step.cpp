#include "engine/train_step.h"

namespace aslnet {

TrainStep::TrainStep(Context& ctx, Model& model, CrossEntropyLoss& loss, Optimizer& optimizer, TrainStepOptions options)
    : ctx_(ctx), model_(model), loss_(loss), optimizer_(optimizer), options_(options) {
  ASLNET_CHECK(options_.accum_steps > 0) << "--accum-steps must be positive, got " << options_.accum_steps;
}

void TrainStep::queue(int64_t micro, const Tensor& images, const Tensor& labels, const Tensor& targets, double lr) {
  ASLNET_CHECK(micro >= 0 && micro < options_.accum_steps)
      << "micro-batch " << micro << " of a step of " << options_.accum_steps;
  const bool last = micro + 1 == options_.accum_steps;
  const Tensor& logits = model_.forward(ctx_, images, /*training=*/!options_.freeze_batch_norm);
  loss_.forward_backward_pending(ctx_, logits, labels, 1.0 / double(options_.accum_steps), targets);
  if (options_.reducer != nullptr) options_.reducer->begin_backward(ctx_, /*reduce=*/last && options_.all_reduce);
  model_.backward(ctx_, loss_.dlogits(), /*accumulate=*/micro > 0);
  if (!last) return;
  if (options_.reducer != nullptr) options_.reducer->finish(ctx_);
  if (update_prepared_)
    optimizer_.enqueue_gpu_step(ctx_);
  else
    optimizer_.step(ctx_, lr);
}

LossResult train_step(Context& ctx, Model& model, CrossEntropyLoss& loss, Optimizer& optimizer, const Tensor& images,
                      const Tensor& labels, double lr) {
  TrainStep(ctx, model, loss, optimizer).queue(0, images, labels, Tensor(), lr);
  return loss.read_pending(ctx);
}

}  // namespace aslnet
