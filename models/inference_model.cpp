#include "models/inference_model.h"

#include "data/classes.h"
#include "models/resnet.h"

namespace aslnet {

InferenceModel load_for_inference(Context& ctx, const std::string& checkpoint, int64_t batch) {
  InferenceModel m;
  m.meta = read_checkpoint_meta(checkpoint);
  ASLNET_CHECK(m.meta.input_height > 0 && m.meta.input_height == m.meta.input_width)
      << "checkpoint " << checkpoint << " does not record a square input size (was it written by aslnet train?)";
  m.image_size = int(m.meta.input_height);
  ASLNET_CHECK(m.meta.mean.size() == 3 && m.meta.std.size() == 3)
      << "checkpoint " << checkpoint << " does not record the input normalisation (mean and std of 3 channels)";
  for (int c = 0; c < 3; ++c) {
    m.norm.mean[size_t(c)] = float(m.meta.mean[size_t(c)]);
    m.norm.std[size_t(c)] = float(m.meta.std[size_t(c)]);
  }
  m.classes = m.meta.classes.empty() ? asl_classes() : m.meta.classes;
  ASLNET_CHECK(int64_t(m.classes.size()) == m.meta.model.num_classes)
      << "checkpoint " << checkpoint << " names " << m.classes.size() << " classes for a " << m.meta.model.num_classes
      << "-class model";
  m.model = make_model(m.meta.model, DType::F32, ctx.device());
  load_checkpoint(checkpoint, *m.model);
  if (batch > 0) m.model->setup(ctx, batch, m.image_size, m.image_size);
  return m;
}

Device inference_device(const std::string& flag) {
  if (flag == "cpu") return Device::cpu();
  if (flag == "cuda") {
    ASLNET_CHECK(gpu_count() > 0) << "--device cuda: no CUDA GPU is available here (hint: --device cpu)";
    return Device::cuda(0);
  }
  ASLNET_CHECK(flag == "auto") << "--device " << flag << ": expected auto, cpu or cuda";
  return gpu_count() > 0 ? Device::cuda(0) : Device::cpu();
}

}  // namespace aslnet
