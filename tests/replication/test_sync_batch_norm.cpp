// Synchronised batch norm (--sync-bn) at the layer: R replicas on threads, each a BatchNorm2d on its
// slice of the rows, must compute what one BatchNorm2d computes on the concatenated batch: the same
// output rows, the same input gradient rows (the backward of the global batch), per-replica parameter
// gradients that add up to the single layer's, and the same running statistics (the unbiased global
// variance, as torch.nn.SyncBatchNorm). Checked over two steps, the second accumulating parameter
// gradients, in double (to 1e-10: the algebra is exact, only rounding differs) and float. The single
// layer's own backward is checked against finite differences in tests/engine/test_gradcheck.cpp, so
// equality with it is a gradient check of the synchronised backward. Also: frozen (evaluation) batch
// norm and an unsynchronised layer never talk to the replicas.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <vector>

#include "engine/layers/batchnorm.h"
#include "engine/replication/in_process.h"
#include "engine/replication/replica_threads.h"
#include "engine/replication/sync_batch_norm.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

// A stand-alone BatchNorm2d's parameters, gradients and state (a Model owns these in a network), set
// from the given values in the layer's dtype.
struct LayerStorage {
  std::vector<Tensor> keep;
  Parameter* weight = nullptr;
  Parameter* bias = nullptr;
  StateTensor* mean = nullptr;
  StateTensor* var = nullptr;
  Counter* tracked = nullptr;

  LayerStorage(BatchNorm2d& bn, DType dtype, const std::vector<double>& gamma, const std::vector<double>& beta,
               const std::vector<double>& running_mean, const std::vector<double>& running_var) {
    std::vector<Parameter*> params;
    bn.collect_parameters(params);
    std::vector<StateTensor*> state;
    std::vector<Counter*> counters;
    bn.collect_state(state, counters);
    weight = params[0];
    bias = params[1];
    mean = state[0];
    var = state[1];
    tracked = counters[0];
    weight->value = make(gamma, dtype);
    bias->value = make(beta, dtype);
    weight->grad = Tensor::zeros(weight->shape, dtype);
    bias->grad = Tensor::zeros(bias->shape, dtype);
    mean->value = make(running_mean, dtype);
    var->value = make(running_var, dtype);
  }
  Tensor make(const std::vector<double>& v, DType dtype) {
    Tensor t = Tensor::empty(Shape{int64_t(v.size())}, dtype);
    for (size_t i = 0; i < v.size(); ++i) {
      if (dtype == DType::F64) t.data<double>()[i] = v[i];
      else t.data<float>()[i] = float(v[i]);
    }
    keep.push_back(t);
    return t;
  }
};

std::vector<double> draw(int64_t n, Rng& rng, double lo, double hi) {
  std::vector<double> v(static_cast<size_t>(n));
  for (double& x : v) x = rng.uniform(lo, hi);
  return v;
}

// An input of shape `shape` whose channels have a mean well away from zero (so the shifted sums matter).
Tensor random_activations(const Shape& shape, DType dtype, Rng& rng, const std::vector<double>& offset) {
  Tensor t = Tensor::empty(shape, dtype);
  const int64_t c = shape.c();
  for (int64_t i = 0; i < shape.numel(); ++i) {
    const double v = rng.normal() * 1.5 + offset[size_t(i % c)];
    if (dtype == DType::F64) t.data<double>()[i] = v;
    else t.data<float>()[i] = float(v);
  }
  return t;
}

Tensor as_f64(const Tensor& t) {
  Tensor out = Tensor::empty(t.shape(), DType::F64);
  for (int64_t i = 0; i < t.numel(); ++i)
    out.data<double>()[i] = t.dtype() == DType::F64 ? t.data<double>()[i] : double(t.data<float>()[i]);
  return out;
}

// Rows [r * rows, (r + 1) * rows) of an NHWC tensor of `images` images, as its own tensor.
Tensor images_of(const Tensor& t, int64_t first, int64_t count) {
  const Shape& s = t.shape();
  const int64_t per_image = s.h() * s.w() * s.c();
  return t.slice(first * per_image, Shape{count, s.h(), s.w(), s.c()}).clone();
}

