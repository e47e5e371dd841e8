// GraphedTrainStep: the training step (engine/train_step.h: forward, loss, backward, optimizer update)
// captured once as a CUDA graph and replayed, so a step costs one launch instead of several hundred. It
// is a capture guard around TrainStep::queue, the same call an eager step makes. Possible because a
// step allocates nothing and never waits on the host (static memory: docs/design.md): every buffer a
// kernel touches has the same address at each replay. The step's inputs are copied into the graph's
// own input buffers first; the learning rate reaches the captured update through page-locked memory
// (Optimizer::prepare_gpu_step); what a replay cannot do on the host (batch norm's counters, the
// loss's pending row count) is counted here per replay.
//
// Soft targets (mixup, cutmix) are captured too: the first call says whether the step has them, and
// the graph then reads a device targets buffer of its own; every later call must agree (a captured
// graph cannot switch losses), which data/mix.h's mix_batch guarantees by writing targets for every
// batch, mixed or not, whenever mixing is on.
//
// The first call runs eagerly (cuDNN and cuBLAS finish their lazy set-up outside the capture), the
// second captures and launches, later ones replay. Replays compute exactly what eager steps compute:
// the same kernels with the same algorithms (tests/engine/test_cuda_graph.cpp checks bit equality).
#pragma once

#include <memory>

#include "engine/core/gpu_types.h"
#include "engine/train_step.h"

namespace aslnet {

class GraphedTrainStep {
 public:
  // Captures `step` (one micro-batch per step and no replicas yet: an Error otherwise).
  explicit GraphedTrainStep(TrainStep& step);
  // Captures a plain step of its own.
  GraphedTrainStep(Context& ctx, Model& model, CrossEntropyLoss& loss, Optimizer& optimizer);
  ~GraphedTrainStep();
  GraphedTrainStep(const GraphedTrainStep&) = delete;
  GraphedTrainStep& operator=(const GraphedTrainStep&) = delete;

  // Queues one step on `images` and `labels` (device tensors of the model's input shape and type, i32
  // labels) with learning rate `lr`; the loss is pending in `loss` (read_pending) afterwards. `targets`:
  // the batch's device soft targets (f32 [batch, classes]), or undefined for one-hot labels; defined on
  // every call or on none.
  void run(const Tensor& images, const Tensor& labels, double lr, const Tensor& targets = Tensor());
  bool captured() const { return exec_ != nullptr; }

 private:
  explicit GraphedTrainStep(std::unique_ptr<TrainStep>&& owned);
  GraphedTrainStep(std::unique_ptr<TrainStep>&& owned, TrainStep& step);
  void queue_body();  // the step on the graph's own inputs, its update prepared by run()
  void capture();

  std::unique_ptr<TrainStep> owned_;  // the second constructor's step
  TrainStep& step_;
  Context& ctx_;
  Tensor images_, labels_;  // the graph's inputs, at fixed addresses
  Tensor targets_;          // and the soft targets, when the first call had some (undefined otherwise)
  int calls_ = 0;
  cudaGraphExec_t exec_ = nullptr;
};

}  // namespace aslnet
