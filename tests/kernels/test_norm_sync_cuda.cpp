// The CUDA kernels of synchronised batch norm (kernels/norm_sync.h) against their CPU twins, each on
// the same inputs (the GPU step takes the CPU's output of the step before, so every error is the
// kernel's own), outputs poisoned first: the local sums around the running mean, the global statistics
// from averaged sums (with a replica count, so that the unbiased variance uses N = rows * replicas),
// the normalisation, the backward's local sums with dgamma and dbeta (overwritten and accumulated), and
// dx from averaged sums; in fp32 and bf16, from many rows of few channels to few rows of many, and odd
// channel counts. Inputs have a per-channel offset, so the mean is not near zero.
// Skips without a GPU (fails instead under ASLNET_REQUIRE_GPU=1).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "engine/core/context.h"
#include "engine/core/tensor.h"
#include "kernels/norm_sync.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

using kernels::NormShape;

const std::vector<NormShape> kShapes = {
    {int64_t(16) * 56 * 56, 64}, {int64_t(64) * 7 * 7, 2048}, {4096, 3}, {3001, 29}, {513, 130}, {5, 6}, {1, 8},
};

constexpr double kMomentum = 0.1, kEps = 1e-5;
constexpr int kReplicas = 3;

std::string name(const NormShape& s) { return "rows " + std::to_string(s.rows) + ", c " + std::to_string(s.c); }

Tensor random_vector(int64_t c, Rng& rng, double lo, double hi) {
  Tensor t = Tensor::empty(Shape{c}, DType::F32);
  for (int64_t j = 0; j < c; ++j) t.data<float>()[j] = float(rng.uniform(lo, hi));
  return t;
}

// A CPU f64 buffer as f32 (the GPU's buffers are f32), and back.
Tensor to_f32(const Tensor& f64) {
  Tensor out = Tensor::empty(f64.shape(), DType::F32);
  for (int64_t i = 0; i < f64.numel(); ++i) out.data<float>()[i] = float(f64.data<double>()[i]);
  return out;
}

void expect_close(const Tensor& actual, const Tensor& reference, double tol, const char* what) {
  EXPECT_LE(test::relative_error(actual, reference), tol) << what;
  EXPECT_LE(test::max_relative_error(actual, reference), tol) << what;
}

template <class T>
T* ptr(const Tensor& t) {
  return t.data<T>();
}

