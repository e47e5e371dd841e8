#include "engine/train_step.h"

namespace aslnet {

LossResult train_step(Context& ctx, Model& model, CrossEntropyLoss& loss, Optimizer& optimizer, const Tensor& images,
                      const Tensor& labels, double lr) {
  const Tensor& logits = model.forward(ctx, images, /*training=*/true);
  const LossResult result = loss.forward_backward(ctx, logits, labels);
  model.backward(ctx, loss.dlogits());
  optimizer.step(ctx, lr);
  return result;
}

}  // namespace aslnet
