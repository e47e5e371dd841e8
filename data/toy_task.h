// A fixed, tiny image-classification task made of generated tensors (no files): each class has its
// own pattern of coloured blobs, and each sample is its class's pattern, randomly shifted, plus noise.
// A small ResNet learns it in a few hundred CPU steps, which makes it the workload of `aslnet demo`,
// of the training tests and of the CPU step benchmark. (Photo-like synthetic JPEGs are data/'s job.)
#pragma once

#include <cstdint>

#include "engine/core/tensor.h"

namespace aslnet {

struct ToyTask {
  Tensor images;  // [count, size, size, 3], f32 or f64, roughly zero mean and unit variance
  Tensor labels;  // [count], i32 in [0, classes)
};

// `seed` fixes the classes' patterns; `sample_stream` the samples drawn from them, so a held-out set is
// the same task with another stream.
ToyTask make_toy_task(int64_t count, int64_t classes, int64_t size, uint64_t seed, DType dtype = DType::F32,
                      double noise = 0.5, uint64_t sample_stream = 0);

// Rows [first, first + count) of a task, as views (no copy).
ToyTask toy_batch(const ToyTask& task, int64_t first, int64_t count);

}  // namespace aslnet
