// The cuBLAS fully connected layer (and its gemm) against the CPU kernels on fresh random inputs,
// outputs poisoned first: strict fp32 (pedantic cuBLAS math) to 1e-5 forward and 1e-4 for gradients,
// TF32 to about 1e-3, bf16 on bf16-exact inputs to 1e-2 in either math mode of the handle.
// Skips without a GPU (fails instead under ASLNET_REQUIRE_GPU=1).
#include <gtest/gtest.h>

#include <cublas_v2.h>

#include <string>
#include <vector>

#include "engine/core/context.h"
#include "engine/core/tensor.h"
#include "kernels/linear.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

struct LinearCase {
  int64_t batch, in, out;
};

const std::vector<LinearCase> kCases = {
    {256, 512, 29}, {256, 2048, 29}, {37, 101, 13}, {1, 7, 3}, {5, 3, 1}, {130, 64, 1000}, {3, 1, 40},
};

std::string name(const LinearCase& c) {
  return "batch " + std::to_string(c.batch) + ", in " + std::to_string(c.in) + ", out " + std::to_string(c.out);
}

Tensor on_gpu(const Tensor& host, bool bf16) { return (bf16 ? test::to_bf16(host) : host).to(Device::cuda(0)); }

// Forward; backward overwriting (with dx); backward accumulating into dw_acc, db_acc (without dx).
template <class T>
void run_gpu(Context& ctx, const LinearCase& c, const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& dy,
             Tensor& y, Tensor& dx, Tensor& dw, Tensor& db, Tensor& dw_acc, Tensor& db_acc) {
  kernels::cuda::linear_forward<T>(ctx.cublas(), c.batch, c.in, c.out, x.data<T>(), w.data<T>(), b.data<T>(),
                                   y.data<T>());
  kernels::cuda::linear_backward<T>(ctx.cublas(), c.batch, c.in, c.out, x.data<T>(), w.data<T>(), dy.data<T>(),
                                    dx.data<T>(), dw.data<T>(), db.data<T>(), false);
  kernels::cuda::linear_backward<T>(ctx.cublas(), c.batch, c.in, c.out, x.data<T>(), w.data<T>(), dy.data<T>(),
                                    nullptr, dw_acc.data<T>(), db_acc.data<T>(), true);
}

// Checks one case: forward, backward (overwrite, with dx), backward (accumulate, without dx), with the
// given tolerances. With `bf16` the GPU runs on bf16 copies of bf16-exact inputs.
void check_linear(Context& ctx, const LinearCase& c, bool bf16, double fwd_tol, double grad_tol) {
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE(name(c) + (bf16 ? ", bf16" : ", fp32") + ", seed " + std::to_string(seed));
  Rng rng(seed);
  const DType type = bf16 ? DType::BF16 : DType::F32;
  const Tensor x = test::random_f32(Shape{c.batch, c.in}, rng, 1.0, bf16);
  const Tensor w = test::random_f32(Shape{c.out, c.in}, rng, 0.1, bf16);
  const Tensor b = test::random_f32(Shape{c.out}, rng, 1.0, bf16);
  const Tensor dy = test::random_f32(Shape{c.batch, c.out}, rng, 1.0, bf16);
  const Tensor dw_old = test::random_f32(Shape{c.out, c.in}, rng, 1.0, bf16);
  const Tensor db_old = test::random_f32(Shape{c.out}, rng, 1.0, bf16);

  // The CPU reference.
  Tensor y_ref = Tensor::empty(Shape{c.batch, c.out}, DType::F32);
  Tensor dx_ref = Tensor::empty(Shape{c.batch, c.in}, DType::F32);
  Tensor dw_ref = Tensor::empty(Shape{c.out, c.in}, DType::F32), db_ref = Tensor::empty(Shape{c.out}, DType::F32);
  kernels::cpu::linear_forward<float>(c.batch, c.in, c.out, x.data<float>(), w.data<float>(), b.data<float>(),
                                      y_ref.data<float>());
  kernels::cpu::linear_backward<float>(c.batch, c.in, c.out, x.data<float>(), w.data<float>(), dy.data<float>(),
                                       dx_ref.data<float>(), dw_ref.data<float>(), db_ref.data<float>(), false);
  Tensor dw_acc_ref = dw_old.clone(), db_acc_ref = db_old.clone();
  kernels::cpu::linear_backward<float>(c.batch, c.in, c.out, x.data<float>(), w.data<float>(), dy.data<float>(),
                                       nullptr, dw_acc_ref.data<float>(), db_acc_ref.data<float>(), true);

  // The GPU, outputs poisoned.
  const Tensor gx = on_gpu(x, bf16), gw = on_gpu(w, bf16), gb = on_gpu(b, bf16), gdy = on_gpu(dy, bf16);
  const Device gpu = ctx.device();
  Tensor y = test::poisoned(Shape{c.batch, c.out}, type, gpu), dx = test::poisoned(Shape{c.batch, c.in}, type, gpu);
  Tensor dw = test::poisoned(Shape{c.out, c.in}, type, gpu), db = test::poisoned(Shape{c.out}, type, gpu);
  Tensor dw_acc = on_gpu(dw_old, bf16), db_acc = on_gpu(db_old, bf16);
  if (bf16) {
    run_gpu<aslnet::bf16>(ctx, c, gx, gw, gb, gdy, y, dx, dw, db, dw_acc, db_acc);
  } else {
    run_gpu<float>(ctx, c, gx, gw, gb, gdy, y, dx, dw, db, dw_acc, db_acc);
  }
  ctx.synchronize();

  auto expect_close = [](const char* what, const Tensor& actual, const Tensor& reference, double tol) {
    const double rel = test::relative_error(actual, reference), max_rel = test::max_relative_error(actual, reference);
    EXPECT_LT(rel, tol) << what << ": L2 relative error";
    EXPECT_LT(max_rel, tol) << what << ": max relative error";
  };
  expect_close("y", y, y_ref, fwd_tol);
  expect_close("dx", dx, dx_ref, grad_tol);
  expect_close("dw", dw, dw_ref, grad_tol);
  expect_close("db", db, db_ref, grad_tol);
  expect_close("dw (accumulated)", dw_acc, dw_acc_ref, grad_tol);
  expect_close("db (accumulated)", db_acc, db_acc_ref, grad_tol);
}

