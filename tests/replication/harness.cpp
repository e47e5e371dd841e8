#include "tests/replication/harness.h"

#include <string>
#include <vector>

#include "data/toy_task.h"
#include "engine/core/batch_source.h"
#include "engine/layers/batchnorm.h"
#include "engine/layers/conv2d.h"
#include "engine/layers/linear.h"
#include "engine/layers/pooling.h"
#include "engine/layers/relu.h"
#include "engine/layers/residual.h"
#include "engine/replication/gradient_reducer.h"
#include "engine/replication/in_process.h"
#include "engine/replication/sync_batch_norm.h"
#include "engine/trainer.h"
#include "models/resnet.h"

namespace aslnet::test {

namespace {

// The run's rows come in blocks of `rows()` rows: step after step, and within a step accumulation
// micro-batch a, then replica r (block s*N*A + a*N + r for N replicas accumulating A micro-batches).
// Replica r reads blocks m*N + r for its micro-batches m = 0, 1, ...; the serial twin reads them all
// in order, accumulating N*A per step. Both then sum the same per-block gradients, with batch norm
// seeing the same blocks.
class ShardSource : public BatchSource {
 public:
  // replicas: N; replica: r, or -1 for the serial twin (which reads every block).
  ShardSource(const ReplicationCase& c, int replicas, int replica)
      : task_(make_toy_task(c.steps * c.global_batch, c.classes, c.image_size, 7)),
        rows_(c.global_batch / (replicas * c.accum_steps)),
        replicas_(replicas),
        replica_(replica),
        micro_(c.steps * c.accum_steps * (replica < 0 ? replicas : 1)) {}
  int64_t rows() const { return rows_; }
  int64_t batches_per_epoch() const override { return micro_; }
  void start_epoch(int64_t) override { next_ = 0; }
  bool next(Batch& batch) override {
    if (next_ >= micro_) return false;
    const int64_t block = replica_ < 0 ? next_ : next_ * replicas_ + replica_;
    ++next_;
    const ToyTask part = toy_batch(task_, block * rows_, rows_);
    batch.images = part.images;
    batch.labels = part.labels;
    batch.valid = rows_;
    return true;
  }

 private:
  ToyTask task_;
  int64_t rows_;
  int replicas_, replica_;
  int64_t micro_, next_ = 0;
};

// Runs `inner` in forward and passes its input on unchanged; backward passes the gradient on and never
// runs `inner`: a branch whose output the loss never sees.
class SideBranch : public Layer {
 public:
  explicit SideBranch(std::unique_ptr<Layer> inner) : inner_(std::move(inner)) {}
  std::string kind() const override { return "side_branch"; }
  Shape setup(Context& ctx, const Shape& in, DType dtype) override {
    inner_->setup(ctx, in, dtype);
    return in;
  }
  const Tensor& forward(Context& ctx, const Tensor& x, bool training) override {
    inner_->forward(ctx, x, training);  // computed, then dropped (an auxiliary output nobody reads)
    return x;
  }
  const Tensor& backward(Context&, const Tensor& dy, bool) override { return dy; }
  void collect_parameters(std::vector<Parameter*>& out) override { inner_->collect_parameters(out); }
  size_t workspace_bytes() const override { return inner_->workspace_bytes(); }
  void set_backward_hook(const BackwardHook* hook) override { inner_->set_backward_hook(hook); }

