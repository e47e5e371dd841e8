// CUDA batch norm against the CPU kernels on fresh random inputs, outputs and scratch poisoned first:
// training forward (y, saved mean and 1/std, running statistics after the update), evaluation forward,
// backward (dx, dgamma, dbeta, overwritten and accumulated), and the backward of frozen batch norm
// that follows an evaluation forward (the statistics it takes, dx, dgamma, dbeta), in fp32 and bf16,
// over shapes from many rows of few channels (ResNet's stem) to few rows of many channels (its last
// stage), and odd channel counts (the scalar path). Inputs get a per-channel offset and spread, so that the mean is not
// near zero (the relative error of a near-zero mean says nothing) and the variance is computed around
// a mean that is large against the spread.
// Skips without a GPU (fails instead under ASLNET_REQUIRE_GPU=1).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "engine/core/context.h"
#include "engine/core/tensor.h"
#include "kernels/norm.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

using kernels::NormShape;

// c = 64 with 32 * 112 * 112 rows is the stem's shape at batch 32; c = 2048 with 256 * 7 * 7 rows the
// last stage's at batch 256.
const std::vector<NormShape> kShapes = {
    {int64_t(32) * 112 * 112, 64},
    {int64_t(256) * 7 * 7, 2048},
    {4096, 3},
    {3001, 29},
    {200, 96},
    {513, 130},
    {5, 6},
    {17, 8},
};

std::string name(const NormShape& s) { return "rows " + std::to_string(s.rows) + ", c " + std::to_string(s.c); }

struct Inputs {
  Tensor x, dy;                                   // [rows, c], f32 (bf16-exact when asked)
  Tensor gamma, beta, running_mean, running_var;  // [c]
  Tensor dgamma0, dbeta0;                         // [c]: what accumulate mode adds to
};

Tensor random_vector(int64_t c, Rng& rng, double lo, double hi) {
  Tensor t = Tensor::empty(Shape{c}, DType::F32);
  for (int64_t j = 0; j < c; ++j) t.data<float>()[j] = float(rng.uniform(lo, hi));
  return t;
}

Inputs make_inputs(const NormShape& s, Rng& rng, bool bf16_exact) {
  Inputs in;
  in.x = test::random_f32(Shape{s.rows, s.c}, rng);
  const Tensor offset = random_vector(s.c, rng, -3.0, 3.0), spread = random_vector(s.c, rng, 0.2, 2.0);
  float* x = in.x.data<float>();
  for (int64_t i = 0; i < s.rows; ++i)
    for (int64_t j = 0; j < s.c; ++j) {
      float& v = x[i * s.c + j];
      v = v * spread.data<float>()[j] + offset.data<float>()[j];
      if (bf16_exact) v = from_bf16(aslnet::to_bf16(v));
    }
  in.dy = test::random_f32(Shape{s.rows, s.c}, rng, 1.0, bf16_exact);
  in.gamma = random_vector(s.c, rng, 0.5, 1.5);
  in.beta = random_vector(s.c, rng, -1.0, 1.0);
  in.running_mean = random_vector(s.c, rng, -1.0, 1.0);
  in.running_var = random_vector(s.c, rng, 0.5, 2.0);
  in.dgamma0 = random_vector(s.c, rng, -10.0, 10.0);
  in.dbeta0 = random_vector(s.c, rng, -10.0, 10.0);
  return in;
}

constexpr double kMomentum = 0.1, kEps = 1e-5;

// Both error measures of `actual` against the fp32 reference.
void expect_close(const Tensor& actual, const Tensor& reference, double tol, const char* what) {
  EXPECT_LE(test::relative_error(actual, reference), tol) << what;
  EXPECT_LE(test::max_relative_error(actual, reference), tol) << what;
}

template <class T>
T* ptr(const Tensor& t) {
  return t.data<T>();
}

