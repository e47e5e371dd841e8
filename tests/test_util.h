// Helpers shared by the test suites: skips that say why (and become failures when the environment
// demands the missing thing), random tensors, and error measures.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "engine/core/rng.h"
#include "engine/core/tensor.h"

namespace aslnet::test {

// True when the environment variable is set to something other than "" or "0".
bool env_flag(const char* name);

// The folder with the real Kaggle images: $ASLNET_DATA, else ../shared/data beside the source tree.
std::string data_dir();

// Relative error as the golden tests measure it: |a - b| / |b| (L2 norms).
double relative_error(const Tensor& actual, const Tensor& reference);
double max_abs_diff(const Tensor& a, const Tensor& b);

// Fills an f32 or f64 CPU tensor with N(0, std).
void fill_normal(Tensor& t, Rng& rng, double std = 1.0);

}  // namespace aslnet::test

// Skips the test with `reason`, or fails it when `require_env` (ASLNET_REQUIRE_GPU, ...) is set.
#define ASLNET_SKIP_OR_FAIL(require_env, reason)                          \
  do {                                                                    \
    if (::aslnet::test::env_flag(require_env)) {                          \
      FAIL() << (reason) << " (and " << (require_env) << " is set)";      \
    }                                                                     \
    GTEST_SKIP() << (reason);                                             \
  } while (0)

// Skips (or fails under ASLNET_REQUIRE_DATA=1) unless `path` exists.
#define ASLNET_REQUIRE_DATA_OR_SKIP(path)                                                                   \
  do {                                                                                                      \
    if (!std::filesystem::exists(path))                                                                     \
      ASLNET_SKIP_OR_FAIL("ASLNET_REQUIRE_DATA",                                                            \
                          "real ASL data not found at " + std::string(path) + " (set ASLNET_DATA)");        \
  } while (0)

#define ASLNET_REQUIRE_GPU_OR_SKIP()                                                     \
  do {                                                                                   \
    if (::aslnet::gpu_count() == 0) ASLNET_SKIP_OR_FAIL("ASLNET_REQUIRE_GPU", "no CUDA GPU available"); \
  } while (0)