template <class T>
void check(Context& ctx, const NormShape& s, Rng& rng, double act_tol, double grad_tol, double stat_tol) {
  constexpr bool kBf16 = std::is_same_v<T, aslnet::bf16>;
  constexpr DType kType = kBf16 ? DType::BF16 : DType::F32;
  const Device gpu = ctx.device();
  const Shape rows_c{s.rows, s.c}, per_c{s.c};
  auto act = [&](const Tensor& host) { return (kBf16 ? test::to_bf16(host) : host).to(gpu); };

  // Inputs (bf16-exact for bf16, so that both sides start from the same numbers).
  Tensor x = test::random_f32(rows_c, rng);
  const Tensor offset = random_vector(s.c, rng, -3.0, 3.0), spread = random_vector(s.c, rng, 0.2, 2.0);
  for (int64_t i = 0; i < s.rows; ++i)
    for (int64_t j = 0; j < s.c; ++j) {
      float& v = x.data<float>()[i * s.c + j];
      v = v * spread.data<float>()[j] + offset.data<float>()[j];
      if (kBf16) v = from_bf16(aslnet::to_bf16(v));
    }
  const Tensor dy = test::random_f32(rows_c, rng, 1.0, kBf16);
  const Tensor gamma = random_vector(s.c, rng, 0.5, 1.5), beta = random_vector(s.c, rng, -1.0, 1.0);
  const Tensor running_mean = random_vector(s.c, rng, -1.0, 1.0), running_var = random_vector(s.c, rng, 0.5, 2.0);
  const Tensor dgamma0 = random_vector(s.c, rng, -10.0, 10.0), dbeta0 = random_vector(s.c, rng, -10.0, 10.0);

  // ---- CPU twins (fp32 activations, f64 buffers) ----
  Tensor stats_ref = Tensor::empty(Shape{2 * s.c + 1}, DType::F64);
  kernels::cpu::batchnorm_sync_local_stats<float>(s, ptr<float>(x), ptr<float>(running_mean), ptr<double>(stats_ref));
  // As if averaged over kReplicas replicas that all saw these sums (the statistics kernel's input).
  const Tensor stats_in = to_f32(stats_ref);
  Tensor stats_in64 = Tensor::empty(stats_ref.shape(), DType::F64);
  for (int64_t i = 0; i < stats_in.numel(); ++i) stats_in64.data<double>()[i] = stats_in.data<float>()[i];
  Tensor mean_ref = Tensor::empty(per_c, DType::F32), invstd_ref = mean_ref.clone();
  Tensor rm_ref = running_mean.clone(), rv_ref = running_var.clone();
  kernels::cpu::batchnorm_sync_statistics<float>(s.c, ptr<double>(stats_in64), kReplicas, kMomentum, kEps,
                                                 ptr<float>(mean_ref), ptr<float>(invstd_ref), ptr<float>(rm_ref),
                                                 ptr<float>(rv_ref));
  Tensor y_ref = Tensor::empty(rows_c, DType::F32);
  kernels::cpu::batchnorm_sync_normalize<float>(s, ptr<float>(x), ptr<float>(gamma), ptr<float>(beta),
                                                ptr<float>(mean_ref), ptr<float>(invstd_ref), ptr<float>(y_ref));
  Tensor sums_ref = Tensor::empty(Shape{2 * s.c}, DType::F64);
  Tensor dg_ref = Tensor::empty(per_c, DType::F32), db_ref = dg_ref.clone();
  kernels::cpu::batchnorm_sync_local_grad_sums<float>(s, ptr<float>(x), ptr<float>(dy), ptr<float>(mean_ref),
                                                      ptr<float>(invstd_ref), ptr<double>(sums_ref),
                                                      ptr<float>(dg_ref), ptr<float>(db_ref), false);
  Tensor dg_acc_ref = dgamma0.clone(), db_acc_ref = dbeta0.clone(), sums_unused = sums_ref.clone();
  kernels::cpu::batchnorm_sync_local_grad_sums<float>(s, ptr<float>(x), ptr<float>(dy), ptr<float>(mean_ref),
                                                      ptr<float>(invstd_ref), ptr<double>(sums_unused),
                                                      ptr<float>(dg_acc_ref), ptr<float>(db_acc_ref), true);
  const Tensor sums_in = to_f32(sums_ref);
  Tensor sums_in64 = Tensor::empty(sums_ref.shape(), DType::F64);
  for (int64_t i = 0; i < sums_in.numel(); ++i) sums_in64.data<double>()[i] = sums_in.data<float>()[i];
  Tensor dx_ref = Tensor::empty(rows_c, DType::F32);
  kernels::cpu::batchnorm_sync_backward_dx<float>(s, ptr<float>(x), ptr<float>(dy), ptr<float>(gamma),
                                                  ptr<float>(mean_ref), ptr<float>(invstd_ref), ptr<double>(sums_in64),
                                                  ptr<double>(stats_in64), ptr<float>(dx_ref));

  // ---- GPU ----
  const Tensor gx = act(x), gdy = act(dy), ggamma = gamma.to(gpu), gbeta = beta.to(gpu);
  const Tensor grm0 = running_mean.to(gpu);
  auto scratch = [&] {
    return test::poisoned(Shape{kernels::cuda::batchnorm_sync_scratch_floats(s)}, DType::F32, gpu);
  };
  Tensor stats = test::poisoned(Shape{2 * s.c + 1}, DType::F32, gpu);
  kernels::cuda::batchnorm_sync_local_stats<T>(ctx.stream(), s, ptr<T>(gx), ptr<float>(grm0), ptr<float>(stats),
                                               ptr<float>(scratch()));
  const Tensor gstats_in = stats_in.to(gpu);
  Tensor mean = test::poisoned(per_c, DType::F32, gpu), invstd = test::poisoned(per_c, DType::F32, gpu);
  Tensor rm = running_mean.to(gpu), rv = running_var.to(gpu);
  kernels::cuda::batchnorm_sync_statistics(ctx.stream(), s.c, ptr<float>(gstats_in), kReplicas, kMomentum, kEps,
                                           ptr<float>(mean), ptr<float>(invstd), ptr<float>(rm), ptr<float>(rv));
  const Tensor gmean_in = mean_ref.to(gpu), ginvstd_in = invstd_ref.to(gpu);
  Tensor y = test::poisoned(rows_c, kType, gpu);
  kernels::cuda::batchnorm_sync_normalize<T>(ctx.stream(), s, ptr<T>(gx), ptr<float>(ggamma), ptr<float>(gbeta),
                                             ptr<float>(gmean_in), ptr<float>(ginvstd_in), ptr<T>(y));
  Tensor sums = test::poisoned(Shape{2 * s.c}, DType::F32, gpu), sums2 = sums.clone();
  Tensor dg = test::poisoned(per_c, DType::F32, gpu), db = test::poisoned(per_c, DType::F32, gpu);
  Tensor dg_acc = dgamma0.to(gpu), db_acc = dbeta0.to(gpu);
  kernels::cuda::batchnorm_sync_local_grad_sums<T>(ctx.stream(), s, ptr<T>(gx), ptr<T>(gdy), ptr<float>(gmean_in),
                                                   ptr<float>(ginvstd_in), ptr<float>(sums), ptr<float>(dg),
                                                   ptr<float>(db), false, ptr<float>(scratch()));
  kernels::cuda::batchnorm_sync_local_grad_sums<T>(ctx.stream(), s, ptr<T>(gx), ptr<T>(gdy), ptr<float>(gmean_in),
                                                   ptr<float>(ginvstd_in), ptr<float>(sums2), ptr<float>(dg_acc),
                                                   ptr<float>(db_acc), true, ptr<float>(scratch()));
  const Tensor gsums_in = sums_in.to(gpu);
  Tensor dx = test::poisoned(rows_c, kType, gpu);
  kernels::cuda::batchnorm_sync_backward_dx<T>(ctx.stream(), s, ptr<T>(gx), ptr<T>(gdy), ptr<float>(ggamma),
                                               ptr<float>(gmean_in), ptr<float>(ginvstd_in), ptr<float>(gsums_in),
                                               ptr<float>(gstats_in), ptr<T>(dx));
  ctx.synchronize();

  expect_close(stats, to_f32(stats_ref), stat_tol, "local stats");
  expect_close(mean, mean_ref, 1e-6, "save_mean");
  expect_close(invstd, invstd_ref, 1e-6, "save_invstd");
  expect_close(rm, rm_ref, 1e-6, "running_mean");
  expect_close(rv, rv_ref, 1e-6, "running_var");
  expect_close(y, y_ref, act_tol, "y");
  expect_close(sums, to_f32(sums_ref), grad_tol, "backward sums");
  expect_close(dg, dg_ref, grad_tol, "dgamma");
  expect_close(db, db_ref, grad_tol, "dbeta");
  expect_close(dg_acc, dg_acc_ref, grad_tol, "dgamma (accumulated)");
  expect_close(db_acc, db_acc_ref, grad_tol, "dbeta (accumulated)");
  // dx in two algebraic forms (the CPU's a * dy - k * x + b, the GPU's centred one): gradient tolerance,
  // or the activation type's rounding when that is coarser.
  expect_close(dx, dx_ref, std::max(act_tol, grad_tol), "dx");
}

