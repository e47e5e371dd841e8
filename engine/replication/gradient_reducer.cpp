#include "engine/replication/gradient_reducer.h"

#include <algorithm>
#include <cstring>

#include "engine/core/cuda_check.h"

namespace aslnet {

GradientReducer::GradientReducer(Model& model, Communicator& communicator, ReducerOptions options)
    : model_(model), comm_(communicator), options_(options) {
  ASLNET_CHECK(options.bucket_bytes > 0 && options.first_bucket_bytes > 0) << "bucket sizes must be positive";
  const Tensor& arena = model_.gradient_arena();
  const auto& params = model_.parameters();
  const size_t elem = dtype_size(arena.dtype());
  auto offset_of = [&](const Parameter* p) {
    return int64_t((static_cast<const char*>(p->grad.raw()) - static_cast<const char*>(arena.raw())) / elem);
  };
  // Parameters in arena order: the order backward finishes them (roughly: a residual block's main
  // branch finishes before its shortcut, which sits in front of it in the arena).
  order_.assign(params.begin(), params.end());
  std::sort(order_.begin(), order_.end(),
            [&](const Parameter* a, const Parameter* b) { return offset_of(a) < offset_of(b); });

  // Buckets tile the arena [0, numel) at parameter boundaries (alignment padding included).
  int64_t cap = options.first_bucket_bytes / int64_t(elem);
  for (size_t k = 0; k < order_.size(); ++k) {
    const int64_t begin = offset_of(order_[k]);
    const int64_t end = k + 1 < order_.size() ? offset_of(order_[k + 1]) : arena.numel();
    if (buckets_.empty() || (buckets_.back().count > 0 && buckets_.back().count + (end - begin) > cap)) {
      if (!buckets_.empty()) cap = options.bucket_bytes / int64_t(elem);
      buckets_.push_back({.offset = begin, .first = order_[k]});
    }
    buckets_.back().count += end - begin;
    buckets_.back().bytes = buckets_.back().count * int64_t(elem);
    buckets_.back().parameters += 1;
    buckets_.back().last = order_[k];
    position_[order_[k]] = int(k);
    bucket_at_.push_back(int(buckets_.size()) - 1);
  }
  if (options_.zero && comm_.size() > 1) {
    std::vector<ArenaRange> ranges;
    for (const GradientBucket& b : buckets_) ranges.push_back({b.offset, b.count});
    zero_ = std::make_unique<ZeroShards>(ranges, comm_.rank(), comm_.size());
  }
  reported_.assign(order_.size(), 0);
  waiting_.assign(buckets_.size(), 0);
  completed_by_.assign(buckets_.size(), nullptr);
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
  std::fill(reported_.begin(), reported_.end(), 0);
}

void GradientReducer::gradients_finished(std::span<Parameter* const> finished) {
  if (!reducing_) return;
  // Each parameter is reported once per backward, by the layer that owns it (engine/layer.h), so a
  // bucket is complete when its count reaches zero. A second report would complete a bucket whose
  // other gradients are not written yet: refused (a layer run twice in one backward, which a ResNet
  // never does; DDP refuses it too).
  for (const Parameter* p : finished) {
    const size_t at = size_t(position_.at(p));
    ASLNET_CHECK(!reported_[at]) << p->name << " reported its gradient twice in one backward (a layer used twice?)";
    reported_[at] = 1;
    const size_t b = size_t(bucket_at_[at]);
    if (--waiting_[b] == 0) completed_by_[b] = p;
  }
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
      if (zero_ != nullptr)
        zero_->start_reduce(comm_, model_.gradient_arena(), b, comm_stream_.get());
      else
        comm_.start_all_reduce_average(view, comm_stream_.get());
    } else if (zero_ != nullptr) {
      zero_->start_reduce(comm_, model_.gradient_arena(), b, nullptr);
    } else {
      comm_.start_all_reduce_average(view, nullptr);
    }
    if (on_bucket_started) on_bucket_started(b);
  }
}

void GradientReducer::finish(Context& ctx) {
  if (!reducing_) return;
  reducing_ = false;
  // A parameter that backward never reported still holds its bucket back. Finding one costs a look at
  // each bucket's count, so it is checked at every reduced backward, not only the first.
  unused_ = unreported();
  if (!unused_.empty()) {
    if (!options_.find_unused) {
      std::string names;
      for (const Parameter* p : unused_) names += (names.empty() ? "" : ", ") + p->name;
      ASLNET_CHECK(false) << "no gradient for " << names
                          << ": backward never ran their layers (their output does not reach the loss), so their "
                             "buckets cannot be all-reduced; pass --find-unused to count their gradients as zero";
    }
    count_as_zero(unused_);
  }
  start_ready_buckets();
  ASLNET_CHECK(next_bucket_ == int(buckets_.size())) << "bucket " << next_bucket_ << " never completed";
  if (!model_.device().is_cuda()) {
    comm_.finish(nullptr);
  } else {
    comm_.finish(comm_stream_.get());
    // The optimizer runs next on the compute stream: it must see every bucket averaged.
    CUDA_CHECK(cudaEventRecord(reduced_.get(), comm_stream_.get()));
    CUDA_CHECK(cudaStreamWaitEvent(ctx.stream(), reduced_.get(), 0));
  }
  if (on_backward_reduced) on_backward_reduced();
}

