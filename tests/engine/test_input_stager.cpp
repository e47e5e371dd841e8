// InputStager on a GPU: raw u8 batches are normalised with the normalisation the batch carries
// (Batch::norm), whichever it is, batch after batch.
#include <gtest/gtest.h>

#include "engine/core/rng.h"
#include "engine/input_stager.h"
#include "models/resnet.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

TEST(InputStagerCuda, U8BatchesAreNormalisedWithTheNormalizationTheyCarry) {
  ASLNET_REQUIRE_GPU_OR_SKIP();
  Context ctx(Device::cuda(0));
  auto model = make_model({"resnet18", "small", 0.125, 4, 3}, DType::F32, ctx.device());
  model->setup(ctx, 2, 4, 4);
  InputStager stager(ctx, *model);
  Rng rng(test::fresh_seed());
  Normalization other;
  other.mean = {0.5f, 0.25f, 0.125f};
  other.std = {0.5f, 1.0f, 2.0f};
  for (const Normalization& norm : {Normalization{}, other, Normalization{}}) {
    Batch host;
    host.images = Tensor::empty(Shape{2, 4, 4, 3}, DType::U8, Device::cpu());
    for (int64_t i = 0; i < host.images.numel(); ++i) host.images.data<uint8_t>()[i] = uint8_t(rng.below(256));
    host.labels = Tensor::zeros(Shape{2}, DType::I32, Device::cpu());
    host.valid = 2;
    host.norm = norm;
    const Tensor staged = stager.stage(host).images.to(Device::cpu());
    ctx.synchronize();
    for (int64_t i = 0; i < staged.numel(); ++i) {
      const size_t c = size_t(i % 3);
      const float want = (float(host.images.data<uint8_t>()[i]) / 255.0f - norm.mean[c]) / norm.std[c];
      ASSERT_NEAR(staged.data<float>()[i], want, 1e-5f) << "element " << i;
    }
  }
}

}  // namespace
}  // namespace aslnet