// Runs the three CUDA entry points with activations of type T (float or bf16) and compares with the
// CPU kernels run in fp32 on the same (bf16-exact, for bf16) values.
template <class T>
void check(Context& ctx, const NormShape& s, const Inputs& in, double act_tol, double grad_tol, double stat_tol) {
  constexpr bool kBf16 = std::is_same_v<T, aslnet::bf16>;
  constexpr DType kType = kBf16 ? DType::BF16 : DType::F32;
  const Device gpu = ctx.device();
  auto act = [&](const Tensor& host) { return (kBf16 ? test::to_bf16(host) : host).to(gpu); };
  const Shape rows_c{s.rows, s.c}, per_c{s.c};

  // ---- CPU reference (fp32) ----
  Tensor y_ref = Tensor::empty(rows_c, DType::F32), mean_ref = Tensor::empty(per_c, DType::F32),
         invstd_ref = mean_ref.clone(), rm_ref = in.running_mean.clone(), rv_ref = in.running_var.clone();
  kernels::cpu::batchnorm_forward_train<float>(s, ptr<float>(in.x), ptr<float>(in.gamma), ptr<float>(in.beta),
                                               ptr<float>(y_ref), ptr<float>(mean_ref), ptr<float>(invstd_ref),
                                               ptr<float>(rm_ref), ptr<float>(rv_ref), kMomentum, kEps);
  Tensor eval_ref = Tensor::empty(rows_c, DType::F32);
  kernels::cpu::batchnorm_forward_eval<float>(s, ptr<float>(in.x), ptr<float>(in.gamma), ptr<float>(in.beta),
                                              ptr<float>(in.running_mean), ptr<float>(in.running_var), kEps,
                                              ptr<float>(eval_ref));
  Tensor dx_ref = Tensor::empty(rows_c, DType::F32), dg_ref = Tensor::empty(per_c, DType::F32), db_ref = dg_ref.clone(),
         dg_acc_ref = in.dgamma0.clone(), db_acc_ref = in.dbeta0.clone();
  kernels::cpu::batchnorm_backward<float>(s, ptr<float>(in.x), ptr<float>(in.dy), ptr<float>(in.gamma),
                                          ptr<float>(mean_ref), ptr<float>(invstd_ref), ptr<float>(dx_ref),
                                          ptr<float>(dg_ref), ptr<float>(db_ref), false, /*batch_statistics=*/true);
  Tensor dx_unused = dx_ref.clone();
  kernels::cpu::batchnorm_backward<float>(s, ptr<float>(in.x), ptr<float>(in.dy), ptr<float>(in.gamma),
                                          ptr<float>(mean_ref), ptr<float>(invstd_ref), ptr<float>(dx_unused),
                                          ptr<float>(dg_acc_ref), ptr<float>(db_acc_ref), true,
                                          /*batch_statistics=*/true);
  // Frozen batch norm: the evaluation forward's statistics, and the gradient of that forward.
  Tensor frozen_mean_ref = Tensor::empty(per_c, DType::F32), frozen_invstd_ref = frozen_mean_ref.clone();
  kernels::cpu::batchnorm_frozen_statistics<float>(s.c, ptr<float>(in.running_mean), ptr<float>(in.running_var), kEps,
                                                   ptr<float>(frozen_mean_ref), ptr<float>(frozen_invstd_ref));
  Tensor frozen_dx_ref = Tensor::empty(rows_c, DType::F32), frozen_dg_ref = Tensor::empty(per_c, DType::F32),
         frozen_db_ref = frozen_dg_ref.clone();
  kernels::cpu::batchnorm_backward<float>(s, ptr<float>(in.x), ptr<float>(in.dy), ptr<float>(in.gamma),
                                          ptr<float>(frozen_mean_ref), ptr<float>(frozen_invstd_ref),
                                          ptr<float>(frozen_dx_ref), ptr<float>(frozen_dg_ref),
                                          ptr<float>(frozen_db_ref), false, /*batch_statistics=*/false);

  // ---- GPU ----
  const Tensor x = act(in.x), dy = act(in.dy), gamma = in.gamma.to(gpu), beta = in.beta.to(gpu);
  Tensor rm = in.running_mean.to(gpu), rv = in.running_var.to(gpu);
  const Tensor rm0 = in.running_mean.to(gpu), rv0 = in.running_var.to(gpu);
  Tensor scratch = test::poisoned(Shape{kernels::cuda::batchnorm_scratch_floats(s)}, DType::F32, gpu);
  Tensor y = test::poisoned(rows_c, kType, gpu), eval_y = test::poisoned(rows_c, kType, gpu);
  Tensor save_mean = test::poisoned(per_c, DType::F32, gpu), save_invstd = test::poisoned(per_c, DType::F32, gpu);
  kernels::cuda::batchnorm_forward_train<T>(ctx.stream(), s, ptr<T>(x), ptr<float>(gamma), ptr<float>(beta), ptr<T>(y),
                                            ptr<float>(save_mean), ptr<float>(save_invstd), ptr<float>(rm),
                                            ptr<float>(rv), kMomentum, kEps, ptr<float>(scratch));
  kernels::cuda::batchnorm_forward_eval<T>(ctx.stream(), s, ptr<T>(x), ptr<float>(gamma), ptr<float>(beta),
                                           ptr<float>(rm0), ptr<float>(rv0), kEps, ptr<T>(eval_y));
  // Backward from the CPU's saved statistics, so that its errors are its own.
  const Tensor mean_in = mean_ref.to(gpu), invstd_in = invstd_ref.to(gpu);
  Tensor dx = test::poisoned(rows_c, kType, gpu), dx2 = test::poisoned(rows_c, kType, gpu);
  Tensor dg = test::poisoned(per_c, DType::F32, gpu), db = test::poisoned(per_c, DType::F32, gpu);
  Tensor dg_acc = in.dgamma0.to(gpu), db_acc = in.dbeta0.to(gpu);
  scratch = test::poisoned(Shape{kernels::cuda::batchnorm_scratch_floats(s)}, DType::F32, gpu);
  kernels::cuda::batchnorm_backward<T>(ctx.stream(), s, ptr<T>(x), ptr<T>(dy), ptr<float>(gamma), ptr<float>(mean_in),
                                       ptr<float>(invstd_in), ptr<T>(dx), ptr<float>(dg), ptr<float>(db), false,
                                       /*batch_statistics=*/true, ptr<float>(scratch));
  kernels::cuda::batchnorm_backward<T>(ctx.stream(), s, ptr<T>(x), ptr<T>(dy), ptr<float>(gamma), ptr<float>(mean_in),
                                       ptr<float>(invstd_in), ptr<T>(dx2), ptr<float>(dg_acc), ptr<float>(db_acc), true,
                                       /*batch_statistics=*/true, ptr<float>(scratch));
  // Frozen: the backward takes the GPU's own statistics, as the layer does.
  Tensor frozen_mean = test::poisoned(per_c, DType::F32, gpu), frozen_invstd = test::poisoned(per_c, DType::F32, gpu);
  kernels::cuda::batchnorm_frozen_statistics(ctx.stream(), s.c, ptr<float>(rm0), ptr<float>(rv0), kEps,
                                             ptr<float>(frozen_mean), ptr<float>(frozen_invstd));
  Tensor frozen_dx = test::poisoned(rows_c, kType, gpu);
  Tensor frozen_dg = test::poisoned(per_c, DType::F32, gpu), frozen_db = test::poisoned(per_c, DType::F32, gpu);
  scratch = test::poisoned(Shape{kernels::cuda::batchnorm_scratch_floats(s)}, DType::F32, gpu);
  kernels::cuda::batchnorm_backward<T>(ctx.stream(), s, ptr<T>(x), ptr<T>(dy), ptr<float>(gamma),
                                       ptr<float>(frozen_mean), ptr<float>(frozen_invstd), ptr<T>(frozen_dx),
                                       ptr<float>(frozen_dg), ptr<float>(frozen_db), false,
                                       /*batch_statistics=*/false, ptr<float>(scratch));
  ctx.synchronize();

  expect_close(y, y_ref, act_tol, "train y");
  expect_close(save_mean, mean_ref, stat_tol, "save_mean");
  expect_close(save_invstd, invstd_ref, stat_tol, "save_invstd");
  expect_close(rm, rm_ref, stat_tol, "running_mean");
  expect_close(rv, rv_ref, stat_tol, "running_var");
  expect_close(eval_y, eval_ref, act_tol, "eval y");
  expect_close(dx, dx_ref, grad_tol, "dx");
  expect_close(dx2, dx_ref, grad_tol, "dx (accumulate mode)");
  expect_close(dg, dg_ref, kBf16 ? stat_tol * 10 : grad_tol, "dgamma");
  expect_close(db, db_ref, kBf16 ? stat_tol * 10 : grad_tol, "dbeta");
  expect_close(dg_acc, dg_acc_ref, kBf16 ? stat_tol * 10 : grad_tol, "dgamma (accumulated)");
  expect_close(db_acc, db_acc_ref, kBf16 ? stat_tol * 10 : grad_tol, "dbeta (accumulated)");
  // Both sides compute 1/sqrt(var + eps) in double and round once to fp32.
  expect_close(frozen_mean, frozen_mean_ref, 1e-7, "frozen save_mean");
  expect_close(frozen_invstd, frozen_invstd_ref, 1e-7, "frozen save_invstd");
  expect_close(frozen_dx, frozen_dx_ref, grad_tol, "frozen dx");
  expect_close(frozen_dg, frozen_dg_ref, kBf16 ? stat_tol * 10 : grad_tol, "frozen dgamma");
  expect_close(frozen_db, frozen_db_ref, kBf16 ? stat_tol * 10 : grad_tol, "frozen dbeta");
}

