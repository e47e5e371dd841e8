#include "engine/optimizer.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "engine/core/cuda_check.h"
#include "engine/core/parallel.h"
#include "engine/core/vectorize.h"
#include "kernels/elementwise.h"
#include "kernels/optimizer.h"

namespace aslnet {

namespace {
// Parameters per thread at the least: the update is memory-bound, and a tiny tensor is not worth a wake-up.
constexpr int64_t kGrain = 1 << 14;

// The CPU update's loops over [begin, end), out of the lambdas (plain pointers) and compiled for each
// vector width (engine/core/vectorize.h).

// The largest exponent field: all ones only for an infinity or a NaN. Integer max vectorises where
// std::isfinite does not.
template <class T, class Bits>
ASLNET_VECTORIZE Bits largest_exponent(int64_t begin, int64_t end, const T* values, Bits exponent_mask) {
  Bits worst = 0;
  for (int64_t i = begin; i < end; ++i) {
    Bits bits;
    std::memcpy(&bits, values + i, sizeof bits);
    worst = std::max(worst, Bits(bits & exponent_mask));
  }
  return worst;
}

// torch.optim.SGD (dampening 0): g += wd * p; buf = mu * buf + g; g = nesterov ? g + mu * buf : buf;
// p -= lr * g; without momentum (no buffer) p -= lr * g.
template <class T>
ASLNET_VECTORIZE void sgd_range(int64_t begin, int64_t end, T* p, const T* grad, T* buf, T mu, T rate, T decay,
                                bool nesterov) {
  if (buf == nullptr) {
    for (int64_t i = begin; i < end; ++i) p[i] -= rate * (grad[i] + decay * p[i]);
  } else if (nesterov) {
    for (int64_t i = begin; i < end; ++i) {
      const T g = grad[i] + decay * p[i];
      const T b = mu * buf[i] + g;
      buf[i] = b;
      p[i] -= rate * (g + mu * b);
    }
  } else {
    for (int64_t i = begin; i < end; ++i) {
      const T g = grad[i] + decay * p[i];
      const T b = mu * buf[i] + g;
      buf[i] = b;
      p[i] -= rate * b;
    }
  }
}
}  // namespace

Optimizer::Optimizer(Model& model, OptimizerConfig config) : model_(model), config_(std::move(config)) {
  ASLNET_CHECK(config_.kind == "sgd" || config_.kind == "adamw")
      << "unknown optimizer '" << config_.kind << "': expected sgd or adamw";
  const char* base = static_cast<const char*>(model_.parameter_arena().raw());
  const size_t elem = dtype_size(model_.dtype());
  for (const Parameter* p : model_.parameters()) {
    const int64_t offset = (static_cast<const char*>(p->value.raw()) - base) / int64_t(elem);
    segments_.push_back({offset, p->shape.numel(), config_.decay_norm_and_bias || !p->is_norm_or_bias(), offset});
  }
  parameters_ = segments_;
  const Shape arena = model_.parameter_arena().shape();
  if (model_.device().is_cuda()) {
    // Spans in arena order, each running to the next parameter's start (alignment padding included:
    // its gradient is always zero, so it stays zero), merged where the decay is the same.
    std::vector<Segment> sorted = segments_;
    std::sort(sorted.begin(), sorted.end(), [](const Segment& a, const Segment& b) { return a.offset < b.offset; });
    std::vector<int64_t> ends;
    std::vector<float> decay;
    for (size_t i = 0; i < sorted.size(); ++i) {
      const int64_t end = i + 1 < sorted.size() ? sorted[i + 1].offset : arena.numel();
      const float wd = sorted[i].decays ? float(config_.weight_decay) : 0.0f;
      if (!decay.empty() && decay.back() == wd)
        ends.back() = end;
      else
        ends.push_back(end), decay.push_back(wd);
    }
    span_count_ = int(ends.size());
    span_ends_host_ = ends;
    span_decay_host_ = decay;
    span_ends_ = Buffer::device(ends.size() * sizeof(int64_t), model_.device().index);  // no i64 tensors
    CUDA_CHECK(cudaMemcpy(span_ends_.data(), ends.data(), ends.size() * sizeof(int64_t), cudaMemcpyHostToDevice));
    span_decay_ = Tensor::empty(Shape{int64_t(decay.size())}, DType::F32, model_.device());
    CUDA_CHECK(cudaMemcpy(span_decay_.raw(), decay.data(), decay.size() * sizeof(float), cudaMemcpyHostToDevice));
    hyper_ =
        Tensor::zeros(Shape{int64_t(sizeof(kernels::cuda::StepHyper) / sizeof(float))}, DType::F32, model_.device());
    hyper_host_ = Buffer::pinned(sizeof(kernels::cuda::StepHyper));
    first_bad_ = Tensor::zeros(Shape{1}, DType::I32, model_.device());
    hyper_read_ = make_event();
  }
}

double Optimizer::ema_decay_at(double decay, int64_t earlier_steps) {
  const double t = double(earlier_steps);
  return std::min(decay, (1.0 + t) / (10.0 + t));
}

void Optimizer::enable_ema(Context& ctx, double decay) {
  ASLNET_CHECK(decay > 0.0 && decay < 1.0)
      << "--ema " << decay << ": the decay must lie strictly between 0 and 1 (0.9998 is typical)";
  ASLNET_CHECK(ctx.device() == model_.device())
      << "--ema: the context is on " << ctx.device().str() << ", the model on " << model_.device().str();
  ASLNET_CHECK(!ema_in_model_) << "--ema: cannot restart the average while its weights are in the model";
  // A CUDA graph captured before would replay the update without the average.
  ASLNET_CHECK(!hyper_in_flight_) << "--ema: enable the average before the first GPU step";
  ema_decay_ = decay;
  if (!has_ema()) {
    ema_params_ = Tensor::empty(model_.parameter_arena().shape(), model_.dtype(), model_.device());
    ema_state_ = Tensor::empty(model_.state_arena().shape(), model_.dtype(), model_.device());
  }
  reset_ema();
}

void Optimizer::reset_ema() {
  ASLNET_CHECK(has_ema()) << "reset_ema: the optimizer keeps no moving average (--ema is off)";
  ema_params_.copy_from(model_.parameter_arena());  // alignment padding included: zero, as in the arena
  ema_state_.copy_from(model_.state_arena());
}

template <class T>
void Optimizer::average_state(T one_minus_decay) {
  // Tiny (two numbers per batch-norm channel): not worth the threads.
  T* avg = ema_state_.data<T>();
  const T* value = model_.state_arena().data<T>();
  for (int64_t i = 0, n = ema_state_.numel(); i < n; ++i) avg[i] += one_minus_decay * (value[i] - avg[i]);
}

void Optimizer::begin_step() {
  ASLNET_CHECK(!ema_in_model_) << "optimizer step inside an EmaWeightsScope: it would train the averaged weights";
  ++steps_;
  gathered_.clear();  // the whole state of a sharded optimizer, assembled for a checkpoint: stale now
  gathered_at_ = -1;
}

void Optimizer::prepare_gpu_step(double lr) {
  ASLNET_CHECK(model_.dtype() == DType::F32) << "the GPU optimizer updates fp32 arenas";
  // The previous step's copy must have read the page-locked values before they are overwritten; it
  // runs at the start of that step's update, so this rarely waits.
  if (hyper_in_flight_) CUDA_CHECK(cudaEventSynchronize(hyper_read_.get()));
  begin_step();
  allocate_state();  // before a graph's capture, which must not allocate
  auto* hyper = static_cast<kernels::cuda::StepHyper*>(hyper_host_.data());
  *hyper = {float(lr), 1.0f, 1.0f, 0.0f, int32_t(steps_)};
  if (config_.kind == "adamw") {
    hyper->bias_correction1 = float(1.0 - std::pow(config_.beta1, double(steps_)));
    hyper->bias_correction2 = float(1.0 - std::pow(config_.beta2, double(steps_)));
  }
  if (has_ema()) hyper->ema_one_minus_decay = float(ema_rate());
}

void Optimizer::gpu_step_enqueued(Context& ctx) {
  CUDA_CHECK(cudaEventRecord(hyper_read_.get(), ctx.stream()));
  hyper_in_flight_ = true;
}

void Optimizer::step_gpu(Context& ctx, double lr) {
  prepare_gpu_step(lr);
  enqueue_gpu_step(ctx);
  gpu_step_enqueued(ctx);
}

void Optimizer::enqueue_gpu_step(Context& ctx) {
  CUDA_CHECK(cudaMemcpyAsync(hyper_.raw(), hyper_host_.data(), sizeof(kernels::cuda::StepHyper), cudaMemcpyHostToDevice,
                             ctx.stream()));
  if (sharded()) {
    enqueue_sharded_gpu_step(ctx);
    return;
  }
  const kernels::cuda::DecaySpans spans{static_cast<const int64_t*>(span_ends_.data()), span_decay_.data<float>(),
                                        span_count_};
  const Tensor& params = model_.parameter_arena();
  bf16* copy = model_.mixed_precision() ? model_.compute_arena().data<bf16>() : nullptr;
  float* ema = has_ema() ? ema_params_.data<float>() : nullptr;
  const auto* h = static_cast<const kernels::cuda::StepHyper*>(hyper_.raw());
  const float* grad = model_.gradient_arena().data<float>();
  auto* bad = first_bad_.data<int32_t>();
  kernels::cuda::flag_non_finite(ctx.stream(), params.numel(), grad, h, bad);
  if (config_.kind == "sgd")
    kernels::cuda::sgd_step(ctx.stream(), params.numel(), params.data<float>(), grad,
                            first_.defined() ? first_.data<float>() : nullptr, copy, ema, spans, h,
                            float(config_.momentum), config_.nesterov, bad);
  else
    kernels::cuda::adamw_step(ctx.stream(), params.numel(), params.data<float>(), grad, first_.data<float>(),
                              second_.data<float>(), copy, ema, spans, h, config_.beta1, config_.beta2, config_.eps,
                              bad);
  // The statistics this step's forward updated; the same d, read from the same device values.
  if (has_ema())
    kernels::cuda::ema_update(ctx.stream(), ema_state_.numel(), ema_state_.data<float>(),
                              model_.state_arena().data<float>(), h, bad);
}

int64_t Optimizer::first_non_finite_step(Context& ctx) const {
  if (!first_bad_.defined()) return first_bad_step_;
  ctx.synchronize();
  return first_bad_.to(Device::cpu()).data<int32_t>()[0];
}

template <class T>
bool Optimizer::gradients_finite(int64_t offset, int64_t count) const {
  // The largest exponent field over the arena (largest_exponent above), read as integers.
  using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  constexpr Bits kExponent = sizeof(T) == 4 ? Bits(0x7f800000u) : Bits(0x7ff0000000000000ull);
  const T* grad = model_.gradient_arena().data<T>() + offset;
  std::atomic<bool> finite{true};
  parallel_for(count, kGrain, [&](int64_t b, int64_t e) {
    if (largest_exponent(b, e, grad, kExponent) == kExponent) finite = false;
  });
  return finite;
}

std::vector<std::pair<std::string, Tensor>> Optimizer::state_tensors() const {
  if (!sharded()) return local_state();
  ASLNET_CHECK(gathered_at_ == steps_ && gathered_.size() == local_state().size())
      << "--zero 1: the optimizer state is sharded over the replicas; gather_state() must assemble it (every "
         "replica calls it, replica 0 receives it) after the last update, before it is read";
  return gathered_;
}

void Optimizer::allocate_state() const {
  if (state_allocated_) return;
  state_allocated_ = true;
  // Zeros (torch's first step is the same) at the size this replica keeps: a sharded optimizer that
  // has loaded nothing never holds the whole state, not even for a moment.
  int64_t size = model_.parameter_arena().numel();
  if (sharded()) {
    size = 0;
    for (const auto& [offset, count] : shard_.owned) size += count;
  }
  const Shape shape{size};
  if (config_.kind == "sgd" && config_.momentum != 0.0) first_ = Tensor::zeros(shape, model_.dtype(), model_.device());
  if (config_.kind == "adamw") {
    first_ = Tensor::zeros(shape, model_.dtype(), model_.device());
    second_ = Tensor::zeros(shape, model_.dtype(), model_.device());
  }
}

std::vector<std::pair<std::string, Tensor>> Optimizer::local_state() const {
  allocate_state();
  if (config_.kind == "adamw") return {{"exp_avg", first_}, {"exp_avg_sq", second_}};
  if (first_.defined()) return {{"momentum_buffer", first_}};
  return {};
}

void Optimizer::step(Context& ctx, double lr) {
  if (ctx.device().is_cuda()) {
    step_gpu(ctx, lr);
    return;
  }
  begin_step();
  allocate_state();
  dispatch_real(model_.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if (sharded()) {
      // Each replica sees averaged gradients only in its shard: the replicas agree, so that all refuse
      // the same update (or none would be refused whole).
      if (first_bad_step_ == 0) {
        bool finite = true;
        for (const auto& [offset, count] : shard_.owned) finite = finite && gradients_finite<T>(offset, count);
        if (shard_.any(!finite)) first_bad_step_ = steps_;
      }
    } else if (first_bad_step_ == 0 && !gradients_finite<T>(0, model_.gradient_arena().numel())) {
      first_bad_step_ = steps_;
    }
    if (first_bad_step_ != 0) return;  // refused, as the GPU kernels refuse it
    T* param = model_.parameter_arena().data<T>();
    const T* grad = model_.gradient_arena().data<T>();
    T* m = first_.defined() ? first_.data<T>() : nullptr;
    T* v = second_.defined() ? second_.data<T>() : nullptr;
    const double wd = config_.weight_decay;
    // The EMA follows each chunk's update while the chunk is still in cache (the GPU kernel fuses it
    // per element), in the arena's type as the kernel does.
    // Sharded, it follows the all-gather below instead: the average is of the whole weights.
    T* ema = has_ema() && !sharded() ? ema_params_.data<T>() : nullptr;
    const T ema_step = has_ema() ? T(ema_rate()) : T(0);
    auto average = [&](int64_t offset, int64_t b, int64_t e) {
      if (ema == nullptr) return;
      T* avg = ema + offset;
      const T* p = param + offset;
      for (int64_t i = b; i < e; ++i) avg[i] += ema_step * (p[i] - avg[i]);
    };
    if (config_.kind == "sgd") {
      // torch.optim.SGD (sgd_range above), computed in the arena's own type, in torch's order, so it
      // vectorises and rounds as torch does.
      const T mu = T(config_.momentum), rate = T(lr);
      const bool nesterov = config_.nesterov;
      for (const Segment& s : segments_) {
        const T decay = T(s.decays ? wd : 0.0);
        parallel_for(s.count, kGrain, [&](int64_t b, int64_t e) {
          sgd_range(b, e, param + s.offset, grad + s.offset, m == nullptr ? nullptr : m + s.state, mu, rate, decay,
                    nesterov);
          average(s.offset, b, e);
        });
      }
    } else {
      // torch.optim.AdamW: p *= 1 - lr * wd; moments; p -= lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps).
      const double b1 = config_.beta1, b2 = config_.beta2;
      const double bc1 = 1.0 - std::pow(b1, double(steps_)), bc2 = 1.0 - std::pow(b2, double(steps_));
      const double step_size = lr / bc1, root_bc2 = std::sqrt(bc2);
      for (const Segment& s : segments_) {
        const double shrink = 1.0 - lr * (s.decays ? wd : 0.0);
        parallel_for(s.count, kGrain, [&](int64_t b, int64_t e) {
          for (int64_t i = s.offset + b, k = s.state + b; i < s.offset + e; ++i, ++k) {
            const double g = grad[i];
            const double mi = b1 * double(m[k]) + (1.0 - b1) * g;
            const double vi = b2 * double(v[k]) + (1.0 - b2) * g * g;
            m[k] = T(mi);
            v[k] = T(vi);
            param[i] = T(double(param[i]) * shrink - step_size * mi / (std::sqrt(vi) / root_bc2 + config_.eps));
          }
          average(s.offset, b, e);
        });
      }
    }
    if (sharded()) {
      // Every replica's updated shard to every replica: all hold the whole updated weights again.
      shard_.gather(ctx, model_.parameter_arena());
      if (has_ema()) {
        T* avg = ema_params_.data<T>();
        for (const Segment& s : parameters_)
          parallel_for(s.count, kGrain, [&](int64_t b, int64_t e) {
            for (int64_t i = s.offset + b; i < s.offset + e; ++i) avg[i] += ema_step * (param[i] - avg[i]);
          });
      }
    }
    // The statistics this step's forward updated.
    if (has_ema()) average_state<T>(ema_step);
  });
}