 private:
  std::unique_ptr<Layer> inner_;
};

std::unique_ptr<Model> make_case_network(const ReplicationCase& c) {
  if (c.unused_head) return make_unused_head_model(c.classes);
  return make_resnet({"resnet18", "small", 0.125, c.classes, 3});
}

std::unique_ptr<Model> make_case_model(const ReplicationCase& c, uint64_t seed) {
  auto model = make_case_network(c);
  Rng rng(seed);
  init_torchvision(*model, rng);
  // Non-trivial running statistics, so frozen batch norm is not the identity.
  for (StateTensor* s : model->state()) {
    const bool var = s->name.find("running_var") != std::string::npos;
    for (int64_t i = 0; i < s->value.numel(); ++i)
      s->value.data<float>()[i] = var ? float(0.5 + rng.uniform()) : float(0.2 * rng.normal());
  }
  return model;
}

// The case's model on its device (initialised on the CPU, then copied).
std::unique_ptr<Model> place(const ReplicationCase& c, std::unique_ptr<Model> cpu) {
  if (c.device.is_cpu()) return cpu;
  auto placed = make_model(cpu->info(), DType::F32, c.device);
  placed->copy_weights_from(*cpu);
  return placed;
}

Tensor train(const ReplicationCase& c, Model& model, ShardSource& source, int64_t accum, GradientReducer* reducer,
             Tensor* state) {
  Context ctx(c.device, 0);
  model.setup(ctx, source.rows(), c.image_size, c.image_size);
  Optimizer optimizer(model, {.kind = c.optimizer, .momentum = 0.9, .weight_decay = 1e-3});
  if (reducer != nullptr) reducer->shard_optimizer(optimizer);  // --zero 1 (nothing otherwise)
  TrainerOptions options;
  options.epochs = 1;
  options.accum_steps = accum;
  options.schedule = {.kind = "constant", .base_lr = 0.05};
  options.freeze_batch_norm = c.freeze_batch_norm;
  options.reducer = reducer;
  Trainer trainer(ctx, model, optimizer, options);
  trainer.fit(source, nullptr, {});
  if (c.device.is_cuda()) ctx.synchronize();
  if (state != nullptr) *state = model.state_arena().to(Device::cpu());
  return model.parameter_arena().to(Device::cpu());
}

}  // namespace

std::unique_ptr<Model> make_unused_head_model(int64_t classes) {
  const int64_t width = 8;
  auto net = std::make_unique<Sequential>();
  net->add<Conv2d>("conv1", 3, width, 3, 1, 1);
  net->add<BatchNorm2d>("bn1", width);
  net->add<ReLU>();
  auto main = std::make_unique<Sequential>();
  main->add<Conv2d>("layer1.0.conv1", width, width, 3, 1, 1);
  main->add<BatchNorm2d>("layer1.0.bn1", width);
  main->add<ReLU>();
  main->add<Conv2d>("layer1.0.conv2", width, width, 3, 1, 1);
  main->add<BatchNorm2d>("layer1.0.bn2", width);
  net->append(std::make_unique<Residual>(std::move(main), std::make_unique<Sequential>()));
  net->add<GlobalAvgPool>();
  net->add<SideBranch>(std::make_unique<Linear>("aux", width, classes));
  net->add<Linear>("fc", width, classes);
  return std::make_unique<Model>(std::move(net), ModelInfo{"unused-head-test", "small", 1.0, classes, 3});
}

Tensor train_serial(const ReplicationCase& c, int shards, Tensor* state) {
  auto model = place(c, make_case_model(c, 0));
  ShardSource source(c, shards, -1);
  return train(c, *model, source, shards * c.accum_steps, nullptr, state);
}

// Small buckets, so that a small network still has several.
constexpr ReducerOptions kSmallBuckets{.bucket_bytes = 64 << 10, .first_bucket_bytes = 16 << 10};

Tensor initial_weights(const ReplicationCase& c) { return make_case_model(c, 0)->parameter_arena().clone(); }

size_t replica_bucket_count(const ReplicationCase& c) {
  auto model = make_case_model(c, 0);  // on the CPU: the layout is the same everywhere
  auto comms = make_in_process_communicators({Device::cpu()});
  return GradientReducer(*model, *comms[0], kSmallBuckets).buckets().size();
}

Tensor train_replica(const ReplicationCase& c, Communicator& comm, Tensor* state) {
  auto model = place(c, make_case_model(c, uint64_t(comm.rank())));
  ReducerOptions options = kSmallBuckets;
  options.find_unused = c.find_unused;
  options.zero = c.zero;
  GradientReducer reducer(*model, comm, options);
  // As the replica run does it: only with several replicas.
  std::unique_ptr<SyncBatchNorm> sync;
  if (c.sync_bn && comm.size() > 1) sync = std::make_unique<SyncBatchNorm>(*model, comm);
  ShardSource source(c, comm.size(), comm.rank());
  return train(c, *model, source, c.accum_steps, &reducer, state);
}

}  // namespace aslnet::test
