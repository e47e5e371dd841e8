#include "data/toy_task.h"

#include <cmath>
#include <vector>

#include "engine/core/rng.h"

namespace aslnet {

ToyTask make_toy_task(int64_t count, int64_t classes, int64_t size, uint64_t seed, DType dtype, double noise,
                      uint64_t sample_stream) {
  ASLNET_CHECK(count > 0 && classes > 0 && size > 0) << "bad toy task " << count << "x" << classes << "x" << size;
  Rng rng(seed, /*stream=*/7);
  struct Blob {
    double y, x, radius, color[3];
  };
  constexpr int kBlobs = 3;
  std::vector<Blob> blobs(size_t(classes) * kBlobs);
  for (auto& b : blobs) {
    b.y = rng.uniform(0.2, 0.8);
    b.x = rng.uniform(0.2, 0.8);
    b.radius = rng.uniform(0.12, 0.3);
    for (double& c : b.color) c = rng.uniform(-1.5, 1.5);
  }
  rng.reseed(seed, 1000 + sample_stream);
  ToyTask task{Tensor::empty(Shape{count, size, size, 3}, dtype), Tensor::empty(Shape{count}, DType::I32)};
  int32_t* labels = task.labels.data<int32_t>();
  dispatch_real(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* px = task.images.data<T>();
    for (int64_t i = 0; i < count; ++i) {
      const int64_t label = int64_t(i % classes);  // balanced classes
      labels[i] = int32_t(label);
      const double dy = rng.uniform(-0.1, 0.1), dx = rng.uniform(-0.1, 0.1);
      for (int64_t h = 0; h < size; ++h) {
        for (int64_t w = 0; w < size; ++w) {
          const double y = (h + 0.5) / double(size) - dy, x = (w + 0.5) / double(size) - dx;
          double value[3] = {0, 0, 0};
          for (int k = 0; k < kBlobs; ++k) {
            const Blob& b = blobs[size_t(label * kBlobs + k)];
            const double d2 = ((y - b.y) * (y - b.y) + (x - b.x) * (x - b.x)) / (b.radius * b.radius);
            const double weight = std::exp(-d2);
            for (int c = 0; c < 3; ++c) value[c] += weight * b.color[c];
          }
          for (int c = 0; c < 3; ++c) px[((i * size + h) * size + w) * 3 + c] = T(value[c] + noise * rng.normal());
        }
      }
    }
  });
  return task;
}

ToyTask toy_batch(const ToyTask& task, int64_t first, int64_t count) {
  const Shape& s = task.images.shape();
  return {task.images.slice(first * s.h() * s.w() * s.c(), Shape{count, s.h(), s.w(), s.c()}),
          task.labels.slice(first, Shape{count})};
}

}  // namespace aslnet
