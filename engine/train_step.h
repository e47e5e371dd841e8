// One optimisation step on one batch: forward in training mode, loss and its gradient, backward, and
// the optimizer's update. The demo, the tests and the benchmarks all train through this function;
// the data-pipeline trainer wraps it with loading, logging and checkpoints.
#pragma once

#include "engine/loss.h"
#include "engine/model.h"
#include "engine/optimizer.h"

namespace aslnet {

LossResult train_step(Context& ctx, Model& model, CrossEntropyLoss& loss, Optimizer& optimizer, const Tensor& images,
                      const Tensor& labels, double lr);

}  // namespace aslnet