TEST(BatchNormCuda, F32MatchesCpu) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  Context ctx(Device::cuda(0));
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  for (const NormShape& s : kShapes) {
    SCOPED_TRACE(name(s));
    const Inputs in = make_inputs(s, rng, false);
    check<float>(ctx, s, in, 1e-5, 1e-4, 1e-5);
  }
}

TEST(BatchNormCuda, Bf16MatchesF32Reference) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  Context ctx(Device::cuda(0));
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  for (const NormShape& s : kShapes) {
    SCOPED_TRACE(name(s));
    const Inputs in = make_inputs(s, rng, true);
    // bf16 activations are rounded once (1e-2); the fp32 statistics and parameter gradients are reduced
    // from the same bf16-exact values in fp32, so they stay close to the fp32 reference.
    check<aslnet::bf16>(ctx, s, in, 1e-2, 1e-2, 1e-4);
  }
}

// The reductions run over a fixed tree: two runs give the same bits.
TEST(BatchNormCuda, Deterministic) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  Context ctx(Device::cuda(0));
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  const NormShape s{int64_t(8) * 56 * 56, 256};
  const Inputs in = make_inputs(s, rng, false);
  const Device gpu = ctx.device();
  const Tensor x = in.x.to(gpu), dy = in.dy.to(gpu), gamma = in.gamma.to(gpu), beta = in.beta.to(gpu);
  Tensor scratch = Tensor::empty(Shape{kernels::cuda::batchnorm_scratch_floats(s)}, DType::F32, gpu);
  std::vector<Tensor> outs;
  for (int run = 0; run < 2; ++run) {
    Tensor rm = in.running_mean.to(gpu), rv = in.running_var.to(gpu);
    Tensor y = test::poisoned(Shape{s.rows, s.c}, DType::F32, gpu), dx = y.clone();
    Tensor mean = test::poisoned(Shape{s.c}, DType::F32, gpu), invstd = mean.clone(), dg = mean.clone(),
           db = mean.clone();
    kernels::cuda::batchnorm_forward_train<float>(ctx.stream(), s, ptr<float>(x), ptr<float>(gamma), ptr<float>(beta),
                                                  ptr<float>(y), ptr<float>(mean), ptr<float>(invstd), ptr<float>(rm),
                                                  ptr<float>(rv), kMomentum, kEps, ptr<float>(scratch));
    kernels::cuda::batchnorm_backward<float>(ctx.stream(), s, ptr<float>(x), ptr<float>(dy), ptr<float>(gamma),
                                             ptr<float>(mean), ptr<float>(invstd), ptr<float>(dx), ptr<float>(dg),
                                             ptr<float>(db), false, /*batch_statistics=*/true, ptr<float>(scratch));
    ctx.synchronize();
    for (Tensor* t : {&y, &mean, &invstd, &rv, &dx, &dg, &db}) outs.push_back(t->to(Device::cpu()));
  }
  const size_t half = outs.size() / 2;
  for (size_t i = 0; i < half; ++i) {
    EXPECT_EQ(std::memcmp(outs[i].raw(), outs[half + i].raw(), outs[i].bytes()), 0) << "output " << i;
  }
}

}  // namespace
}  // namespace aslnet