std::vector<const Parameter*> GradientReducer::unreported() const {
  std::vector<const Parameter*> out;
  for (size_t b = 0; b < buckets_.size(); ++b) {
    if (waiting_[b] == 0) continue;  // the usual case: nothing to look at in this bucket
    for (size_t at = 0; at < order_.size(); ++at)
      if (size_t(bucket_at_[at]) == b && !reported_[at]) out.push_back(order_[at]);
  }
  return out;
}

void GradientReducer::count_as_zero(const std::vector<const Parameter*>& unused) {
  // Zeros, not whatever the arena held: a gradient from an earlier step (or an earlier micro-batch)
  // must not be averaged and applied again. On the GPU the zeros are queued on the compute stream
  // before the bucket's ready event, like any gradient backward writes.
  for (const Parameter* p : unused) {
    if (model_.device().is_cuda())
      CUDA_CHECK(cudaMemsetAsync(p->grad.raw(), 0, p->grad.bytes(), ctx_->stream()));
    else
      std::memset(p->grad.raw(), 0, p->grad.bytes());
    const size_t at = size_t(position_.at(p));
    reported_[at] = 1;
    const size_t b = size_t(bucket_at_[at]);
    if (--waiting_[b] == 0) completed_by_[b] = nullptr;  // completed by the end of backward
  }
}

void GradientReducer::shard_optimizer(Optimizer& optimizer) {
  if (zero_ == nullptr) return;
  OptimizerShard shard;
  for (const ArenaRange& r : zero_->owned()) shard.owned.emplace_back(r.offset, r.count);
  shard.replicas = comm_.size();
  // The weights (or state in the arena's layout) after an update: on the compute stream, which the
  // next forward follows.
  shard.gather = [this](Context& ctx, const Tensor& arena) {
    zero_->gather(comm_, arena, model_.device().is_cuda() ? ctx.stream() : nullptr);
  };
  shard.average = [this](Context& ctx, const Tensor& t) { comm_.all_reduce_average(t, ctx.stream()); };
  shard.assemble = [this](Context& ctx, const Tensor& local) { return assemble_state(ctx, local); };
  shard.any = [this](bool mine) {
    std::vector<double> votes{mine ? 1.0 : 0.0};
    comm_.all_reduce_sum_host(votes);
    return votes[0] > 0;
  };
  optimizer.shard(std::move(shard));
}

Tensor GradientReducer::assemble_state(Context& ctx, const Tensor& local) {
  // Bucket by bucket: each replica puts its part of the bucket in place and the bucket is all-gathered,
  // into rank 0's whole arena there, and elsewhere into one bucket's scratch, reused (waited for first on
  // a GPU). Replica 0 is the lead, which writes the checkpoints.
  const bool cuda = model_.device().is_cuda();
  cudaStream_t stream = cuda ? ctx.stream() : nullptr;
  if (cuda) comm_.synchronize(stream);  // the shard's last update; the copies below are plain ones
  const bool root = comm_.rank() == 0;
  Tensor whole, scratch;
  if (root) {
    whole = Tensor::zeros(model_.parameter_arena().shape(), local.dtype(), local.device());
  } else {
    int64_t largest = 0;
    for (int b = 0; b < zero_->bucket_count(); ++b) largest = std::max(largest, zero_->bucket(b).count);
    scratch = Tensor::zeros(Shape{largest}, local.dtype(), local.device());
  }
  int64_t at = 0;  // where the next owned range starts in `local`
  for (int b = 0; b < zero_->bucket_count(); ++b) {
    const ArenaRange range = zero_->bucket(b), mine = zero_->owned_in(b);
    const Tensor values = root ? whole.slice(range.offset, Shape{range.count}) : scratch.slice(0, Shape{range.count});
    if (mine.count > 0) {
      values.slice(mine.offset - range.offset, Shape{mine.count}).copy_from(local.slice(at, Shape{mine.count}));
      at += mine.count;
    }
    zero_->gather_bucket(comm_, values, b, stream);
    if (cuda) comm_.synchronize(stream);  // before the scratch is reused, or rank 0 reads the whole
  }
  return whole;
}

void GradientReducer::broadcast_parameters(Context& ctx) {
  cudaStream_t stream = model_.device().is_cuda() ? ctx.stream() : nullptr;
  comm_.broadcast(model_.parameter_arena(), 0, stream);
  if (model_.state_arena().numel() > 0) comm_.broadcast(model_.state_arena(), 0, stream);
  model_.parameters_changed();
}

}  // namespace aslnet