void expect_sync_matches_concatenated(DType dtype, int replicas, double tol) {
  const int64_t n = 2, h = 3, w = 2, c = 5, steps = 2;
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed) + ", " + std::to_string(replicas) + " replicas, " +
               dtype_name(dtype));
  Rng rng(seed);
  const auto gamma = draw(c, rng, 0.5, 1.5), beta = draw(c, rng, -1.0, 1.0);
  const auto running_mean = draw(c, rng, -1.0, 1.0), running_var = draw(c, rng, 0.5, 2.0);
  const auto offset = draw(c, rng, -4.0, 4.0);
  const Shape whole{n * replicas, h, w, c};
  std::vector<Tensor> xs, dys;
  for (int s = 0; s < steps; ++s) {
    xs.push_back(random_activations(whole, dtype, rng, offset));
    dys.push_back(random_activations(whole, dtype, rng, std::vector<double>(size_t(c), 0.0)));
  }

  // One layer on the whole batch: step 0 overwrites the parameter gradients, step 1 adds to them.
  Context ctx(Device::cpu(), 0);
  BatchNorm2d reference("bn", c);
  LayerStorage ref(reference, dtype, gamma, beta, running_mean, running_var);
  reference.setup(ctx, whole, dtype);
  std::vector<Tensor> ref_y, ref_dx;
  for (int s = 0; s < steps; ++s) {
    ref_y.push_back(as_f64(reference.forward(ctx, xs[size_t(s)], true)));
    ref_dx.push_back(as_f64(reference.backward(ctx, dys[size_t(s)], s > 0)));
  }

  auto comms = make_in_process_communicators(std::vector<Device>(size_t(replicas), Device::cpu()), {60.0});
  std::vector<std::vector<Tensor>> ys(static_cast<size_t>(replicas)), dxs(static_cast<size_t>(replicas));
  std::vector<Tensor> dgamma(static_cast<size_t>(replicas)), dbeta(static_cast<size_t>(replicas)), mean(static_cast<size_t>(replicas)),
      var(static_cast<size_t>(replicas));
  std::vector<int64_t> tracked(static_cast<size_t>(replicas));
  run_replica_threads(comms, [&](int r) {
    Context mine(Device::cpu(), 0);
    BatchNorm2d bn("bn", c);
    LayerStorage st(bn, dtype, gamma, beta, running_mean, running_var);
    SyncBatchNorm sync(bn, *comms[size_t(r)]);
    EXPECT_EQ(sync.layers(), 1u);
    bn.setup(mine, Shape{n, h, w, c}, dtype);
    for (int s = 0; s < steps; ++s) {
      ys[size_t(r)].push_back(as_f64(bn.forward(mine, images_of(xs[size_t(s)], r * n, n), true)));
      dxs[size_t(r)].push_back(as_f64(bn.backward(mine, images_of(dys[size_t(s)], r * n, n), s > 0)));
    }
    dgamma[size_t(r)] = as_f64(st.weight->grad);
    dbeta[size_t(r)] = as_f64(st.bias->grad);
    mean[size_t(r)] = as_f64(st.mean->value);
    var[size_t(r)] = as_f64(st.var->value);
    tracked[size_t(r)] = st.tracked->value;
  });

  for (int s = 0; s < steps; ++s) {
    for (int r = 0; r < replicas; ++r) {
      EXPECT_LE(test::relative_error(ys[size_t(r)][size_t(s)], images_of(ref_y[size_t(s)], r * n, n)), tol)
          << "y, step " << s << ", replica " << r;
      EXPECT_LE(test::relative_error(dxs[size_t(r)][size_t(s)], images_of(ref_dx[size_t(s)], r * n, n)), tol)
          << "dx, step " << s << ", replica " << r;
    }
  }
  // Each replica's parameter gradients are its own rows' share (the reducer averages them; here the
  // upstream gradient is not scaled per replica, so they add up).
  Tensor dgamma_sum = Tensor::zeros(Shape{c}, DType::F64), dbeta_sum = Tensor::zeros(Shape{c}, DType::F64);
  for (int r = 0; r < replicas; ++r)
    for (int64_t j = 0; j < c; ++j) {
      dgamma_sum.data<double>()[j] += dgamma[size_t(r)].data<double>()[j];
      dbeta_sum.data<double>()[j] += dbeta[size_t(r)].data<double>()[j];
    }
  EXPECT_LE(test::relative_error(dgamma_sum, as_f64(ref.weight->grad)), tol) << "dgamma";
  EXPECT_LE(test::relative_error(dbeta_sum, as_f64(ref.bias->grad)), tol) << "dbeta";
  for (int r = 0; r < replicas; ++r) {
    EXPECT_LE(test::relative_error(mean[size_t(r)], as_f64(ref.mean->value)), tol) << "running mean, replica " << r;
    EXPECT_LE(test::relative_error(var[size_t(r)], as_f64(ref.var->value)), tol) << "running var, replica " << r;
    EXPECT_EQ(tracked[size_t(r)], ref.tracked->value);
  }
  // And not by accident: a replica's own shard's statistics give another output.
  BatchNorm2d alone("bn", c);
  LayerStorage own(alone, dtype, gamma, beta, running_mean, running_var);
  alone.setup(ctx, Shape{n, h, w, c}, dtype);
  EXPECT_GT(test::relative_error(as_f64(alone.forward(ctx, images_of(xs[0], 0, n), true)), images_of(ref_y[0], 0, n)),
            1e-3);
}

