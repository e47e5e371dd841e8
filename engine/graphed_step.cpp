#include "engine/graphed_step.h"

#include <vector>

#include "engine/core/cuda_check.h"

namespace aslnet {

GraphedTrainStep::GraphedTrainStep(Context& ctx, Model& model, CrossEntropyLoss& loss, Optimizer& optimizer)
    : ctx_(ctx), model_(model), loss_(loss), optimizer_(optimizer) {
  ASLNET_CHECK(ctx.device().is_cuda()) << "CUDA graphs need --device cuda";
  ASLNET_CHECK(model.is_setup()) << "GraphedTrainStep needs a model that is set up";
  images_ = Tensor::empty(model.input_shape(), model.compute_dtype(), ctx.device());
  labels_ = Tensor::empty(Shape{model.input_shape().n()}, DType::I32, ctx.device());
}

GraphedTrainStep::~GraphedTrainStep() {
  if (exec_ != nullptr && cudaGraphExecDestroy(exec_) != cudaSuccess) ASLNET_LOG_ERROR("cudaGraphExecDestroy failed");
}

void GraphedTrainStep::enqueue_body() {
  const Tensor& logits = model_.forward(ctx_, images_, /*training=*/true);
  loss_.forward_backward_pending(ctx_, logits, labels_, 1.0, targets_);
  model_.backward(ctx_, loss_.dlogits());
  optimizer_.enqueue_gpu_step(ctx_);
}

void GraphedTrainStep::run(const Tensor& images, const Tensor& labels, double lr, const Tensor& targets) {
  ASLNET_CHECK(images.shape() == images_.shape() && images.dtype() == images_.dtype() &&
               labels.numel() == labels_.numel() && images.device() == ctx_.device() &&
               labels.device() == ctx_.device())
      << "the captured step takes " << dtype_name(images_.dtype()) << images_.shape().str() << " images on "
      << ctx_.device().str() << ", got " << dtype_name(images.dtype()) << images.shape().str() << " on "
      << images.device().str();
  // The first call fixes whether the step has soft targets, before anything is captured (and the buffer
  // is allocated here, outside any capture, once).
  if (calls_ == 0 && targets.defined()) {
    ASLNET_CHECK(targets.shape().rank() == 2 && targets.shape()[0] == labels_.numel())
        << "soft targets must be [" << labels_.numel() << ", classes], got " << targets.shape().str();
    targets_ = Tensor::empty(targets.shape(), DType::F32, ctx_.device());
  }
  ASLNET_CHECK(targets.defined() == targets_.defined())
      << "the captured step was recorded " << (targets_.defined() ? "with" : "without")
      << " soft targets (mixup, cutmix), and this batch has " << (targets.defined() ? "some" : "none");
  if (targets.defined()) {
    ASLNET_CHECK(targets.dtype() == DType::F32 && targets.shape() == targets_.shape() &&
                 targets.device() == ctx_.device())
        << "the captured step takes f32 " << targets_.shape().str() << " soft targets on " << ctx_.device().str()
        << ", got " << dtype_name(targets.dtype()) << targets.shape().str() << " on " << targets.device().str();
  }
  cudaStream_t stream = ctx_.stream();
  CUDA_CHECK(cudaMemcpyAsync(images_.raw(), images.raw(), images.bytes(), cudaMemcpyDeviceToDevice, stream));
  CUDA_CHECK(cudaMemcpyAsync(labels_.raw(), labels.raw(), labels.bytes(), cudaMemcpyDeviceToDevice, stream));
  if (targets.defined())
    CUDA_CHECK(cudaMemcpyAsync(targets_.raw(), targets.raw(), targets.bytes(), cudaMemcpyDeviceToDevice, stream));
  optimizer_.prepare_gpu_step(lr);
  ++calls_;
  if (calls_ == 1) {  // eager: lazy library set-up happens here, outside any capture
    enqueue_body();
    optimizer_.gpu_step_enqueued(ctx_);
    return;
  }
  if (exec_ == nullptr) {
    // Capture: nothing runs, but host-side bookkeeping does (batch-norm counters, the loss's pending
    // flag): undo it, then count the launch below like any replay. Thread-local mode lets the loader's
    // threads keep calling CUDA while this thread captures.
    std::vector<int64_t> counters;
    for (const Counter* c : model_.counters()) counters.push_back(c->value);
    loss_.discard_pending();
    cudaGraph_t graph = nullptr;
    CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    try {
      enqueue_body();
    } catch (...) {
      cudaStreamEndCapture(stream, &graph);
      if (graph != nullptr) cudaGraphDestroy(graph);
      throw;
    }
    CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
    const cudaError_t status = cudaGraphInstantiate(&exec_, graph, 0);
    CUDA_CHECK(cudaGraphDestroy(graph));
    CUDA_CHECK(status);
    for (size_t i = 0; i < counters.size(); ++i) model_.counters()[i]->value = counters[i];
    loss_.discard_pending();
  }
  CUDA_CHECK(cudaGraphLaunch(exec_, stream));
  optimizer_.gpu_step_enqueued(ctx_);
  model_.count_replayed_training_forward();
  loss_.note_replayed(labels_.numel());
}

}  // namespace aslnet