void Optimizer::shard(OptimizerShard shard) {
  if (shard.replicas <= 1) return;  // one replica: nothing to share out
  ASLNET_CHECK(!sharded()) << "--zero 1: the optimizer is already sharded";
  // A captured CUDA graph would replay the unsharded update.
  ASLNET_CHECK(!hyper_in_flight_) << "--zero 1: shard the optimizer before the first GPU step";
  ASLNET_CHECK(!model_.device().is_cuda() || shard.average) << "--zero 1: a GPU shard needs its average collective";
  ASLNET_CHECK(shard.gather && shard.any && shard.assemble)
      << "--zero 1: a shard needs its gather, assemble and agreement collectives";
  // The owned part of every parameter, with its place in the shard (the owned ranges one after another).
  std::vector<Segment> parts;
  int64_t size = 0;
  for (const auto& [offset, count] : shard.owned) {
    for (const Segment& p : parameters_) {
      const int64_t b = std::max(p.offset, offset), e = std::min(p.offset + p.count, offset + count);
      if (b < e) parts.push_back({b, e - b, p.decays, size + (b - offset)});
    }
    size += count;
  }
  // The state of the owned ranges only (a resumed checkpoint's whole state is sharded again here; a
  // fresh run's state is allocated at its shard's size when first used).
  auto cut = [&](Tensor& whole) {
    if (!state_allocated_ || !whole.defined()) return;
    Tensor mine = Tensor::zeros(Shape{size}, whole.dtype(), whole.device());
    int64_t at = 0;
    for (const auto& [offset, count] : shard.owned) {
      mine.slice(at, Shape{count}).copy_from(whole.slice(offset, Shape{count}));
      at += count;
    }
    whole = mine;
  };
  cut(first_);
  cut(second_);
  if (model_.device().is_cuda()) {
    // Each owned part gets the spans that cross it, their ends counted from the part's start.
    int64_t at = 0;
    for (const auto& [offset, count] : shard.owned) {
      std::vector<int64_t> ends;
      std::vector<float> decay;
      int64_t begin = 0;
      for (size_t i = 0; i < span_ends_host_.size(); ++i) {
        const int64_t b = std::max(begin, offset), e = std::min(span_ends_host_[i], offset + count);
        begin = span_ends_host_[i];
        if (b >= e) continue;
        ends.push_back(e - offset);
        decay.push_back(span_decay_host_[i]);
      }
      GpuPart part{offset,
                   count,
                   at,
                   Buffer::device(ends.size() * sizeof(int64_t), model_.device().index),
                   Tensor::empty(Shape{int64_t(decay.size())}, DType::F32, model_.device()),
                   int(ends.size())};
      CUDA_CHECK(cudaMemcpy(part.ends.data(), ends.data(), ends.size() * sizeof(int64_t), cudaMemcpyHostToDevice));
      CUDA_CHECK(cudaMemcpy(part.decay.raw(), decay.data(), decay.size() * sizeof(float), cudaMemcpyHostToDevice));
      gpu_parts_.push_back(std::move(part));
      at += count;
    }
    vote_ = Tensor::zeros(Shape{1}, DType::F32, model_.device());
  }
  segments_ = std::move(parts);
  shard_ = std::move(shard);
}