TEST(SyncBatchNorm, ReplicasComputeTheConcatenatedBatchInDouble) {
  for (int replicas : {2, 3}) expect_sync_matches_concatenated(DType::F64, replicas, 1e-10);
}

TEST(SyncBatchNorm, ReplicasComputeTheConcatenatedBatchInFloat) {
  for (int replicas : {2, 4}) expect_sync_matches_concatenated(DType::F32, replicas, 2e-5);
}

// Counts the all-reduces a layer starts.
class CountingComm : public Communicator {
 public:
  explicit CountingComm(Communicator& inner) : inner_(inner) {}
  int rank() const override { return inner_.rank(); }
  int size() const override { return inner_.size(); }
  std::string name() const override { return inner_.name(); }
  void start_all_reduce_average(const Tensor& buffer, cudaStream_t stream) override {
    ++all_reduces;
    inner_.start_all_reduce_average(buffer, stream);
  }
  void finish(cudaStream_t stream) override { inner_.finish(stream); }
  void broadcast(const Tensor& buffer, int root, cudaStream_t stream) override { inner_.broadcast(buffer, root, stream); }
  void all_reduce_sum_host(std::vector<double>& values) override { inner_.all_reduce_sum_host(values); }
  void synchronize(cudaStream_t stream) override { inner_.synchronize(stream); }
  void abort(const std::string& why) noexcept override { inner_.abort(why); }
  int all_reduces = 0;

 private:
  Communicator& inner_;
};

TEST(SyncBatchNorm, OneAllReduceEachWayInTrainingNoneFrozenOrRemoved) {
  const int64_t c = 3;
  auto comms = make_in_process_communicators({Device::cpu(), Device::cpu()}, {60.0});
  std::vector<std::vector<int>> counts(2);
  run_replica_threads(comms, [&](int r) {
    Context ctx(Device::cpu(), 0);
    Rng rng(uint64_t(r) + 1);
    BatchNorm2d bn("bn", c);
    LayerStorage st(bn, DType::F32, {1, 1, 1}, {0, 0, 0}, {0, 0, 0}, {1, 1, 1});
    bn.setup(ctx, Shape{2, 2, 2, c}, DType::F32);
    Tensor x = test::random_f32(Shape{2, 2, 2, c}, rng), dy = test::random_f32(Shape{2, 2, 2, c}, rng);
    CountingComm counting(*comms[size_t(r)]);
    auto& mine = counts[size_t(r)];
    {
      SyncBatchNorm sync(bn, counting);
      bn.forward(ctx, x, true);
      mine.push_back(counting.all_reduces);  // 1: the statistics
      bn.backward(ctx, dy, false);
      mine.push_back(counting.all_reduces);  // 2: the backward sums
      const Tensor running = st.mean->value.clone();
      bn.forward(ctx, x, false);  // evaluation (and --freeze-bn): running statistics, no talk
      bn.backward(ctx, dy, false);
      mine.push_back(counting.all_reduces);
      EXPECT_TRUE(test::same_bytes(running, st.mean->value));
    }
    EXPECT_EQ(bn.sync(), nullptr) << "the sync outlived its SyncBatchNorm";
    bn.forward(ctx, x, true);
    bn.backward(ctx, dy, false);
    mine.push_back(counting.all_reduces);
  });
  for (const auto& mine : counts) EXPECT_EQ(mine, (std::vector<int>{1, 2, 2, 2}));
}

}  // namespace
}  // namespace aslnet
