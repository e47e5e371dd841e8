#include "engine/graphed_step.h"

#include "engine/core/cuda_check.h"

namespace aslnet {

GraphedTrainStep::GraphedTrainStep(TrainStep& step) : GraphedTrainStep(std::unique_ptr<TrainStep>(), step) {}

GraphedTrainStep::GraphedTrainStep(Context& ctx, Model& model, CrossEntropyLoss& loss, Optimizer& optimizer)
    : GraphedTrainStep(std::make_unique<TrainStep>(ctx, model, loss, optimizer)) {}

GraphedTrainStep::GraphedTrainStep(std::unique_ptr<TrainStep>&& owned) : GraphedTrainStep(std::move(owned), *owned) {}

GraphedTrainStep::GraphedTrainStep(std::unique_ptr<TrainStep>&& owned, TrainStep& step)
    : owned_(std::move(owned)), step_(step), ctx_(step.context()) {
  ASLNET_CHECK(ctx_.device().is_cuda()) << "--cuda-graph needs --device cuda";
  ASLNET_CHECK(step.model().is_setup()) << "GraphedTrainStep needs a model that is set up";
  ASLNET_CHECK(step.options().accum_steps == 1)
      << "--cuda-graph captures one whole step: it does not combine with --accum-steps";
  ASLNET_CHECK(!step.options().freeze_batch_norm && step.options().reducer == nullptr)
      << "--cuda-graph does not combine with --freeze-bn or with several replicas yet";
  images_ = Tensor::empty(step.model().input_shape(), step.model().compute_dtype(), ctx_.device());
  labels_ = Tensor::empty(Shape{step.model().input_shape().n()}, DType::I32, ctx_.device());
}

GraphedTrainStep::~GraphedTrainStep() {
  if (exec_ != nullptr && cudaGraphExecDestroy(exec_) != cudaSuccess) ASLNET_LOG_ERROR("cudaGraphExecDestroy failed");
}

void GraphedTrainStep::queue_body() {
  step_.update_prepared_ = true;
  try {
    step_.queue(0, images_, labels_, targets_, /*lr: prepared*/ 0.0);
  } catch (...) {
    step_.update_prepared_ = false;
    throw;
  }
  step_.update_prepared_ = false;
}

void GraphedTrainStep::capture() {
  // Nothing runs during a capture, but the step's host-side bookkeeping does (batch-norm counters, the
  // loss's pending rows): it stands for the launch that follows. Thread-local mode lets the loader's
  // threads keep calling CUDA while this thread captures.
  cudaStream_t stream = ctx_.stream();
  cudaGraph_t graph = nullptr;
  CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  try {
    queue_body();
  } catch (...) {
    cudaStreamEndCapture(stream, &graph);
    if (graph != nullptr) cudaGraphDestroy(graph);
    throw;
  }
  CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
  const cudaError_t status = cudaGraphInstantiate(&exec_, graph, 0);
  CUDA_CHECK(cudaGraphDestroy(graph));
  CUDA_CHECK(status);
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
  Optimizer& optimizer = step_.optimizer();
  optimizer.prepare_gpu_step(lr);
  ++calls_;
  if (calls_ == 1) {
    queue_body();  // eager: lazy library set-up happens here, outside any capture
  } else {
    const bool replay = exec_ != nullptr;
    if (!replay) capture();
    CUDA_CHECK(cudaGraphLaunch(exec_, stream));
    if (replay) {
      step_.model().count_replayed_training_forward();
      step_.loss().note_replayed(labels_.numel());
    }
  }
  optimizer.gpu_step_enqueued(ctx_);
}

}  // namespace aslnet