TEST(LinearCuda, StrictFp32MatchesCpu) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  Context ctx(Device::cuda(0));
  ctx.set_allow_tf32(false);
  for (const LinearCase& c : kCases) check_linear(ctx, c, false, 1e-5, 1e-4);
}

TEST(LinearCuda, Tf32IsClose) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  Context ctx(Device::cuda(0));
  ctx.set_allow_tf32(true);
  for (const LinearCase& c : kCases) check_linear(ctx, c, false, 5e-3, 5e-3);
}

TEST(LinearCuda, Bf16MatchesCpuInEitherMathModeAndKeepsTheHandlesMode) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  Context ctx(Device::cuda(0));
  for (bool tf32 : {false, true}) {
    SCOPED_TRACE(tf32 ? "TF32 math" : "pedantic math");
    ctx.set_allow_tf32(tf32);
    for (const LinearCase& c : kCases) check_linear(ctx, c, true, 1e-2, 1e-2);
    cublasMath_t mode{};
    ASSERT_EQ(cublasGetMathMode(ctx.cublas(), &mode), CUBLAS_STATUS_SUCCESS);
    EXPECT_EQ(mode, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_PEDANTIC_MATH) << "bf16 products must restore it";
  }
}

// The gemm helper with every transposition, padded leading dimensions, and alpha / beta other than 0 / 1.
TEST(LinearCuda, GemmMatchesCpuForEveryTransposition) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  Context ctx(Device::cuda(0));
  ctx.set_allow_tf32(false);
  const uint64_t seed = test::fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  Rng rng(seed);
  const int64_t m = 45, n = 33, k = 70, pad = 3;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      SCOPED_TRACE(std::string("trans_a ") + (ta ? "yes" : "no") + ", trans_b " + (tb ? "yes" : "no"));
      const int64_t a_rows = ta ? k : m, a_cols = ta ? m : k, b_rows = tb ? n : k, b_cols = tb ? k : n;
      const int64_t lda = a_cols + pad, ldb = b_cols + pad, ldc = n + pad;
      const Tensor a = test::random_f32(Shape{a_rows, lda}, rng), b = test::random_f32(Shape{b_rows, ldb}, rng);
      const Tensor c0 = test::random_f32(Shape{m, ldc}, rng);
      Tensor c_ref = c0.clone();
      kernels::cpu::gemm<float>(ta, tb, m, n, k, 0.5f, a.data<float>(), lda, b.data<float>(), ldb, -1.5f,
                                c_ref.data<float>(), ldc);
      const Tensor ga = a.to(ctx.device()), gb = b.to(ctx.device());
      Tensor gc = c0.to(ctx.device());
      kernels::cuda::gemm<float>(ctx.cublas(), ta, tb, m, n, k, 0.5f, ga.data<float>(), lda, gb.data<float>(), ldb,
                                 -1.5f, gc.data<float>(), ldc);
      ctx.synchronize();
      // The padding columns of C are outside the product and must be left alone: compare all of C.
      EXPECT_LT(test::relative_error(gc, c_ref), 1e-5);
      EXPECT_LT(test::max_relative_error(gc, c_ref), 1e-5);
    }
}

// Same inputs, same bits: the bias-gradient reduction has no atomics.
TEST(LinearCuda, BackwardIsDeterministic) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  Context ctx(Device::cuda(0));
  ctx.set_allow_tf32(false);
  Rng rng(test::fresh_seed());
  const int64_t batch = 1000, in = 96, out = 77;
  const Tensor x = test::random_f32(Shape{batch, in}, rng).to(ctx.device());
  const Tensor w = test::random_f32(Shape{out, in}, rng).to(ctx.device());
  const Tensor dy = test::random_f32(Shape{batch, out}, rng).to(ctx.device());
  Tensor first, second;
  for (Tensor* db : {&first, &second}) {
    *db = test::poisoned(Shape{out}, DType::F32, ctx.device());
    Tensor dw = test::poisoned(Shape{out, in}, DType::F32, ctx.device());
    kernels::cuda::linear_backward<float>(ctx.cublas(), batch, in, out, x.data<float>(), w.data<float>(),
                                          dy.data<float>(), nullptr, dw.data<float>(), db->data<float>(), false);
  }
  ctx.synchronize();
  EXPECT_EQ(test::max_abs_diff(first, second), 0.0);
}

}  // namespace
}  // namespace aslnet
