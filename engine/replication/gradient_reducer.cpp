#include "engine/replication/gradient_reducer.h"

#include <algorithm>

#include "engine/core/cuda_check.h"

namespace aslnet {

GradientReducer::GradientReducer(Model& model, Communicator& communicator, ReducerOptions options)
    : model_(model), comm_(communicator) {
  ASLNET_CHECK(options.bucket_bytes > 0 && options.first_bucket_bytes > 0) << "bucket sizes must be positive";
  const Tensor& arena = model_.gradient_arena();
  const auto& params = model_.parameters();
  const size_t elem = dtype_size(arena.dtype());
  auto offset_of = [&](const Parameter* p) {
    return int64_t((static_cast<const char*>(p->grad.raw()) - static_cast<const char*>(arena.raw())) / elem);
  };
  // Parameters in arena order: the order backward finishes them (roughly: a residual block's main
  // branch finishes before its shortcut, which sits in front of it in the arena).
  std::vector<const Parameter*> order(params.begin(), params.end());
  std::sort(order.begin(), order.end(),
            [&](const Parameter* a, const Parameter* b) { return offset_of(a) < offset_of(b); });

  // Buckets tile the arena [0, numel) at parameter boundaries (alignment padding included).
  int64_t cap = options.first_bucket_bytes / int64_t(elem);
  for (size_t k = 0; k < order.size(); ++k) {
    const int64_t begin = offset_of(order[k]);
    const int64_t end = k + 1 < order.size() ? offset_of(order[k + 1]) : arena.numel();
    if (buckets_.empty() || (buckets_.back().count > 0 && buckets_.back().count + (end - begin) > cap)) {
      if (!buckets_.empty()) cap = options.bucket_bytes / int64_t(elem);
      buckets_.push_back({begin, 0, 0});
    }
    buckets_.back().count += end - begin;
    buckets_.back().parameters += 1;
    bucket_of_[order[k]] = int(buckets_.size()) - 1;
  }
  waiting_.assign(buckets_.size(), 0);
  if (model_.device().is_cuda()) {
    comm_stream_ = make_stream();
    for (size_t b = 0; b < buckets_.size(); ++b) ready_.push_back(make_event());
    reduced_ = make_event();
  }
  model_.set_backward_hook([this](std::span<Parameter* const> finished) { gradients_finished(finished); });
}

GradientReducer::~GradientReducer() { model_.set_backward_hook(nullptr); }

void GradientReducer::begin_backward(Context& ctx, bool reduce) {
  reducing_ = reduce;
  ctx_ = &ctx;
  next_bucket_ = 0;
  for (size_t b = 0; b < buckets_.size(); ++b) waiting_[b] = buckets_[b].parameters;
}

void GradientReducer::gradients_finished(std::span<Parameter* const> finished) {
  if (!reducing_) return;
  // Each parameter is reported once per backward, by the layer that owns it (engine/layer.h), so a
  // bucket is complete when its count reaches zero.
  for (const Parameter* p : finished) --waiting_[size_t(bucket_of_.at(p))];
  start_ready_buckets();
}

void GradientReducer::start_ready_buckets() {
  // In arena order only: a bucket that completes early waits for the ones in front of it, so every
  // rank issues the same collectives in the same order.
  while (next_bucket_ < int(buckets_.size()) && waiting_[size_t(next_bucket_)] == 0) {
    const int b = next_bucket_++;
    const GradientBucket& bucket = buckets_[size_t(b)];
    const Tensor view = model_.gradient_arena().slice(bucket.offset, Shape{bucket.count});
    if (model_.device().is_cuda()) {
      // The communication stream may start once the compute stream has written this bucket; the
      // compute stream runs on with the rest of backward meanwhile.
      CUDA_CHECK(cudaEventRecord(ready_[size_t(b)].get(), ctx_->stream()));
      CUDA_CHECK(cudaStreamWaitEvent(comm_stream_.get(), ready_[size_t(b)].get(), 0));
      comm_.start_all_reduce_average(view, comm_stream_.get());
    } else {
      comm_.start_all_reduce_average(view, nullptr);
    }
    if (on_bucket_started) on_bucket_started(b);
  }
}

void GradientReducer::finish(Context& ctx) {
  if (!reducing_) return;
  // A parameter backward never wrote (none in a ResNet) would hold its bucket back: send the rest now.
  for (int& w : waiting_) w = 0;
  start_ready_buckets();
  reducing_ = false;
  if (!model_.device().is_cuda()) {
    comm_.finish(nullptr);
    return;
  }
  comm_.finish(comm_stream_.get());
  // The optimizer runs next on the compute stream: it must see every bucket averaged.
  CUDA_CHECK(cudaEventRecord(reduced_.get(), comm_stream_.get()));
  CUDA_CHECK(cudaStreamWaitEvent(ctx.stream(), reduced_.get(), 0));
}

void GradientReducer::broadcast_parameters(Context& ctx) {
  cudaStream_t stream = model_.device().is_cuda() ? ctx.stream() : nullptr;
  comm_.broadcast(model_.parameter_arena(), 0, stream);
  if (model_.state_arena().numel() > 0) comm_.broadcast(model_.state_arena(), 0, stream);
  model_.parameters_changed();
}

}  // namespace aslnet