TEST(SyncBatchNormCuda, F32MatchesCpu) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  Context ctx(Device::cuda(0));
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  for (const NormShape& s : kShapes) {
    SCOPED_TRACE(name(s));
    check<float>(ctx, s, rng, 1e-5, 1e-4, 1e-5);
  }
}

TEST(SyncBatchNormCuda, Bf16MatchesF32Reference) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  Context ctx(Device::cuda(0));
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  for (const NormShape& s : kShapes) {
    SCOPED_TRACE(name(s));
    // Activations are rounded to bf16 once (1e-2); the sums are taken from the same bf16-exact values
    // in fp32, so they stay close to the fp32 twin.
    check<aslnet::bf16>(ctx, s, rng, 1e-2, 1e-4, 1e-5);
  }
}

// The sums run over a fixed tree: two runs give the same bits.
TEST(SyncBatchNormCuda, Deterministic) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  Context ctx(Device::cuda(0));
  Rng rng(test::fresh_seed());
  const NormShape s{int64_t(8) * 56 * 56, 256};
  const Device gpu = ctx.device();
  const Tensor x = test::random_f32(Shape{s.rows, s.c}, rng).to(gpu), dy = test::random_f32(Shape{s.rows, s.c}, rng).to(gpu);
  const Tensor center = random_vector(s.c, rng, -1.0, 1.0).to(gpu), invstd = random_vector(s.c, rng, 0.5, 2.0).to(gpu);
  Tensor scratch = Tensor::empty(Shape{kernels::cuda::batchnorm_sync_scratch_floats(s)}, DType::F32, gpu);
  std::vector<Tensor> outs;
  for (int run = 0; run < 2; ++run) {
    Tensor stats = test::poisoned(Shape{2 * s.c + 1}, DType::F32, gpu), sums = test::poisoned(Shape{2 * s.c}, DType::F32, gpu);
    Tensor dg = test::poisoned(Shape{s.c}, DType::F32, gpu), db = dg.clone();
    kernels::cuda::batchnorm_sync_local_stats<float>(ctx.stream(), s, ptr<float>(x), ptr<float>(center),
                                                     ptr<float>(stats), ptr<float>(scratch));
    kernels::cuda::batchnorm_sync_local_grad_sums<float>(ctx.stream(), s, ptr<float>(x), ptr<float>(dy),
                                                         ptr<float>(center), ptr<float>(invstd), ptr<float>(sums),
                                                         ptr<float>(dg), ptr<float>(db), false, ptr<float>(scratch));
    ctx.synchronize();
    for (Tensor* t : {&stats, &sums, &dg, &db}) outs.push_back(t->to(Device::cpu()));
  }
  for (size_t i = 0; i < outs.size() / 2; ++i)
    EXPECT_TRUE(test::same_bytes(outs[i], outs[outs.size() / 2 + i])) << "output " << i;
}

}  // namespace
}  // namespace aslnet