void Optimizer::enqueue_sharded_gpu_step(Context& ctx) {
  cudaStream_t stream = ctx.stream();
  const auto* h = static_cast<const kernels::cuda::StepHyper*>(hyper_.raw());
  float* params = model_.parameter_arena().data<float>();
  const float* grad = model_.gradient_arena().data<float>();
  auto* bad = first_bad_.data<int32_t>();
  // Each replica sees averaged gradients only in its shard: it flags those, and the replicas agree.
  for (const GpuPart& p : gpu_parts_) kernels::cuda::flag_non_finite(stream, p.count, grad + p.offset, h, bad);
  kernels::cuda::non_finite_vote(stream, bad, vote_.data<float>());
  shard_.average(ctx, vote_);
  kernels::cuda::non_finite_agree(stream, vote_.data<float>(), h, bad);
  for (const GpuPart& p : gpu_parts_) {
    const kernels::cuda::DecaySpans spans{static_cast<const int64_t*>(p.ends.data()), p.decay.data<float>(), p.spans};
    if (config_.kind == "sgd")
      kernels::cuda::sgd_step(stream, p.count, params + p.offset, grad + p.offset,
                              first_.defined() ? first_.data<float>() + p.state : nullptr, nullptr, nullptr, spans, h,
                              float(config_.momentum), config_.nesterov, bad);
    else
      kernels::cuda::adamw_step(stream, p.count, params + p.offset, grad + p.offset, first_.data<float>() + p.state,
                                second_.data<float>() + p.state, nullptr, nullptr, spans, h, config_.beta1,
                                config_.beta2, config_.eps, bad);
  }
  // Every replica's updated shard to every replica (a refused update gathers unchanged weights).
  shard_.gather(ctx, model_.parameter_arena());
  const int64_t n = model_.parameter_arena().numel();
  if (model_.mixed_precision())
    kernels::cuda::cast<float, bf16>(stream, n, params, model_.compute_arena().data<bf16>());
  if (has_ema()) {
    kernels::cuda::ema_update(stream, n, ema_params_.data<float>(), params, h, bad);
    kernels::cuda::ema_update(stream, ema_state_.numel(), ema_state_.data<float>(), model_.state_arena().data<float>(),
                              h, bad);
  }
}

void Optimizer::gather_state(Context& ctx) {
  if (!sharded()) return;
  // The copies below are plain (synchronous) ones: the state's last update must be done.
  if (model_.device().is_cuda()) ctx.synchronize();
  gathered_.clear();
  for (const auto& [name, local] : local_state()) {
    Tensor whole = shard_.assemble(ctx, local);
    if (whole.defined()) gathered_.emplace_back(name, whole);
  }
  gathered_at_ = steps_;
}

int64_t Optimizer::state_bytes() const {
  int64_t bytes = 0;
  for (const auto& [name, t] : local_state()) bytes += int64_t(t.bytes());
  return bytes;
}

int64_t Optimizer::full_state_bytes() const {
  return int64_t(local_state().size()) * int64_t(model_.parameter_arena().bytes());
}

}  // namespace aslnet
