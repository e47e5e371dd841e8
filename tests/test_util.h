// Helpers shared by the test suites: skips that say why (and become failures when the environment
// demands the missing thing), random tensors, and error measures.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "engine/core/build_config.h"
#include "engine/core/device.h"
#include "engine/core/rng.h"
#include "engine/core/tensor.h"
#include "report/raster.h"

namespace aslnet::test {

// True when the environment variable is set to something other than "" or "0".
bool env_flag(const char* name);

// The folder with the real Kaggle images: $ASLNET_DATA, else ../shared/data beside the source tree.
std::string data_dir();

// Relative error as the golden tests measure it: |a - b| / |b| (L2 norms).
double relative_error(const Tensor& actual, const Tensor& reference);
double max_abs_diff(const Tensor& a, const Tensor& b);
// The same bytes (any devices): what "bit for bit" means in the tests.
bool same_bytes(const Tensor& a, const Tensor& b);

// A fresh, empty folder under the system's temporary directory (mkdtemp), removed with the object.
// `path` is empty when the folder could not be made (tests ASSERT it is not).
struct TempDir {
  explicit TempDir(const std::string& prefix = "aslnet");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::filesystem::path path;
};

// Fills an f32 or f64 CPU tensor with N(0, std).
void fill_normal(Tensor& t, Rng& rng, double std = 1.0);

// The two error measures of the GPU-against-CPU tests (CPU copies are made as needed; bf16 is widened):
// |actual - reference| / |reference| in the L2 norm (relative_error above), and
// max |actual - reference| / max |reference|.
double max_relative_error(const Tensor& actual, const Tensor& reference);

// A fresh tensor full of NaN (f32, f64, bf16) or 0x7f bytes (other types) on `device`: an output that a
// kernel forgets to write shows up in the comparison.
Tensor poisoned(const Shape& shape, DType dtype, Device device);

// A CPU f32 tensor of N(0, std) values; with `bf16_exact`, each value is rounded to the nearest bf16, so
// that bf16 kernels and the fp32 CPU reference start from the same numbers.
Tensor random_f32(const Shape& shape, Rng& rng, double std = 1.0, bool bf16_exact = false);

// Conversions of CPU tensors between f32 and bf16 (round to nearest even).
Tensor to_bf16(const Tensor& f32);
Tensor to_f32(const Tensor& any_float);

// A picture of uniformly random pixels.
Image random_rgb(int width, int height, Rng& rng);

// A seed that differs on every run (tests draw fresh inputs), printed by the caller on failure.
uint64_t fresh_seed();

}  // namespace aslnet::test

// Skips the test with `reason`, or fails it when `require_env` (ASLNET_REQUIRE_GPU, ...) is set.
#define ASLNET_SKIP_OR_FAIL(require_env, reason)                     \
  do {                                                               \
    if (::aslnet::test::env_flag(require_env)) {                     \
      FAIL() << (reason) << " (and " << (require_env) << " is set)"; \
    }                                                                \
    GTEST_SKIP() << (reason);                                        \
  } while (0)

// Skips (or fails under ASLNET_REQUIRE_DATA=1) unless `path` exists.
#define ASLNET_REQUIRE_DATA_OR_SKIP(path)                                                            \
  do {                                                                                               \
    if (!std::filesystem::exists(path))                                                              \
      ASLNET_SKIP_OR_FAIL("ASLNET_REQUIRE_DATA",                                                     \
                          "real ASL data not found at " + std::string(path) + " (set ASLNET_DATA)"); \
  } while (0)

// A CPU-only build (ASLNET_CUDA off) skips with its own reason: no machine would give it a GPU.
#define ASLNET_REQUIRE_GPU_OR_SKIP()                                                                    \
  do {                                                                                                  \
    if (!::aslnet::kBuiltWithCuda) ASLNET_SKIP_OR_FAIL("ASLNET_REQUIRE_GPU", "built without CUDA");     \
    if (::aslnet::gpu_count() == 0) ASLNET_SKIP_OR_FAIL("ASLNET_REQUIRE_GPU", "no CUDA GPU available"); \
  } while (0)
